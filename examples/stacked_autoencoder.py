"""Stacked autoencoder: greedy layer-wise pretraining on unlabelled digits, then the trained
encoders initialise a classifier fine-tuned on a few labels. Compared with the same
classifier from random initialisation (Bengio et al. 2007; Vincent et al. 2010).

    python examples/stacked_autoencoder.py --labels 100
"""

from __future__ import annotations

import itertools

import numpy as np
from _common import parser

import dlx
import dlx.optim
from dlx import nn
from dlx.data import load_digits, train_val_split
from dlx.nn.transfer import copy_weights, freeze, unfreeze
from dlx.train import evaluate, fit, predict

SIZES = [64, 48, 32]  # input, then the width of each encoder layer


def pretrain_layer(h: np.ndarray, d_out: int, epochs: int, seed: int) -> nn.Linear:
    """Train a one-hidden-layer autoencoder on ``h``; return its encoder Linear."""
    d_in = h.shape[1]
    enc, dec = nn.Linear(d_in, d_out), nn.Linear(d_out, d_in)
    # Inputs and codes are in [0, 1], so the decoder ends in a sigmoid too.
    ae = nn.Sequential(enc, nn.Sigmoid(), dec, nn.Sigmoid())
    fit(
        ae,
        nn.MSELoss(),
        dlx.optim.Adam(ae.parameters(), lr=3e-3),
        (h, h),
        epochs=epochs,
        batch_size=32,
        metrics=(),
        seed=seed,
        verbose=0,
    )
    return enc


def classifier() -> nn.Sequential:
    layers: list[nn.Module] = []
    for d_in, d_out in itertools.pairwise(SIZES):
        layers += [nn.Linear(d_in, d_out), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(SIZES[-1], 10))


def finetune(model: nn.Sequential, data, val, epochs: int, seed: int, head_epochs: int) -> float:
    """Train the head alone for ``head_epochs`` (encoders frozen), then everything."""
    encoders = [m for m in model if isinstance(m, nn.Linear)][:-1]
    if head_epochs:
        for e in encoders:
            freeze(e)
        head = model[len(model) - 1]
        fit(
            model,
            nn.CrossEntropyLoss(),
            dlx.optim.Adam(head.parameters(), lr=1e-2),
            data,
            epochs=head_epochs,
            batch_size=16,
            seed=seed,
            verbose=0,
        )
        for e in encoders:
            unfreeze(e)
    fit(
        model,
        nn.CrossEntropyLoss(),
        dlx.optim.Adam(model.parameters(), lr=3e-3),
        data,
        epochs=epochs,
        batch_size=16,
        seed=seed,
        verbose=0,
    )
    return evaluate(model, None, val)["accuracy"]


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__.splitlines()[0], epochs=100)
    p.add_argument("--pretrain-epochs", type=int, default=30, help="epochs per stacked layer")
    p.add_argument("--labels", type=int, default=100, help="labelled training digits (default 100)")
    args = p.parse_args(argv)
    x, y = load_digits()
    x = x.reshape(len(x), 64)
    (x_tr, y_tr), (x_te, y_te) = train_val_split(x, y, val_fraction=0.3, seed=args.seed)
    n_lab = 50 if args.quick else args.labels
    pre_epochs = 15 if args.quick else args.pretrain_epochs
    epochs = 40 if args.quick else args.epochs
    if args.quick:
        x_tr = x_tr[:300]
    labelled = (x_tr[:n_lab], y_tr[:n_lab])  # only these labels are used

    # 1. Greedy layer-wise pretraining on all training images, labels unused.
    dlx.manual_seed(args.seed)
    h, encoders = x_tr, []
    for d_out in SIZES[1:]:
        enc = pretrain_layer(h, d_out, pre_epochs, args.seed)
        encoders.append(enc)
        h = predict(nn.Sequential(enc, nn.Sigmoid()), h)  # codes feed the next layer
        print(f"pretrained layer {len(encoders)}: {enc.in_features} -> {enc.out_features}")

    # 2. The encoders initialise a classifier (the output layer stays random); fine-tune.
    dlx.manual_seed(args.seed + 1)
    pre = classifier()
    linears = [m for m in pre if isinstance(m, nn.Linear)]
    for enc, lin in zip(encoders, linears[:-1], strict=True):
        copy_weights(enc, lin)
    acc_pre = finetune(pre, labelled, (x_te, y_te), epochs, args.seed, head_epochs=epochs // 5)

    # 3. The same classifier and schedule from random initialisation.
    dlx.manual_seed(args.seed + 1)
    acc_rand = finetune(
        classifier(), labelled, (x_te, y_te), epochs, args.seed, head_epochs=epochs // 5
    )

    print(f"{n_lab} labels, {len(x_te)} test digits:")
    print(f"  pretrained init: test accuracy {acc_pre:.4f}")
    print(f"  random init:     test accuracy {acc_rand:.4f}")
    return {"pretrained": acc_pre, "random": acc_rand}


if __name__ == "__main__":
    main()
