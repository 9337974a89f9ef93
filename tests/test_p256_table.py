"""The committed P-256 base-point table equals a fresh run of its generator."""

from __future__ import annotations

import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "csrc" / "tools" / "gen_p256_table.py"


def test_committed_table_matches_generator() -> None:
    gen = runpy.run_path(str(GENERATOR))
    assert (ROOT / "csrc" / "mt_p256_table.c").read_text() == gen["render"]()


def test_table_holds_odd_multiples_of_g() -> None:
    gen = runpy.run_path(str(GENERATOR))
    text = gen["render"]()
    # 32 entries, (2i+1) G, the first being G itself in Montgomery form.
    assert text.count(" G */") == gen["COUNT"] == 32
    gx_mont = gen["GX"] * 2**256 % gen["P"]
    first_limb = f"0x{gx_mont & (2**64 - 1):016x}u"
    assert text.index(first_limb) < text.index("/* 3 G */")
