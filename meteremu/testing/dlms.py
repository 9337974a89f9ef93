"""A DLMS client and a meter's server connection joined in memory: the test rig
for everything above the socket.

::

    link = DlmsLink(meter, password=b"secret", client_sap=1)
    assert link.associate().accepted
    assert link.get("1.0.0.2.0.255", 2).value == b"1.0.0"

Bytes go through the real TCP wrapper framing and APDU encodings both ways
(``meteremu.dlms.client`` <-> ``meteremu.dlms.connection``); no socket, no
clock. ``events`` collects what the server connection reported, and
``chunk`` feeds the server its bytes in pieces of that size (1: byte by byte).
"""

from __future__ import annotations

from typing import Any

from ..dlms.client import DlmsClient, Result
from ..dlms.connection import ServerConnection
from ..dlms.events import Event
from ..dlms.security import SecurityPolicy

__all__ = ["DlmsLink"]


class DlmsLink:
    def __init__(self, meter: Any, *, password: bytes | None = None, client_sap: int = 16,
                 server_password: bytes = b"secret", meter_address: int = 1,
                 policy: SecurityPolicy | None = None, chunk: int | None = None,
                 **client: Any) -> None:
        self.server = ServerConnection({meter_address: meter},
                                       policy or SecurityPolicy.default(server_password))
        self.client = DlmsClient(client_sap=client_sap, server_sap=meter_address,
                                 password=password, **client)
        self.events: list[Event] = []
        self.chunk = chunk

    def send_raw(self, data: bytes) -> bytes:
        """Bytes to the server as they are; what it answers (not decoded)."""
        step = self.chunk or max(len(data), 1)
        for i in range(0, len(data), step):
            self.events += self.server.receive_data(data[i:i + step])
        return self.server.data_to_send()

    def call(self, request: bytes) -> Result | None:
        """One request from :attr:`client` through the server; its result, or None
        when the server sent nothing (an unconfirmed request, or a closed connection).
        GET blocks are followed through."""
        data = request
        while data:
            answer = self.send_raw(data)
            results = self.client.receive_data(answer)
            data = self.client.data_to_send()
            if results:
                return results[-1]
        return None

    @property
    def closed(self) -> bool:
        return self.server.closing is not None

    def associate(self) -> Any:
        return self.call(self.client.associate())

    def release(self) -> Any:
        return self.call(self.client.release())

    def get(self, obis: str | bytes, attribute: int, **kw: Any) -> Any:
        return self.call(self.client.get(obis, attribute, **kw))

    def get_list(self, items: list[tuple[str | bytes, int]]) -> Any:
        return self.call(self.client.get_list(items))

    def set(self, obis: str | bytes, attribute: int, value: Any, **kw: Any) -> Any:
        return self.call(self.client.set(obis, attribute, value, **kw))

    def action(self, obis: str | bytes, method: int, param: Any = None, **kw: Any) -> Any:
        return self.call(self.client.action(obis, method, param, **kw))
