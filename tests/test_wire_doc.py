"""docs/FORMAT.md's on-flash record tables are generated from the definitions."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from meteremu.wire import doc
from meteremu.wire.layout import fields

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORMAT_MD = ROOT / "docs" / "FORMAT.md"


def test_committed_block_is_generated_from_the_definitions() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meteremu.wire.doc"], capture_output=True, check=True, cwd=ROOT
    ).stdout.decode()
    assert out == doc.markdown()
    text = FORMAT_MD.read_text()
    assert doc.replace_block(text) == text, (
        "docs/FORMAT.md is stale: python -m meteremu.wire.doc --write docs/FORMAT.md"
    )


def test_every_field_is_in_the_doc_with_its_meaning() -> None:
    text = doc.markdown()
    for layout in doc.LAYOUTS:
        for f in fields(layout.definition, partial=True):
            assert f.doc, f"{layout.title}: {f.name} has no meaning in its definition"
            if f.size is not None:
                assert f"| {f.offset} | {f.size} | {f.name or '(reserved)'} |" in text


def test_replace_block_needs_both_markers() -> None:
    with pytest.raises(ValueError, match="BEGIN marker"):
        doc.replace_block("no block here")
    with pytest.raises(ValueError, match="END marker"):
        doc.replace_block(doc.BEGIN + "\nhalf a block\n")
    assert doc.replace_block(f"a\n{doc.BEGIN}\nold\n{doc.END}\nb\n") == (
        f"a\n{doc.markdown()}b\n")
