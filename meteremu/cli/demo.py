"""The ``demo`` command: the front door.

``meteremu demo`` runs a firmware campaign over a simulated fleet, end to
end (:mod:`meteremu.fleetdemo`); ``meteremu demo meter`` is the whole update
story against one virtual meter (:mod:`meteremu.demo`).
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import U32, probability, uint

__all__ = ["COMMANDS"]


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="a firmware campaign over a simulated fleet, no arguments needed",
        description="Key, two firmware images signed and packaged, a mixed fleet of a few "
        "hundred meters on lossy multi-hop meshes (battery meters, one of the wrong hardware "
        "revision, one that loses power mid-swap), a campaign (canary, 24 h soak, waves) and a "
        "second one whose no-heartbeat image rolls back in its canary; then the report and "
        "whether the fleet is healthy. Exit 0 when it is. `meteremu demo meter`: the story on "
        "one meter.",
    )
    p.add_argument("--seed", type=uint(0, U32), default=0,
                   help="seed of everything random, 0..2^32-1 (default 0)")
    p.add_argument("--meters", type=uint(50, 2000), default=300,
                   help="meters in the fleet, 50..2000 (300)")
    p.add_argument("--plain", action="store_true", help="no colours, no progress bars")
    p.set_defaults(handler=_run_fleet)
    dsub = p.add_subparsers(dest="demo_command", metavar="COMMAND")
    m = dsub.add_parser(
        "meter",
        help="the whole update story against one virtual meter",
        description="Key, image, signed package, fragments over a lossy mesh link, digest "
        "check, activation, heartbeat; then a no-heartbeat image that rolls back on its own. "
        "Exit 0 when both end as they should.",
    )
    m.add_argument("--seed", type=uint(0, U32), default=0,
                   help="seed of the lossy link, 0..2^32-1 (default 0)")
    m.add_argument("--loss", type=probability, default=0.1,
                   help="frame loss probability, 0 <= P < 1 (0.1)")
    m.add_argument("--plain", action="store_true", help="plain text, no rich output")
    m.set_defaults(handler=_run_meter)


def _run_fleet(args: argparse.Namespace) -> int:
    from ..fleetdemo import run

    return run(seed=args.seed, meters=args.meters, plain=args.plain)


def _run_meter(args: argparse.Namespace) -> int:
    from ..demo import run

    return run(seed=args.seed, loss=args.loss, plain=args.plain)


COMMANDS = (_add_demo,)
