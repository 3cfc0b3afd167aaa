"""``dlx.Tensor``: the compiled core's tensor with dlx's op methods.

Storage, gradient, version counter and graph node live in the compiled
``dlx._autograd.TensorBase``; this class adds the methods. Every op is defined once, in
``dlx._ops`` (or ``dlx.nn.functional``), and the method here *is* that function:
``Tensor.tanh is dlx.tanh``. ``.data`` and ``.grad`` are Tensors (PyTorch's meaning);
``.numpy()`` gives the array without a copy.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import (
    TensorBase,
    _register_operators,
    _register_tensor_class,
    is_grad_enabled,
)
from dlx._ops import activation as _act
from dlx._ops import convert as _cv
from dlx._ops import creation as _new
from dlx._ops import cumulative as _cum
from dlx._ops import elementwise as _ew
from dlx._ops import indexing as _idx
from dlx._ops import inplace as _inp
from dlx._ops import layout as _layout
from dlx._ops import linalg as _la
from dlx._ops import math as _math
from dlx._ops import norms as _norms
from dlx._ops import pointwise as _pw
from dlx._ops import random as _rand
from dlx._ops import reduce as _red
from dlx._ops import shape as _shape
from dlx._ops import sorting as _sort
from dlx._ops import unary as _un
from dlx._ops import views as _views
from dlx._validation import shape_str

__all__ = ["Tensor"]


def _rebuild(
    cls: type[Tensor], data: np.ndarray, requires_grad: bool, state: dict[str, Any]
) -> Tensor:
    t = cls.__new__(cls)
    Tensor.__init__(t, data)
    t.requires_grad = requires_grad
    if state:
        t.__dict__.update(state)
    return t


# NumPy ufuncs called on Tensors that dlx has as differentiable ops (``array + tensor``,
# ``np.exp(tensor)``): they run the dlx op and return a Tensor.
_UFUNC_OPS: dict[Any, Any] = {
    np.add: _ew.add,
    np.subtract: _ew.sub,
    np.multiply: _ew.mul,
    np.true_divide: _ew.div,
    np.power: _ew.pow,
    np.matmul: _la.matmul,
    np.maximum: _ew.maximum,
    np.minimum: _ew.minimum,
    np.negative: _un.neg,
    np.exp: _un.exp,
    np.log: _un.log,
    np.sqrt: _un.sqrt,
    np.absolute: _un.abs,
    np.tanh: _act.tanh,
}


def _cmp(ufunc: np.ufunc, a: Tensor, b: Any) -> Tensor:
    """Elementwise comparison: a bool tensor outside the graph."""
    other = b._data if isinstance(b, TensorBase) else b
    if getattr(type(other), "__array_ufunc__", True) is None:
        return NotImplemented  # e.g. pytest.approx: let it compare
    return Tensor(np.asarray(ufunc(a._data, other)))


class Tensor(TensorBase):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Values. NumPy arrays are wrapped without a copy when ``dtype`` allows; Python
        floats become float32, Python ints int64.
    requires_grad : bool
        Record ops on this tensor so ``backward`` can compute its gradient (floating
        dtypes only).
    dtype : numpy dtype, optional
        Convert the data to this dtype.
    """

    __hash__ = object.__hash__  # identity, although == is elementwise

    def __init__(self, data: Any = None, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, TensorBase):
            data = data._data
        elif data is None:
            data = np.empty((0,), dtype=_dtype.default_float)
        dt = None if dtype is None else _dtype.as_dtype(dtype)
        self._data = _dtype.array_from(data, dt, copy=False)
        if requires_grad:
            self.requires_grad = True

    # -- array-like helpers -------------------------------------------------------------
    def size(self, dim: int | None = None) -> Any:
        """Shape, or the size of one dimension (PyTorch spelling)."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        """Number of dimensions (PyTorch spelling)."""
        return int(self._data.ndim)

    numel = _new.numel
    nelement = _new.numel

    def __len__(self) -> int:
        if self._data.ndim == 0:
            msg = "len() of a 0-d tensor"
            raise TypeError(msg)
        return int(self._data.shape[0])

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs on Tensors: dlx's op (a Tensor) where dlx has it, else NumPy's
        result (an array) computed on the values; the latter refuses tensors that require
        grad under grad mode, since the result would silently drop their gradient."""
        if method == "__call__" and not kwargs:
            op = _UFUNC_OPS.get(ufunc)
            if op is not None:
                return op(*inputs)
        if is_grad_enabled():
            for x in (*inputs, *kwargs.get("out", ())):
                if isinstance(x, TensorBase) and x.requires_grad:
                    msg = (
                        f"numpy.{ufunc.__name__} cannot differentiate through a tensor that "
                        f"requires grad; use the dlx op, or .detach().numpy() for the values"
                    )
                    raise TypeError(msg)
        args = [x._data if isinstance(x, TensorBase) else x for x in inputs]
        if "out" in kwargs:
            outs = kwargs["out"]
            kwargs["out"] = tuple(x._data if isinstance(x, TensorBase) else x for x in outs)
            for x in outs:
                if isinstance(x, TensorBase):
                    x._bump_version()
        return getattr(ufunc, method)(*args, **kwargs)

    def item(self) -> Any:
        """The single element as a Python number."""
        if self._data.size != 1:
            msg = f"item(): the tensor must have exactly one element, got shape {shape_str(self.shape)}"
            raise ValueError(msg)
        return self._data.item()

    def tolist(self) -> Any:
        """Nested Python lists of the values."""
        return self._data.tolist()

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            msg = "only integer tensors of a single element can be converted to an index"
            raise TypeError(msg)
        return int(self._data.item())

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = [body]
        if self._data.dtype not in (_dtype.float32, _dtype.int64, _dtype.bool_):
            extras.append(f"dtype={self._data.dtype}")
        fn = self.grad_fn
        if fn is not None:
            extras.append(f"grad_fn=<{fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join(extras) + ")"

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.grad_fn is not None:
            msg = "only leaf tensors can be pickled; detach() first"
            raise RuntimeError(msg)
        state = getattr(self, "__dict__", None) or {}
        return (_rebuild, (type(self), self._data, self.requires_grad, state))

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if self.grad_fn is not None:
            msg = "only leaf tensors support deepcopy; detach() first"
            raise RuntimeError(msg)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        Tensor.__init__(new, self._data.copy())
        new.requires_grad = self.requires_grad
        g = self.grad
        if g is not None:
            new.grad = Tensor(g._data.copy())
        if getattr(self, "__dict__", None):
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # -- operators: + - * / ** @, unary -, abs() and indexing are slots of the compiled
    # base, calling the dlx._ops functions registered at the end of this module --------
    def __pos__(self) -> Tensor:
        return self

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.equal, self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _cmp(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _cmp(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _cmp(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _cmp(np.greater_equal, self, other)

    # & | ^ are commutative, so the reflected forms are the same functions
    __and__ = __rand__ = _pw.bitwise_and
    __or__ = __ror__ = _pw.bitwise_or
    __xor__ = __rxor__ = _pw.bitwise_xor
    __invert__ = _pw.bitwise_not
    __mod__ = _pw.remainder
    __floordiv__ = _pw.floor_divide

    def __rmod__(self, other: Any) -> Tensor:
        return _pw.remainder(other, self)  # type: ignore[no-any-return]

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _pw.floor_divide(other, self)  # type: ignore[no-any-return]

    def __contains__(self, item: Any) -> builtins.bool:
        other = item._data if isinstance(item, TensorBase) else item
        return builtins.bool((self._data == other).any())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return object.__format__(self, spec)

    # -- math ----------------------------------------------------------------------------
    add = _ew.add
    sub = _ew.sub
    subtract = _ew.sub
    mul = _ew.mul
    multiply = _ew.mul
    div = _ew.div
    divide = _ew.div
    true_divide = _ew.div
    pow = _ew.pow
    maximum = _ew.maximum
    minimum = _ew.minimum
    neg = _un.neg
    negative = _un.neg
    exp = _un.exp
    log = _un.log
    sqrt = _un.sqrt
    abs = _un.abs
    absolute = _un.abs
    clamp = _un.clamp
    clip = _un.clamp
    clamp_min = _pw.clamp_min
    clamp_max = _pw.clamp_max
    relu = _act.relu
    sigmoid = _act.sigmoid
    tanh = _act.tanh
    softmax = _act.softmax
    log_softmax = _act.log_softmax
    sin = _math.sin
    cos = _math.cos
    tan = _math.tan
    asin = _math.asin
    arcsin = _math.asin
    acos = _math.acos
    arccos = _math.acos
    atan = _math.atan
    arctan = _math.atan
    sinh = _math.sinh
    cosh = _math.cosh
    exp2 = _math.exp2
    expm1 = _math.expm1
    log1p = _math.log1p
    log2 = _math.log2
    log10 = _math.log10
    rsqrt = _math.rsqrt
    reciprocal = _math.reciprocal
    square = _math.square
    sign = _math.sign
    sgn = _math.sign
    floor = _math.floor
    ceil = _math.ceil
    round = _math.round
    trunc = _math.trunc
    fix = _math.trunc
    frac = _math.frac
    atan2 = _pw.atan2
    arctan2 = _pw.atan2
    fmod = _pw.fmod
    remainder = _pw.remainder
    floor_divide = _pw.floor_divide
    lerp = _pw.lerp
    addcmul = _pw.addcmul
    addcdiv = _pw.addcdiv
    nan_to_num = _pw.nan_to_num

    # -- comparisons and tests (bool tensors) --------------------------------------------
    eq = _pw.eq
    ne = _pw.ne
    not_equal = _pw.ne
    lt = _pw.lt
    less = _pw.lt
    le = _pw.le
    less_equal = _pw.le
    gt = _pw.gt
    greater = _pw.gt
    ge = _pw.ge
    greater_equal = _pw.ge
    logical_and = _pw.logical_and
    logical_or = _pw.logical_or
    logical_xor = _pw.logical_xor
    logical_not = _pw.logical_not
    bitwise_and = _pw.bitwise_and
    bitwise_or = _pw.bitwise_or
    bitwise_xor = _pw.bitwise_xor
    bitwise_not = _pw.bitwise_not
    isnan = _pw.isnan
    isinf = _pw.isinf
    isposinf = _pw.isposinf
    isneginf = _pw.isneginf
    isfinite = _pw.isfinite
    isclose = _pw.isclose
    allclose = _pw.allclose
    equal = _pw.equal

    # -- linear algebra ------------------------------------------------------------------
    matmul = _la.matmul
    mm = _la.mm
    bmm = _la.bmm
    mv = _la.mv
    dot = _la.dot
    outer = _la.outer
    ger = _la.outer
    addmm = _la.addmm
    norm = _norms.norm

    # -- reductions and scans ------------------------------------------------------------
    sum = _red.sum
    mean = _red.mean
    max = _sort.max
    min = _sort.min
    amax = _red.amax
    amin = _red.amin
    var = _red.var
    std = _red.std
    argmax = _red.argmax
    argmin = _red.argmin
    all = _red.all
    any = _red.any
    prod = _cum.prod
    cumsum = _cum.cumsum
    cumprod = _cum.cumprod
    logsumexp = _cum.logsumexp
    sort = _sort.sort
    argsort = _sort.argsort
    topk = _sort.topk
    kthvalue = _sort.kthvalue
    median = _sort.median

    # -- shape and views -----------------------------------------------------------------
    reshape = _shape.reshape
    view = _shape.view
    permute = _shape.permute
    transpose = _shape.transpose
    swapaxes = _views.swapaxes
    swapdims = _views.swapaxes
    movedim = _views.movedim
    moveaxis = _views.movedim
    flatten = _shape.flatten
    unflatten = _views.unflatten
    squeeze = _shape.squeeze
    unsqueeze = _shape.unsqueeze
    expand = _shape.expand
    expand_as = _shape.expand_as
    broadcast_to = _shape.broadcast_to
    view_as = _views.view_as
    reshape_as = _views.reshape_as
    narrow = _views.narrow
    select = _views.select
    chunk = _views.chunk
    split = _views.split
    unbind = _views.unbind
    t = _views.t

    @property
    def T(self) -> Tensor:
        """All axes reversed."""
        return _shape.permute(self, *range(self.ndim - 1, -1, -1))  # type: ignore[no-any-return]

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped."""
        return _views.mT(self)  # type: ignore[no-any-return]

    # -- copies that rearrange, indexing -------------------------------------------------
    flip = _layout.flip
    fliplr = _layout.fliplr
    flipud = _layout.flipud
    roll = _layout.roll
    repeat = _layout.repeat
    tile = _layout.tile
    repeat_interleave = _layout.repeat_interleave
    tril = _layout.tril
    triu = _layout.triu
    diag = _layout.diag
    diagonal = _layout.diagonal
    diag_embed = _layout.diag_embed
    trace = _layout.trace
    gather = _idx.gather
    scatter = _idx.scatter
    scatter_add = _idx.scatter_add
    index_select = _idx.index_select
    take = _idx.take
    take_along_dim = _idx.take_along_dim
    masked_select = _idx.masked_select
    masked_fill = _idx.masked_fill
    nonzero = _idx.nonzero
    argwhere = _idx.argwhere
    index_put = _inp.index_put

    def where(self, condition: Any, y: Any) -> Tensor:
        """``self`` where ``condition`` is true, else ``y``."""
        return _ew.where(condition, self, y)  # type: ignore[no-any-return]

    # -- creation from this tensor -------------------------------------------------------
    clone = _un.clone
    new_zeros = _new.new_zeros
    new_ones = _new.new_ones
    new_empty = _new.new_empty
    new_full = _new.new_full
    new_tensor = _new.new_tensor
    is_floating_point = _new.is_floating_point

    def element_size(self) -> builtins.int:
        """Bytes per element."""
        return builtins.int(self._data.itemsize)

    def get_device(self) -> builtins.int:
        """-1: the CPU (PyTorch's convention)."""
        return -1

    @property
    def is_cuda(self) -> builtins.bool:
        """Always False."""
        return False

    # -- in-place ops: recorded in the graph when grad is involved (dlx._ops.inplace) -----
    add_ = _inp.add_
    sub_ = _inp.sub_
    subtract_ = _inp.sub_
    mul_ = _inp.mul_
    multiply_ = _inp.mul_
    div_ = _inp.div_
    divide_ = _inp.div_
    copy_ = _inp.copy_
    fill_ = _inp.fill_
    zero_ = _inp.zero_
    index_put_ = _inp.index_put_
    neg_ = _inp.neg_
    exp_ = _inp.exp_
    log_ = _inp.log_
    sqrt_ = _inp.sqrt_
    abs_ = _inp.abs_
    clamp_ = _inp.clamp_
    clip_ = _inp.clamp_
    pow_ = _inp.pow_
    relu_ = _inp.relu_
    sigmoid_ = _inp.sigmoid_
    tanh_ = _inp.tanh_
    sin_ = _math.sin_
    cos_ = _math.cos_
    tan_ = _math.tan_
    asin_ = _math.asin_
    acos_ = _math.acos_
    atan_ = _math.atan_
    sinh_ = _math.sinh_
    cosh_ = _math.cosh_
    exp2_ = _math.exp2_
    expm1_ = _math.expm1_
    log1p_ = _math.log1p_
    log2_ = _math.log2_
    log10_ = _math.log10_
    rsqrt_ = _math.rsqrt_
    reciprocal_ = _math.reciprocal_
    square_ = _math.square_
    sign_ = _math.sign_
    floor_ = _math.floor_
    ceil_ = _math.ceil_
    round_ = _math.round_
    trunc_ = _math.trunc_
    frac_ = _math.frac_
    lerp_ = _pw.lerp_
    addcmul_ = _pw.addcmul_
    addcdiv_ = _pw.addcdiv_
    fmod_ = _pw.fmod_
    remainder_ = _pw.remainder_
    atan2_ = _pw.atan2_
    nan_to_num_ = _pw.nan_to_num_
    masked_fill_ = _idx.masked_fill_
    scatter_ = _idx.scatter_
    scatter_add_ = _idx.scatter_add_
    uniform_ = _rand.uniform_
    normal_ = _rand.normal_
    bernoulli_ = _rand.bernoulli_
    random_ = _rand.random_
    __setitem__ = _inp.setitem

    __iadd__ = _inp.add_
    __isub__ = _inp.sub_
    __imul__ = _inp.mul_
    __itruediv__ = _inp.div_

    def unsqueeze_(self, dim: builtins.int) -> Tensor:
        """Insert an axis of length 1 at ``dim``, in place (tensors outside the graph)."""
        return _inp.reshape_(self, _shape.unsqueeze(self.detach(), dim).shape, "unsqueeze_")  # type: ignore[no-any-return]

    def squeeze_(self, dim: Any = None) -> Tensor:
        """Drop axes of length 1, in place (tensors outside the graph)."""
        return _inp.reshape_(self, _shape.squeeze(self.detach(), dim).shape, "squeeze_")  # type: ignore[no-any-return]

    # -- conversions (last: their names shadow the builtins in the class body) -----------
    numpy = _cv.numpy
    to = _cv.to
    cpu = _cv.cpu
    cuda = _cv.cuda
    contiguous = _cv.contiguous
    is_contiguous = _cv.is_contiguous
    type_as = _cv.type_as
    type = _cv.type
    half = _cv.half
    double = _cv.double
    long = _cv.long
    short = _cv.short
    byte = _cv.byte
    float = _cv.float
    int = _cv.int
    bool = _cv.bool


_register_tensor_class(Tensor)
_register_operators(
    add=_ew.add,
    radd=_ew.radd,
    sub=_ew.sub,
    rsub=_ew.rsub,
    mul=_ew.mul,
    rmul=_ew.rmul,
    div=_ew.div,
    rdiv=_ew.rdiv,
    pow=_ew.pow,
    rpow=_ew.rpow,
    matmul=_la.matmul,
    rmatmul=_la.rmatmul,
    neg=_un.neg,
    abs=_un.abs,
    getitem=_shape.getitem,
)
