"""The committed P-256 base-point tables (one per profile) equal a fresh run of their generator."""

from __future__ import annotations

import pathlib
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "csrc" / "tools" / "gen_p256_table.py"
GEN = runpy.run_path(str(GENERATOR))


@pytest.mark.parametrize("name", sorted(GEN["TABLES"]))
def test_committed_table_matches_generator(name: str) -> None:
    assert (ROOT / "csrc" / name).read_text() == GEN["render"](GEN["TABLES"][name])


def test_one_table_per_profile() -> None:
    # the fast profile (the Python build's) keeps its width-7 table
    assert GEN["TABLES"]["mt_p256_table.c"] == GEN["WINDOW"] == 7
    assert GEN["COUNT"] == 32
    # the small profile's is narrower: fewer points in flash
    assert GEN["TABLES"]["mt_p256_table_small.c"] < GEN["WINDOW"]


@pytest.mark.parametrize("window", [2, 4, 7])
def test_table_holds_odd_multiples_of_g(window: int) -> None:
    text = GEN["render"](window)
    # 2^(w-2) entries, (2i+1) G, the first being G itself in Montgomery form.
    assert text.count(" G */") == 1 << (window - 2)
    assert f"const int mt_p256_g_window = {window};" in text
    gx_mont = GEN["GX"] * 2**256 % GEN["P"]
    first_limb = f"0x{gx_mont & (2**64 - 1):016x}u"
    assert text.split("/* 1 G */", 1)[1].lstrip().startswith("{{" + first_limb)
