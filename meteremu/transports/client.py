"""A blocking TCP wrapper client: :class:`~meteremu.dlms.client.DlmsClient` on a socket.

For scripts, tests and the README::

    from meteremu.transports.client import TcpClient

    with TcpClient("127.0.0.1", 4059, client_sap=1, password=b"secret") as c:
        c.associate()
        print(c.get("1.0.0.2.0.255", 2).value)     # b"1.0.0", the firmware id

Each call sends one request and waits for its result (GET blocks are followed
through); ``timeout`` bounds each wait. A result the server refused is
returned, not raised (check ``.ok``); a connection the server closed raises
:class:`ConnectionError`.
"""

from __future__ import annotations

import socket
from typing import Any

from ..dlms.client import (
    ActionResult,
    AssociationResult,
    DlmsClient,
    GetListResult,
    GetResult,
    ReleaseResult,
    Result,
    SetResult,
)

__all__ = ["TcpClient"]


class TcpClient:
    def __init__(self, host: str = "127.0.0.1", port: int = 4059, *, timeout: float = 10.0,
                 **client: Any) -> None:
        self.dlms = DlmsClient(**client)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __enter__(self) -> TcpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def request(self, data: bytes) -> Result:
        """Send ``data`` (a request from :attr:`dlms`) and return its result."""
        self.sock.sendall(data)
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            results = self.dlms.receive_data(chunk)
            more = self.dlms.data_to_send()  # GET-Request-Next of a block transfer
            if more:
                self.sock.sendall(more)
            if results:
                return results[-1]

    def associate(self) -> AssociationResult:
        return self.request(self.dlms.associate())  # type: ignore[return-value]

    def release(self) -> ReleaseResult:
        return self.request(self.dlms.release())  # type: ignore[return-value]

    def get(self, obis: str | bytes, attribute: int, **kw: Any) -> GetResult:
        return self.request(self.dlms.get(obis, attribute, **kw))  # type: ignore[return-value]

    def get_list(self, items: list[tuple[str | bytes, int]]) -> GetListResult:
        return self.request(self.dlms.get_list(items))  # type: ignore[return-value]

    def set(self, obis: str | bytes, attribute: int, value: Any, **kw: Any) -> SetResult:
        return self.request(self.dlms.set(obis, attribute, value, **kw))  # type: ignore[return-value]

    def action(self, obis: str | bytes, method: int, param: Any = None,
               **kw: Any) -> ActionResult:
        return self.request(self.dlms.action(obis, method, param, **kw))  # type: ignore[return-value]
