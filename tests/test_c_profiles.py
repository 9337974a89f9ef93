"""The C core's two profiles: source lists that differ only where a profile is its own.

csrc/sources.txt is the fast profile (the Python build, the C tests, the
fuzzers); csrc/sources-small.txt the small one for constrained targets
(csrc/firmware/). Both must name the same shared files in the same order, so
a source added to one and forgotten in the other fails here, not on a target.
The generated tables of both profiles must match their generators.
"""

from __future__ import annotations

import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"

#: each profile's own files; everything else is shared
FAST_ONLY = {"mt_crc.c", "mt_crc_tables.c", "mt_crc_x86.c", "mt_sha256_fast.c",
             "mt_sha256_x86.c", "mt_p256_sqr.c", "mt_p256_table.c"}
SMALL_ONLY = {"mt_crc_small.c", "mt_crc_small_tables.c", "mt_sha256_small.c",
              "mt_p256_sqr_small.c", "mt_p256_table_small.c"}


def listed(name: str) -> list[str]:
    lines = (line.strip() for line in (CSRC / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_lists_differ_only_in_profile_files() -> None:
    fast, small = listed("sources.txt"), listed("sources-small.txt")
    assert set(fast) - set(small) == FAST_ONLY
    assert set(small) - set(fast) == SMALL_ONLY
    shared = [name for name in fast if name not in FAST_ONLY]
    assert shared == [name for name in small if name not in SMALL_ONLY]
    assert len(set(fast)) == len(fast) and len(set(small)) == len(small)


def test_every_source_is_in_a_profile_and_exists() -> None:
    fast, small = listed("sources.txt"), listed("sources-small.txt")
    for name in fast + small:
        assert (CSRC / name).is_file(), name
    on_disk = {p.name for p in CSRC.glob("mt_*.c")}
    assert on_disk == set(fast) | set(small)


def test_profile_tests_have_their_directories() -> None:
    # tests/<profile>/ are built only with that profile's sources (csrc/Makefile)
    for profile in ("fast", "small"):
        assert sorted((CSRC / "tests" / profile).glob("test_*.c"))


def test_crc_tables_match_the_generator() -> None:
    gen = runpy.run_path(str(CSRC / "tools" / "gen_crc_tables.py"))
    assert gen["main"](["--check"]) == 0
    for path, render in gen["FILES"].items():
        assert path.read_text() == render(), path.name
    # the small profile's tables are the fast profile's first slice
    def values(text: str, name: str) -> list[int]:
        body = text.split(f"{name} = {{", 1)[1].split("}", 1)[0]
        return [int(v.strip().rstrip("u"), 16) for v in body.replace("{", "").split(",")
                if v.strip()]

    fast, small = gen["render"](), gen["render_small"]()
    for crc in ("crc32", "crc16_x25"):
        assert values(small, f"mt_{crc}_table[256]") == values(fast, f"mt_{crc}_slice[8][256]")
