"""Argument helpers shared by the functional ops (pairs, output sizes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dlx._validation import as_int, shape_str


def pair(
    value: object, name: str, fn: str, minimum: int = 0, single: bool = False
) -> tuple[int, int]:
    """``value`` (an int or, unless ``single``, a pair of ints) as a pair, each >= minimum."""
    if type(value) is int and value >= minimum:
        return (value, value)
    if (  # an already normalised pair (what the layers pass)
        type(value) is tuple
        and not single
        and len(value) == 2  # type: ignore[arg-type]
        and type(value[0]) is int  # type: ignore[index]
        and type(value[1]) is int  # type: ignore[index]
        and min(value) >= minimum  # type: ignore[call-overload]
    ):
        return value  # type: ignore[return-value]
    if isinstance(value, Sequence) and not isinstance(value, str) and not single:
        if len(value) != 2:
            msg = f"{fn}: `{name}` must be an int or a pair of ints, got {tuple(value)!r}"
            raise ValueError(msg)
        out = (as_int(value[0], name), as_int(value[1], name))
    else:
        try:
            v = as_int(value, name)
        except TypeError:
            kind = "an int" if single else "an int or a pair of ints"
            msg = f"{fn}: `{name}` must be {kind}, got {value!r}"
            raise TypeError(msg) from None
        out = (v, v)
    if min(out) < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        shown = out[0] if single else out
        msg = f"{fn}: `{name}` must be {rule}, got {shown}"
        raise ValueError(msg)
    return out


def spatial_out(
    fn: str,
    input_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool,
) -> tuple[int, int]:
    """Output ``(H_out, W_out)`` of a sliding window; ValueError when it would be empty."""
    out = []
    for i in range(2):
        span = input_shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1
        if span < 0:
            msg = (
                f"{fn}: the (padded) input of shape {shape_str(input_shape)} with padding "
                f"{padding} is smaller than the (dilated) kernel {kernel}"
            )
            raise ValueError(msg)
        n = (math.ceil(span / stride[i]) if ceil_mode else span // stride[i]) + 1
        # PyTorch: the last window must start inside the input or left padding
        if ceil_mode and (n - 1) * stride[i] >= input_shape[2 + i] + padding[i]:
            n -= 1
        out.append(n)
    return out[0], out[1]
