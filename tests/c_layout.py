"""Field tables as the C headers document them, for checking the construct
definitions against (``off size name`` rows of a header comment)."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def c_table(header: str, start: str, end: str) -> list[tuple[int, int, str]]:
    """(offset, size, field) rows with numeric offset and size in the comment of
    ``csrc/<header>`` between the first ``start`` and the next ``end``."""
    text = (ROOT / "csrc" / header).read_text()
    part = text.split(start, 1)[1].split(end, 1)[0]
    return [
        (int(m[1]), int(m[2]), m[3])
        for m in re.finditer(r"^\s*\*\s+(\d+)\s+(\d+)\s+([a-z_0-9]+)", part, re.M)
    ]


def c_defines(header: str) -> dict[str, str]:
    """``#define NAME value`` lines of ``csrc/<header>``."""
    text = (ROOT / "csrc" / header).read_text()
    return dict(re.findall(r"#define (\w+) (\S+)", text))


def c_int(value: str) -> int:
    return int(value.rstrip("u"), 0)
