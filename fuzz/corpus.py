"""What every seed_<name>.py shares: write its named seeds into a corpus folder."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Mapping


def write(seeds: Mapping[str, bytes], default: str, argv: list[str] | None = None) -> int:
    """Write ``seeds`` as ``seed-<name>`` files into argv[1] (else ``default``)."""
    args = sys.argv if argv is None else argv
    path = pathlib.Path(args[1] if len(args) > 1 else default)
    path.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (path / f"seed-{name}").write_bytes(data)
    return 0
