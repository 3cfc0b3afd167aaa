"""Optional PyTorch oracle: same models in both libraries, weights copied via state_dict,
forward outputs and all parameter gradients compared (float32, 1e-4 relative)."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels


def _compare(torch, dmodel, tmodel, x_np, train=False):
    """Copy tmodel's state into dmodel, run both on x_np, compare outputs and gradients."""
    dmodel.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    dmodel.train(train)
    tmodel.train(train)
    w = np.random.default_rng(1).standard_normal
    x_d = dlx.tensor(x_np, requires_grad=True)
    x_t = torch.tensor(x_np, requires_grad=True)
    y_d, y_t = dmodel(x_d), tmodel(x_t)
    np.testing.assert_allclose(y_d.numpy(), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    weights = w(y_d.shape).astype(np.float32)
    (y_d * dlx.tensor(weights)).sum().backward()
    (y_t * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x_d.grad, x_t.grad.numpy(), rtol=1e-4, atol=1e-5)
    t_params = dict(tmodel.named_parameters())
    d_params = dict(dmodel.named_parameters())
    assert d_params.keys() == t_params.keys()
    for name, p in d_params.items():
        g = t_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad, g, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(g).max()))
    for name, b in dmodel.named_buffers():
        tb = dict(tmodel.named_buffers())[name]
        np.testing.assert_allclose(np.asarray(b.numpy(), dtype=np.float64), tb.numpy(), rtol=1e-4)


def test_mlp_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tn = torch.nn
    torch.manual_seed(0)
    tmodel = tn.Sequential(
        tn.Linear(6, 16),
        tn.ReLU(),
        tn.Linear(16, 12),
        tn.GELU(),
        tn.Linear(12, 8),
        tn.LeakyReLU(0.1),
        tn.Linear(8, 8),
        tn.PReLU(),
        tn.Linear(8, 3),
        tn.LogSoftmax(dim=1),
    )
    dmodel = nn.Sequential(
        nn.Linear(6, 16),
        nn.ReLU(),
        nn.Linear(16, 12),
        nn.GELU(),
        nn.Linear(12, 8),
        nn.LeakyReLU(0.1),
        nn.Linear(8, 8),
        nn.PReLU(),
        nn.Linear(8, 3),
        nn.LogSoftmax(dim=1),
    )
    _compare(torch, dmodel, tmodel, rng.standard_normal((5, 6)).astype(np.float32))


def test_cnn_with_batchnorm_and_dropout_eval_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tn = torch.nn

    def build(m):
        return m.Sequential(
            m.Conv2d(3, 8, 3, padding=1),
            m.BatchNorm2d(8),
            m.ReLU(),
            m.MaxPool2d(2),
            m.Conv2d(8, 12, 3, stride=2, padding=1, groups=4),
            m.BatchNorm2d(12),
            m.SiLU(),
            m.AvgPool2d(2, ceil_mode=True),
            m.Dropout(0.5),
            m.Flatten(),
            m.Linear(12 * 2 * 2, 10),
            m.BatchNorm1d(10),
            m.Tanh(),
            m.Linear(10, 4),
        )

    torch.manual_seed(0)
    tmodel = build(tn)
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for m in tmodel.modules():
            if isinstance(m, tn.BatchNorm1d | tn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    _compare(torch, build(nn), tmodel, rng.standard_normal((3, 3, 13, 13)).astype(np.float32))


def test_cnn_batchnorm_training_mode_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tn = torch.nn

    def build(m):
        return m.Sequential(
            m.Conv2d(2, 4, 3), m.BatchNorm2d(4), m.ELU(), m.Flatten(), m.Linear(4 * 4 * 4, 3)
        )

    torch.manual_seed(0)
    tmodel = build(tn)
    _compare(
        torch, build(nn), tmodel, rng.standard_normal((4, 2, 6, 6)).astype(np.float32), train=True
    )


def test_residual_block_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tn = torch.nn

    class TorchResidual(tn.Module):
        def __init__(self, block, shortcut=None):
            super().__init__()
            self.block = block
            self.shortcut = shortcut

        def forward(self, x):
            return self.block(x) + (x if self.shortcut is None else self.shortcut(x))

    def build(m, residual):
        return m.Sequential(
            residual(
                m.Sequential(
                    m.Conv2d(4, 4, 3, padding=1),
                    m.BatchNorm2d(4),
                    m.ReLU(),
                    m.Conv2d(4, 4, 3, padding=1),
                )
            ),
            m.ReLU(),
            residual(
                m.Sequential(m.Conv2d(4, 6, 3, stride=2, padding=1), m.Softplus()),
                shortcut=m.Conv2d(4, 6, 1, stride=2, bias=False),
            ),
            m.Flatten(),
            m.Linear(6 * 3 * 3, 2),
        )

    torch.manual_seed(0)
    tmodel = build(tn, TorchResidual)
    _compare(
        torch, build(nn, nn.Residual), tmodel, rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    )
