"""NumPy references for the fused optimiser steps (``dlx._core.*_step_``).

Each function has the signature of its kernel and, like it, updates ``param`` and the
state arrays in place (``grad`` is only read). They follow PyTorch's single-tensor
``torch.optim`` algorithms operation by operation, in the arrays' own dtype, and are the
specification the kernels are tested against.
"""

from __future__ import annotations

import numpy as np


def _decayed_grad(param, grad, weight_decay):
    """``grad + weight_decay * param`` (a new array; the caller's grad is left alone)."""
    return grad + weight_decay * param if weight_decay != 0 else grad


def _lerp_(start, end, weight):
    """``torch.lerp_``: start + w (end - start) for |w| < 0.5, else end + (w - 1)(end - start)."""
    w = start.dtype.type(weight)
    if abs(weight) < 0.5:
        start += w * (end - start)
    else:
        start[...] = end + (w - 1) * (end - start)


def _apply_decay(param, grad, lr, weight_decay, decoupled):
    """Adam-family weight decay: decoupled shrinks param in place, else L2 joins the grad."""
    if weight_decay == 0:
        return grad
    if decoupled:
        param *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * param


def sgd_step_(
    param,
    grad,
    momentum_buffer=None,
    lr=1e-3,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    first_step=False,
):
    """SGD with momentum, dampening, Nesterov and L2 weight decay."""
    g = _decayed_grad(param, grad, weight_decay)
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = g
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * g
        g = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * g


def adagrad_step_(param, grad, state_sum, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
    """Adagrad with learning-rate decay ``lr / (1 + (step - 1) lr_decay)``."""
    g = _decayed_grad(param, grad, weight_decay)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += g * g
    param += -clr * g / (np.sqrt(state_sum) + eps)


def rmsprop_step_(
    param,
    grad,
    square_avg,
    momentum_buffer=None,
    grad_avg=None,
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
):
    """RMSprop; centered when ``grad_avg`` is given, heavy-ball momentum when momentum > 0."""
    g = _decayed_grad(param, grad, weight_decay)
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if grad_avg is not None:
        _lerp_(grad_avg, g, 1 - alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        param -= lr * momentum_buffer
    else:
        param -= lr * g / avg


def adadelta_step_(param, grad, square_avg, acc_delta, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    """Adadelta."""
    g = _decayed_grad(param, grad, weight_decay)
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    param -= lr * delta


def adam_step_(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    max_exp_avg_sq=None,
    lr=1e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
):
    """Adam (AdamW with ``decoupled_weight_decay``); AMSGrad when ``max_exp_avg_sq`` is given."""
    g = _apply_decay(param, grad, lr, weight_decay, decoupled_weight_decay)
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    v = exp_avg_sq
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    step_size = lr / (1 - beta1**step)
    denom = np.sqrt(v) / (1 - beta2**step) ** 0.5 + eps
    param += -step_size * exp_avg / denom


def radam_step_(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    lr=1e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
):
    """RAdam: Adam whose adaptive term is switched on (and rectified) once rho_t > 5."""
    g = _apply_decay(param, grad, lr, weight_decay, decoupled_weight_decay)
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
    update = exp_avg / bias_correction1 * lr
    if rho_t > 5.0:
        rect = (
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        ) ** 0.5
        update = update * (bias_correction2**0.5 / (np.sqrt(exp_avg_sq) + eps)) * rect
    param -= update


def nadam_step_(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    mu_product,
    lr=2e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
):
    """NAdam; ``mu_product`` is the product of mu_1 .. mu_step (this step included)."""
    g = _apply_decay(param, grad, lr, weight_decay, decoupled_weight_decay)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    denom = np.sqrt(exp_avg_sq / (1 - beta2**step)) + eps
    param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
    param += (-lr * mu_next / (1.0 - mu_product * mu_next)) * exp_avg / denom


def adamax_step_(
    param,
    grad,
    exp_avg,
    exp_inf,
    step,
    lr=2e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
):
    """Adamax: Adam with the second moment replaced by a decayed infinity norm."""
    g = _decayed_grad(param, grad, weight_decay)
    _lerp_(exp_avg, g, 1 - beta1)
    exp_inf *= beta2
    np.maximum(exp_inf, np.abs(g) + param.dtype.type(eps), out=exp_inf)
    clr = lr / (1 - beta1**step)
    param += param.dtype.type(-clr) * exp_avg / exp_inf


def asgd_step_(param, grad, ax, eta, mu=1.0, lambd=1e-4, weight_decay=0.0):
    """ASGD with this step's ``eta`` and ``mu``; ``ax`` becomes the running average."""
    g = _decayed_grad(param, grad, weight_decay)
    param *= param.dtype.type(1 - lambd * eta)
    param += param.dtype.type(-eta) * g
    if param.dtype.type(mu) != 1:
        ax += (param - ax) * param.dtype.type(mu)
    else:
        ax[...] = param


def rprop_step_(
    param,
    grad,
    prev,
    step_size,
    etaminus=0.5,
    etaplus=1.2,
    step_size_min=1e-6,
    step_size_max=50.0,
):
    """Rprop: per-element step sizes grown while the gradient keeps its sign, shrunk on a flip."""
    t = param.dtype.type
    with np.errstate(invalid="ignore"):
        prod = grad * prev
    factor = np.where(prod > 0, t(etaplus), np.where(prod < 0, t(etaminus), t(1)))
    step_size *= factor
    np.copyto(step_size, np.where(step_size < t(step_size_min), t(step_size_min), step_size))
    np.copyto(step_size, np.where(step_size > t(step_size_max), t(step_size_max), step_size))
    g = np.where(prod < 0, t(0), grad)
    param -= np.sign(np.nan_to_num(g, nan=0.0)) * step_size
    prev[...] = g
