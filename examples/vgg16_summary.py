"""VGG16 (configuration D, ImageNet 224x224) built from dlx layers; prints its summary table.

Only shapes are propagated (no convolution runs), so this is instant:
138,357,544 parameters, as in Simonyan & Zisserman (2014) and torchvision.

    python examples/vgg16_summary.py
"""

from __future__ import annotations

from _common import parser

from dlx import nn

# Output channels of each 3x3 convolution; "M" is a 2x2 max pooling.
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = 3
    for v in CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, num_classes),
    )  # fmt: skip
    return nn.Sequential(nn.Sequential(*layers), nn.Flatten(), classifier)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], epochs=0)
    p.add_argument("--classes", type=int, default=1000, help="output classes (default 1000)")
    args = p.parse_args(argv)
    model = vgg16(args.classes)
    print(model.summary((3, 224, 224)))
    total = sum(p.numel() for p in model.parameters())
    print(f"VGG16 parameters: {total:,}")
    return total


if __name__ == "__main__":
    main()
