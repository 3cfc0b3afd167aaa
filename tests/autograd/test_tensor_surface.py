"""The PyTorch-facing surface of dlx.Tensor: dtype names and conversions, devices and
dlx.cuda, grad-mode managers as context managers and decorators, ``.grad``/``.data`` as
tensors, one definition per op (``dlx.X is Tensor.X``), operators and formatting."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import dlx
from dlx import nn


# -- dtypes and conversions --------------------------------------------------------------------
def test_dtype_names():
    assert dlx.float is dlx.float32
    assert dlx.double is dlx.float64
    assert dlx.half is dlx.float16
    assert dlx.long is dlx.int64
    assert dlx.int is dlx.int32
    assert dlx.bool is dlx.bool_
    assert dlx.short == np.int16
    assert dlx.uint8 == np.uint8
    assert isinstance(dlx.tensor([1.0]).dtype, dlx.dtype)
    assert dlx.tensor([1, 2], dtype=dlx.long).dtype == np.int64
    assert dlx.tensor([1, 2], dtype=dlx.float).dtype == np.float32
    assert dlx.get_default_dtype() == dlx.float32
    assert dlx.zeros(2, dtype=dlx.double).dtype == np.float64


@pytest.mark.parametrize(
    ("method", "dtype"),
    [
        ("float", np.float32),
        ("double", np.float64),
        ("half", np.float16),
        ("long", np.int64),
        ("int", np.int32),
        ("short", np.int16),
        ("byte", np.uint8),
        ("bool", np.bool_),
    ],
)
def test_conversion_methods(method, dtype):
    x = dlx.tensor([0.0, 1.5, -2.0])
    out = getattr(x, method)()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), x.numpy().astype(dtype))


def test_type_as_type_and_to_forms():
    x = dlx.tensor([1.5, 2.5], requires_grad=True)
    i = dlx.tensor([1, 2])
    assert i.type_as(x).dtype == np.float32
    assert x.type() == "torch.FloatTensor"
    assert i.type() == "torch.LongTensor"
    assert x.type(dlx.int64).dtype == np.int64
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.to("cpu") is x
    assert x.to(dlx.device("cpu")) is x
    assert x.to("cpu", dlx.float64).dtype == np.float64
    assert x.to(dtype=dlx.float64, device="cpu").dtype == np.float64
    assert x.to(i).dtype == np.int64
    assert x.to(dlx.float32, copy=True) is not x
    assert x.to("cpu", non_blocking=True) is x
    assert x.cpu() is x
    x.double().sum().backward()  # float conversions are differentiable
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    assert float(dlx.tensor(2.5)) == 2.5  # float() on a 0-d tensor
    assert dlx.tensor(2.5).float().shape == ()
    assert x.is_floating_point()
    assert not i.is_floating_point()
    assert x.element_size() == 4
    assert x.get_device() == -1
    assert not x.is_cuda


def test_cuda_is_unavailable_and_refused():
    assert dlx.cuda.is_available() is False
    assert dlx.cuda.device_count() == 0
    dlx.cuda.manual_seed(0)
    dlx.cuda.manual_seed_all(0)
    dlx.cuda.empty_cache()
    with pytest.raises(TypeError, match="seed"):
        dlx.cuda.manual_seed_all(1.5)
    x = dlx.ones(2)
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to(dlx.device("cuda:0"), dlx.float64)
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 2).cuda()
    with pytest.raises(RuntimeError, match="CPU only"):
        dlx.zeros(2, device="cuda")
    device = dlx.device("cuda" if dlx.cuda.is_available() else "cpu")
    assert dlx.ones(2, device=device).device == "cpu"
    assert dlx.backends.cudnn.is_available() is False
    dlx.backends.cudnn.benchmark = True  # accepted, no effect
    assert dlx.backends.mps.is_available() is False


# -- grad mode ---------------------------------------------------------------------------------
def test_grad_mode_decorators_match_pytorch():
    @dlx.no_grad
    def bare():
        return dlx.is_grad_enabled()

    @dlx.inference_mode
    def bare_inference():
        return dlx.is_grad_enabled()

    @dlx.inference_mode(False)
    def inference_off():
        return dlx.is_grad_enabled()

    @dlx.set_grad_enabled(False)
    def off():
        return dlx.is_grad_enabled()

    assert dlx.is_grad_enabled()  # decorating with set_grad_enabled has no lasting effect
    assert bare() is False
    assert bare_inference() is False
    assert inference_off() is True
    assert off() is False
    assert dlx.is_grad_enabled()


def test_grad_mode_is_reentrant():
    @dlx.no_grad()
    def recurse(n):
        if n:
            recurse(n - 1)
        return dlx.is_grad_enabled()

    assert recurse(3) is False
    assert dlx.is_grad_enabled()
    ng = dlx.no_grad()
    with ng:
        with ng:
            pass
        assert not dlx.is_grad_enabled()
    assert dlx.is_grad_enabled()


def test_set_grad_enabled_call_and_context():
    dlx.set_grad_enabled(False)
    try:
        assert not dlx.is_grad_enabled()
    finally:
        dlx.set_grad_enabled(True)
    with dlx.set_grad_enabled(False):
        assert not dlx.is_grad_enabled()
        with dlx.set_grad_enabled(True):
            assert (dlx.ones(1, requires_grad=True) * 2).requires_grad
        assert not dlx.is_grad_enabled()
    assert dlx.is_grad_enabled()


def test_decorated_function_in_threads_keeps_modes_apart():
    seen = []

    @dlx.no_grad()
    def work():
        seen.append(dlx.is_grad_enabled())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [False] * 4
    assert dlx.is_grad_enabled()


def test_inference_mode_results_do_not_require_grad():
    x = dlx.ones(2, requires_grad=True)
    with dlx.inference_mode():
        y = x * 2
    assert not y.requires_grad


# -- .grad and .data are tensors ---------------------------------------------------------------
def test_grad_and_data_tensor_idioms():
    w = dlx.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, dlx.Tensor)
    np.testing.assert_allclose(w.grad.norm().item(), np.linalg.norm([2.0, -4.0, 6.0]))
    with dlx.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6, 2.4])
    assert w.is_leaf
    assert w.requires_grad
    w.grad.zero_()
    assert not w.grad.numpy().any()
    (w * 2).sum().backward()
    w.grad.data.zero_()
    assert not w.grad.numpy().any()
    w.data.mul_(2)  # .data changes the values outside the graph
    np.testing.assert_allclose(w.numpy(), [1.6, -3.2, 4.8])
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w -= 1.0


def test_hand_written_sgd_with_module_parameters():
    dlx.manual_seed(0)
    model = nn.Linear(3, 1)
    x = dlx.randn(8, 3)
    y = x.sum(1, keepdim=True)
    losses = []
    for _ in range(50):
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        for p in model.parameters():
            if p.grad is not None:
                p.grad.zero_()
        loss.backward()
        with dlx.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert losses[-1] < 0.05 * losses[0]


# -- one definition per op ---------------------------------------------------------------------
SAME = [
    "abs", "add", "sum", "mean", "max", "min", "amax", "sort", "topk", "kthvalue", "median",
    "sin", "cos", "exp2", "log1p", "rsqrt", "square", "sign", "floor", "frac", "atan2", "fmod",
    "remainder", "lerp", "mm", "bmm", "mv", "dot", "outer", "norm", "cumsum", "cumprod",
    "logsumexp", "prod", "gather", "scatter", "scatter_add", "index_select", "masked_select",
    "masked_fill", "nonzero", "take_along_dim", "repeat_interleave", "tile", "flip", "roll",
    "chunk", "split", "narrow", "tril", "triu", "diag", "clone", "isnan", "isinf", "isfinite",
    "nan_to_num", "allclose", "isclose", "equal", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_not", "t", "unbind", "movedim", "view_as", "argsort",
]  # fmt: skip


@pytest.mark.parametrize("name", SAME)
def test_method_and_function_are_one_object(name):
    assert getattr(dlx, name) is getattr(dlx.Tensor, name)


def test_functions_take_the_method_arguments():
    x = dlx.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(dlx.sum(x, dim=1).numpy(), [3.0, 12.0])
    np.testing.assert_allclose(dlx.mean(x, 1, keepdim=True).numpy(), [[1.0], [4.0]])
    np.testing.assert_allclose(dlx.std(x, 1, unbiased=False).numpy(), np.std(x.numpy(), 1))
    np.testing.assert_array_equal(dlx.argmax(x, 1, keepdim=True).numpy(), [[2], [2]])
    assert x.squeeze(0).shape == (2, 3)
    assert dlx.numel(x) == 6
    assert x.numel() == 6
    assert x.size(1) == 3
    assert x.dim() == 2
    assert dlx.is_tensor(x)
    assert not dlx.is_tensor(x.numpy())
    assert x.sum(dtype=dlx.float64).dtype == np.float64
    assert dlx.Size([2, 3]) == x.shape


# -- operators and formatting ------------------------------------------------------------------
def test_bool_and_integer_operators():
    a = dlx.tensor([True, False, True])
    b = dlx.tensor([True, True, False])
    np.testing.assert_array_equal((a & b).numpy(), [True, False, False])
    np.testing.assert_array_equal((a | b).numpy(), [True, True, True])
    np.testing.assert_array_equal((a ^ b).numpy(), [False, True, True])
    np.testing.assert_array_equal((~a).numpy(), [False, True, False])
    x = dlx.tensor([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(((x > 0) & (x < 2)).numpy(), [True, False, False])
    np.testing.assert_array_equal((dlx.tensor([5, 6]) % 4).numpy(), [1, 2])
    assert 3.0 in x
    assert 4.0 not in x
    with pytest.raises(TypeError, match="bool or integer"):
        _ = x & x


def test_format_of_zero_d_tensors():
    loss = dlx.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123"
    assert f"{dlx.tensor(3):d}" == "3"
    assert "tensor" in f"{dlx.ones(2)}"


def test_return_types_and_generator():
    res = dlx.tensor([3.0, 1.0]).sort()
    assert isinstance(res, dlx.return_types.sort)
    g = dlx.Generator().manual_seed(3)
    a = dlx.randn(3, generator=g)
    b = dlx.randn(3, generator=dlx.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert g.initial_seed() == 3
    state = g.get_state()
    c = dlx.rand(2, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(dlx.rand(2, generator=g).numpy(), c.numpy())
    s = dlx.get_rng_state()
    d = dlx.rand(2)
    dlx.set_rng_state(s)
    np.testing.assert_array_equal(dlx.rand(2).numpy(), d.numpy())
    with pytest.raises(TypeError, match="`generator`"):
        dlx.randn(2, generator=3)
    with pytest.raises(RuntimeError, match="CPU only"):
        dlx.Generator("cuda")
