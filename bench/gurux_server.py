"""The reference for ``python -m bench.dlms``: a DLMS/COSEM server built on gurux-dlms.

``python -m bench.gurux_server [--port 0] [--password secret] [--media M]`` serves the
objects of SPEC section 7 (Association LN, logical device name, serial,
firmware identifier, clock, energy register, class 18 image transfer with
128-byte blocks, 0.0.96.10.1.255 and 0.0.96.10.2.255) over the TCP wrapper
with gurux-dlms's ``GXDLMSSecureServer``, one server instance per
connection, client 16 public and client 1 with Low Level Security. The first
line on stdout says where it listens.

The library does the protocol: AARQ/AARE, GET, ACTION, A-XDR, the object
model. What is ours is only what a server built on it must add: the socket
loop (one thread, ``selectors``: the cheapest I/O we could give it; or
``--media gurux-net``, Gurux's own network media), the
authentication callback, and the image transfer methods, handled in
``onPreAction`` as Gurux's own example server does (the library's default
``GXDLMSImageTransfer.invoke`` fails on a block in this version). Verify
hashes the received image (SHA-256) into 0.0.96.10.1.255; activate sets the
firmware identifier. The meteremu meter does more at verify (CRC-32,
SHA-256, ECDSA P-256) and writes every block to its flash model.

Shims for gaps in the library's Python server glue (1.0.203), each only
supplying what it calls and does not define: ``GXServerReply.setReply``,
``getConnectionInfo``, ``getCount``, ``setCount``; ``notifyRead``,
``notifyConnected``; ``onPostRead`` called without arguments; and
``ValueEventArgs`` made iterable (the ACTION handler calls ``list(e)`` on one
event).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import selectors
import socket
import sys
from typing import Any

from gurux_dlms import GXServerReply, ValueEventArgs
from gurux_dlms.enums import (
    AccessMode,
    Authentication,
    DataType,
    InterfaceType,
    MethodAccessMode,
    SourceDiagnostic,
    Unit,
)
from gurux_dlms.objects import (
    GXDLMSAssociationLogicalName,
    GXDLMSClock,
    GXDLMSData,
    GXDLMSImageTransfer,
    GXDLMSRegister,
)
from gurux_dlms.secure import GXDLMSSecureServer

BLOCK_SIZE = 128

# The library's ACTION handler passes list(e) for one event.
ValueEventArgs.__iter__ = lambda self: iter((self,))  # type: ignore[attr-defined]


class _Reply(GXServerReply):
    """GXServerReply with the accessors GXDLMSServer calls."""

    def setReply(self, value: Any) -> None:
        self.reply = value

    def getConnectionInfo(self) -> Any:
        return self.connectionInfo

    def getCount(self) -> int:
        return self.count

    def setCount(self, value: int) -> None:
        self.count = value


def _data(ln: str, value: Any, kind: int = DataType.OCTET_STRING) -> GXDLMSData:
    obj = GXDLMSData(ln)
    obj.value = value
    obj.setDataType(2, kind)
    return obj


class ReferenceServer(GXDLMSSecureServer):
    """One connection's server: the objects, LLS, the image transfer."""

    def __init__(self, password: bytes, serial: str = "MTR00000001") -> None:
        super().__init__(True, InterfaceType.WRAPPER)
        self.password = password
        self.image = bytearray()
        self.association = GXDLMSAssociationLogicalName()
        self.firmware = _data("1.0.0.2.0.255", b"1.0.0")
        self.sha256 = _data("0.0.96.10.1.255", b"")
        self.boot_state = _data("0.0.96.10.2.255", 0, DataType.ENUM)
        register = GXDLMSRegister("1.0.1.8.0.255")
        register.value = 0
        register.scaler = 1
        register.unit = Unit.ACTIVE_ENERGY
        self.transfer = GXDLMSImageTransfer()
        self.transfer.imageBlockSize = BLOCK_SIZE
        objects = [self.association, _data("0.0.42.0.0.255", b"MTE" + serial.encode()),
                   _data("0.0.96.1.0.255", serial.encode()), self.firmware, GXDLMSClock(),
                   register, self.transfer, self.sha256, self.boot_state]
        for obj in objects:
            self.items.append(obj)
            # initialize() would append the whole collection, which its
            # collection refuses; the association lists the objects instead
            self.association.objectList.append(obj)
        self.initialize()

    # ---------------------------------------------------------------- the library's hooks
    def isTarget(self, server: int, client: int) -> bool:
        return server == 1 and client in (1, 16)

    def onValidateAuthentication(self, authentication: int, password: Any) -> int:
        if self.settings.clientAddress == 16:
            return SourceDiagnostic.NONE if authentication == Authentication.NONE \
                else SourceDiagnostic.NOT_RECOGNISED
        if authentication != Authentication.LOW:
            return SourceDiagnostic.AUTHENTICATION_REQUIRED
        ok = password is not None and bytes(password) == self.password
        return SourceDiagnostic.NONE if ok else SourceDiagnostic.AUTHENTICATION_FAILURE

    def onGetAttributeAccess(self, arg: Any) -> int:
        return AccessMode.READ_WRITE

    def onGetMethodAccess(self, arg: Any) -> int:
        return MethodAccessMode.ACCESS

    def onPreAction(self, args: Any) -> None:
        for e in args:
            if e.target is not self.transfer:
                continue
            p = e.parameters
            if e.index == 1:  # initiate (identifier, size)
                self.image = bytearray(int(p[1]))
            elif e.index == 2:  # block (number, value)
                n, block = int(p[0]), bytes(p[1])
                self.image[n * BLOCK_SIZE:n * BLOCK_SIZE + len(block)] = block
            elif e.index == 3:  # verify
                self.sha256.value = hashlib.sha256(self.image).digest()
            elif e.index == 4:  # activate
                self.firmware.value = b"2.0.0"
                self.boot_state.value = 3
            e.handled = True
            e.value = 0

    def onPreGet(self, args: Any) -> None:
        pass

    def onPostGet(self, args: Any) -> None:
        pass

    def onFindObject(self, objectType: Any, sn: int, ln: str) -> None:
        return None

    def onPreRead(self, args: Any) -> None:
        pass

    def onPostRead(self, args: Any = None) -> None:
        pass  # the library calls it without arguments too

    def notifyRead(self) -> None:
        pass

    def onPreWrite(self, args: Any) -> None:
        pass

    def onPostWrite(self, args: Any) -> None:
        pass

    def onConnected(self, info: Any) -> None:
        pass

    def notifyConnected(self, info: Any) -> None:
        pass

    def onInvalidConnection(self, info: Any) -> None:
        pass

    def onDisconnected(self, info: Any) -> None:
        pass

    def onPostAction(self, args: Any) -> None:
        pass

    # ---------------------------------------------------------------- bytes in, bytes out
    def answer(self, data: bytes) -> bytes:
        reply = _Reply(data)
        self.handleRequest(reply)
        return bytes(reply.reply) if reply.reply else b""


def serve(host: str, port: int, password: bytes) -> None:
    sel = selectors.DefaultSelector()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    print(f"gurux reference on {host}:{listener.getsockname()[1]}", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.setblocking(True)
                sel.register(conn, selectors.EVENT_READ, ReferenceServer(password))
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            out = key.data.answer(data)
            if out:
                conn.sendall(out)


def serve_gurux_net(host: str, port: int, password: bytes) -> None:
    """The same servers behind Gurux's own network media (gurux-net: a thread per
    connection, its received-data events), as Gurux's example server runs."""
    import threading

    from gurux_common import IGXMediaListener
    from gurux_net import GXNet
    from gurux_net.enums import NetworkType

    if port == 0:  # GXNet takes a port number: find a free one
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    servers: dict[str, ReferenceServer] = {}

    class Listener(IGXMediaListener):
        def onError(self, sender: Any, ex: Any) -> None:
            pass

        def onReceived(self, sender: Any, e: Any) -> None:
            server = servers.get(e.senderInformation)
            if server is None:
                server = servers[e.senderInformation] = ReferenceServer(password)
            out = server.answer(bytes(e.data))
            if out:
                sender.send(out, e)

        def onMediaStateChange(self, sender: Any, e: Any) -> None:
            pass

        def onTrace(self, sender: Any, e: Any) -> None:
            pass

        def onPropertyChanged(self, sender: Any, e: Any) -> None:
            pass

        def onClientConnected(self, sender: Any, e: Any) -> None:
            pass

        def onClientDisconnected(self, sender: Any, e: Any) -> None:
            servers.pop(e.senderInformation, None)

    media = GXNet(NetworkType.TCP, host, port)
    media.server = True
    media.addListener(Listener())
    media.open()
    print(f"gurux reference (gurux-net) on {host}:{port}", flush=True)
    threading.Event().wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gurux_server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--password", default="secret")
    p.add_argument("--media", choices=("selectors", "gurux-net"), default="selectors",
                   help="the socket loop: ours (selectors) or Gurux's own gurux-net")
    args = p.parse_args(argv)
    run = serve_gurux_net if args.media == "gurux-net" else serve
    with contextlib.suppress(KeyboardInterrupt):
        run(args.host, args.port, args.password.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
