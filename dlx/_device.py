"""``dlx.device``: dlx runs on the CPU; the type exists so PyTorch code ports unchanged."""

from __future__ import annotations

from typing import Any

__all__ = ["CPU_ONLY_MSG", "check_device", "device"]

CPU_ONLY_MSG = "dlx runs on the CPU only; use device='cpu' (there is no {} support)"


class device:
    """A device description: ``dlx.device("cpu")`` (also ``"cpu:0"``).

    Other types (``"cuda"``, ``"mps"``) can be named, as in PyTorch code that picks a
    device, but moving a tensor or module to them raises a clear error.
    """

    __slots__ = ("index", "type")
    type: str
    index: int | None

    def __init__(self, type: Any, index: int | None = None) -> None:
        spec: Any = type
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        if not isinstance(spec, str):
            msg = f"`type` must be a device string such as 'cpu', got {spec!r}"
            raise TypeError(msg)
        name, _, idx = spec.partition(":")
        if idx:
            if not idx.isdigit():
                msg = f"`type` has an invalid device index: {spec!r}"
                raise ValueError(msg)
            index = int(idx)
        self.type = name
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (
            self.index is None or other.index is None or self.index == other.index
        )

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"


def check_device(dev: Any, name: str = "device") -> None:
    """ValueError unless ``dev`` (a device, a string or None) is the CPU."""
    if dev is None:
        return
    if isinstance(dev, str | device):
        d = device(dev)
        if d.type == "cpu":
            return
        msg = CPU_ONLY_MSG.format(d.type)
        raise RuntimeError(msg)
    msg = f"`{name}` must be a device or a string such as 'cpu', got {type(dev).__name__}"
    raise TypeError(msg)
