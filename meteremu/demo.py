"""``meteremu demo``: the seed's six steps against one in-process virtual meter.

Pass 1 -- a normal image: generate a signing key and a firmware image, sign
and package them (the ``meteremu keygen`` and ``meteremu package`` commands
themselves, in a temporary directory), send the package as mesh fragments
over a lossy link (10 % loss, retransmission rounds), read 0.0.96.10.1.255
and compare it with the package's SHA-256, activate, heartbeat: confirmed.

Pass 2 -- a ``no-heartbeat`` image: the same steps, but the new firmware never
confirms, and after 300 virtual seconds the meter rolls back on its own.

Each step is printed as it happens (with rich when it is installed), then the
meter's audit log. The exit status is 0 only when both passes end as they
should. Virtual time: the 300 s window takes milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import random
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["run", "session_id"]

VENDOR_ID = 0x4D455445
HW_REVISION = 3
IMAGE_SIZE = 96 * 1024
FRAGMENT_SIZE = 128
AIRTIME = 0.012  # seconds per frame: ~150 bytes at 100 kbps (seed: 50-200 kbps)
HEARTBEAT_WINDOW = 300


def session_id(seed: int, n: int) -> int:
    """The session ID of update pass ``n``: 0xDE0000 + n + seed, kept to the 32-bit field."""
    return (0xDE0000 + n + seed) & 0xFFFFFFFF


class _Out:
    """Step-by-step output: rich when available (and not ``plain``), else print."""

    def __init__(self, file: TextIO, plain: bool) -> None:
        self.file = file
        self.console: Any = None
        if not plain:
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self.console = Console(file=file, highlight=False, soft_wrap=True)

    def _print(self, text: str, style: str = "") -> None:
        if self.console is not None:
            self.console.print(text, style=style or None, markup=False)
        else:
            print(text, file=self.file, flush=True)

    def title(self, text: str) -> None:
        if self.console is not None:
            self.console.rule(text)
        else:
            self._print(f"== {text} ==")

    def step(self, n: int, text: str) -> None:
        self._print(f"[{n}/6] {text}", "bold")

    def detail(self, text: str) -> None:
        self._print(f"      {text}", "dim")

    def ok(self, text: str) -> None:
        self._print(f"      ok: {text}", "green")

    def fail(self, text: str) -> None:
        self._print(f"      FAILED: {text}", "bold red")

    @contextlib.contextmanager
    def progress(self, total: int) -> Iterator[Callable[[int, int, int], None]]:
        """A callback for :func:`meteremu.hes.deliver`'s ``on_round``."""
        if self.console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn("      fragments"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("round {task.fields[round]}"),
                          console=self.console, transient=False) as bar:
                task = bar.add_task("send", total=total, round=0)

                def update(rnd: int, received: int, count: int) -> None:
                    bar.update(task, completed=received, round=rnd)

                yield update
            return

        def line(rnd: int, received: int, count: int) -> None:
            self.detail(f"round {rnd}: {received}/{count or total} fragments on the meter")

        yield line

    def audit(self, lines: list[str]) -> None:
        if self.console is not None:
            from rich.table import Table

            table = Table(title="meter audit log (NVM)", show_lines=False)
            table.add_column("time (meter clock)", no_wrap=True)
            table.add_column("record")
            for line in lines:
                stamp, _, rest = line.partition(" ")
                style = "red" if rest.startswith("FOTA_ERR") else (
                    "green" if rest.startswith("FOTA_OK") else None)
                table.add_row(stamp, rest, style=style)
            self.console.print(table)
        else:
            self._print("meter audit log (NVM):")
            for line in lines:
                self._print(f"  {line}")


def _cli(argv: list[str]) -> str:
    """Run a ``meteremu`` command in-process; its output, or ``RuntimeError``."""
    from .cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    if status != 0:
        raise RuntimeError(f"meteremu {argv[0]} exited {status}: {err.getvalue().strip()}")
    return out.getvalue().strip()


def _make_package(work: pathlib.Path, name: str, key: pathlib.Path, *, version: str,
                  counter: int, behaviour: str, seed: int) -> bytes:
    """Write a firmware image and config.json, run ``meteremu package --key``."""
    image = work / f"{name}.bin"
    image.write_bytes(random.Random(seed).randbytes(IMAGE_SIZE))
    config = work / f"{name}.json"
    config.write_text(json.dumps({
        "vendor_id": f"0x{VENDOR_ID:08X}", "hw_revision": HW_REVISION, "version": version,
        "security_counter": counter, "fragment_size": FRAGMENT_SIZE, "behaviour": behaviour,
    }))
    out = work / f"{name}.pkg"
    _cli(["package", str(image), "--config", str(config), "--key", str(key), "-o", str(out)])
    return out.read_bytes()


def _update_pass(o: _Out, meter: Any, link: Any, work: pathlib.Path, key: pathlib.Path, *,
                 version: str, counter: int, behaviour: str, session: int) -> bool:
    """One update through the six steps; True when it ended as the behaviour says."""
    from .crypto import sha256
    from .device import BootState, Client
    from .errors import MeteremuError
    from .hes import deliver, fragment_package

    name = f"fw-{version}"
    o.step(1, f"firmware image {name}.bin ({IMAGE_SIZE // 1024} KiB, behaviour {behaviour})")
    o.step(2, "sign and package: meteremu package --key (config.json: vendor, hardware, "
              "version, security counter, fragment size)")
    pkg = _make_package(work, name, key, version=version, counter=counter,
                        behaviour=behaviour, seed=session)
    digest = sha256(pkg)
    o.detail(f"{name}.pkg: {len(pkg)} bytes, SHA-256 {digest.hex()[:16]}...")

    frames = fragment_package(pkg, session_id=session)
    o.step(3, f"send {len(frames)} fragments over the mesh ({link.loss:.0%} loss), "
              "then re-send what the meter reports missing")
    lost_before = link.stats.lost
    with o.progress(len(frames)) as on_round:
        d = deliver(meter, frames, link, airtime=AIRTIME, on_round=on_round)
    o.detail(f"{d.rounds} rounds, {d.frames_sent} frames sent, "
             f"{link.stats.lost - lost_before} lost on the air")
    if not d.complete:
        o.fail(f"download incomplete (boot state {meter.boot_state.name.lower()})")
        return False
    o.ok(f"download complete, meter state {meter.boot_state.name.lower()}")

    o.step(4, "read 0.0.96.10.1.255 (SHA-256 of the package in the inactive bank)")
    held = bytes(meter.get("0.0.96.10.1.255", 2, client=Client.PUBLIC))
    if held != digest:
        o.fail(f"meter holds {held.hex()[:16]}..., head-end has {digest.hex()[:16]}...")
        return False
    o.ok("bit-perfect copy: the digests match")

    o.step(5, "activate: 0.0.96.10.2.255 method 1 {\"activate\": true}")
    try:
        meter.action("0.0.96.10.2.255", 1, True, client=Client.MANAGEMENT)
    except MeteremuError as exc:
        o.fail(f"activation refused: {exc}")
        return False
    o.ok(f"bank swap done; running {meter.active_version} on trial "
         f"(bank {meter.active_bank})")

    o.step(6, "heartbeat from the head-end")
    meter.advance(5)
    confirmed = meter.heartbeat()
    if behaviour == "normal":
        if not confirmed or meter.boot_state is not BootState.CONFIRMED:
            o.fail(f"not confirmed (state {meter.boot_state.name.lower()})")
            return False
        o.ok(f"confirmed: {meter.active_version} is the meter's firmware now")
        return meter.active_version == version
    if confirmed:
        o.fail("a no-heartbeat image confirmed")
        return False
    o.detail(f"the image ignores the heartbeat; waiting out the {HEARTBEAT_WINDOW} s "
             "window (virtual time)")
    for _ in range(HEARTBEAT_WINDOW // 60 + 1):
        meter.advance(60)
        if meter.boot_state is not BootState.TRIAL:
            break
    if meter.boot_state is not BootState.REVERTED or meter.active_version == version:
        o.fail(f"no rollback: state {meter.boot_state.name.lower()}, "
               f"running {meter.active_version}")
        return False
    o.ok(f"rolled back on its own after {HEARTBEAT_WINDOW} s: {version} -> "
         f"{meter.active_version}, state reverted")
    return True


def run(*, seed: int = 0, loss: float = 0.1, plain: bool = False,
        file: TextIO | None = None) -> int:
    """The demo; returns the exit status (0 when both passes end as expected)."""
    from .device import VirtualMeter
    from .hes import LossyLink
    from .keys import load_private_key_file, public_point

    o = _Out(file or sys.stdout, plain)
    with tempfile.TemporaryDirectory(prefix="meteremu-demo-") as tmp:
        work = pathlib.Path(tmp)
        key = work / "firmware_priv.pem"
        o.title("meteremu demo: firmware over the air, the seed's six steps")
        o.detail(_cli(["keygen", "--out", str(key), "--pub", str(work / "firmware_pub.pem")]))
        point = public_point(load_private_key_file(str(key)))
        factory = _make_package(work, "factory", key, version="1.0.0", counter=1,
                                behaviour="normal", seed=seed + 1)
        meter = VirtualMeter(serial="DEMO0001", vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                             trusted_keys=[point], factory_package=factory,
                             heartbeat_window=HEARTBEAT_WINDOW, load=1500)
        o.detail(f"meter DEMO0001 runs {meter.active_version} (signed factory image), "
                 "trusts the new key, 1.5 kW load")
        link = LossyLink(seed, loss=loss)
        results = []
        for n, (version, counter, behaviour) in enumerate(
                [("2.0.0", 2, "normal"), ("3.0.0", 3, "no-heartbeat")], start=1):
            o.title(f"pass {n}: {version}, {behaviour} image")
            results.append(_update_pass(o, meter, link, work, key, version=version,
                                        counter=counter, behaviour=behaviour,
                                        session=session_id(seed, n)))
            if not results[-1]:
                break
        o.title("result")
        o.audit(meter.audit_log)
        o.detail(f"energy register: {meter.energy_wh:.1f} Wh over "
                 f"{float(meter.now):.0f} virtual seconds; link: {link.stats.offered} frames "
                 f"offered, {link.stats.lost} lost")
        meter.close()
    passed = len(results) == 2 and all(results)
    if passed:
        o.ok("pass 1 confirmed 2.0.0; pass 2 rolled back to 2.0.0 without a heartbeat")
    else:
        o.fail("the demo did not end as expected")
    return 0 if passed else 1
