"""The ``dlx train | evaluate | summary`` commands (wired up in dlx.__main__).

``train`` stores what it trained on in the model file (metadata key ``"dlx.train"``:
dataset, test fraction and split seed, model, optimiser, epochs), and ``evaluate`` uses it
by default, so a digits model is evaluated on exactly the samples it never saw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from dlx._cli_args import check_writable, fraction, positive_float, positive_int, seed_int
from dlx.train._cli_setup import (
    DATASET_HELP,
    DATASETS,
    OPTIMIZERS,
    TEST_FRACTION,
    build_model,
    check_data_args,
    class_names,
    load_data,
    make_optimizer,
)

META_KEY = "dlx.train"


def add_commands(sub: Any) -> None:
    """Register the train, evaluate and summary sub-commands."""
    lrs = ", ".join(f"{k} {lr:g}" for k, (_, lr) in OPTIMIZERS.items())
    p = sub.add_parser(
        "train",
        help="train a model (default: a CNN on the embedded digits)",
        description="Train a small model, print its test accuracy and save it.",
    )
    p.add_argument("--model", choices=("mlp", "cnn"), default="cnn", help="architecture")
    p.add_argument("--dataset", choices=DATASETS, default="digits", help=DATASET_HELP)
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="directory of the mnist/fashion/cifar10 files (default: none)",
    )
    p.add_argument("--epochs", type=positive_int, default=20, metavar="N", help="training epochs")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam", help="optimiser")
    p.add_argument(
        "--lr", type=positive_float, default=None, help=f"learning rate (default: {lrs})"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=32, metavar="N", help="samples per step"
    )
    p.add_argument(
        "--test-fraction",
        type=fraction,
        default=None,
        metavar="F",
        help=f"digits only: share held out for testing (default: {TEST_FRACTION})",
    )
    p.add_argument(
        "--output",
        default=None,
        metavar="PATH",
        help="model file to write (default: dlx-<dataset>.safetensors in the current directory)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument(
        "--seed", type=seed_int, default=0, metavar="N", help="seed of the split, weights, shuffle"
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="threads for dlx's kernels (default: OMP_NUM_THREADS, else one per core)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the ranks of `mpirun -n N` (batch size per rank; rank 0 "
        'prints and saves; needs pip install "dlx[mpi]")',
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="accuracy and loss of a saved model on a test set",
        description="Accuracy and loss of a saved model. By default on the test split stored "
        "in the file by `dlx train` (dataset, test fraction, seed).",
    )
    p.add_argument("model", help="a file written by dlx.save / dlx train")
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="the dataset (default: the one stored in the file, else digits); " + DATASET_HELP,
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="directory of the mnist/fashion/cifar10 files (default: none)",
    )
    p.add_argument(
        "--seed",
        type=seed_int,
        default=None,
        metavar="N",
        help="digits split seed (default: the one stored in the file, else 0)",
    )
    p.add_argument(
        "--test-fraction",
        type=fraction,
        default=None,
        metavar="F",
        help=f"digits test share (default: the one stored in the file, else {TEST_FRACTION})",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=256, metavar="N", help="samples per batch"
    )
    p.add_argument(
        "--plot",
        default=None,
        metavar="PATH",
        help="write a PNG with the confusion matrix and misclassified samples (default: none)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("summary", help="print the architecture of a saved model")
    p.add_argument("model", help="a file written by dlx.save / dlx train")
    p.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        help="per-sample input shape C,H,W (default: the one stored by train / dlx.save)",
    )
    p.set_defaults(func=cmd_summary)


# -- commands -------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    check_data_args(args.dataset, args.data, args.test_fraction)
    args.output = args.output or f"dlx-{args.dataset}.safetensors"
    check_writable(args.output, "--output", overwrite=args.overwrite)
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
    test_fraction = args.test_fraction or TEST_FRACTION
    (x_tr, y_tr), (x_te, y_te) = load_data(args.dataset, args.data, args.seed, test_fraction)
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
    if say is not print:
        return 0
    record = {
        "dataset": args.dataset,
        "test_fraction": test_fraction if args.dataset == "digits" else None,
        "seed": args.seed,
        "model": kind,
        "optimizer": args.optimizer,
        "epochs": len(history),
        "test_accuracy": result["accuracy"],
    }
    output = args.output
    if not args.overwrite and os.path.lexists(output):  # appeared while training: keep both
        output = _free_name(output)
        say(f"{args.output} was created while training; not replacing it")
    dlx.save(
        model,
        output,
        input_shape=tuple(x_tr.shape[1:]),
        metadata={META_KEY: json.dumps(record)},
    )
    say(f"saved model to {output}")
    return 0


def _free_name(path: str) -> str:
    """``path`` with the first free ``-1``, ``-2`` ... suffix before its extension."""
    stem, ext = os.path.splitext(path)
    i = 1
    while os.path.lexists(f"{stem}-{i}{ext}"):
        i += 1
    return f"{stem}-{i}{ext}"


def _silent(*args: Any, **kwargs: Any) -> None:
    """``print`` on the ranks other than 0."""


def stored_training(path: str) -> dict[str, Any]:
    """What ``dlx train`` recorded in the model file ({} for other files)."""
    from dlx.io import read_metadata

    raw = read_metadata(path).get(META_KEY)
    try:
        record = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def cmd_evaluate(args: argparse.Namespace) -> int:
    import dlx
    from dlx import nn
    from dlx.train import evaluate, predict

    if args.plot is not None:
        from dlx.train.plots import require_matplotlib

        require_matplotlib()
        check_writable(args.plot, "--plot")
    stored = stored_training(args.model)
    model = dlx.load(args.model)
    dataset = args.dataset or stored.get("dataset") or "digits"
    if dataset not in DATASETS:
        dataset = "digits"
    check_data_args(dataset, args.data, args.test_fraction)
    if stored and stored.get("dataset") != dataset:
        _warn(f"the model was trained on {stored.get('dataset')}, evaluating on {dataset}")
    seed, fraction_ = args.seed, args.test_fraction
    if dataset == "digits":
        seed, fraction_ = _digits_split(args, stored)
    _, (x_te, y_te) = load_data(dataset, args.data, seed or 0, fraction_ or TEST_FRACTION)
    result = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te), batch_size=args.batch_size)
    print(
        f"test accuracy: {100 * result['accuracy']:.2f}%  test loss: {result['loss']:.4f}  "
        f"({len(x_te)} samples)"
    )
    if args.plot is not None:
        from dlx.train.plots import save_evaluation_figure

        pred = predict(model, x_te, batch_size=args.batch_size).argmax(axis=1)
        title = f"{os.path.basename(args.model)} on the {dataset} test set"
        save_evaluation_figure(args.plot, x_te, y_te, pred, class_names(dataset), title=title)
        print(f"wrote {args.plot}")
    return 0


def _digits_split(args: argparse.Namespace, stored: dict[str, Any]) -> tuple[int, float]:
    """The digits split evaluate uses: the stored one unless overridden (with a warning)."""
    known_seed = stored.get("seed") if stored.get("dataset") == "digits" else None
    known_fraction = stored.get("test_fraction") if stored.get("dataset") == "digits" else None
    seed = args.seed if args.seed is not None else known_seed
    fraction_ = args.test_fraction if args.test_fraction is not None else known_fraction
    seed = 0 if not isinstance(seed, int) else seed
    fraction_ = TEST_FRACTION if not isinstance(fraction_, float) else fraction_
    for name, given, known in (
        ("--seed", args.seed, known_seed),
        ("--test-fraction", args.test_fraction, known_fraction),
    ):
        if given is not None and known is not None and given != known:
            _warn(
                f"{name} {given} differs from the {known} the model was trained with: the "
                "test samples may overlap its training samples"
            )
    if args.seed is not None or args.test_fraction is not None:
        source = "from the command line"
    elif known_seed is not None:
        source = "the split stored in the model file"
    else:
        source = "the default: the file records no training split"
    print(f"digits test split: {fraction_:g} of the samples, seed {seed} ({source})")
    return seed, fraction_


def _warn(message: str) -> None:
    print(f"dlx evaluate: warning: {message}", file=sys.stderr)


def cmd_summary(args: argparse.Namespace) -> int:
    import dlx
    from dlx.io.model import read_input_shape

    model = dlx.load(args.model)
    shape = args.input_shape or read_input_shape(args.model)
    if shape is None:
        print(model)
        n = sum(int(np.prod(p.shape)) for p in model.parameters())
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
        msg = f"must be positive ints separated by commas, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return dims
