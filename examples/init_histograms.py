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
from _common import out_path, parser, pyplot

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
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=256)
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
            len(acts), depth, figsize=(1.6 * depth, 1.5 * len(acts)), sharey="row", squeeze=False
        )
        lim = 1.0 if args.activation == "tanh" else 3.0
        for r, (name, layers) in enumerate(acts.items()):
            for c, a in enumerate(layers):
                ax = axes[r, c]
                ax.hist(a.ravel(), bins=40, range=(-lim if args.activation == "tanh" else 0, lim))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"layer {c + 1}", fontsize=8)
                if c == 0:
                    ax.set_ylabel(name, fontsize=7)
        fig.suptitle(f"{args.activation} activations per layer")
        fig.tight_layout()
        path = out_path(args.out, f"init_histograms_{args.activation}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        print(f"plot saved to {path}")
    return stds


if __name__ == "__main__":
    main()
