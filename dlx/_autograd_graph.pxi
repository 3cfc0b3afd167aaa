# Included by dlx/_autograd.pyx (one compiled module; Cython's include is textual).
# The graph node: Function, apply (running forward, recording edges and saved values).

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
