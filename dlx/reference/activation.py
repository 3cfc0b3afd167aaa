"""NumPy references for the activation kernels (same names and arguments as ``dlx._core``).

Results keep the input dtype. GELU evaluates the normal CDF in float64 through a vectorised
erfc (NumPy has none), then casts back.
"""

from __future__ import annotations

import numpy as np

# erf / erfc rational approximations (Cephes double precision, S. L. Moshier); coefficient
# lists are highest degree first, as np.polyval expects. A leading 1 is implied for Q, S, U.
_ERFC_P = [
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
]
_ERFC_Q = [
    1.0,
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
]
_ERFC_R = [
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
]
_ERFC_S = [
    1.0,
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
]
_ERF_T = [
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
]
_ERF_U = [
    1.0,
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
]


def _erfc(x):
    """Complementary error function of a float64 array (about 1e-15 relative)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        z = a * a
        small = 1.0 - x * np.polyval(_ERF_T, z) / np.polyval(_ERF_U, z)  # |x| < 1
        mid = np.polyval(_ERFC_P, a) / np.polyval(_ERFC_Q, a)  # 1 <= |x| < 8
        far = np.polyval(_ERFC_R, a) / np.polyval(_ERFC_S, a)  # |x| >= 8
        tail = np.exp(-z) * np.where(a < 8.0, mid, far)
        tail = np.where(np.isinf(a), 0.0, tail)
    tail = np.where(x < 0, 2.0 - tail, tail)
    return np.where(a < 1.0, small, tail)


def _normcdf(x):
    """Standard normal CDF in float64, accurate in both tails."""
    return 0.5 * _erfc(-np.asarray(x, dtype=np.float64) * np.sqrt(0.5))


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def relu_forward(x):
    """``max(x, 0)``, NaN kept."""
    return np.where(x < 0, 0, x).astype(x.dtype, copy=False)


def relu_backward(grad_output, x):
    return np.where(x <= 0, 0, grad_output).astype(x.dtype, copy=False)


def leaky_relu_forward(x, negative_slope=0.01):
    return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    return np.where(x > 0, grad_output, grad_output * negative_slope).astype(x.dtype, copy=False)


def abs_relu_forward(x):
    return np.abs(x)


def abs_relu_backward(grad_output, x):
    return (np.sign(x) * grad_output).astype(x.dtype, copy=False)


def elu_forward(x, alpha=1.0):
    with np.errstate(over="ignore"):
        return np.where(x <= 0, alpha * np.expm1(x), x).astype(x.dtype, copy=False)


def elu_backward(grad_output, x, alpha=1.0):
    with np.errstate(over="ignore"):
        d = np.where(x <= 0, alpha * np.exp(x), 1)
    return (grad_output * d).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    return _sigmoid(x).astype(x.dtype, copy=False)


def sigmoid_backward(grad_output, y):
    return grad_output * y * (1 - y)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(grad_output, y):
    return grad_output * (1 - y * y)


def softplus_forward(x, beta=1.0, threshold=20.0):
    """``log1p(exp(beta x)) / beta``, and ``x`` where ``beta x > threshold`` (PyTorch)."""
    z = x * beta
    soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    return np.where(z > threshold, x, soft).astype(x.dtype, copy=False)


def softplus_backward(grad_output, x, beta=1.0, threshold=20.0):
    z = x * beta
    return np.where(z > threshold, grad_output, grad_output * _sigmoid(z)).astype(
        x.dtype, copy=False
    )


def hardtanh_forward(x, min_val=-1.0, max_val=1.0):
    return np.where(x < min_val, min_val, np.where(x > max_val, max_val, x)).astype(
        x.dtype, copy=False
    )


def hardtanh_backward(grad_output, x, min_val=-1.0, max_val=1.0):
    inside = (x > min_val) & (x < max_val)
    return np.where(inside, grad_output, 0).astype(x.dtype, copy=False)


_GELU_BETA = np.sqrt(2 / np.pi)
_GELU_KAPPA = 0.044715


def _check_approximate(approximate):
    if approximate not in ("none", "tanh"):
        msg = f"`approximate` must be 'none' or 'tanh', got {approximate!r}"
        raise ValueError(msg)


def gelu_forward(x, approximate="none"):
    """``x * Phi(x)``, or the tanh approximation."""
    _check_approximate(approximate)
    if approximate == "tanh":
        with np.errstate(over="ignore"):
            return 0.5 * x * (1 + np.tanh(_GELU_BETA * (x + _GELU_KAPPA * x**3)))
    return (x * _normcdf(x)).astype(x.dtype)


def gelu_backward(grad_output, x, approximate="none"):
    _check_approximate(approximate)
    if approximate == "tanh":
        with np.errstate(over="ignore", invalid="ignore"):
            t = np.tanh(_GELU_BETA * (x + _GELU_KAPPA * x**3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_BETA * (1 + 3 * _GELU_KAPPA * x * x)
        return grad_output * d
    xd = x.astype(np.float64)
    d = _normcdf(xd) + xd * np.exp(-0.5 * xd * xd) / np.sqrt(2 * np.pi)
    return (grad_output * d).astype(x.dtype)


def silu_forward(x):
    return (x * _sigmoid(x)).astype(x.dtype, copy=False)


def silu_backward(grad_output, x):
    s = _sigmoid(x)
    return (grad_output * s * (1 + x * (1 - s))).astype(x.dtype, copy=False)


def _channel_view(x, weight):
    """The weight shaped to broadcast along axis 1 (or everywhere when shared / ndim < 2)."""
    if weight.size == 1 or x.ndim < 2:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu_forward(x, weight):
    """``x`` where positive, else ``weight[c] * x`` with ``c`` the index on axis 1."""
    return np.where(x > 0, x, _channel_view(x, weight) * x)


def prelu_backward(grad_output, x, weight):
    """``(grad_input, grad_weight)``; grad_weight sums over every axis but 1 in float64."""
    w = _channel_view(x, weight)
    gx = np.where(x > 0, grad_output, w * grad_output)
    contrib = np.where(x > 0, 0.0, x.astype(np.float64) * grad_output)
    if weight.size == 1 or x.ndim < 2:
        gw = contrib.sum().reshape(weight.shape)
    else:
        gw = contrib.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
    return gx, gw.astype(x.dtype)


def maxout_forward(x, pieces):
    """``(output, indices)``: max over groups of ``pieces`` consecutive channels (axis 1)."""
    n, c = x.shape[:2]
    g = x.reshape((n, c // pieces, pieces, *x.shape[2:]))
    idx = np.argmax(g, axis=2)  # first maximum; a NaN counts as the maximum
    return np.take_along_axis(g, idx[:, :, None], axis=2)[:, :, 0], idx.astype(np.int64)


def maxout_backward(grad_output, indices, pieces):
    n, c = grad_output.shape[:2]
    ks = np.arange(pieces).reshape((1, 1, pieces) + (1,) * (grad_output.ndim - 2))
    gx = np.where(indices[:, :, None] == ks, grad_output[:, :, None], 0).astype(grad_output.dtype)
    return gx.reshape((n, c * pieces, *grad_output.shape[2:]))
