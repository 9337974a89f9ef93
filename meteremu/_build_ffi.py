"""cffi builder for ``meteremu._core``, the compiled C core.

The C sources are listed once, in ``csrc/sources.txt`` (the Makefile reads the
same list), and the simulation-only ones (never in firmware) in
``csrc/sources-sim.txt``; the cdef files in ``meteremu/_cdef/`` are named, in order, in
``meteremu/_cdef/order.txt``. The build embeds the package version and a digest
of every build input (C sources, cdefs, this script: ``meteremu/_sourcedigest.py``
lists them), so importing a module built from other inputs fails loudly (see
``meteremu._lowlevel``).
"""

from __future__ import annotations

import pathlib
import runpy

from cffi import FFI

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
CDEF = ROOT / "meteremu" / "_cdef"


_digest = runpy.run_path(str(ROOT / "meteremu" / "_sourcedigest.py"))


def _version() -> str:
    return runpy.run_path(str(ROOT / "meteremu" / "_version.py"))["__version__"]


SOURCES = [f"csrc/{name}" for name in _digest["listed"](CSRC / "sources.txt")]
SOURCES += [f"csrc/{name}" for name in _digest["listed"](CSRC / "sources-sim.txt")]
CDEFS = _digest["listed"](CDEF / "order.txt")
DIGEST = _digest["source_digest"](ROOT)
HEADERS = sorted(p.name for p in CSRC.glob("mt_*.h"))
HEADERS += sorted(p.name for p in (CSRC / "sim").glob("mt_*.h"))  # simulation only

ffibuilder = FFI()
ffibuilder.cdef("\n".join((CDEF / name).read_text() for name in CDEFS))
ffibuilder.cdef("const char *mt_build_version(void);\nconst char *mt_build_digest(void);")
ffibuilder.set_source(
    "meteremu._core",
    "\n".join(f'#include "{h}"' for h in HEADERS)
    + f'\nstatic const char *mt_build_version(void) {{ return "{_version()}"; }}'
    + f'\nstatic const char *mt_build_digest(void) {{ return "{DIGEST}"; }}\n',
    sources=SOURCES,
    include_dirs=[str(CSRC), str(CSRC / "sim")],
    extra_compile_args=["-std=c99", "-O3", "-Wall", "-Wextra", "-Wconversion"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
