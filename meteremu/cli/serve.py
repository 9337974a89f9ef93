"""The ``serve`` command: virtual meters behind a DLMS/COSEM TCP wrapper server.

``meteremu serve --state DIR --password PW`` runs one meter at wPort 1 of
127.0.0.1:4059; ``--meters N`` puts N meters behind the same port, meter
``k`` at destination wPort ``k`` (its server logical device address). Each
meter's flash is a file in DIR (``meter-00001.flash``...), mapped into
memory: a ``kill -9`` leaves what a power cut would, and the next start on
the same DIR resumes from it. Ctrl-C or SIGTERM stop the server cleanly: the
connections close and every meter gets its power-fail save.

Without ``--golden`` the meters get the built-in factory image, signed by
the demo key, and trust that key too (``meteremu/package/builtin.py``). The
first line on stdout says where the server listens (with ``--port 0``, the
port it got). See docs/DLMS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import pathlib
import sys
from typing import Any

from ..errors import UsageError
from ..transports.poll import BUSY_POLL_US, MAX_BUSY_POLL_US
from .common import EXIT_OK, U16, U32, number, public_keys, read_file, uint, warn

__all__ = ["COMMANDS", "MAX_METERS", "state_file"]

MAX_METERS = 0x3FFF  # the largest server logical device address
VENDOR_ID_DEFAULT = 0x4D455445  # "METE", as the demo and the test factory use
HW_REVISION_DEFAULT = 3


def state_file(state_dir: str | pathlib.Path, meter: int) -> pathlib.Path:
    """The flash file of meter ``meter`` (its wPort) in ``state_dir``."""
    return pathlib.Path(state_dir) / f"meter-{meter:05d}.flash"


def _clock_start(text: str) -> _dt.datetime:
    if text == "now":
        return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    try:
        when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'now' or an ISO 8601 date-time (2026-01-01T00:00:00Z), not {text!r}"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def _add_serve(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="virtual meters behind a DLMS/COSEM TCP server (IEC 62056-47 wrapper)",
        description="Run virtual meters a DLMS client reaches over TCP: client SAP 16 public "
        "(read-only), client SAP 1 management (LLS password). Meter k answers at destination "
        "wPort k. State survives kill -9; Ctrl-C or SIGTERM stop it cleanly. See docs/DLMS.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=uint(0, U16), default=4059,
                   help="TCP port (4059, the DLMS/COSEM port; 0: any free port, printed)")
    p.add_argument("--state", required=True, metavar="DIR",
                   help="directory of the meters' flash files (made if missing)")
    p.add_argument("--trusted-key", action="append", metavar="PUB.pem",
                   help="a firmware signing key the meters trust (repeatable)")
    p.add_argument("--password", required=True, metavar="PW",
                   help="the management client's LLS password")
    p.add_argument("--vendor-id", type=uint(0, U32), default=VENDOR_ID_DEFAULT, metavar="V",
                   help=f"the meters' vendor ID, 32 bits ({VENDOR_ID_DEFAULT:#x})")
    p.add_argument("--hw-revision", type=uint(0, U16), default=HW_REVISION_DEFAULT,
                   metavar="R", help=f"the meters' hardware revision ({HW_REVISION_DEFAULT})")
    p.add_argument("--meters", type=uint(1, MAX_METERS), default=1, metavar="N",
                   help=f"meters behind the port, at wPort 1..N (1; at most {MAX_METERS})")
    p.add_argument("--time-scale", type=number(0, 1e6), default=1.0, metavar="X",
                   help="meter seconds per real second (1: real time; 60: a minute a second)")
    p.add_argument("--golden", metavar="PKG",
                   help="factory (golden) image for new meters, signed by a --trusted-key "
                   "(default: a built-in image signed by the demo key)")
    p.add_argument("--idle-timeout", type=number(0.1, 86400), default=120.0, metavar="S",
                   help="close a connection with no whole frame for S seconds (120)")
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                   help="event loop: uvloop, the faster, where it is installed (it is a "
                   "dependency on Linux and macOS), else asyncio's own (auto, the default); "
                   "or either by name")
    p.add_argument("--busy-poll", type=number(0, MAX_BUSY_POLL_US), default=BUSY_POLL_US,
                   metavar="US", help="after a reply, poll up to US microseconds for the "
                   f"client's next request before waiting in the loop ({BUSY_POLL_US:g}; 0: "
                   f"never; at most {MAX_BUSY_POLL_US:g}). Answers a lock-step client sooner at "
                   "the cost of that CPU; Linux only")
    p.add_argument("--clock-start", type=_clock_start, default="now", metavar="WHEN",
                   help="date-time of a new meter's clock: 'now' (default) or ISO 8601")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.set_defaults(handler=_run_serve)


def _meters(args: argparse.Namespace, golden: bytes, keys: list[bytes]) -> dict[int, Any]:
    from ..device import VirtualMeter

    meters: dict[int, Any] = {}
    try:
        for k in range(1, args.meters + 1):
            meters[k] = VirtualMeter(
                serial=f"MTR{k:08d}", vendor_id=args.vendor_id, hw_revision=args.hw_revision,
                trusted_keys=keys, factory_package=golden, state=state_file(args.state, k),
                clock_start=args.clock_start)
    except (OSError, ValueError) as exc:
        for m in meters.values():
            m.close()
        raise UsageError(f"serve: meter {k}: {exc}") from None
    return meters


def _lock(state_dir: pathlib.Path) -> Any:
    """An exclusive lock on the state directory: two servers on one DIR would
    both write the same flash files."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    f = (state_dir / ".lock").open("w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise UsageError(f"serve: another meteremu serve uses {state_dir}") from None
    return f


def _runner(loop: str) -> Any:
    """``asyncio.run``, or uvloop's (same server, same protocol; a faster loop).
    ``auto`` is uvloop when it imports, else asyncio's."""
    import asyncio

    if loop == "asyncio":
        return asyncio.run
    try:
        import uvloop
    except ImportError:
        if loop == "auto":
            return asyncio.run
        raise UsageError("serve: --loop uvloop needs uvloop: pip install uvloop") from None
    return uvloop.run


def _run_serve(args: argparse.Namespace) -> int:
    import logging

    from ..dlms.security import SecurityPolicy
    from ..package import verify
    from ..package.builtin import factory_package

    password = args.password.encode("utf-8")
    run = _runner(args.loop)
    if not password:
        raise UsageError("serve: --password must not be empty")
    keys = public_keys(args.trusted_key)
    if args.golden is not None:
        if not keys:
            raise UsageError("serve: --golden needs --trusted-key, the key that signed it")
        golden = read_file(args.golden, "golden package")
        verify(golden, keys, vendor_id=args.vendor_id, hw_revision=args.hw_revision)
    else:
        golden, demo = factory_package(args.vendor_id, args.hw_revision)
        keys.append(demo)
        warn("serve: no --golden: new meters get the built-in factory image, signed by the "
             "demo key, which they trust too (a test-bench setting; see docs/DLMS.md)")
    if len(keys) > 4:
        raise UsageError(f"serve: {len(keys)} trusted keys; a meter holds at most 4 "
                         "(3 with the built-in factory image)")
    state_dir = pathlib.Path(args.state)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"serve: cannot use {state_dir}: {exc.strerror or exc}") from None
    lock = _lock(state_dir)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("meteremu.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else
                    logging.DEBUG if args.verbose else logging.INFO)
    try:
        meters = _meters(args, golden, keys)
        run(_serve(args, meters, SecurityPolicy.default(password)))
    finally:
        logger.removeHandler(handler)
        if lock is not None:
            lock.close()
    return EXIT_OK


async def _serve(args: argparse.Namespace, meters: dict[int, Any], policy: Any) -> None:
    import asyncio
    import signal

    from ..transports.tcp import MeterServer

    server = MeterServer(meters, policy, time_scale=args.time_scale,
                         idle_timeout=args.idle_timeout, busy_poll_us=args.busy_poll)
    try:
        await server.start(args.host, args.port)
    except OSError as exc:
        for m in meters.values():
            m.close()
        raise UsageError(f"serve: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    n = len(meters)
    where = "wPort 1" if n == 1 else f"wPorts 1..{n}"
    print(f"meteremu serve: {n} meter{'s' if n > 1 else ''} on {server.host}:{server.port} "
          f"({where}), state in {args.state}, time x{args.time_scale:g}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
    print(f"meteremu serve: stopped; {n} meter{'s' if n > 1 else ''} saved", flush=True)


COMMANDS = (_add_serve,)
