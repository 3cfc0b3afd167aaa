"""The CPU dlx runs on and the instruction-set level of its kernels (``dlx.cpu_info``)."""

from __future__ import annotations

from typing import Any

from dlx._native import _core


def cpu_info() -> dict[str, Any]:
    """Describe the CPU and which of dlx's kernels run on it.

    One build of dlx carries its hot kernels for several instruction-set levels and picks
    one at import: the best the CPU (and the operating system) supports, or a lower one
    forced with the environment variable ``DLX_CPU_CAPABILITY=baseline|avx2|avx512``.

    Returns
    -------
    dict
        ``model``, ``vendor``, ``arch``: the processor.
        ``capability``: the level in use (``"baseline"``, ``"avx2"`` or ``"avx512"``).
        ``best``: the highest level this CPU and this build support.
        ``built``: the levels this build carries (``["baseline"]`` off x86-64).
        ``native_build``: True for a ``DLX_NATIVE=ON`` build (tuned for the build machine).
        ``x86_64_v3`` / ``x86_64_v4``: what the CPU offers (AVX2+FMA / AVX-512 F, BW, CD,
        DQ, VL, with the register state enabled by the OS).
        ``cache``: ``l1d``, ``l2`` (per core) and ``l3`` sizes in bytes and their ``source``
        (``"cpuid"``, ``"sysfs"`` or ``"default"``).
        ``gemm``: the float32 GEMM in use (as :func:`dlx.blas_info`), and
        ``gemm_blocking``: its register tile (``mr`` x ``nr``) and cache blocks (``mc``,
        ``kc``, ``nc``), empty without dlx's own GEMM.
        ``kernels``: for every kernel family with per-level code, the level it runs at
        (None: the portable code), and ``kernel_levels``: the levels that have it.
    """
    info = dict(_core._cpu_info())
    info["gemm"] = _core.gemm_backend()
    return info


def format_cpu_info(info: dict[str, Any] | None = None) -> str:
    """Lines for ``python -m dlx info`` and the benchmark header."""
    info = cpu_info() if info is None else info
    cache = info["cache"]
    level = info["capability"]
    forced = "" if level == info["best"] else f", forced (best {info['best']})"
    build = "native (DLX_NATIVE=ON)" if info["native_build"] else "portable"
    lines = [
        f"CPU: {info['model']} ({info['arch']})",
        (
            f"ISA level: {level}{forced}; build {build} with {', '.join(info['built'])} "
            "(DLX_CPU_CAPABILITY=baseline|avx2|avx512)"
        ),
        (
            f"caches: L1d {cache['l1d'] >> 10} KiB, L2 {cache['l2'] >> 10} KiB, "
            f"L3 {cache['l3'] >> 20} MiB ({cache['source']})"
        ),
    ]
    blk = info["gemm_blocking"]
    tile = ""
    if blk:
        tile = f", {blk['mr']}x{blk['nr']} tiles, mc {blk['mc']} kc {blk['kc']} nc {blk['nc']}"
    lines.append(f"float32 GEMM: {info['gemm']}{tile}")
    return "\n".join(lines)
