# Included by dlx/_autograd.pyx (one compiled module; Cython's include is textual).
# The backward engine: gradient slots, leaf accumulation, the walk (run_backward).

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
