"""Helpers for tests that run ``meteremu serve`` as a subprocess (a helper module,
not a test module): start it on a free loopback port, talk to it, kill it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from meteremu.transports.client import TcpClient

PW = "secret"
IMAGE_TRANSFER = "0.0.44.0.0.255"
WAIT = 30.0  # seconds a start or a socket wait may take before the test fails


class Served:
    """One ``meteremu serve --port 0`` process; :attr:`port` from its first line."""

    def __init__(self, state: pathlib.Path, *args: str, log: pathlib.Path | None = None) -> None:
        self.log = open(log or os.devnull, "ab")  # noqa: SIM115 (closed in wait/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "meteremu.cli", "serve", "--port", "0", "--state",
             str(state), "--password", PW, *args],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        line = self._line()
        m = re.search(rb" on 127\.0\.0\.1:(\d+) ", line)
        if m is None:
            self.kill()
            raise AssertionError(f"meteremu serve did not start: {line!r}")
        self.port = int(m.group(1))

    def _line(self) -> bytes:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + WAIT
        out = b""
        while not out.endswith(b"\n"):
            if not sel.select(max(deadline - time.monotonic(), 0)):
                break
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                break
            out += chunk
        sel.close()
        return out

    def client(self, management: bool = True, **kw: object) -> TcpClient:
        if management:
            kw.update(client_sap=1, password=PW.encode())
        return TcpClient("127.0.0.1", self.port, timeout=WAIT, **kw)  # type: ignore[arg-type]

    def kill(self) -> None:
        """kill -9: no save, no flush -- what a power cut leaves."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        self.log.close()

    def terminate(self) -> tuple[int, bytes]:
        """SIGTERM; (exit status, the rest of stdout)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=WAIT)
        self.log.close()
        return self.proc.returncode, out


@contextlib.contextmanager
def in_process(meters: dict, password: bytes = PW.encode(), loop: str = "asyncio",
               **kw: object) -> Iterator[Any]:
    """A :class:`~meteremu.transports.tcp.MeterServer` on 127.0.0.1:<free port>, its
    event loop (``asyncio`` or ``uvloop``) in a thread (stopped, and the meters
    closed, after the block)."""
    from meteremu.dlms.security import SecurityPolicy
    from meteremu.transports.tcp import MeterServer

    started = threading.Event()
    box: dict = {}

    async def main() -> None:
        server = MeterServer(meters, SecurityPolicy.default(password), **kw)  # type: ignore[arg-type]
        await server.start("127.0.0.1", 0)
        box["server"], box["loop"], box["stop"] = server, asyncio.get_running_loop(), \
            asyncio.Event()
        started.set()
        await box["stop"].wait()
        await server.stop()

    if loop == "uvloop":
        import uvloop

        run: Any = uvloop.run
    else:
        run = asyncio.run
    thread = threading.Thread(target=run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(WAIT), "the in-process server did not start"
    try:
        yield box["server"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(WAIT)
        assert not thread.is_alive()
