"""The ``meteremu`` command, one module per command group.

* :mod:`.package` -- ``keygen``, ``package``, ``attach-signature``, ``inspect``, ``verify``;
* :mod:`.serve` -- ``serve``, virtual meters behind a DLMS/COSEM TCP server;
* :mod:`.mesh` -- ``mesh broadcast``, seed step 4 on a simulated RF mesh;
* :mod:`.campaign` -- ``campaign run``, ``status``, ``resume``, ``report``: a
  rollout to a fleet with its state in SQLite;
* :mod:`.dlms` -- ``dlms``, a DLMS/COSEM client: ``read``, ``method``, ``push``,
  ``objects``, ``status``;
* :mod:`.demo` -- ``demo``, a campaign over a simulated fleet end to end, and
  ``demo meter``, the whole story on one in-process meter;
* :mod:`.common` -- what they share: exit codes (0 success, 1 a package failed
  a check or the meter refused, 2 usage/configuration/key/connection errors),
  argument types, file helpers.

Each group module lists its ``_add_<name>`` functions in ``COMMANDS``;
:data:`COMMANDS` here is their concatenation, in help order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..errors import ConfigError, KeyFileError, PackageError, UsageError
from . import campaign, demo, dlms, mesh, package, serve
from .common import (
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROG,
    Parser,
    one_line,
    warn,
)

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[Callable[[Any], None], ...] = (
    *package.COMMANDS,
    *serve.COMMANDS,
    *mesh.COMMANDS,
    *campaign.COMMANDS,
    *dlms.COMMANDS,
    *demo.COMMANDS,
)


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG, description="meteremu: a virtual smart meter for FOTA update rehearsal."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meteremu`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's exit
        return status
    except PackageError as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return EXIT_REFUSED
    except ConfigError as exc:
        warn(f"{args.command}: {exc}")
        return EXIT_USAGE
    except (KeyFileError, UsageError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`meteremu inspect x | head`)
        # Point stdout at /dev/null so the interpreter's last flush stays quiet too.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
