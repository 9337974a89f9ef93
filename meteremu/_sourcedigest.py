"""Digest of the files the compiled core is built from.

Shared by the builder (which embeds it in ``meteremu._core``) and by the import
check in ``meteremu._lowlevel`` (which recomputes it when the sources sit next to
the package, as in a development checkout). Standard library only: the builder
loads this file before ``meteremu`` is importable.
"""

from __future__ import annotations

import hashlib
import pathlib


def listed(path: pathlib.Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build_inputs(root: pathlib.Path) -> list[pathlib.Path]:
    """Every file the build reads that shapes the compiled core: the builder
    script (compiler flags, the generated glue), this file (which files count),
    the C sources named in csrc/sources.txt and csrc/sources-sim.txt, every
    csrc header (csrc/sim's too), the cdefs in
    order. The package version, which the builder reads too, is embedded and
    checked on its own."""
    pkg = root / "meteremu"
    csrc, cdef = root / "csrc", pkg / "_cdef"
    files = [pkg / "_build_ffi.py", pkg / "_sourcedigest.py"]
    files += [csrc / "sources.txt", csrc / "sources-sim.txt", cdef / "order.txt"]
    files += [csrc / name for name in listed(csrc / "sources.txt")]
    files += [csrc / name for name in listed(csrc / "sources-sim.txt")]
    files += sorted(csrc.glob("mt_*.h")) + sorted(csrc.glob("sim/mt_*.h"))
    files += [cdef / name for name in listed(cdef / "order.txt")]
    return files


def source_digest(root: pathlib.Path) -> str:
    h = hashlib.sha256()
    for path in build_inputs(root):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
