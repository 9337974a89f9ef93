"""A compiled core that does not match the package or its sources refuses to load."""

from __future__ import annotations

import shutil

import pytest

from meteremu._lowlevel import _SOURCE_ROOT, check_build
from meteremu._sourcedigest import build_inputs


def test_the_installed_core_matches():
    check_build()  # the import already did this; it must hold now, too


def test_other_version_is_refused():
    with pytest.raises(ImportError, match=r"built for meteremu .* but this is 9\.9\.9.*stale"):
        check_build(version="9.9.9")


@pytest.fixture
def tree(tmp_path):
    """A copy of every build input of this checkout."""
    if not (_SOURCE_ROOT / "csrc" / "sources.txt").is_file():
        pytest.skip("installed without its C sources: only the version is checked")
    root = tmp_path / "tree"
    shutil.copytree(_SOURCE_ROOT / "csrc", root / "csrc", ignore=shutil.ignore_patterns("build"))
    shutil.copytree(_SOURCE_ROOT / "meteremu" / "_cdef", root / "meteremu" / "_cdef")
    for name in ("_build_ffi.py", "_sourcedigest.py"):
        shutil.copy(_SOURCE_ROOT / "meteremu" / name, root / "meteremu" / name)
    check_build(root=root)  # an identical copy passes
    return root


@pytest.mark.parametrize(
    "edited",
    [
        "csrc/mt_crc.c",  # a C source
        "csrc/mt_err.h",  # a header
        "csrc/sources.txt",  # the list of sources
        "meteremu/_cdef/flash.h",  # a cdef
        "meteremu/_build_ffi.py",  # the builder: compiler flags, the generated glue
        "meteremu/_sourcedigest.py",  # which files count
    ],
)
def test_edited_build_inputs_are_refused(tree, edited):
    path = tree / edited
    comment = "# edited\n" if path.suffix in (".py", ".txt") else "/* edited */\n"
    path.write_text(path.read_text() + comment)
    with pytest.raises(ImportError, match=r"other build inputs .*stale.*pip install -e"):
        check_build(root=tree)


def test_the_builder_and_digest_scripts_are_build_inputs():
    names = {p.relative_to(_SOURCE_ROOT).as_posix() for p in build_inputs(_SOURCE_ROOT)}
    assert {"meteremu/_build_ffi.py", "meteremu/_sourcedigest.py"} <= names
