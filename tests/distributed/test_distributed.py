"""dlx.distributed: sharding (no MPI needed), singleton MPI, and 2-rank jobs under mpirun."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time

import mpi_script
import numpy as np
import pytest
from dlx_testing import run_python

from dlx.data import DataLoader, TensorDataset
from dlx.distributed import DistributedLoader, DistributedSampler, shard_indices, shard_loader

HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
MPIRUN = shutil.which(
    "mpirun", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
)
needs_mpi4py = pytest.mark.skipif(
    not HAVE_MPI4PY, reason='mpi4py is not installed (pip install "dlx[mpi]")'
)
needs_mpirun = pytest.mark.skipif(
    not (HAVE_MPI4PY and MPIRUN),
    reason='mpi4py or mpirun is not available (pip install "dlx[mpi]")',
)


def _mpirun(
    mode: str, outdir: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess, float]:
    return _launch([mpi_script.__file__, mode, outdir], outdir, timeout)


def _launch(args: list[str], cwd: str, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """``mpirun -n 2 python ARGS`` with the flags a root user in a container needs."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env["OMP_NUM_THREADS"] = "1"
    env.pop("DLX_DIST_TIMEOUT", None)
    cmd = [MPIRUN, "-n", "2", "--oversubscribe", sys.executable, *args]
    start = time.monotonic()
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc, time.monotonic() - start


# -- sharding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 5, 10, 11, 64])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shard_indices_equal_sizes_cover_order(n, world, drop_last):
    order = np.random.default_rng(n).permutation(n)
    shards = [shard_indices(order, r, world, drop_last) for r in range(world)]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1
    size = sizes.pop()
    assert size == (n // world if drop_last else -(-n // world))
    merged = np.stack(shards, axis=1).reshape(-1)  # strided: interleaving restores the order
    if drop_last:
        np.testing.assert_array_equal(merged, order[: size * world])
    else:
        np.testing.assert_array_equal(merged[:n], order)
        np.testing.assert_array_equal(merged[n:], np.resize(order, size * world)[n:])  # wrapped


def test_shard_indices_rejects_bad_rank():
    with pytest.raises(ValueError, match="`rank`"):
        shard_indices(np.arange(4), 2, 2, False)
    with pytest.raises(ValueError, match="`world_size`"):
        shard_indices(np.arange(4), 0, 0, False)


def test_distributed_sampler_same_permutation_and_set_epoch():
    samplers = [DistributedSampler(10, 2, r, shuffle=True, seed=3) for r in range(2)]
    first = [list(s) for s in samplers]
    assert sorted(first[0] + first[1]) == list(range(10))
    assert len(samplers[0]) == 5
    order = np.random.default_rng([3, 0]).permutation(10)
    np.testing.assert_array_equal(first[0], order[0::2])
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first
    np.testing.assert_array_equal(second[1], np.random.default_rng([3, 1]).permutation(10)[1::2])


def test_distributed_loader_batches_union_is_single_process_batch():
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50)
    ds = TensorDataset(x, y)
    single = DataLoader(ds, batch_size=8, shuffle=True, generator=5)
    ranks = [
        DistributedLoader(ds, batch_size=4, shuffle=True, generator=5, rank=r, world_size=2)
        for r in range(2)
    ]
    for epoch in range(2):
        single.set_epoch(epoch)
        for d in ranks:
            d.set_epoch(epoch)
        parts = [list(d) for d in ranks]
        assert len(parts[0]) == len(parts[1]) == len(ranks[0]) == len(single) == 7
        for k, (_, yb) in enumerate(single):
            got = np.concatenate([parts[0][k][1], parts[1][k][1]])
            assert sorted(got.tolist()) == sorted(yb.tolist())


def test_distributed_loader_drop_last_and_len():
    ds = TensorDataset(np.zeros((11, 1)), np.arange(11))
    d = DistributedLoader(ds, batch_size=2, drop_last=True, rank=1, world_size=3)
    assert len(d) == 1  # 11 // 3 = 3 samples, one full batch of 2
    assert [b[1].tolist() for b in d] == [[1, 4]]
    d = DistributedLoader(ds, batch_size=None, rank=2, world_size=3)
    assert len(d) == 1
    assert next(iter(d))[1].tolist() == [2, 5, 8, 0]  # padded by wrapping around


def test_shard_loader_keeps_settings_and_state_checks_world_size():
    ds = TensorDataset(np.zeros((9, 1)), np.arange(9))
    base = DataLoader(ds, batch_size=2, shuffle=True, generator=7)
    base.set_epoch(4)
    d = shard_loader(base, rank=0, world_size=3)
    assert isinstance(d, DistributedLoader)
    assert (d.seed, d.epoch, d.batch_size) == (7, 4, 2)
    assert shard_loader(d) is d
    state = d.state_dict()
    assert state["world_size"] == 3
    other = DistributedLoader(ds, batch_size=2, shuffle=True, generator=7, rank=0, world_size=2)
    with pytest.raises(ValueError, match="same number of ranks"):
        other.load_state_dict(state)


def test_distributed_loader_needs_int_seed_when_shuffling():
    ds = TensorDataset(np.zeros((4, 1)), np.arange(4))
    with pytest.raises(TypeError, match="`generator`"):
        DistributedLoader(ds, shuffle=True, rank=0, world_size=1)


def test_import_dlx_does_not_import_mpi(tmp_path):
    code = "import dlx, dlx.train, dlx.distributed, sys; print('mpi4py' in sys.modules)"
    out = run_python(code, tmp_path, check=True)
    assert out.stdout.strip() == "False"


# -- MPI, singleton (no mpirun) -----------------------------------------------------------------
@needs_mpi4py
def test_singleton_world_collectives_are_identity():
    import dlx.distributed as dist

    assert dist.init() == (dist.get_rank(), dist.get_world_size())
    if dist.get_world_size() != 1:
        pytest.skip("running inside an MPI job")
    model, opt = mpi_script.make_model_and_optimizer()
    p = next(iter(model.parameters()))
    p.grad = np.ones_like(p.data)
    before = p.numpy().copy()
    dist.DistributedDataParallel(model).sync_gradients(opt)
    dist.allreduce_gradients(list(model.parameters()))
    dist.barrier(timeout=1.0)
    np.testing.assert_array_equal(p.grad, 1.0)
    np.testing.assert_array_equal(p.data, before)
    assert dist.is_main()


# -- MPI, 2 ranks under mpirun --------------------------------------------------------------------
@needs_mpirun
def test_two_ranks_match_one_process_with_double_batch(tmp_path):
    from dlx import nn
    from dlx.train import fit

    proc, _ = _mpirun("equiv", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "equiv.npz")
    x, y = mpi_script.make_data()
    model, opt = mpi_script.make_model_and_optimizer()
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=2,
        batch_size=64,
        verbose=0,
        seed=mpi_script.SEED,
        validation_data=(x[:101], y[:101]),
        distributed=False,
    )
    for k, v in mpi_script.weights(model).items():  # 20 steps: 2 ranks x 32 == 1 x 64
        np.testing.assert_allclose(got[f"w2.{k}"], v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["loss2"], h.history["loss"], rtol=1e-5)
    model, opt = mpi_script.make_model_and_optimizer()
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=3,
        batch_size=64,
        verbose=0,
        seed=mpi_script.SEED,
        validation_data=(x[:101], y[:101]),
    )
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(got[f"{key}_hist"], h.history[key], rtol=1e-5)
    for k, v in mpi_script.weights(model).items():  # resumed third epoch, same world size
        np.testing.assert_allclose(got[f"w3.{k}"], v, rtol=1e-5, atol=1e-6)
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert int(r0["world"]) == 2
    for k in r0.files:
        np.testing.assert_array_equal(r0[k], r1[k])  # identical models on both ranks
    assert (tmp_path / "log.csv").read_text().count("\n") == 3  # rank 0 alone wrote it
    assert "epoch 1/2" in proc.stderr  # rank 0's progress (the others are silent)


@needs_mpirun
def test_rank_that_raises_ends_the_job(tmp_path):
    proc, secs = _mpirun("raise", str(tmp_path))
    assert proc.returncode != 0
    assert "rank 1 failed on purpose" in proc.stderr
    assert "aborting all 2 ranks" in proc.stderr
    assert secs < 30


@needs_mpirun
def test_stuck_rank_trips_the_watchdog(tmp_path):
    proc, secs = _mpirun("hang", str(tmp_path))
    assert proc.returncode != 0
    assert "did not complete within 2 s" in proc.stderr
    assert secs < 30


@needs_mpirun
def test_cli_train_distributed_rank0_prints_and_saves(tmp_path):
    args = ["-m", "dlx", "train", "--distributed", "--model", "mlp", "--epochs", "1", "--quiet"]
    proc, _ = _launch([*args, "--output", "m.safetensors"], str(tmp_path), 60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("saved model to m.safetensors") == 1
    assert "x 2 ranks" in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
