"""A compiled core that does not match the package or its sources refuses to load."""

from __future__ import annotations

import shutil

import pytest

from meteremu._lowlevel import _SOURCE_ROOT, check_build


def test_the_installed_core_matches():
    check_build()  # the import already did this; it must hold now, too


def test_other_version_is_refused():
    with pytest.raises(ImportError, match=r"built for meteremu .* but this is 9\.9\.9.*stale"):
        check_build(version="9.9.9")


def test_edited_sources_are_refused(tmp_path):
    if not (_SOURCE_ROOT / "csrc" / "sources.txt").is_file():
        pytest.skip("installed without its C sources: only the version is checked")
    root = tmp_path / "tree"
    shutil.copytree(_SOURCE_ROOT / "csrc", root / "csrc", ignore=shutil.ignore_patterns("build"))
    shutil.copytree(_SOURCE_ROOT / "meteremu" / "_cdef", root / "meteremu" / "_cdef")
    check_build(root=root)  # an identical copy passes
    crc = root / "csrc" / "mt_crc.c"
    crc.write_text(crc.read_text() + "\n/* edited */\n")
    with pytest.raises(ImportError, match=r"other C sources.*stale"):
        check_build(root=root)
