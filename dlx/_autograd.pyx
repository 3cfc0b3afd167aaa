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


# The three parts of the core, each one concept (a textual include keeps them one module:
# cdef classes and inline helpers cross the parts at C speed).
include "_autograd_tensor.pxi"
include "_autograd_graph.pxi"
include "_autograd_engine.pxi"
