"""The hand-written cffi declarations (meteremu/_cdef) agree with the C headers.

Every function prototype of the cdef is re-declared after the real headers in
one translation unit: C rejects a redeclaration with a different type, so a
drifted parameter or return type fails to compile. Struct layouts are checked
by cffi itself when it builds the module (it verifies each field's offset).
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CDEF = ROOT / "meteremu" / "_cdef"
CSRC = ROOT / "csrc"


def _cdef_text() -> str:
    names = [line.strip() for line in (CDEF / "order.txt").read_text().splitlines()]
    return "\n".join((CDEF / name).read_text() for name in names if name)


def _prototypes(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"typedef\s+struct\s+\w+\s*\{.*?\}\s*\w+\s*;", "", text, flags=re.S)
    statements = [s.strip() for s in text.split(";")]
    return [s + ";" for s in statements if "(" in s and "{" not in s and "#" not in s]


def test_every_cdef_prototype_matches_the_c_headers(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    protos = _prototypes(_cdef_text())
    assert len(protos) > 20  # the parse found the declarations
    headers = sorted(p.name for p in CSRC.glob("mt_*.h"))
    headers += sorted(p.name for p in (CSRC / "sim").glob("mt_*.h"))
    unit = tmp_path / "cdef_check.c"
    unit.write_text("".join(f'#include "{h}"\n' for h in headers) + "\n".join(protos) + "\n")
    result = subprocess.run(
        [cc, "-std=c99", "-fsyntax-only", "-Wall", "-Werror", f"-I{CSRC}", f"-I{CSRC / 'sim'}",
         str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_drifted_prototype_is_caught(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    unit = tmp_path / "drift.c"
    unit.write_text(
        '#include "mt_crc.h"\nuint16_t mt_crc32(uint32_t crc, const uint8_t *d, size_t n);\n'
    )
    result = subprocess.run(
        [cc, "-std=c99", "-fsyntax-only", f"-I{CSRC}", str(unit)], capture_output=True, check=False
    )
    assert result.returncode != 0
