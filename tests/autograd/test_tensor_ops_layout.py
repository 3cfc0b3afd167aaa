"""repeat/tile/repeat_interleave, flip/roll, tril/triu, diag/diagonal/diag_embed/trace and
the views narrow/select/chunk/split/unbind/t/mT/movedim/view_as/unflatten: NumPy
references, torch oracle, gradcheck, memory sharing and errors."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch, gradcheck_arrays

import dlx

R = np.random.default_rng(5)


def _reps(L):
    return L.tensor([2, 0, 1])


@pytest.mark.torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: x.repeat(2, 1),
        lambda L, x: x.repeat(2, 1, 3),
        lambda L, x: L.tile(x, (2,)),
        lambda L, x: x.tile((3, 1, 2)),
        lambda L, x: x.repeat_interleave(2),
        lambda L, x: L.repeat_interleave(x, 3, dim=1),
        lambda L, x: x.repeat_interleave(_reps(L), dim=0),
        lambda L, x: x.flip(0),
        lambda L, x: L.flip(x, (0, 1)),
        lambda L, x: L.fliplr(x),
        lambda L, x: L.flipud(x),
        lambda L, x: x.roll(1, 0),
        lambda L, x: L.roll(x, (1, -2), (0, 1)),
        lambda L, x: x.roll(4),
        lambda L, x: x[:, :3].tril(),
        lambda L, x: L.triu(x, 1),
        lambda L, x: L.tril(x, -1),
        lambda L, x: L.diag(x[:, :3]),
        lambda L, x: x.diag(1),
        lambda L, x: L.diag(x[0], -1),
        lambda L, x: x.diagonal(),
        lambda L, x: L.diag_embed(x),
        lambda L, x: L.trace(x),
    ],
)
def test_layout_ops_match_torch(fn):
    compare_with_torch(fn, [R.standard_normal((3, 4))])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.repeat(2, 2),
        lambda x: x.repeat_interleave(dlx.tensor([1, 0, 2]), dim=0),
        lambda x: dlx.repeat_interleave(x, 2, dim=1),
        lambda x: x.flip(1),
        lambda x: x.roll((1, 1), (0, 1)),
        lambda x: x.triu(),
        lambda x: x.diag(),
        lambda x: dlx.diag(x[0], 1),
        lambda x: x.diagonal(1, 1, 0),
    ],
)
def test_layout_gradcheck(fn):
    gradcheck_arrays(fn, [R.standard_normal((3, 3))])


def test_repeat_interleave_counts_only_and_copies():
    np.testing.assert_array_equal(dlx.repeat_interleave(dlx.tensor([2, 0, 1])).numpy(), [0, 0, 2])
    x = dlx.tensor([1.0, 2.0])
    f = x.flip(0)
    f[0] = 9.0  # flip copies (as in PyTorch)
    assert x.numpy().tolist() == [1.0, 2.0]


def test_layout_errors():
    x = dlx.ones(2, 3)
    with pytest.raises(ValueError, match="at least as many entries"):
        x.repeat(2)
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat(2, -1)
    with pytest.raises(ValueError, match="at least 2-D"):
        dlx.tril(dlx.ones(3))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        dlx.diag(dlx.ones(2, 2, 2))
    with pytest.raises(ValueError, match="same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match="repeat a dimension"):
        x.flip((0, 0))
    with pytest.raises(ValueError, match="one non-negative count"):
        x.repeat_interleave(dlx.tensor([1, 2]), dim=1)


# -- views ----------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: x.narrow(1, 1, 2),
        lambda L, x: L.narrow(x, 0, -2, 2),
        lambda L, x: x.select(1, -1),
        lambda L, x: x.chunk(2, 1),
        lambda L, x: L.chunk(x, 3, 0),
        lambda L, x: x.split(3, 1),
        lambda L, x: L.split(x, [1, 3], dim=1),
        lambda L, x: x.unbind(1),
        lambda L, x: x.t(),
        lambda L, x: x.mT,
        lambda L, x: L.movedim(x.reshape(3, 2, 2), 0, -1),
        lambda L, x: x.reshape(3, 2, 2).movedim((0, 1), (2, 0)),
        lambda L, x: L.swapaxes(x, 0, 1),
        lambda L, x: x.view_as(x.reshape(4, 3)),
        lambda L, x: x.reshape_as(x.reshape(2, 6)),
        lambda L, x: x.unflatten(1, (2, -1)),
        lambda L, x: x.squeeze(0).unsqueeze(-1),
        lambda L, x: x.permute([1, 0]),
        lambda L, x: x.T,
    ],
)
def test_views_match_torch(fn):
    compare_with_torch(fn, [R.standard_normal((3, 4))])


def test_views_share_memory_and_version():
    x = dlx.tensor(np.arange(12.0).reshape(3, 4))
    for v in (x.narrow(1, 1, 2), x.select(0, 1), *x.chunk(2, 1), x.t(), x.mT, x.unbind(0)[1]):
        assert np.shares_memory(v.numpy(), x.numpy())
        assert v._base is x
    v = x.select(0, 2)
    v.zero_()
    assert x.numpy()[2].sum() == 0
    assert x._version == 1


def test_view_errors():
    x = dlx.ones(3, 4)
    with pytest.raises(ValueError, match="narrow"):
        x.narrow(1, 3, 2)
    with pytest.raises(ValueError, match="add up to 4"):
        x.split([1, 2], 1)
    with pytest.raises(ValueError, match="positive"):
        x.chunk(0)
    with pytest.raises(ValueError, match="at most 2-D"):
        dlx.ones(2, 2, 2).t()
    with pytest.raises(ValueError, match="at least 2-D"):
        dlx.ones(2).mT  # noqa: B018
    with pytest.raises(ValueError, match="do not fit"):
        x.unflatten(1, (3, -1))
    with pytest.raises(ValueError, match="`index` must be in"):
        x.select(0, 3)
