"""Busy polling after a reply: the next request read before the loop would sleep.

A DLMS client works in lock-step: it sends a request, waits for the response,
and sends the next one a few microseconds after the response arrived. On an
event loop, the server goes back to ``epoll_wait`` after each reply and its
CPU goes idle; the client's next request must then wake it, and on a virtual
machine waking an idle CPU costs more than the whole request (an interrupt
to another virtual CPU, a halted one to schedule again). Measured on a
2-vCPU KVM guest with a blocking ping-pong client: 25 us a round trip with the
server waiting in the loop, 14 us with it polling after each reply.

So after a reply the server keeps asking the kernel, for at most ``window``
seconds, whether its client has sent again. The only connection simply reads
until its request is there (:meth:`BusyPoller.wait_read`); with others open,
it asks an epoll set of the server's own holding every connection and the
listener (``epoll_wait`` with no timeout, :meth:`BusyPoller.wait`): its own
request alone is read and answered inline, anything else ready ends the
polling and the event loop takes over, so polling one connection never keeps
another waiting. A client whose request came from this very CPU is not
polled for: it needs this CPU to send its next one. The polling adapts: a
connection polls after a reply only while its client's last request came
within the window of the reply before it (a client that thinks longer is
left to the loop, and polled for again once it answers quickly). A window
that passes with nothing to read costs that much CPU and nothing else. Linux
calls this busy polling (``SO_BUSY_POLL``); it is done here in user space,
since loopback and most virtual NICs have no driver-level busy polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import socket
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BUSY_POLL_US", "MAX_BUSY_POLL_US", "BusyPoller", "available"]

BUSY_POLL_US = 50.0  # serve's default window: a few lock-step client turnarounds
#: the longest window: a connection answers at most 32 requests in a row by polling,
#: so the loop (timers, signals) waits at most 32 windows
MAX_BUSY_POLL_US = 1000.0
READ_SIZE = 64 * 1024  # bytes read at once, as the loop's reads


def available() -> bool:
    """Busy polling needs epoll (Linux); elsewhere the server waits in its loop."""
    return hasattr(select, "epoll")


def _cpu_now() -> Callable[[], int] | None:
    """libc's ``sched_getcpu`` (the CPU this thread runs on), or None."""
    try:
        f = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    f.restype, f.argtypes = ctypes.c_int, []
    return f  # type: ignore[no-any-return]


SO_INCOMING_CPU = getattr(socket, "SO_INCOMING_CPU", None)


class BusyPoller:
    """The epoll set the server polls after a reply: every connection's socket and
    the listeners. ``add``/``discard`` as they come and go (owners keyed by fd,
    so a closed fd reused by a new connection is never dropped by the old one)."""

    def __init__(self, window_us: float) -> None:
        if not 0 < window_us <= MAX_BUSY_POLL_US:
            raise ValueError(f"busy poll window must be 0..{MAX_BUSY_POLL_US:g} us, "
                             f"not {window_us!r}")
        self.window = window_us / 1e6
        #: the clock of the adaptive rule (how soon a client sent again); a test may
        #: set it; the polling itself always runs on the real clock
        self.clock: Callable[[], float] = time.perf_counter
        self._epoll: Any = select.epoll()
        self._owners: dict[int, object] = {}
        self._buffer = bytearray(READ_SIZE)  # shared: what is read is copied out at once
        self._buffers = [self._buffer]
        self._cpu_now = _cpu_now()
        self.hits = 0  # requests read by polling instead of by the loop
        self.misses = 0  # windows that passed with nothing to read

    def add(self, fd: int, owner: object) -> None:
        if fd < 0:
            return
        old = self._owners.get(fd)
        if old is not None:  # the fd was closed (the kernel dropped it) and reused
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        try:
            self._epoll.register(fd, select.EPOLLIN)
        except OSError:  # already closed: it is polled by nobody
            self._owners.pop(fd, None)
            return
        self._owners[fd] = owner

    def discard(self, fd: int, owner: object) -> None:
        if self._owners.get(fd) is owner:
            del self._owners[fd]
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    def wait(self, fd: int) -> bool:
        """Poll for up to the window: True when ``fd`` alone is ready to read; False
        when the window passed, or something else is ready (the loop's turn)."""
        if self._epoll.closed:  # the server stopped
            return False
        poll = self._epoll.poll
        clock = time.perf_counter
        deadline = clock() + self.window
        while True:
            ready = poll(0, 2)  # whether ours alone is ready: two events say it
            if ready:
                if len(ready) == 1 and ready[0][0] == fd:
                    self.hits += 1
                    return True
                return False
            if clock() >= deadline:
                self.misses += 1
                return False
            # the client may be waiting for this CPU (woken here, or sharing it with
            # another process): its turn, where the scheduler would not give it at once
            os.sched_yield()

    def next_request(self, fd: int, sock: Any, alone: bool) -> bytes | None:
        """The client's next bytes on ``fd`` (its socket ``sock``), polled for as the
        module says; None when there is none to answer now (the loop's turn).
        ``alone``: the only connection of its server."""
        data = self.read(fd) if alone else b""
        if data == b"":
            if self.client_here(sock):
                return None
            if alone:  # nobody else to look out for: read as soon as it comes
                data = self.wait_read(fd)
            elif self.wait(fd):
                data = self.read(fd)
        return data or None  # b"": the window passed; None: end of stream or an error

    def wait_read(self, fd: int) -> bytes | None:
        """The only connection's next request, read as soon as it is there, for up
        to the window: ``b""`` when none came, None at end of stream or on an
        error. No one else can be waiting but a new connection (the listener is
        looked at when the polling ends, after at most 32 requests)."""
        if self._epoll.closed:  # the server stopped
            return b""
        clock = time.perf_counter
        deadline = clock() + self.window
        readv, buffers = os.readv, self._buffers
        while True:
            try:
                n = readv(fd, buffers)
            except (BlockingIOError, InterruptedError):
                if clock() >= deadline:
                    self.misses += 1
                    return b""
                os.sched_yield()  # as in wait()
                continue
            except OSError:
                return None
            self.hits += 1
            return bytes(memoryview(self._buffer)[:n]) if n else None

    def client_here(self, sock: Any) -> bool:
        """The client's last request came from a process on this very CPU (a
        socket's ``SO_INCOMING_CPU``; on loopback the sender's CPU): it needs this
        CPU to send its next one, so polling would only hold it up -- the loop's
        wait hands the CPU over, and waking a task on one's own CPU is cheap."""
        if self._cpu_now is None or SO_INCOMING_CPU is None:
            return False
        try:
            return bool(sock.getsockopt(socket.SOL_SOCKET, SO_INCOMING_CPU) == self._cpu_now())
        except OSError:
            return False

    def read(self, fd: int) -> bytes | None:
        """What ``fd`` (non-blocking) has to read now: ``b""`` when nothing yet;
        None at end of stream or on an error. The loop then reads the socket
        itself and finds out: an end of stream is reported to every later read,
        and so is one after a reset."""
        try:
            n = os.readv(fd, self._buffers)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return None
        return bytes(memoryview(self._buffer)[:n]) if n else None

    def close(self) -> None:
        self._owners.clear()
        self._epoll.close()
