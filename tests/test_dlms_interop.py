"""Interop: two DLMS/COSEM client libraries nobody here wrote, gurux-dlms and
dlms-cosem (the test-only ``interop`` extra), against a real ``meteremu serve``
on a free loopback port, over a real socket.

With each library: associate (public; Low Level Security with the right and
a wrong password), read every attribute of every object of SPEC section 7 and
compare it with what meteremu's own client reads, invoke 0.0.96.10.2.255
method 1, do a complete class 18 transfer (its last block short), verify,
activate (by class 18 method 4, and by the seed's 0.0.96.10.2.255 method 1),
and read the new firmware identifier.

Each library's quirks are worked around here, in the test client, never in
the server:

* dlms-cosem 25.1 writes the length of an octet-string as one byte whatever
  it is, so a 128-byte block goes out as ``09 80 ...`` -- 0x80 in A-XDR
  starts a long length with no length bytes, and the server answers such a
  request with an exception-response, as the standard has it (checked
  below). The test client encodes the block's length with the library's
  own ``encode_variable_integer`` (``09 81 80 ...``).
* dlms-cosem 25.1 cannot encode a boolean (``BooleanData`` has no
  ``value_to_bytes``) nor decode a bit-string (``BitStringData.from_bytes``);
  the test client writes ``03 01`` for ``true`` and reads class 18
  attribute 3 from the raw bytes the library's GET returns.
* gurux-dlms 1.0.203 decodes an empty bit-string as an empty bytearray and
  an empty array (``01 00``, class 18 attribute 7 before a verification) as
  None; the test client reads them as the empty string of bits and the empty
  list. Its encoding needed nothing.

Values are compared as plain data: bytes, ints, bools, lists (arrays and
structures alike), bit-strings as strings of 0 and 1. The server runs with
``--time-scale 0`` so the clock and the energy do not move between two
readers.
"""

from __future__ import annotations

import logging
import pathlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from servekit import PW, WAIT, Served

from meteremu.crypto import sha256
from meteremu.device.cosem import OBJECTS, AccessMode, Client, obis_bytes
from meteremu.dlms.values import python_value
from meteremu.testing.factory import make_firmware, make_keys, make_package
from meteremu.transports.client import TcpClient

KEYS = make_keys(0)
BLOCK = 128
PACKAGE = make_package(make_firmware(5000, seed=5), KEYS, version="2.0.0")
assert len(PACKAGE) % BLOCK, "the last block must be short"
TRANSFER = "0.0.44.0.0.255"


@pytest.fixture
def served(tmp_path: pathlib.Path) -> Iterator[Served]:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(KEYS.public_pem)
    server = Served(tmp_path / "state", "--trusted-key", str(pub), "--time-scale", "0", "-q")
    try:
        yield server
    finally:
        code, _ = server.terminate()
        assert code == 0


def plain(value: Any) -> Any:
    """A decoded value as plain data (see the module docstring)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum members too
    return value


def readable(client: Client) -> list[tuple[str, int, int]]:
    """(OBIS, class, attribute) of every attribute ``client`` may read."""
    return [(o.obis, o.class_id, n) for o in OBJECTS for n in sorted(o.attributes)
            if o.attribute_access(client, n) & AccessMode.READ]


def denied(client: Client) -> list[tuple[str, int, int]]:
    return [(o.obis, o.class_id, n) for o in OBJECTS for n in sorted(o.attributes)
            if not o.attribute_access(client, n) & AccessMode.READ]


def ours(served: Served, client: Client) -> dict[tuple[str, int], Any]:
    """What meteremu's own client reads: the oracle."""
    kw: dict[str, Any] = {"client_sap": 1, "password": PW.encode()} \
        if client is Client.MANAGEMENT else {}
    with TcpClient("127.0.0.1", served.port, timeout=WAIT, **kw) as c:
        assert c.associate().accepted
        out = {}
        for obis, _, attr in readable(client):
            r = c.get(obis, attr)
            assert r.ok, (obis, attr, r)
            out[obis, attr] = plain(python_value(r.data))
        c.release()
    return out


# ---------------------------------------------------------------------------
# gurux-dlms


class Gurux:
    """gurux-dlms's GXDLMSClient on a socket: its frames out, the replies back in."""

    def __init__(self, port: int, client_sap: int, password: str | None = None) -> None:
        from gurux_dlms import GXDLMSClient
        from gurux_dlms.enums import Authentication, InterfaceType

        auth = Authentication.LOW if password is not None else Authentication.NONE
        self.c = GXDLMSClient(True, client_sap, 1, auth, password, InterfaceType.WRAPPER)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)

    def close(self) -> None:
        self.sock.close()

    def _frame(self) -> bytes:
        buf = b""
        while len(buf) < 8 or len(buf) < 8 + int.from_bytes(buf[6:8], "big"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return buf

    def exchange(self, frames: Any) -> Any:
        from gurux_dlms import GXByteBuffer, GXReplyData

        reply = GXReplyData()
        for frame in frames:
            self.sock.sendall(bytes(frame))
            self.c.getData(GXByteBuffer(self._frame()), reply)
            while reply.isMoreData():  # GET blocks: the library asks for the next
                self.sock.sendall(bytes(self.c.receiverReady(reply)))
                self.c.getData(GXByteBuffer(self._frame()), reply)
        return reply

    def associate(self) -> None:
        self.c.parseAareResponse(self.exchange(self.c.aarqRequest()).data)

    def release(self) -> None:
        self.exchange(self.c.releaseRequest())

    def obj(self, obis: str, class_id: int) -> Any:
        from gurux_dlms.enums import ObjectType
        from gurux_dlms.GXDLMSClient import GXDLMSClient

        o = GXDLMSClient.createObject(ObjectType(class_id))
        o.logicalName = obis
        return o

    def read_reply(self, obis: str, class_id: int, attr: int) -> Any:
        return self.exchange(self.c.read(self.obj(obis, class_id), attr))

    def read(self, obis: str, class_id: int, attr: int) -> Any:
        reply = self.read_reply(obis, class_id, attr)
        assert reply.error == 0, (obis, attr, reply.error)
        return reply.value

    def method(self, obis: str, class_id: int, index: int, value: Any, kind: int) -> int:
        reply = self.exchange(self.c.method(self.obj(obis, class_id), index, value, kind))
        return reply.error


@pytest.fixture
def gurux() -> type[Gurux]:
    pytest.importorskip("gurux_dlms")
    return Gurux


def gurux_plain(value: Any, like: Any) -> Any:
    """plain(value); a bit-string as a string of 0 and 1. The library gives an empty
    bit-string as an empty bytearray and an empty array as None."""
    if isinstance(like, str) and isinstance(value, bytes | bytearray) and not value:
        return ""
    if like == [] and value is None:
        return []
    return str(value) if isinstance(like, str) else plain(value)


def gurux_session(served: Served, gurux: type[Gurux], management: bool = True) -> Gurux:
    g = gurux(served.port, 1, PW) if management else gurux(served.port, 16)
    g.associate()
    return g


def test_gurux_associations(served, gurux):
    from gurux_dlms import GXDLMSException

    for g in (gurux(served.port, 16), gurux(served.port, 1, PW)):
        g.associate()
        g.release()
        g.close()
    g = gurux(served.port, 1, "wrong")
    with pytest.raises(GXDLMSException) as info:
        g.associate()
    assert info.value.result == 1 and info.value.diagnostic == 13  # authentication failure
    g.close()


@pytest.mark.parametrize("client", [Client.PUBLIC, Client.MANAGEMENT])
def test_gurux_reads_every_object(served, gurux, client):
    expected = ours(served, client)
    g = gurux_session(served, gurux, client is Client.MANAGEMENT)
    for obis, class_id, attr in readable(client):
        value = g.read(obis, class_id, attr)
        assert gurux_plain(value, expected[obis, attr]) == expected[obis, attr], (obis, attr)
    for obis, class_id, attr in denied(client):
        reply = g.read_reply(obis, class_id, attr)
        assert reply.error == 3 and reply.value is None, (obis, attr)  # read-write-denied
    g.release()
    g.close()


def gurux_transfer(g: Gurux, identifier: str) -> None:
    from gurux_dlms.objects import GXDLMSImageTransfer

    it = GXDLMSImageTransfer(TRANSFER)
    it.imageBlockSize = g.read(TRANSFER, 18, 2)
    assert it.imageBlockSize == BLOCK
    assert g.exchange(it.imageTransferInitiate(g.c, identifier, len(PACKAGE))).error == 0
    count = [0]
    for frames in it.imageBlockTransfer(g.c, PACKAGE, count):
        assert g.exchange(frames).error == 0
    assert count[0] == -(-len(PACKAGE) // BLOCK)
    assert g.read(TRANSFER, 18, 4) == count[0]  # no block missing
    assert gurux_plain(g.read(TRANSFER, 18, 3), "") == "1" * count[0]
    assert g.exchange(it.imageVerify(g.c)).error == 0
    assert g.read(TRANSFER, 18, 6) == 3  # verification successful
    (info,) = plain(g.read(TRANSFER, 18, 7))
    assert info == [len(PACKAGE), identifier.encode(), sha256(PACKAGE)]


def test_gurux_class18_transfer_verify_activate(served, gurux):
    g = gurux_session(served, gurux)
    gurux_transfer(g, "gx-2.0.0")
    from gurux_dlms.objects import GXDLMSImageTransfer

    assert g.exchange(GXDLMSImageTransfer(TRANSFER).imageActivate(g.c)).error == 0
    assert g.read(TRANSFER, 18, 6) == 6  # activation successful
    assert bytes(g.read("1.0.0.2.0.255", 1, 2)) == b"2.0.0"
    assert g.read("0.0.96.10.2.255", 1, 2) == 3  # on trial
    g.release()
    g.close()


def test_gurux_seed_step_6_activates(served, gurux):
    from gurux_dlms.enums import DataType

    g = gurux_session(served, gurux)
    assert g.method("0.0.96.10.2.255", 1, 1, True, DataType.BOOLEAN) == 250  # nothing yet
    gurux_transfer(g, "gx-seed")
    assert bytes(g.read("0.0.96.10.1.255", 1, 2)) == sha256(PACKAGE)  # seed step 5
    assert g.method("0.0.96.10.2.255", 1, 1, True, DataType.BOOLEAN) == 0  # seed step 6
    assert bytes(g.read("1.0.0.2.0.255", 1, 2)) == b"2.0.0"
    g.release()
    g.close()


# ---------------------------------------------------------------------------
# dlms-cosem


@pytest.fixture
def dc() -> Any:
    pytest.importorskip("dlms_cosem")
    import structlog

    # dlms-cosem logs every frame at debug level through structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from dlms_cosem import cosem, dlms_data, enumerations
    from dlms_cosem.client import ActionError, DataResultError, DlmsClient
    from dlms_cosem.exceptions import DlmsClientException
    from dlms_cosem.io import BlockingTcpIO, TcpTransport
    from dlms_cosem.security import LowLevelSecurityAuthentication, NoSecurityAuthentication

    class LongOctetString(dlms_data.OctetStringData):
        """The workaround: the octet-string's length in A-XDR's variable form."""

        def to_bytes(self) -> bytes:
            value = bytes(self.value)
            return bytes((self.TAG,)) + dlms_data.encode_variable_integer(len(value)) + value

    class NS:
        pass

    ns = NS()
    ns.__dict__.update(cosem=cosem, data=dlms_data, E=enumerations, ActionError=ActionError,
                       DataResultError=DataResultError, DlmsClientException=DlmsClientException,
                       LongOctetString=LongOctetString)

    def client(port: int, password: bytes | None = None) -> Any:
        io = BlockingTcpIO(host="127.0.0.1", port=port, timeout=int(WAIT))
        transport = TcpTransport(client_logical_address=16 if password is None else 1,
                                 server_logical_address=1, io=io)
        auth = NoSecurityAuthentication() if password is None \
            else LowLevelSecurityAuthentication(secret=password)
        return DlmsClient(transport=transport, authentication=auth)

    ns.client = client
    return ns


def dc_attribute(dc: Any, obis: str, class_id: int, attr: int) -> Any:
    return dc.cosem.CosemAttribute(dc.E.CosemInterface(class_id),
                                   dc.cosem.Obis(*obis_bytes(obis)), attr)


def dc_method(dc: Any, obis: str, class_id: int, index: int) -> Any:
    return dc.cosem.CosemMethod(dc.E.CosemInterface(class_id),
                                dc.cosem.Obis(*obis_bytes(obis)), index)


def dc_value(dc: Any, raw: bytes) -> Any:
    """What the library's parser makes of a GET's raw data (bit-strings by hand)."""
    if raw[:1] == b"\x04":  # bit-string: count of bits, then the bits, MSB first
        n, body = raw[1], raw[2:]
        assert n < 0x80, "short bit-strings only here"
        return "".join("1" if body[i // 8] >> (7 - i % 8) & 1 else "0" for i in range(n))
    (value,) = dc.data.DlmsDataParser().parse(raw)
    return plain(value.to_python())


def dc_session(served: Served, dc: Any, management: bool = True) -> Any:
    c = dc.client(served.port, PW.encode() if management else None)
    c.connect()
    c.associate()
    return c


def test_dlms_cosem_associations(served, dc):
    for password in (None, PW.encode()):
        c = dc.client(served.port, password)
        c.connect()
        assert int(c.associate().result) == 0
        c.release_association()
        c.disconnect()
    c = dc.client(served.port, b"wrong")
    c.connect()
    with pytest.raises(dc.DlmsClientException, match="AUTHENTICATION_FAILED: 13"):
        c.associate()
    c.disconnect()


@pytest.mark.parametrize("client", [Client.PUBLIC, Client.MANAGEMENT])
def test_dlms_cosem_reads_every_object(served, dc, client):
    expected = ours(served, client)
    c = dc_session(served, dc, client is Client.MANAGEMENT)
    for obis, class_id, attr in readable(client):
        raw = c.get(dc_attribute(dc, obis, class_id, attr))
        assert dc_value(dc, raw) == expected[obis, attr], (obis, attr)
    for obis, class_id, attr in denied(client):
        with pytest.raises(dc.DataResultError, match="READ_WRITE_DENIED"):
            c.get(dc_attribute(dc, obis, class_id, attr))
    c.release_association()
    c.disconnect()


def dc_transfer(c: Any, dc: Any, identifier: bytes) -> None:
    d = dc.data
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 2))) == BLOCK
    c.action(dc_method(dc, TRANSFER, 18, 1), d.DataStructure([
        d.OctetStringData(identifier), d.DoubleLongUnsignedData(len(PACKAGE))]).to_bytes())
    blocks = -(-len(PACKAGE) // BLOCK)
    for n in range(blocks):
        c.action(dc_method(dc, TRANSFER, 18, 2), d.DataStructure([
            d.DoubleLongUnsignedData(n),
            dc.LongOctetString(PACKAGE[n * BLOCK:(n + 1) * BLOCK])]).to_bytes())
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 4))) == blocks
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 3))) == "1" * blocks
    c.action(dc_method(dc, TRANSFER, 18, 3), d.IntegerData(0).to_bytes())
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 6))) == 3
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 7))) == [
        [len(PACKAGE), identifier, sha256(PACKAGE)]]


def test_dlms_cosem_class18_transfer_verify_activate(served, dc):
    c = dc_session(served, dc)
    dc_transfer(c, dc, b"dc-2.0.0")
    c.action(dc_method(dc, TRANSFER, 18, 4), dc.data.IntegerData(0).to_bytes())
    assert dc_value(dc, c.get(dc_attribute(dc, TRANSFER, 18, 6))) == 6
    assert dc_value(dc, c.get(dc_attribute(dc, "1.0.0.2.0.255", 1, 2))) == b"2.0.0"
    c.release_association()
    c.disconnect()


def test_dlms_cosem_seed_step_6_activates(served, dc):
    c = dc_session(served, dc)
    true = b"\x03\x01"  # BooleanData cannot encode itself in this version
    with pytest.raises(dc.ActionError, match="OTHER_REASON"):  # nothing to activate yet
        c.action(dc_method(dc, "0.0.96.10.2.255", 1, 1), true)
    dc_transfer(c, dc, b"dc-seed")
    assert dc_value(dc, c.get(dc_attribute(dc, "0.0.96.10.1.255", 1, 2))) == sha256(PACKAGE)
    c.action(dc_method(dc, "0.0.96.10.2.255", 1, 1), true)
    assert dc_value(dc, c.get(dc_attribute(dc, "1.0.0.2.0.255", 1, 2))) == b"2.0.0"
    assert dc_value(dc, c.get(dc_attribute(dc, "0.0.96.10.2.255", 1, 2))) == 3
    c.release_association()
    c.disconnect()


def test_dlms_cosem_one_byte_length_is_refused_by_the_standard(served, dc):
    """The library's own encoding of a 128-byte block (``09 80``) is not A-XDR: the
    server answers an exception-response (service-not-allowed, other-reason) and
    the transfer does not move. (The library's client cannot take that answer
    in its state machine, so the APDU goes through its transport alone.)"""
    from dlms_cosem.protocol import xdlms

    c = dc_session(served, dc)
    d = dc.data
    c.action(dc_method(dc, TRANSFER, 18, 1), d.DataStructure([
        d.OctetStringData(b"dc-quirk"), d.DoubleLongUnsignedData(len(PACKAGE))]).to_bytes())
    quirky = d.DataStructure([d.DoubleLongUnsignedData(0),
                              d.OctetStringData(PACKAGE[:BLOCK])]).to_bytes()
    assert quirky[7:9] == b"\x09\x80"  # the quirk itself
    apdu = xdlms.ActionRequestNormal(cosem_method=dc_method(dc, TRANSFER, 18, 2),
                                     data=quirky).to_bytes()
    assert c.transport.send_request(apdu) == bytes.fromhex("d80103")
    fixed = d.DataStructure([d.DoubleLongUnsignedData(0),
                             dc.LongOctetString(PACKAGE[:BLOCK])]).to_bytes()
    apdu = xdlms.ActionRequestNormal(cosem_method=dc_method(dc, TRANSFER, 18, 2),
                                     data=fixed).to_bytes()
    assert c.transport.send_request(apdu)[3:5] == b"\x00\x00"  # success, no return data
    c.disconnect()
    with TcpClient("127.0.0.1", served.port, client_sap=1, password=PW.encode(),
                   timeout=WAIT) as t:
        assert t.associate().accepted
        assert t.get(TRANSFER, 4).value == 1  # block 0 came with the fix only
