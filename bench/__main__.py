"""``python -m bench [--quick] [--json PATH]``: measure, print the table, keep the figures."""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import ssl
import sys
import zlib

from . import crc, ecdsa_verify, sha256
from ._rows import Row
from ._timing import FULL, QUICK

AREAS = {"crc": crc.run, "sha256": sha256.run, "ecdsa": ecdsa_verify.run}


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def render(rows: list[Row]) -> str:
    head = (
        "area",
        "case",
        "meteremu",
        "peer",
        "peer value",
        "unit",
        "ratio",
        "target",
        "result",
        "path",
    )
    body = [
        (
            r.area,
            r.case,
            _fmt(r.ours),
            r.peer,
            _fmt(r.theirs),
            r.unit,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            "-" if r.target is None else f">= {r.target:g}x",
            r.verdict,
            r.path + (f"; {r.note}" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    right = {2, 4, 6}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(b) for b in body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run, rougher figures")
    parser.add_argument("--json", metavar="PATH", type=pathlib.Path, help="write results here")
    parser.add_argument(
        "--only", choices=sorted(AREAS), action="append", help="run only these areas"
    )
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else FULL
    machine = {
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }
    print(
        f"meteremu bench on {machine['cpu']}, Python {machine['python']}, "
        f"{machine['openssl']}, zlib {machine['zlib']}" + (" (quick)" if args.quick else "")
    )
    rows: list[Row] = []
    for name in args.only or list(AREAS):
        rows += AREAS[name](budget)
    print(render(rows))
    if args.json:
        doc = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick,
            "machine": machine,
            "rows": [r.as_dict() for r in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
