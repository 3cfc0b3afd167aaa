# Included by dlx/_autograd.pyx (one compiled module; Cython's include is textual).
# Tensor storage: version counters, views and TensorBase (the operator slots, .grad/.data).

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
