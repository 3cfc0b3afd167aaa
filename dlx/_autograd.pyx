# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
"""dlx's compiled core: tensor storage, graph nodes and the backward engine.

Nothing here knows an op. ``TensorBase`` holds an array, its gradient, its version
counter and the node that produced it; ``Function`` is the graph node and the base of
every differentiable op (``apply`` runs ``forward`` on arrays and records the node); the
engine (``run_backward``) walks the graph from the outputs, summing gradients per
vertex and running each node's ``backward`` once all of its gradients have arrived.

Backward formulas receive NumPy arrays; under ``create_graph=True`` they receive Tensors
instead (and ``saved_tensors`` gives the saved inputs and outputs as Tensors connected to
the graph), so a formula written with operators and with ops that accept both (see
``Function.apply`` on plain arrays) records its own graph and can be differentiated again.
Ops whose backward is array-only keep ``double_backward = False``: under
``create_graph`` their gradients are computed on arrays and any attempt to differentiate
through them raises ``NotImplementedError`` naming the op.
"""

cimport cython
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

import threading
import weakref

import numpy as np

cdef extern from *:
    """
    static __thread int dlx_grad_enabled = 1;
    """
    int dlx_grad_enabled

cdef object _ndarray = np.ndarray
cdef object _asarray = np.asarray
cdef object _np_add = np.add
cdef object _np_zeros = np.zeros
cdef object _np_array = np.array
cdef object _may_share = np.may_share_memory
cdef object _tensor_cls = None  # the Python-level dlx.Tensor, registered at its import
cdef object _leaf_lock = threading.Lock()  # makes accumulation into a leaf's .grad atomic
cdef tuple _no_grads = tuple([(False,) * n for n in range(16)])
cdef dict _class_info = {}


# -- grad mode ---------------------------------------------------------------------------
def is_grad_enabled():
    """True when ops record the autograd graph in this thread."""
    return bool(dlx_grad_enabled)


def _set_grad_enabled(bint mode):
    """Set grad mode for this thread; returns the previous mode."""
    global dlx_grad_enabled
    cdef bint prev = dlx_grad_enabled
    dlx_grad_enabled = mode
    return prev


# The operators' implementations (dlx._ops functions), registered by dlx.tensor: the
# slots below are C entry points into them, cheaper than Python-level dunder methods.
cdef object _op_add = None, _op_radd = None, _op_sub = None, _op_rsub = None
cdef object _op_mul = None, _op_rmul = None, _op_div = None, _op_rdiv = None
cdef object _op_pow = None, _op_rpow = None, _op_matmul = None, _op_rmatmul = None
cdef object _op_neg = None, _op_abs = None, _op_getitem = None


def _register_operators(*, add, radd, sub, rsub, mul, rmul, div, rdiv, pow, rpow, matmul,
                        rmatmul, neg, abs, getitem):
    """Called once by ``dlx.tensor``: the functions behind ``+ - * / ** @``, unary ``-``,
    ``abs()`` and indexing."""
    global _op_add, _op_radd, _op_sub, _op_rsub, _op_mul, _op_rmul, _op_div, _op_rdiv
    global _op_pow, _op_rpow, _op_matmul, _op_rmatmul, _op_neg, _op_abs, _op_getitem
    _op_add, _op_radd, _op_sub, _op_rsub = add, radd, sub, rsub
    _op_mul, _op_rmul, _op_div, _op_rdiv = mul, rmul, div, rdiv
    _op_pow, _op_rpow, _op_matmul, _op_rmatmul = pow, rpow, matmul, rmatmul
    _op_neg, _op_abs, _op_getitem = neg, abs, getitem


def _register_tensor_class(cls):
    """Called once by ``dlx.tensor``: results of ops are instances of ``cls``."""
    global _tensor_cls
    if not issubclass(cls, TensorBase):
        raise TypeError("the tensor class must derive from TensorBase")
    _tensor_cls = cls


@cython.final
cdef class _Version:
    """Version counter shared by a tensor and every view of its memory."""

    cdef public Py_ssize_t value


cdef inline TensorBase _make(object data, Function fn, Py_ssize_t nr, bint rg, _Version ver):
    cdef TensorBase t = TensorBase.__new__(_tensor_cls)
    t._data = data
    t._grad_fn = fn
    t._output_nr = nr
    t._requires_grad = rg
    if ver is not None:
        t._version = ver
    return t


cdef inline int _fresh(TensorBase t) except -1:
    """Rebuild view ``t``'s history if its root was rebased since it was recorded."""
    if t._base._grad_fn is not t._view_src:
        _refresh_view(t)
    return 0


cdef int _refresh_view(TensorBase t) except -1:
    """Replay ``t``'s view ops on its root (recording them) and take the result's history."""
    global dlx_grad_enabled
    cdef TensorBase base = t._base
    cdef TensorBase r = base
    cdef bint prev = dlx_grad_enabled
    dlx_grad_enabled = 1
    try:
        for step in t._view_fn:
            r = <TensorBase>(<tuple>step)[0].apply(r, **(<dict>(<tuple>step)[1]))
    finally:
        dlx_grad_enabled = prev
    t._grad_fn = r._grad_fn
    t._output_nr = r._output_nr
    t._requires_grad = r._requires_grad
    t._view_src = base._grad_fn
    return 0


cdef int _set_view(TensorBase v, TensorBase src, type cls, dict kwargs) except -1:
    """Record that ``v`` = ``cls.apply(src, **kwargs)`` is a view of ``src``'s memory."""
    if src._base is not None:
        v._base = src._base
        v._view_fn = src._view_fn + ((cls, kwargs),)
    else:
        v._base = src
        v._view_fn = ((cls, kwargs),)
    v._view_src = v._base._grad_fn
    return 0


def make_tensor(data, bint requires_grad=False):
    """A leaf tensor around the array ``data`` (no copy, no checks; internal)."""
    return _make(data, None, 0, requires_grad, None)


cdef inline object _as_grad_array(object g):
    if type(g) is _ndarray:
        return g
    if isinstance(g, TensorBase):
        return (<TensorBase>g)._data
    return _asarray(g)


class RemovableHandle:
    """Handle returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        hooks = self._hooks
        for i, h in enumerate(hooks):
            if h is self._hook:
                del hooks[i]
                break


cdef class Function


# -- Tensor --------------------------------------------------------------------------------
@cython.auto_pickle(False)
cdef class TensorBase:
    """Storage and autograd state of a tensor; ``dlx.Tensor`` adds the op methods."""

    cdef public object _data
    cdef TensorBase _grad
    cdef Function _grad_fn
    cdef Py_ssize_t _output_nr
    cdef bint _requires_grad
    cdef bint _retains_grad
    cdef _Version _version
    cdef list _hooks
    # Views (outputs of ops with _view_of that share their input's memory): the root tensor
    # whose memory they share, the ops that rebuild the view from it ((cls, kwargs), ...),
    # and the root's grad_fn when this view's history was recorded. An in-place op recorded
    # on a view rebases the root; the view's history is then rebuilt from the root on its
    # next use (_refresh_view), as PyTorch regenerates a view's grad_fn.
    cdef TensorBase _base
    cdef tuple _view_fn
    cdef object _view_src
    cdef object __weakref__

    def __cinit__(self):
        self._version = _Version.__new__(_Version)

    # -- operators (implemented by dlx._ops, see _register_operators) --------------------
    def __add__(self, other):
        return _op_add(self, other)

    def __radd__(self, other):
        return _op_radd(self, other)

    def __sub__(self, other):
        return _op_sub(self, other)

    def __rsub__(self, other):
        return _op_rsub(self, other)

    def __mul__(self, other):
        return _op_mul(self, other)

    def __rmul__(self, other):
        return _op_rmul(self, other)

    def __truediv__(self, other):
        return _op_div(self, other)

    def __rtruediv__(self, other):
        return _op_rdiv(self, other)

    def __pow__(self, other, mod=None):
        return _op_pow(self, other)

    def __rpow__(self, other, mod=None):
        return _op_rpow(self, other)

    def __matmul__(self, other):
        return _op_matmul(self, other)

    def __rmatmul__(self, other):
        return _op_rmatmul(self, other)

    def __neg__(self):
        return _op_neg(self)

    def __abs__(self):
        return _op_abs(self)

    def __getitem__(self, key):
        return _op_getitem(self, key)

    # -- storage ------------------------------------------------------------------------
    def numpy(self):
        """The array holding this tensor's values (no copy)."""
        return self._data

    @property
    def data(self):
        """A tensor sharing this tensor's memory, outside the graph (PyTorch's ``.data``).

        Changes through it are not tracked by autograd (it has its own version counter);
        assigning a tensor or array to ``.data`` replaces this tensor's storage.
        """
        return _make(self._data, None, 0, False, None)

    @data.setter
    def data(self, value):
        if isinstance(value, TensorBase):
            value = (<TensorBase>value)._data
        elif type(value) is not _ndarray:
            raise TypeError(
                f"`data` must be a dlx.Tensor or numpy.ndarray, got {type(value).__name__}"
            )
        self._data = value

    @property
    def shape(self):
        """Tuple of dimension sizes."""
        return self._data.shape

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self):
        """NumPy dtype of the data."""
        return self._data.dtype

    @property
    def device(self):
        """Always ``cpu``."""
        return _cpu_device()

    @property
    def _version(self):
        """Number of in-place modifications of this tensor's memory."""
        return self._version.value

    def _bump_version(self):
        """Count an in-place modification of this tensor's memory."""
        self._version.value += 1

    def _share_version(self, TensorBase other):
        """Make this tensor share ``other``'s version counter (views of its memory)."""
        self._version = other._version

    # -- autograd state --------------------------------------------------------------------
    @property
    def requires_grad(self):
        """Whether ops on this tensor are recorded for backward."""
        if self._base is not None:
            _fresh(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        cdef bint v = bool(value)
        if v and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self._data.dtype}"
            )
        if self._grad_fn is not None and not v:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use .detach() instead"
            )
        self._requires_grad = v

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """Accumulated gradient (a Tensor of this tensor's shape and dtype) or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        cdef TensorBase g
        if value is None:
            self._grad = None
            return
        if isinstance(value, TensorBase):
            g = <TensorBase>value
        elif type(value) is _ndarray:
            g = _make(value, None, 0, False, None)
        else:
            raise TypeError(f"`grad` must be a dlx.Tensor or None, got {type(value).__name__}")
        if g._data.shape != self._data.shape:
            raise ValueError(
                f"`grad` must have shape {_shape_str(self._data.shape)}, got "
                f"{_shape_str(g._data.shape)}"
            )
        if g._data.dtype != self._data.dtype:
            raise TypeError(f"`grad` must have dtype {self._data.dtype}, got {g._data.dtype}")
        self._grad = g

    @property
    def grad_fn(self):
        """The node that produced this tensor, or None for leaves."""
        if self._base is not None:
            _fresh(self)
        return self._grad_fn

    @property
    def output_nr(self):
        """Which output of ``grad_fn`` this tensor is."""
        return self._output_nr

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op."""
        if self._base is not None:
            _fresh(self)
        return self._grad_fn is None

    @property
    def _base(self):
        """The tensor whose memory this view shares (None unless this is a view)."""
        return self._base

    @property
    def _view_chain(self):
        """The ops ``((cls, kwargs), ...)`` that rebuild this view from ``_base``."""
        return self._view_fn

    def _is_view(self):
        """True when this tensor is a view of another tensor's memory."""
        return self._base is not None

    @property
    def retains_grad(self):
        """True when ``retain_grad()`` was called on this non-leaf tensor."""
        return self._retains_grad

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor during backward (no-op on leaves)."""
        if self._base is not None:
            _fresh(self)
        if self._grad_fn is None or self._retains_grad:
            return
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that does not require grad")
        self._retains_grad = True
        fn = self._grad_fn
        if fn._retained is None:
            fn._retained = {}
        fn._retained[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward.

        The hook may return a Tensor to use instead of the gradient. For a leaf it runs
        before the gradient is accumulated into ``.grad``; for a non-leaf, before the
        gradient flows on. Returns a handle whose ``remove()`` unregisters it.
        """
        if self._base is not None:
            _fresh(self)
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"`hook` must be callable, got {type(hook).__name__}")
        cdef list hooks
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            fn = self._grad_fn
            if fn._pre_hooks is None:
                fn._pre_hooks = {}
            hooks = fn._pre_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def detach(self):
        """A tensor sharing this data and version counter, without graph history."""
        return _make(self._data, None, 0, False, self._version)

    def detach_(self):
        """Detach this tensor from the graph in place (it becomes a leaf)."""
        if self._base is not None:
            raise RuntimeError("can't detach views in-place; use detach() instead")
        self._grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of its leaves.

        Parameters
        ----------
        gradient : Tensor or array_like, optional
            Gradient with respect to this tensor; required unless it has one element.
        retain_graph : bool, optional
            Keep the graph's saved values for another backward (default: ``create_graph``).
        create_graph : bool
            Record the backward pass itself, so the gradients can be differentiated again.
        inputs : Tensor or sequence of Tensor, optional
            Accumulate only into these tensors' ``.grad`` (leaves or not).
        """
        from dlx.autograd import engine
        engine.backward(self, gradient, retain_graph, create_graph, inputs=inputs)


cdef object _cpu = None


cdef object _cpu_device():
    global _cpu
    if _cpu is None:
        from dlx._device import device
        _cpu = device("cpu")
    return _cpu


cdef str _shape_str(tuple shape):
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join([str(s) for s in shape]) + ")"


# -- Function: the graph node --------------------------------------------------------------
_FREED_MSG = (
    "Trying to backward through the graph a second time (or to use saved tensors after they "
    "were freed). The graph's saved values are freed by .backward() and autograd.grad(); "
    "pass retain_graph=True to the first call if you need to backward through it again."
)


cdef tuple _info(type cls):
    """(view_of, double_backward) of a Function subclass, cached per class."""
    cdef PyObject* hit = PyDict_GetItem(_class_info, cls)
    if hit is not NULL:
        return <tuple>hit
    view_of = getattr(cls, "_view_of", None)
    info = (-1 if view_of is None else int(view_of), bool(getattr(cls, "double_backward", False)))
    _class_info[cls] = info
    return info


@cython.auto_pickle(False)
cdef class Function:
    """Base class of every differentiable op; an instance is both ctx and graph node.

    A subclass defines ``forward(ctx, *args, **kwargs)`` (arrays in, an array or a tuple
    of arrays out) and ``backward(ctx, *grads)`` (one gradient per output in, one per
    positional input out: None where no gradient is needed; trailing entries may be left
    off). ``forward`` may store attributes on ctx and save arrays with
    :meth:`save_for_backward`; saved inputs and outputs are checked against in-place
    changes at backward. Set the class attribute ``double_backward = True`` when
    ``backward`` is written so that it also works on Tensors (see the module docstring):
    saved arrays that are neither an input nor an output are then constants, so such an
    op saves its inputs as received (not copies) and recomputes intermediates.
    """

    cdef public tuple needs_input_grad
    cdef tuple _next          # per input: producing Function, leaf TensorBase, or None
    cdef tuple _next_nr       # per input: output number within the producing Function
    cdef tuple _saved
    cdef tuple _inputs        # the apply() arguments, while saved inputs need them
    # Per saved value (at most _MAX_SAVED): -1 plain, i >= 0 input i, -k-2 output k, and
    # the version its tensor had when saved. C arrays: no allocation per node.
    cdef short _smap[16]
    cdef Py_ssize_t _sver[16]
    cdef int _nsaved          # how many entries of _smap/_sver are in use
    cdef bint _smapped
    cdef object _out_meta     # (shape, dtype) of the output; per output (or None) if _multi
    cdef object _out_versions # version counter of the output; per output if _multi
    cdef bint _multi
    cdef tuple _non_diff
    cdef tuple _dirty
    cdef dict _pre_hooks      # output number -> tensor hooks of that output
    cdef dict _retained       # output number -> weakref of a tensor that retains grad
    cdef list _node_pre_hooks
    cdef list _post_hooks
    cdef bint _freed
    cdef bint _tensor_mode
    cdef bint _no_materialize
    cdef object __weakref__

    _view_of = None
    double_backward = False

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    # -- ctx API ------------------------------------------------------------------------
    def save_for_backward(self, *values):
        """Keep values for backward; saved inputs and outputs are version-checked."""
        self._saved = values

    @property
    def saved_tensors(self):
        """The saved values: arrays in a plain backward, Tensors under ``create_graph``."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        if self._saved is None:
            return ()
        if not self._tensor_mode or not self._smapped:
            return self._saved
        return self._unpack_saved()

    @property
    def saved_arrays(self):
        """The saved values as given to :meth:`save_for_backward` (arrays)."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return () if self._saved is None else self._saved

    @property
    def create_graph(self):
        """True while ``backward`` runs on Tensors (``create_graph=True``)."""
        return self._tensor_mode

    def mark_non_differentiable(self, *outputs):
        """Declare outputs (arrays returned by forward) that have no gradient."""
        self._non_diff = outputs

    def mark_dirty(self, *inputs):
        """Declare inputs (arrays) that forward modified in place and returns."""
        self._dirty = inputs

    def set_materialize_grads(self, bint value):
        """Pass zeros (default) or None to backward for outputs that got no gradient."""
        self._no_materialize = not value

    @property
    def next_functions(self):
        """Per input: (node, output number), (leaf tensor, 0), or (None, 0)."""
        if self._next is None:
            return ()
        return tuple([(t, nr) for t, nr in zip(self._next, self._next_nr)])

    @property
    def parents(self):
        """Per input: the producing node, the leaf Tensor, or None (empty once freed)."""
        return () if self._next is None else self._next

    def name(self):
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return f"{type(self).__name__}Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward ran."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward; may return new gradients."""
        if self._node_pre_hooks is None:
            self._node_pre_hooks = []
        self._node_pre_hooks.append(hook)
        return RemovableHandle(self._node_pre_hooks, hook)

    cdef tuple _unpack_saved(self):
        cdef list out = []
        cdef Py_ssize_t j, code, k
        for j in range(len(self._saved)):
            code = self._smap[j] if j < self._nsaved else -1
            if code == -1:
                out.append(self._saved[j])
            elif code >= 0:
                out.append(self._inputs[code])
            else:
                k = -code - 2
                out.append(_make(self._saved[j], self, k, True, self._out_version(k)))
        return tuple(out)

    cdef void _release(self):
        self._saved = ()
        self._inputs = None
        self._nsaved = 0
        self._smapped = False
        self._next = None
        self._next_nr = None
        self._freed = True

    def _free(self):
        """Drop the saved values and edges (what backward does without retain_graph)."""
        self._release()

    cdef inline object _meta(self, Py_ssize_t k):
        """(shape, dtype) of output k, or None when it has no gradient."""
        if self._multi:
            return (<tuple>self._out_meta)[k]
        return self._out_meta

    cdef inline _Version _out_version(self, Py_ssize_t k):
        if self._multi:
            return <_Version>(<tuple>self._out_versions)[k]
        return <_Version>self._out_versions

    cdef inline Py_ssize_t _n_outputs(self):
        return len(<tuple>self._out_meta) if self._multi else 1

    cdef int _check_versions(self) except -1:
        cdef _Version vc
        cdef Py_ssize_t j, code
        for j in range(self._nsaved):
            code = self._smap[j]
            if code == -1:
                continue
            if code >= 0:
                vc = (<TensorBase>self._inputs[code])._version
            else:
                vc = self._out_version(-code - 2)
            if vc.value != self._sver[j]:
                what = f"its output {-code - 2}" if code < 0 else f"its input {code}"
                raise RuntimeError(
                    f"one of the arrays needed for gradient computation has been modified by "
                    f"an in-place operation: {what} of {self.name()} was saved at version "
                    f"{self._sver[j]} and is now at version {vc.value}. Use an out-of-place "
                    f"op, or modify the tensor only after backward."
                )
        return 0

    cpdef tuple input_shape(self, Py_ssize_t i):
        """The shape of positional input ``i`` (for inputs that need a gradient)."""
        cdef object p = self._next[i]
        if isinstance(p, Function):
            return <tuple>(<tuple>(<Function>p)._meta(self._next_nr[i]))[0]
        return (<TensorBase>p)._data.shape

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and record a node when needed.

        With no Tensor among ``args`` the call works on arrays and returns arrays, which
        lets a backward formula use the same op on arrays and, under ``create_graph``,
        on Tensors.
        """
        return _apply(cls, args, kwargs)


cdef object _apply(type cls, tuple args, dict kwargs):
    cdef Py_ssize_t n = len(args), i, k, n_out
    cdef list arrays = list(args)
    cdef list needs = None
    cdef bint any_tensor = False, record = False
    cdef TensorBase t
    for i in range(n):
        a = args[i]
        if isinstance(a, TensorBase):
            t = <TensorBase>a
            if t._base is not None:
                _fresh(t)
            any_tensor = True
            arrays[i] = t._data
            if t._requires_grad and dlx_grad_enabled:
                if needs is None:
                    needs = [False] * n
                needs[i] = True
                record = True
    cdef Function ctx = <Function>Function.__new__(cls)
    if record:
        ctx.needs_input_grad = _needs_tuple(needs)
    else:
        ctx.needs_input_grad = _no_grads[n] if n < 16 else (False,) * n
    out = cls.forward(ctx, *arrays, **kwargs)
    cdef bint multi = type(out) is tuple
    if not any_tensor:
        if multi:
            return tuple([o if o is None or type(o) is _ndarray else _asarray(o) for o in out])
        return out if type(out) is _ndarray else _asarray(out)
    if record:
        # Edges first: an in-place op below may rebase an input onto ctx.
        _record_edges(ctx, args, n)
    cdef tuple info = _info(cls)
    cdef Py_ssize_t view_of = info[0]
    cdef tuple outs = <tuple>out if multi else (out,)
    n_out = len(outs)
    cdef list results = [None] * n_out
    cdef tuple non_diff = ctx._non_diff
    cdef tuple dirty = ctx._dirty
    cdef _Version ver
    cdef bint diff, any_diff = False
    cdef list meta = None
    if record:
        meta = [None] * n_out
    for k in range(n_out):
        o = outs[k]
        if o is None:
            continue
        if type(o) is not _ndarray:
            o = _asarray(o)
        diff = record and o.dtype.kind == "f"
        if diff and non_diff is not None:
            for nd in non_diff:
                if nd is outs[k]:
                    diff = False
        src = None if dirty is None else _dirty_input(args, arrays, dirty, o)
        if src is not None:
            t = <TensorBase>src
            t._version.value += 1
            if diff:
                t._grad_fn = ctx
                t._output_nr = k
                t._requires_grad = True
            results[k] = t
        else:
            ver = None
            if view_of >= 0 and view_of < n:
                src = args[view_of]
                if isinstance(src, TensorBase) and _may_share(o, (<TensorBase>src)._data):
                    ver = (<TensorBase>src)._version
            results[k] = _make(o, ctx if diff else None, k if diff else 0, diff, ver)
            if ver is not None and n == 1:
                _set_view(<TensorBase>results[k], <TensorBase>src, cls, kwargs)
        if diff:
            any_diff = True
            meta[k] = (o.shape, o.dtype)
    if any_diff:
        _record_saved(ctx, args, arrays, n, results, outs, n_out, meta, <bint>info[1])
    elif record:
        ctx._next = None
    if multi:
        return tuple(results)
    return results[0]


cdef dict _needs_cache = {}


cdef tuple _needs_tuple(list needs):
    """A shared tuple for each needs_input_grad pattern (no allocation per op)."""
    cdef Py_ssize_t key = len(needs), i
    if key > 12:
        return tuple(needs)
    for i in range(key):
        if needs[i]:
            key |= 1 << (i + 4)
    hit = PyDict_GetItem(_needs_cache, key)
    if hit is not NULL:
        return <tuple>hit
    t = tuple(needs)
    _needs_cache[key] = t
    return t


cdef tuple _zero_nrs = tuple([(0,) * n for n in range(16)])


cdef object _dirty_input(tuple args, list arrays, tuple dirty, object o):
    cdef Py_ssize_t i
    for d in dirty:
        if d is o:
            for i in range(len(args)):
                if arrays[i] is o and isinstance(args[i], TensorBase):
                    return args[i]
    return None


cdef int _record_edges(Function ctx, tuple args, Py_ssize_t n) except -1:
    cdef list nxt = [None] * n
    cdef list nxt_nr = [0] * n
    cdef Py_ssize_t i
    cdef TensorBase t
    for i in range(n):
        if ctx.needs_input_grad[i]:
            t = <TensorBase>args[i]
            if t._grad_fn is not None:
                nxt[i] = t._grad_fn
                nxt_nr[i] = t._output_nr
            else:
                nxt[i] = t
    ctx._next = tuple(nxt)
    if n < 16 and not any(nxt_nr):
        ctx._next_nr = _zero_nrs[n]
    else:
        ctx._next_nr = tuple(nxt_nr)
    return 0


cdef int _record_saved(Function ctx, tuple args, list arrays, Py_ssize_t n, list results,
                       tuple raw, Py_ssize_t n_out, list meta, bint double) except -1:
    cdef Py_ssize_t i, j, k
    cdef TensorBase t, r
    cdef list versions
    if n_out == 1:
        ctx._multi = False
        ctx._out_meta = meta[0]
        ctx._out_versions = (<TensorBase>results[0])._version
    else:
        ctx._multi = True
        versions = [None] * n_out
        for k in range(n_out):
            if results[k] is not None:
                versions[k] = (<TensorBase>results[k])._version
        ctx._out_meta = tuple(meta)
        ctx._out_versions = tuple(versions)
    cdef tuple saved = ctx._saved
    if not saved:
        return 0
    cdef Py_ssize_t n_saved = len(saved)
    if n_saved > 16:
        raise ValueError(f"{type(ctx).__name__}: save_for_backward takes at most 16 values")
    cdef list fixed = None
    cdef bint found, any_input = False
    for j in range(n_saved):
        ctx._smap[j] = -1
        s = saved[j]
        if s is None:
            continue
        found = False
        for k in range(n_out):
            if results[k] is not None and meta[k] is not None:
                r = <TensorBase>results[k]
                # Identity with what forward returned: a 0-d result comes back from NumPy
                # as a scalar, which the output Tensor holds as a 0-d array.
                if r._data is s or raw[k] is s:
                    if r._data is not s:
                        if fixed is None:
                            fixed = list(saved)
                        fixed[j] = r._data
                    ctx._smap[j] = <short>(-k - 2)
                    ctx._sver[j] = r._version.value
                    found = True
                    break
        if found or type(s) is not _ndarray:
            continue
        for i in range(n):
            if arrays[i] is s and isinstance(args[i], TensorBase):
                t = <TensorBase>args[i]
                ctx._smap[j] = <short>i
                ctx._sver[j] = t._version.value
                any_input = True
                break
    ctx._nsaved = <int>n_saved
    ctx._smapped = double
    if any_input:
        ctx._inputs = args
    if fixed is not None:
        ctx._saved = tuple(fixed)
    return 0


# -- engine --------------------------------------------------------------------------------
class _NotTwiceDifferentiable(Function):
    """Node of a gradient computed by an op without double backward; raises if reached."""

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError(
            f"double backward through {ctx.op_name} is not supported: its backward is a fused "
            f"kernel without a differentiable formula (create_graph=True cannot differentiate "
            f"its gradient again)"
        )

    def name(self):
        return f"{self.op_name}BackwardBackward"


@cython.final
cdef class _Slot:
    """Gradients arriving at one vertex (one per output) and whether the engine owns them."""

    cdef list grads
    cdef unsigned long long owned  # bit k: the engine allocated grads[k] (safe to add into)

    def __cinit__(self, Py_ssize_t n):
        self.grads = [None] * n
        self.owned = 0

    cdef inline bint is_owned(self, Py_ssize_t k):
        return k < 64 and (self.owned >> k) & 1

    cdef inline void set_owned(self, Py_ssize_t k, bint value):
        if k < 64:
            if value:
                self.owned |= (<unsigned long long>1) << k
            else:
                self.owned &= ~((<unsigned long long>1) << k)


cdef inline Py_ssize_t _n_slots(object vertex):
    if isinstance(vertex, Function):
        return (<Function>vertex)._n_outputs()
    return 1


cdef int _send(dict bufs, object vertex, Py_ssize_t nr, object g, bint graph) except -1:
    """Add gradient ``g`` for output ``nr`` of ``vertex``, never writing into a shared array."""
    cdef PyObject* hit = PyDict_GetItem(bufs, vertex)
    cdef _Slot slot
    if hit is NULL:
        slot = _Slot(_n_slots(vertex))
        bufs[vertex] = slot
    else:
        slot = <_Slot>hit
    prev = slot.grads[nr]
    if prev is None:
        slot.grads[nr] = g
        return 0
    if graph:
        slot.grads[nr] = prev + g
    elif slot.is_owned(nr):
        _np_add(prev, g, out=prev)
    else:
        acc = prev + g
        if type(acc) is not _ndarray:
            acc = _asarray(acc)  # 0-d sums come back as NumPy scalars
        slot.grads[nr] = acc
        slot.set_owned(nr, True)
    return 0


cdef object _wrap_grad(object g):
    """A gradient array as a Tensor for hooks and create_graph (no copy)."""
    if isinstance(g, TensorBase):
        return g
    return _make(g, None, 0, False, None)


cdef object _run_tensor_hooks(list hooks, object g, bint graph):
    for hook in list(hooks):
        res = hook(_wrap_grad(g))
        if res is not None:
            if graph:
                g = _wrap_grad(res)
            else:
                g = _as_grad_array(res)
    return g


cdef int _accumulate(TensorBase leaf, object g, bint owned, bint graph) except -1:
    """Add ``g`` into ``leaf.grad`` (a new tensor the first time), atomically."""
    cdef TensorBase existing
    with _leaf_lock:
        existing = leaf._grad
        if graph:
            if existing is None:
                leaf._grad = g if owned else g.clone()
            else:
                leaf._grad = existing + g
            return 0
        if existing is None:
            dt = leaf._data.dtype
            if not (owned and g.dtype == dt and g.flags.c_contiguous and g.flags.writeable):
                g = _np_array(g, dtype=dt, order="C")
            leaf._grad = _make(g, None, 0, False, None)
        elif existing._requires_grad:
            leaf._grad = existing + _wrap_grad(g)
        else:
            _np_add(existing._data, g, out=existing._data, casting="same_kind")
            existing._version.value += 1
    return 0


cdef object _copy_if_shared(object g, bint owned, bint graph):
    if owned or graph:
        return g
    return _np_array(g, order="C")


cdef object _zeros_for(tuple meta, bint graph):
    z = _np_zeros(meta[0], dtype=meta[1])
    return _make(z, None, 0, False, None) if graph else z


cdef object _checked_grad(Function node, Py_ssize_t i, object gi, object target,
                          Py_ssize_t nr, bint graph):
    """A returned gradient of the expected shape and dtype (RuntimeError otherwise)."""
    cdef tuple meta
    if isinstance(target, Function):
        meta = <tuple>(<Function>target)._meta(nr)
        shape, dtype = meta[0], meta[1]
    else:
        shape, dtype = (<TensorBase>target)._data.shape, (<TensorBase>target)._data.dtype
    if graph:
        if not isinstance(gi, TensorBase):
            gi = _make(_asarray(gi), None, 0, False, None)
        arr = (<TensorBase>gi)._data
    else:
        if type(gi) is not _ndarray:
            gi = _as_grad_array(gi)
        arr = gi
    if arr.shape != shape:
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {arr.shape} for input {i}, which has "
            f"shape {shape}"
        )
    if arr.dtype != dtype:
        gi = gi.to(dtype) if graph else arr.astype(dtype)
    return gi


cdef tuple _discover(list roots, bint need_consumers):
    """Reachable nodes: incoming-edge counts (and consumer lists) of every vertex."""
    cdef dict deps = {}
    cdef dict consumers = {} if need_consumers else None
    cdef list stack = []
    cdef Function node
    cdef Py_ssize_t i
    for r in roots:
        if isinstance(r, Function) and r not in deps:
            deps[r] = 0
            stack.append(r)
        elif r not in deps:
            deps[r] = 0
    while stack:
        node = <Function>stack.pop()
        nxt = node._next
        if nxt is None:
            continue
        for i in range(len(<tuple>nxt)):
            p = (<tuple>nxt)[i]
            if p is None:
                continue
            hit = PyDict_GetItem(deps, p)
            if hit is NULL:
                deps[p] = 1
                if isinstance(p, Function):
                    stack.append(p)
            else:
                deps[p] = <object>hit + 1
            if need_consumers:
                c = consumers.get(p)
                if c is None:
                    consumers[p] = [node]
                else:
                    c.append(node)
    return deps, consumers


cdef set _needed(dict consumers, list targets):
    """Vertices from which a target is reachable (the only ones that must run)."""
    cdef set seen = set()
    cdef list stack = list(targets)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        for c in consumers.get(v, ()):
            if c not in seen:
                stack.append(c)
    return seen


def run_backward(tuple outputs, tuple seeds, bint retain_graph, bint create_graph,
                 tuple inputs=None, bint accumulate=True):
    """Backpropagate ``seeds`` from ``outputs``; the engine behind backward() and grad().

    ``accumulate``: add into ``.grad`` (of every leaf, or only of ``inputs`` when given);
    otherwise return the gradients of ``inputs`` (None where unused) without touching
    ``.grad``. Seeds are arrays, or Tensors under ``create_graph``.
    """
    global dlx_grad_enabled
    cdef bint graph = create_graph
    cdef Py_ssize_t i, k, nr, n_in = 0 if inputs is None else len(inputs)
    cdef TensorBase t
    cdef Function node
    cdef _Slot slot
    cdef list roots = []
    cdef list root_nr = []
    for t in outputs:
        if t._base is not None:
            _fresh(t)
        if t._grad_fn is not None:
            roots.append(t._grad_fn)
        else:
            roots.append(t)
        root_nr.append(t._output_nr)
    # Input vertices: a leaf itself, or (node, output number) for a non-leaf.
    cdef dict leaf_index = {}
    cdef dict node_index = {}
    cdef list targets = []
    if inputs is not None:
        for i in range(n_in):
            t = <TensorBase>inputs[i]
            if t._base is not None:
                _fresh(t)
            if t._grad_fn is None:
                leaf_index.setdefault(t, []).append(i)
                targets.append(t)
            else:
                node_index.setdefault(t._grad_fn, []).append((t._output_nr, i))
                targets.append(t._grad_fn)
    deps, consumers = _discover(roots, inputs is not None)
    cdef set needed = _needed(consumers, targets) if inputs is not None else None
    # Every node that will run: not freed, saved values unchanged (checked before any
    # gradient is accumulated, so a failing call leaves every .grad as it was).
    for v in deps:
        if isinstance(v, Function) and (needed is None or v in needed):
            if (<Function>v)._freed:
                raise RuntimeError(_FREED_MSG)
            (<Function>v)._check_versions()
    cdef list captured = [None] * n_in
    cdef dict bufs = {}
    for i in range(len(roots)):
        _send(bufs, roots[i], root_nr[i], seeds[i], graph)
    cdef list ready = [r for r in dict.fromkeys(roots) if deps[r] == 0]
    prev_mode = dlx_grad_enabled
    dlx_grad_enabled = graph
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            while ready:
                v = ready.pop()
                if needed is not None and v not in needed:
                    continue  # nothing wanted upstream: not run, not freed
                hit = PyDict_GetItem(bufs, v)
                slot = None
                if hit is not NULL:
                    slot = <_Slot>hit
                    del bufs[v]
                if not isinstance(v, Function):
                    if slot is not None:
                        _leaf_vertex(<TensorBase>v, slot, graph, accumulate, inputs,
                                     leaf_index, captured)
                    continue
                node = <Function>v
                if slot is not None:
                    _node_vertex(node, slot, graph, accumulate, inputs, node_index, captured,
                                 needed, bufs)
                nxt = node._next
                if not retain_graph:
                    node._release()
                if nxt is None:
                    continue
                for p in <tuple>nxt:
                    if p is None:
                        continue
                    c = deps[p] - 1
                    deps[p] = c
                    if c == 0:
                        ready.append(p)
    finally:
        dlx_grad_enabled = prev_mode
    if not accumulate:
        return captured
    if inputs is not None:  # backward(inputs=...) into non-leaf tensors
        for i in range(n_in):
            t = <TensorBase>inputs[i]
            if t._grad_fn is not None and captured[i] is not None:
                _accumulate(t, captured[i], False, graph)
    return None


cdef int _leaf_vertex(TensorBase leaf, _Slot slot, bint graph, bint accumulate, tuple inputs,
                      dict leaf_index, list captured) except -1:
    g = slot.grads[0]
    if g is None:
        return 0
    cdef bint owned = slot.is_owned(0)
    if leaf._hooks:
        g2 = _run_tensor_hooks(leaf._hooks, g, graph)
        if g2 is not g:
            g, owned = g2, False
    idx = leaf_index.get(leaf)
    if idx is not None:
        for i in idx:
            captured[i] = _copy_if_shared(g, owned, graph)
            owned = False
        if accumulate:
            _accumulate(leaf, g, False, graph)
    elif accumulate and inputs is None:
        _accumulate(leaf, g, owned, graph)
    return 0


cdef int _node_vertex(Function node, _Slot slot, bint graph, bint accumulate, tuple inputs,
                      dict node_index, list captured, set needed, dict bufs) except -1:
    cdef Py_ssize_t k, i, n_out
    cdef list grads = slot.grads
    n_out = len(grads)
    if node._pre_hooks:
        for k, hooks in node._pre_hooks.items():
            if grads[k] is not None and hooks:
                g2 = _run_tensor_hooks(hooks, grads[k], graph)
                if g2 is not grads[k]:
                    grads[k] = g2
                    slot.set_owned(k, False)
    if node._retained:
        for k, ref in node._retained.items():
            holder = ref()
            if holder is not None and grads[k] is not None:
                _accumulate(<TensorBase>holder, grads[k], False, graph)
    idx = node_index.get(node) if inputs is not None else None
    if idx is not None:
        for k, i in idx:
            if grads[k] is not None:
                captured[i] = _copy_if_shared(grads[k], slot.is_owned(k), graph)
                slot.set_owned(k, False)
    if needed is not None and not _any_needed(node, needed):
        return 0  # only captured here: nothing upstream is wanted
    for k in range(n_out):
        if grads[k] is None and not node._no_materialize:
            m = node._meta(k)
            if m is not None:
                grads[k] = _zeros_for(<tuple>m, graph)
    if node._node_pre_hooks:
        for hook in list(node._node_pre_hooks):
            res = hook(tuple([None if g is None else _wrap_grad(g) for g in grads]))
            if res is not None:
                grads = [None if g is None else (_wrap_grad(g) if graph else _as_grad_array(g))
                         for g in res]
    cdef type cls = type(node)
    cdef bint double = <bint>_info(cls)[1]
    if graph and double:
        node._tensor_mode = True
        try:
            res = cls.backward(node, *grads)
        finally:
            node._tensor_mode = False
    elif graph:
        res = _backward_once(node, cls, grads)
    elif n_out == 1:
        res = cls.backward(node, grads[0])
    else:
        res = cls.backward(node, *grads)
    if type(res) is not tuple:
        res = (res,)
    nxt = node._next
    cdef Py_ssize_t n_in = len(<tuple>nxt)
    if len(<tuple>res) > n_in:
        raise RuntimeError(
            f"{node.name()} returned {len(<tuple>res)} gradients for {n_in} inputs"
        )
    for i in range(len(<tuple>res)):
        p = (<tuple>nxt)[i]
        gi = (<tuple>res)[i]
        if p is None or gi is None:
            continue
        if needed is not None and p not in needed:
            continue
        gi = _checked_grad(node, i, gi, p, node._next_nr[i], graph)
        _send(bufs, p, node._next_nr[i], gi, graph)
    if node._post_hooks:
        for hook in list(node._post_hooks):
            hook(tuple([None if g is None else _wrap_grad(g) for g in res]),
                 tuple([None if g is None else _wrap_grad(g) for g in grads]))
    return 0


cdef bint _any_needed(Function node, set needed):
    nxt = node._next
    if nxt is None:
        return False
    for p in <tuple>nxt:
        if p is not None and p in needed:
            return True
    return False


cdef object _backward_once(Function node, type cls, list grads):
    """create_graph through an op without double backward: compute on arrays, then wrap."""
    global dlx_grad_enabled
    arrays = [None if g is None else (<TensorBase>_wrap_grad(g))._data for g in grads]
    dlx_grad_enabled = False
    try:
        res = cls.backward(node, *arrays)
    finally:
        dlx_grad_enabled = True
    if type(res) is not tuple:
        res = (res,)
    # The gradients depend on the incoming gradients and on the op's inputs.
    srcs = [g for g in grads if isinstance(g, TensorBase) and (<TensorBase>g)._requires_grad]
    cdef list nxt = []
    cdef list nxt_nr = []
    cdef TensorBase t
    for g in srcs:
        t = <TensorBase>g
        nxt.append(t if t._grad_fn is None else t._grad_fn)
        nxt_nr.append(t._output_nr)
    if node._next is not None:
        for p, nr in zip(node._next, node._next_nr):
            if p is not None:
                nxt.append(p)
                nxt_nr.append(nr)
    if not nxt:
        return tuple([None if r is None else _make(_as_grad_array(r), None, 0, False, None)
                      for r in res])
    cdef Function wrap = <Function>Function.__new__(_NotTwiceDifferentiable)
    setattr(wrap, "op_name", type(node).__name__)
    wrap.needs_input_grad = (True,) * len(nxt)
    wrap._next = tuple(nxt)
    wrap._next_nr = tuple(nxt_nr)
    out = []
    cdef list meta = []
    for k in range(len(res)):
        r = res[k]
        if r is None:
            out.append(None)
            meta.append(None)
            continue
        a = _as_grad_array(r)
        meta.append((a.shape, a.dtype) if a.dtype.kind == "f" else None)
        out.append(_make(a, wrap if a.dtype.kind == "f" else None, k, a.dtype.kind == "f", None))
    wrap._multi = True
    wrap._out_meta = tuple(meta)
    wrap._out_versions = tuple([None] * len(meta))
    return tuple(out)
