"""The ``python -m dlx train | evaluate | summary`` commands (wired up in dlx.__main__)."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

DATASETS = ("digits", "mnist", "fashion", "cifar10")
OPTIMIZERS = ("sgd", "adam", "adamw", "nadam", "radam", "rmsprop", "adagrad", "adadelta")


def add_commands(sub: Any) -> None:
    """Register the train, evaluate and summary sub-commands."""
    p = sub.add_parser("train", help="train a model (default: on the embedded digits)")
    p.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default="cnn",
        help="architecture (default: cnn)",
    )
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--data", default=None, help="directory of the mnist/fashion/cifar10 files")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default per optimizer)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--output", default=None, help="model file to write (default: dlx-<dataset>.safetensors)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="dlx.set_num_threads(n)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the ranks of `mpirun -n N` (batch size per rank; rank 0 "
        'prints and saves; needs pip install "dlx[mpi]")',
    )
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="accuracy and loss of a saved model on a test set")
    p.add_argument("model", help="a file written by dlx.save / python -m dlx train")
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--data", default=None)
    p.add_argument("--seed", type=int, default=0, help="split seed for digits (as in train)")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("summary", help="print the architecture of a saved model")
    p.add_argument("model")
    p.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        help="per-sample input shape C,H,W (default: the one stored by train / dlx.save)",
    )
    p.set_defaults(func=cmd_summary)


# -- data -----------------------------------------------------------------------------------
def load_data(dataset: str, data_dir: str | None, seed: int) -> tuple[tuple, tuple]:
    """``((x_train, y_train), (x_test, y_test))``; digits are split 80/20 with ``seed``."""
    from dlx import data

    if dataset == "digits":
        x, y = data.load_digits()
        return data.train_val_split(x, y, val_fraction=0.2, seed=seed)
    if data_dir is None:
        msg = f"--dataset {dataset} needs --data DIR (the directory holding its files)"
        raise ValueError(msg)
    if dataset == "cifar10":
        return data.load_cifar10(data_dir, train=True), data.load_cifar10(data_dir, train=False)
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    return load(data_dir, "train"), load(data_dir, "test")


# -- models ---------------------------------------------------------------------------------
def build_model(kind: str, input_shape: tuple[int, ...], n_classes: int) -> Any:
    """The CLI's small models: ``mlp`` (Flatten, Linear-ReLU x2, Linear) or ``cnn``
    (conv-relu-pool x2, dropout, linear; channel widths grow with the image size)."""
    from dlx import nn

    if kind == "mlp":
        n_in = int(np.prod(input_shape))
        hidden = 128 if n_in <= 256 else 256
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )
    c, h, w = input_shape
    c1, c2 = (16, 32) if h <= 8 else (32, 64)
    return nn.Sequential(
        nn.Conv2d(c, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(c2 * (h // 4) * (w // 4), n_classes),
    )


def make_optimizer(name: str, params: Any, lr: float | None) -> Any:
    from dlx import optim

    classes = {
        "sgd": (optim.SGD, 0.05),
        "adam": (optim.Adam, 3e-3),
        "adamw": (optim.AdamW, 3e-3),
        "nadam": (optim.NAdam, 3e-3),
        "radam": (optim.RAdam, 3e-3),
        "rmsprop": (optim.RMSprop, 1e-3),
        "adagrad": (optim.Adagrad, 0.05),
        "adadelta": (optim.Adadelta, 1.0),
    }
    cls, default_lr = classes[name]
    kwargs: dict[str, Any] = {"lr": default_lr if lr is None else lr}
    if name == "sgd":
        kwargs["momentum"] = 0.9
    return cls(params, **kwargs)


# -- commands -------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    if not args.distributed:
        return _train(args)
    import dlx.distributed as dist

    dist.init()
    try:
        return _train(args)
    except Exception as exc:  # a lone failing rank must not leave the others waiting
        if dist.get_world_size() == 1:
            raise
        dist.abort(2, f"error: {exc}")
        raise  # not reached


def _train(args: argparse.Namespace) -> int:
    import dlx
    from dlx import nn
    from dlx.train import evaluate, fit

    if args.threads is not None:
        dlx.set_num_threads(args.threads)
    (x_tr, y_tr), (x_te, y_te) = load_data(args.dataset, args.data, args.seed)
    kind = args.model
    dlx.manual_seed(args.seed)
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    model = build_model(kind, tuple(x_tr.shape[1:]), n_classes)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
    loss_fn = nn.CrossEntropyLoss()
    ranks, say = "", print
    if args.distributed:
        import dlx.distributed as dist

        ranks = f" x {dist.get_world_size()} ranks"
        if not dist.is_main():  # only rank 0 prints and saves
            say = _silent
    say(
        f"training {kind} on {args.dataset}: {len(x_tr)} train / {len(x_te)} test samples, "
        f"{args.epochs} epochs, {args.optimizer}, {dlx.get_num_threads()} threads{ranks}"
    )
    start = time.perf_counter()
    history = fit(
        model,
        loss_fn,
        optimizer,
        (x_tr, y_tr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0 if args.quiet else 1,
        seed=args.seed,
        distributed=args.distributed,
    )
    secs = time.perf_counter() - start
    result = evaluate(model, loss_fn, (x_te, y_te), batch_size=256)
    note = " (interrupted)" if history.interrupted else ""
    say(
        f"test accuracy: {100 * result['accuracy']:.2f}%  test loss: {result['loss']:.4f}  "
        f"({secs:.1f}s){note}"
    )
    output = args.output or f"dlx-{args.dataset}.safetensors"
    if say is print:
        dlx.save(model, output, input_shape=tuple(x_tr.shape[1:]))
    say(f"saved model to {output}")
    return 0


def _silent(*args: Any, **kwargs: Any) -> None:
    """``print`` on the ranks other than 0."""


def cmd_evaluate(args: argparse.Namespace) -> int:
    import dlx
    from dlx import nn
    from dlx.train import evaluate

    model = dlx.load(args.model)
    _, (x_te, y_te) = load_data(args.dataset, args.data, args.seed)
    result = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te), batch_size=args.batch_size)
    print(
        f"test accuracy: {100 * result['accuracy']:.2f}%  test loss: {result['loss']:.4f}  "
        f"({len(x_te)} samples)"
    )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import dlx
    from dlx.io.model import read_input_shape

    model = dlx.load(args.model)
    shape = args.input_shape or read_input_shape(args.model)
    if shape is None:
        print(model)
        n = sum(int(np.size(p.numpy())) for p in model.parameters())
        print(f"parameters: {n:,} (pass --input-shape C,H,W for the layer table)")
    else:
        print(model.summary(tuple(shape)))
    return 0


def _shape(text: str) -> tuple[int, ...]:
    """Parse ``--input-shape 1,28,28``."""
    try:
        dims = tuple(int(t) for t in text.split(","))
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        msg = f"`--input-shape` must be positive ints separated by commas, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return dims
