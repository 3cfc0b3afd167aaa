"""The portable build cannot die of SIGILL: instructions above a level live in that level's units.

``_core`` is disassembled (objdump) and every instruction is attributed to the function that
holds it. An instruction's encoding gives its ISA: an EVEX prefix (first byte 0x62 in 64-bit
mode) is AVX-512, a VEX prefix (0xC4 / 0xC5) is AVX, AVX2, FMA, F16C or BMI1/2. Level code
lives in the namespaces ``dlx::isa_avx2`` and ``dlx::isa_avx512`` (csrc/*_avx2.cpp,
csrc/*_avx512.cpp), so its functions' symbols name the level; everything else is generic
code, which runs on every x86-64 CPU before dispatch chooses anything.
"""

from __future__ import annotations

import functools
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import dlx
from dlx import _core

pytestmark = [
    pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only"),
    pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not found"),
    pytest.mark.skipif(
        dlx.cpu_info()["native_build"], reason="DLX_NATIVE=ON builds every unit for this CPU"
    ),
]

_HEADER = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_SEGMENT_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x67}
# Instructions above x86-64 (SSE2) that carry no VEX / EVEX prefix.
_V3_LEGACY = ("lzcnt", "movbe")


def _level_of(symbol: str) -> str:
    if "isa_avx512" in symbol:
        return "avx512"
    if "isa_avx2" in symbol:
        return "avx2"
    return "generic"


def _isa_of(raw: str, mnemonic: str) -> str:
    """'avx512', 'avx2' or 'base' for one instruction's bytes and mnemonic."""
    data = [int(b, 16) for b in raw.split()]
    i = 0
    while i < len(data) and data[i] in _SEGMENT_PREFIXES:
        i += 1
    if i < len(data) and data[i] == 0x62:
        return "avx512"
    if i < len(data) and data[i] in (0xC4, 0xC5):
        return "avx2"
    if mnemonic.split()[:1] and mnemonic.split()[0] in _V3_LEGACY:
        return "avx2"
    return "base"


@functools.cache
def _disassembly() -> dict[str, dict[str, int]]:
    """{function symbol: {isa: instruction count}} for the installed _core."""
    path = Path(_core.__file__)
    out = subprocess.run(
        ["objdump", "-d", "--insn-width=16", "-j", ".text", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    funcs: dict[str, dict[str, int]] = {}
    current = None
    for line in out.splitlines():
        m = _HEADER.match(line)
        if m:
            current = funcs.setdefault(m.group(1), {"base": 0, "avx2": 0, "avx512": 0})
            continue
        parts = line.split("\t")
        if current is None or len(parts) < 3 or not parts[0].strip().endswith(":"):
            continue
        current[_isa_of(parts[1], parts[2])] += 1
    return funcs


def _offenders(level: str, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for name, counts in _disassembly().items():
        if _level_of(name) != level:
            continue
        extra = {isa: n for isa, n in counts.items() if isa not in allowed and n}
        if extra:
            bad.append(f"{name}: {extra}")
    return bad


def test_core_keeps_its_symbol_table():
    # Without function names nothing below could be attributed (pybind11 strips by default).
    funcs = _disassembly()
    assert len(funcs) > 200, f"only {len(funcs)} symbols in {_core.__file__}: was it stripped?"
    assert any(_level_of(n) == "generic" for n in funcs)


def test_generic_code_is_plain_x86_64():
    bad = _offenders("generic", ("base",))
    assert not bad, "AVX/AVX-512 instructions in generic code:\n" + "\n".join(bad[:20])


def test_avx2_units_have_no_avx512():
    bad = _offenders("avx2", ("base", "avx2"))
    assert not bad, "AVX-512 instructions in avx2 units:\n" + "\n".join(bad[:20])


@pytest.mark.parametrize("level", ["avx2", "avx512"])
def test_level_units_are_present_and_use_their_isa(level):
    # The check above is only as good as the attribution: every built level shows up, and
    # its units really use its instructions.
    info = dlx.cpu_info()
    if level not in info["built"]:
        pytest.skip(f"this build has no {level} level")
    if not any(level in levels for levels in info["kernel_levels"].values()):
        pytest.skip(f"the {level} level has no units of its own in this build")
    counts = [c for n, c in _disassembly().items() if _level_of(n) == level]
    assert counts, f"no function in namespace dlx::isa_{level}"
    assert sum(c[level] for c in counts) > 100


def test_isa_classification_of_encodings():
    assert _isa_of("62 f1 7c 48 28 05 00 00 00 00", "vmovaps 0x0(%rip),%zmm0") == "avx512"
    assert _isa_of("c5 fc 28 c1", "vmovaps %ymm1,%ymm0") == "avx2"
    assert _isa_of("c4 e2 7d 18 00", "vbroadcastss (%rax),%ymm0") == "avx2"
    assert _isa_of("c4 e2 f9 f7 c1", "shlx %rax,%rcx,%rax") == "avx2"
    assert _isa_of("f3 48 0f bd c0", "lzcnt %rax,%rax") == "avx2"
    assert _isa_of("0f 28 c1", "movaps %xmm1,%xmm0") == "base"
    assert _isa_of("66 2e 0f 1f 84 00 00 00 00 00", "cs nopw 0x0(%rax,%rax,1)") == "base"
    assert _isa_of("f3 48 0f bc c0", "tzcnt %rax,%rax") == "base"  # runs as bsf on old CPUs
