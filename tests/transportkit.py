"""A stand-in for the loop's transport under the server's protocol: what it
writes is kept, and the state the protocol asks for (reading paused, replies
buffered, closing) is the test's to set."""

from __future__ import annotations

import asyncio
import socket


class FakeTransport(asyncio.Transport):
    """``sock``: the socket ``get_extra_info("socket")`` gives (one end of a
    socketpair for busy polling), or None."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        super().__init__()
        self.sock, self.reading, self.buffered = sock, True, 0
        self.closed, self.written = False, bytearray()
        self.high: int | None = None

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1), "socket": self.sock}.get(name, default)

    def set_write_buffer_limits(self, high=None, low=None):
        self.high = high

    def is_reading(self):
        return self.reading

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True

    def get_write_buffer_size(self):
        return self.buffered

    def is_closing(self):
        return self.closed

    def write(self, data):
        self.written += data

    def close(self):
        self.closed = True
