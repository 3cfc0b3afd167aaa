"""Op methods of ``dlx.Tensor`` (operators, math, reductions, shape), forwarding to
``dlx._ops``. Reductions take NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dlx._validation import pick_axis, pick_keepdims

if TYPE_CHECKING:
    from dlx.tensor import Tensor

# Bound by _bind() once dlx.tensor has defined Tensor (the op modules import it).
_ew: Any = None
_red: Any = None
_shape: Any = None
_la: Any = None
_un: Any = None


def _bind() -> None:
    global _ew, _red, _shape, _la, _un
    from dlx._ops import elementwise as _ew
    from dlx._ops import linalg as _la
    from dlx._ops import reduce as _red
    from dlx._ops import shape as _shape
    from dlx._ops import unary as _un


def _cmp(ufunc: np.ufunc, a: Tensor, b: Any) -> Tensor:
    """Elementwise comparison: a bool tensor outside the graph."""
    from dlx.tensor import Tensor

    other = b.data if isinstance(b, Tensor) else b
    return Tensor._make(np.asarray(ufunc(a.data, other)), None, False, None)


class TensorMethods:
    """Mixin holding the differentiable op methods of :class:`dlx.Tensor`."""

    __slots__ = ()

    # -- operators ------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ew.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ew.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ew.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ew.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ew.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ew.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ew.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ew.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ew.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ew.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _la.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _la.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _un.neg(self)

    def __pos__(self) -> Tensor:
        return self  # type: ignore[return-value]

    def __abs__(self) -> Tensor:
        return _un.abs(self)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.equal, self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.not_equal, self, other)  # type: ignore[arg-type]

    def __lt__(self, other: Any) -> Tensor:
        return _cmp(np.less, self, other)  # type: ignore[arg-type]

    def __le__(self, other: Any) -> Tensor:
        return _cmp(np.less_equal, self, other)  # type: ignore[arg-type]

    def __gt__(self, other: Any) -> Tensor:
        return _cmp(np.greater, self, other)  # type: ignore[arg-type]

    def __ge__(self, other: Any) -> Tensor:
        return _cmp(np.greater_equal, self, other)  # type: ignore[arg-type]

    def __getitem__(self, key: Any) -> Tensor:
        return _shape.getitem(self, key)

    def matmul(self, other: Any) -> Tensor:
        """Matrix product ``self @ other``."""
        return _la.matmul(self, other)

    # -- elementwise math -------------------------------------------------------------
    def exp(self) -> Tensor:
        """Elementwise e**x."""
        return _un.exp(self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return _un.log(self)

    def sqrt(self) -> Tensor:
        """Square root."""
        return _un.sqrt(self)

    def abs(self) -> Tensor:
        """Absolute value."""
        return _un.abs(self)

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``."""
        return _ew.pow(self, exponent)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Clip to ``[min, max]``; gradient 1 inside (bounds included), 0 outside."""
        return _un.clamp(self, min, max)

    clip = clamp

    def relu(self) -> Tensor:
        """max(x, 0)."""
        return _un.relu(self)

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid."""
        return _un.sigmoid(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return _un.tanh(self)

    # -- reductions ------------------------------------------------------------------
    def sum(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Sum over ``axis`` (alias ``dim``); all axes by default."""
        return _red.sum(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    def mean(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Mean over ``axis`` (alias ``dim``)."""
        return _red.mean(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    def max(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Maximum values over ``axis`` (ties share the gradient; see ``argmax``)."""
        return _red.amax(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    def min(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Minimum values over ``axis`` (ties share the gradient; see ``argmin``)."""
        return _red.amin(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    amax = max
    amin = min

    def var(
        self,
        axis: Any = None,
        correction: int = 1,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Variance over ``axis`` with ``N - correction`` in the denominator."""
        return _red.var(self, pick_axis(axis, dim), correction, pick_keepdims(keepdims, keepdim))

    def std(
        self,
        axis: Any = None,
        correction: int = 1,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Standard deviation over ``axis``."""
        return _red.std(self, pick_axis(axis, dim), correction, pick_keepdims(keepdims, keepdim))

    def argmax(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """int64 index of the first maximum (flat when no axis); not differentiable."""
        return _red.argmax(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    def argmin(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """int64 index of the first minimum (flat when no axis); not differentiable."""
        return _red.argmin(self, pick_axis(axis, dim), pick_keepdims(keepdims, keepdim))

    # -- shape -------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """Same data in a new shape; one size may be -1."""
        return _shape.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """Reshape without copying (ValueError when impossible)."""
        return _shape.view(self, *shape)

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the axes."""
        return _shape.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes."""
        return _shape.transpose(self, dim0, dim1)

    @property
    def T(self) -> Tensor:
        """All axes reversed."""
        return _shape.permute(self, *range(self.ndim - 1, -1, -1))  # type: ignore[attr-defined]

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim..end_dim`` into one."""
        return _shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop length-1 axes."""
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a length-1 axis."""
        return _shape.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to a larger shape (-1 keeps a size)."""
        return _shape.expand(self, *sizes)

    def expand_as(self, other: Any) -> Tensor:
        """Broadcast to ``other``'s shape."""
        return _shape.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        """NumPy-style broadcast to ``shape``."""
        return _shape.broadcast_to(self, shape)

    # -- conversions -------------------------------------------------------------------
    def to(self, dtype: Any = None, *, device: Any = None) -> Tensor:
        """Convert the dtype (differentiable); ``"cpu"`` is accepted as a no-op device."""
        if isinstance(dtype, str) and dtype == "cpu":
            dtype = None
        if device not in (None, "cpu"):
            msg = f"`device` must be 'cpu' (dlx runs on the CPU), got {device!r}"
            raise ValueError(msg)
        return self if dtype is None else _un.cast(self, dtype)  # type: ignore[return-value]

    def float(self) -> Tensor:
        """As float32."""
        return _un.cast(self, np.float32)

    def double(self) -> Tensor:
        """As float64."""
        return _un.cast(self, np.float64)

    def long(self) -> Tensor:
        """As int64 (not differentiable)."""
        return _un.cast(self, np.int64)

    def clone(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return _un.Cast.apply(self, dtype=self.dtype)  # type: ignore[attr-defined]

    def contiguous(self) -> Tensor:
        """Self when C-contiguous, else a C-ordered differentiable copy."""
        if self.data.flags.c_contiguous:  # type: ignore[attr-defined]
            return self  # type: ignore[return-value]
        return self.clone()
