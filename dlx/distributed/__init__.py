"""Data-parallel training across processes and machines on MPI (mpi4py + Open MPI).

Install with ``pip install "dlx[mpi]"`` and launch with ``mpirun -n 2 python train.py``.
Importing this package does not import mpi4py; :func:`init` (or the first function that
needs MPI) does. Without mpi4py a plain process is a world of one; only a process started by
an MPI launcher raises the ImportError naming the extra::

    import dlx.distributed as dist

    dist.init()                                   # rank, world size from mpirun
    ddp = dist.DistributedDataParallel(model)     # rank 0's weights everywhere
    loader = dist.DistributedLoader(ds, batch_size=32, shuffle=True, generator=0)
    for epoch in range(epochs):
        for x, y in loader:                       # this rank's shard of the epoch
            optimizer.zero_grad()
            loss_fn(ddp(x), y).backward()
            ddp.sync_gradients(optimizer)          # one Allreduce per flat grad buffer
            optimizer.step()

or simply ``dlx.train.fit(..., distributed=True)``. Only rank 0 should print and write
files (:func:`is_main`). An uncaught exception on any rank aborts the whole job; the
collectives take a watchdog ``timeout`` (see :mod:`dlx.distributed._mpi`).
"""

from __future__ import annotations

from dlx.distributed._mpi import (
    abort,
    allreduce_,
    barrier,
    get_rank,
    get_world_size,
    init,
    is_initialized,
    is_main,
)
from dlx.distributed.ddp import (
    DistributedDataParallel,
    allreduce_gradients,
    broadcast_parameters,
    sync_buffers,
)
from dlx.distributed.sampler import (
    DistributedLoader,
    DistributedSampler,
    shard_indices,
    shard_loader,
)

__all__ = [
    "DistributedDataParallel",
    "DistributedLoader",
    "DistributedSampler",
    "abort",
    "allreduce_",
    "allreduce_gradients",
    "barrier",
    "broadcast_parameters",
    "get_rank",
    "get_world_size",
    "init",
    "is_initialized",
    "is_main",
    "shard_indices",
    "shard_loader",
    "sync_buffers",
]
