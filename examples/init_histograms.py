"""Weight initialisation: activation statistics per layer of a deep MLP under different inits.

A 10-layer, 256-unit tanh (or ReLU) MLP gets a batch of standard-normal inputs. With weights
that are too small the activations shrink towards 0 layer after layer; too large and tanh
saturates at +-1 (ReLU explodes); LeCun/Xavier (tanh) and He (ReLU) keep the scale roughly
constant. Prints the per-layer standard deviation and saves a histogram grid when
matplotlib is installed.

    python examples/init_histograms.py --activation tanh
    python examples/init_histograms.py --activation relu
"""

from __future__ import annotations

import numpy as np
from _common import parser, positive_int, pyplot, save

import dlx
from dlx import nn

INITS = {
    "too small N(0, 0.01)": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "too large N(0, 1)": lambda w: nn.init.normal_(w, 0.0, 1.0),
    "LeCun normal": nn.init.lecun_normal_,
    "Xavier normal": nn.init.xavier_normal_,
    "He normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}


def activations(init, activation: str, depth: int, width: int, x: np.ndarray) -> list[np.ndarray]:
    """The output of every hidden layer's nonlinearity for input ``x`` (biases zero)."""
    act = nn.Tanh() if activation == "tanh" else nn.ReLU()
    layers = [nn.Linear(width, width) for _ in range(depth)]
    outs, h = [], dlx.tensor(x)
    with dlx.no_grad():
        for lin in layers:
            init(lin.weight)
            nn.init.zeros_(lin.bias)
            h = act(lin(h))
            outs.append(h.numpy())
    return outs


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    p = parser(__doc__.splitlines()[0], epochs=0)
    p.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
    p.add_argument("--depth", type=positive_int, default=10, help="layers (default 10)")
    p.add_argument("--width", type=positive_int, default=256, help="units per layer (default 256)")
    args = p.parse_args(argv)
    depth, width = (4, 32) if args.quick else (args.depth, args.width)
    x = np.random.default_rng(args.seed).standard_normal((500, width)).astype(np.float32)

    dlx.manual_seed(args.seed)
    acts = {
        name: activations(init, args.activation, depth, width, x) for name, init in INITS.items()
    }
    stds = {name: [float(a.std()) for a in layers] for name, layers in acts.items()}

    print(f"{args.activation} MLP, {depth} layers of {width}: std of each layer's activations")
    print(f"{'init':<22}" + "".join(f"{f'L{i + 1}':>9}" for i in range(depth)))
    for name, s in stds.items():
        print(f"{name:<22}" + "".join(f"{v:9.3g}" for v in s))

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        fig, axes = plt.subplots(
            len(acts),
            depth,
            figsize=(1.5 * depth + 1.5, 1.45 * len(acts) + 1.2),
            sharex=True,
            sharey="row",
            squeeze=False,
            layout="constrained",
        )
        low, high = (-1.0, 1.0) if args.activation == "tanh" else (0.0, 3.0)
        for r, (name, layers) in enumerate(acts.items()):
            for c, a in enumerate(layers):
                ax = axes[r, c]
                ax.hist(a.ravel(), bins=40, range=(low, high), density=True, color=f"C{r}")
                ax.set_yticks([])
                ax.set_xticks([low, (low + high) / 2, high])
                ax.tick_params(labelsize=7)
                ax.text(0.97, 0.9, f"std {a.std():.2g}", transform=ax.transAxes,
                        ha="right", va="top", fontsize=6)  # fmt: skip
                if r == 0:
                    ax.set_title(f"layer {c + 1}", fontsize=9)
                if c == 0:
                    ax.set_ylabel(name, fontsize=8)
        fig.supxlabel(f"{args.activation} activation value (unitless; bins of {high - low:g}/40)")
        fig.supylabel("density of units (per row's scale)")
        fig.suptitle(
            f"Activations of a {depth}-layer {args.activation} MLP ({width} units, 500 Gaussian "
            "inputs) under five initialisations"
        )
        save(plt, fig, args.out, f"init_histograms_{args.activation}.png")
    return stds


if __name__ == "__main__":
    main()
