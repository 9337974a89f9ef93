"""The binding layer: the only code that touches cffi's ``ffi`` and ``lib``.

Submodules wrap one C subsystem each: they check lengths before calling C,
turn return codes into exceptions and hand back plain ``bytes`` and ``int``.
"""

from __future__ import annotations

import pathlib

from .._version import __version__

try:
    from .._core import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on how meteremu was installed
    raise ImportError(
        f"meteremu's C core (meteremu._core) could not be loaded ({exc}); build it "
        "with `pip install -e .` (or `pip install .`) from the source tree"
    ) from exc


_SOURCE_ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def nbytes(data: bytes | bytearray | memoryview) -> int:
    """The length in bytes of a buffer handed to C as ``const uint8_t *``.

    ``len()`` counts items, which are wider than a byte in an ``array('I')``
    or a ``memoryview.cast('I')``: C would see only part of the data.
    """
    return len(data) if type(data) is bytes else memoryview(data).nbytes


def check_build(version: str = __version__, root: pathlib.Path = _SOURCE_ROOT) -> None:
    """Raise ImportError when the compiled core does not belong to this source tree.

    The version embedded at build time must equal the package's; where the C
    sources sit next to the package (a development checkout), the digest of
    every build input (``meteremu._sourcedigest.build_inputs``) must equal the
    one embedded too, so an edit without a rebuild fails loudly instead of
    running old code.
    """
    built = ffi.string(lib.mt_build_version()).decode()
    if built != version:
        raise ImportError(
            f"meteremu._core was built for meteremu {built}, but this is {version}: "
            "the compiled core is stale; rebuild it with `pip install -e .`"
        )
    if (root / "csrc" / "sources.txt").is_file() and (root / "meteremu" / "_cdef").is_dir():
        from .._sourcedigest import source_digest

        digest = source_digest(root)
        if digest != ffi.string(lib.mt_build_digest()).decode():
            raise ImportError(
                "meteremu._core was compiled from other build inputs (C sources, cdefs, "
                f"the builder script) than the ones in {root}: the compiled core is stale; "
                "rebuild it with `pip install -e .`"
            )


check_build()

__all__ = ["check_build", "ffi", "lib", "nbytes"]
