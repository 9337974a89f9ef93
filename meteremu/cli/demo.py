"""The ``demo`` command: the whole update story against one virtual meter."""

from __future__ import annotations

import argparse
from typing import Any

from .common import U32, probability, uint

__all__ = ["COMMANDS"]


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole update story against one virtual meter, no arguments needed",
        description="Key, image, signed package, fragments over a lossy mesh link, digest "
        "check, activation, heartbeat; then a no-heartbeat image that rolls back on its own. "
        "Exit 0 when both end as they should.",
    )
    p.add_argument("--seed", type=uint(0, U32), default=0,
                   help="seed of the lossy link, 0..2^32-1 (default 0)")
    p.add_argument("--loss", type=probability, default=0.1,
                   help="frame loss probability, 0 <= P < 1 (0.1)")
    p.add_argument("--plain", action="store_true", help="plain text, no rich output")
    p.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ..demo import run

    return run(seed=args.seed, loss=args.loss, plain=args.plain)


COMMANDS = (_add_demo,)
