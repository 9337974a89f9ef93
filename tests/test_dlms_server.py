"""The asyncio TCP server's wiring, on a free loopback port: many associations at
once, hostile frames, stalled and flooding clients. The protocol itself is
tested without a socket (test_dlms_association.py); here only the plumbing.
No timing is asserted: waits are bounded, never measured."""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from servekit import in_process
from transportkit import FakeTransport

from meteremu.device.cosem import OBJECTS
from meteremu.dlms import xdlms
from meteremu.dlms.apdu import decode_apdu, encode_apdu
from meteremu.dlms.security import SecurityPolicy
from meteremu.dlms.wrapper import WrapperReader, wrap
from meteremu.testing.factory import make_keys, make_meter
from meteremu.transports.client import TcpClient
from meteremu.transports.poll import BUSY_POLL_US
from meteremu.transports.tcp import MeterServer

PW = b"secret"
H = bytes.fromhex
FIRMWARE = xdlms.GetRequestNormal(0xC1, xdlms.AttributeDescriptor(1, H("0100000200FF"), 2))
WAIT = 20.0  # seconds any single socket wait may take before the test fails


@pytest.fixture(params=[("asyncio", 0.0), ("asyncio", BUSY_POLL_US), ("uvloop", 0.0),
                        ("uvloop", BUSY_POLL_US)], ids=lambda p: f"{p[0]}-poll{p[1]:g}")
def mode(request):
    """Every wiring test runs on both event loops ``meteremu serve --loop`` offers,
    each with busy polling (serve's default) and without (``--busy-poll 0``)."""
    loop, busy_poll_us = request.param
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    return {"loop": loop, "busy_poll_us": busy_poll_us}


@pytest.fixture
def meters():
    # time frozen (time_scale 0 below): nothing but a request can change a meter
    return {1: make_meter(make_keys(0)), 2: make_meter(make_keys(0), serial="MTR00000002")}


def raw_socket(server: MeterServer) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return s


def read_until_closed(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def associate_public(s: socket.socket) -> None:
    from meteremu.dlms.client import DlmsClient

    c = DlmsClient()
    s.sendall(c.associate())
    reader = WrapperReader(0xFFFF)
    while (f := reader.next_frame()) is None:
        reader.feed(s.recv(65536))
    assert decode_apdu(f.apdu).result == 0


def test_fifty_concurrent_associations_read(meters, mode):
    dumps = {k: m.flash.dump() for k, m in meters.items()}
    with in_process(meters, **mode, time_scale=0) as server:

        def session(i: int) -> tuple[bytes, bytes, int]:
            wport = 1 + i % 2
            kw = {"client_sap": 1, "password": PW} if i % 5 == 0 else {}
            with TcpClient("127.0.0.1", server.port, server_sap=wport, timeout=WAIT,
                           max_receive_pdu=128 + i, **kw) as c:
                assert c.associate().accepted
                fw = c.get("1.0.0.2.0.255", 2).value
                serial = c.get("0.0.96.1.0.255", 2).value
                objects = c.get("0.0.40.0.0.255", 2).value  # in blocks at these PDU sizes
                for _ in range(5):
                    assert c.get("1.0.1.8.0.255", 2).ok
                    assert c.get("0.0.1.0.0.255", 2).ok
                assert c.release().reason == 0
                return fw, serial, len(objects)

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(session, range(50)))
        assert all(fw == b"1.0.0" for fw, _, _ in results)
        assert {serial for _, serial, _ in results} == {b"MTR00000001", b"MTR00000002"}
        assert {n for _, _, n in results} == {len(OBJECTS)}
        for k, m in meters.items():  # reads and heartbeats with nothing on trial: no change
            assert m.flash.dump() == dumps[k]


def test_hostile_frames_are_answered_or_closed_and_change_nothing(meters, mode):
    m = meters[1]
    with in_process(meters, **mode, time_scale=0, idle_timeout=60) as server:
        before = m.flash.dump()
        # truncated: half a frame, then the client leaves
        s = raw_socket(server)
        s.sendall(wrap(16, 1, encode_apdu(FIRMWARE))[:7])
        s.close()
        # oversized: an exception-response (pdu-too-long), then the server closes
        s = raw_socket(server)
        s.sendall(H("0001 0010 0001 FFFF") + b"\x00" * 100)
        out = read_until_closed(s)
        assert out == wrap(1, 16, H("D8 01 04"))
        s.close()
        # garbage: not a wrapper frame at all -> closed without a word
        s = raw_socket(server)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert read_until_closed(s) == b""
        s.close()
        # a garbage APDU in a good frame: an exception-response, and the association goes on
        s = raw_socket(server)
        associate_public(s)
        s.sendall(wrap(16, 1, H("C0 01 C1 FF")) + wrap(16, 1, encode_apdu(FIRMWARE)))
        reader = WrapperReader(0xFFFF)
        frames = []
        while len(frames) < 2:
            reader.feed(s.recv(65536))
            while (f := reader.next_frame()) is not None:
                frames.append(decode_apdu(f.apdu))
        assert isinstance(frames[0], xdlms.ExceptionResponse)
        assert frames[1].result.value == b"1.0.0"
        s.close()
        # after all of it the server still serves, and the meter is as it was
        with TcpClient("127.0.0.1", server.port, timeout=WAIT) as c:
            assert c.associate().accepted and c.get("1.0.0.2.0.255", 2).ok
        assert m.flash.dump() == before


def test_stalled_and_silent_clients_time_out_and_block_nobody(meters, mode):
    with in_process(meters, **mode, time_scale=0, idle_timeout=0.5) as server:
        stalled = raw_socket(server)
        stalled.sendall(wrap(16, 1, encode_apdu(FIRMWARE))[:5])  # mid-frame, then nothing
        silent = raw_socket(server)
        associate_public(silent)  # associated, never releases
        trickle = raw_socket(server)
        for b in wrap(16, 1, encode_apdu(FIRMWARE))[:6]:  # bytes, but never a whole frame
            trickle.sendall(bytes((b,)))
        # meanwhile others are served
        for _ in range(3):
            with TcpClient("127.0.0.1", server.port, timeout=WAIT) as c:
                assert c.associate().accepted
                assert c.get("1.0.0.2.0.255", 2).value == b"1.0.0"
                c.release()
        # and the idle ones are closed by the server
        for s in (stalled, silent, trickle):
            assert read_until_closed(s) == b""
            s.close()


def test_a_flooding_client_is_paused_not_buffered_without_bound(meters, mode):
    n = 6000
    request = wrap(16, 1, encode_apdu(FIRMWARE))
    with in_process(meters, **mode, time_scale=0) as server:
        flood = socket.socket()
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # it hardly reads
        flood.settimeout(WAIT)
        flood.connect(("127.0.0.1", server.port))
        associate_public(flood)
        sender = threading.Thread(target=flood.sendall, args=(request * n,), daemon=True)
        sender.start()  # blocks once both socket buffers are full: the server paused reading
        with TcpClient("127.0.0.1", server.port, timeout=WAIT) as c:  # others go on
            assert c.associate().accepted and c.get("1.0.0.2.0.255", 2).ok
        reader = WrapperReader(0xFFFF)
        got = 0
        while got < n:
            reader.feed(flood.recv(1 << 16))
            while (f := reader.next_frame()) is not None:
                assert decode_apdu(f.apdu).result.value == b"1.0.0"
                got += 1
        sender.join(WAIT)
        assert not sender.is_alive()
        flood.close()


def test_protocol_pauses_reading_while_its_peer_does_not_read(meters):
    from meteremu.transports.tcp import WRITE_HIGH_WATER, _Protocol

    async def run() -> None:
        server = MeterServer(meters, SecurityPolicy.default(PW), time_scale=0)
        proto = _Protocol(server)
        t = FakeTransport()
        proto.connection_made(t)
        assert t.high == WRITE_HIGH_WATER
        proto.pause_writing()  # asyncio: the write buffer is over the high-water mark
        assert not t.reading and server.pauses == 1
        proto.resume_writing()
        assert t.reading
        proto.data_received(wrap(16, 1, bytes.fromhex("FF")))  # before the AARQ: answered
        assert t.written[8:] == H("D8 02 02")
        proto.connection_lost(None)
        assert proto not in server.connections

    asyncio.run(run())


def test_each_loop_gets_the_protocol_that_reads_cheapest_on_it(meters):
    """asyncio's own loop: the buffered protocol (a plain one costs a 256 KiB bytes
    object a read there); uvloop: the plain one. Both read frames in any pieces."""
    from meteremu.dlms.client import DlmsClient
    from meteremu.transports.tcp import _BufferedProtocol, _Protocol, protocol_class

    async def run() -> None:
        assert protocol_class(asyncio.get_running_loop()) is _BufferedProtocol
        server = MeterServer(meters, SecurityPolicy.default(PW), time_scale=0)
        frames = DlmsClient().associate() + wrap(16, 1, encode_apdu(FIRMWARE))
        for cls in (_BufferedProtocol, _Protocol):
            proto, t = cls(server), FakeTransport()
            proto.connection_made(t)
            for i in range(len(frames)):  # byte by byte
                if cls is _BufferedProtocol:
                    buf = proto.get_buffer(-1)
                    buf[:1] = frames[i:i + 1]
                    proto.buffer_updated(1)
                else:
                    proto.data_received(frames[i:i + 1])
            reader = WrapperReader(0xFFFF)
            reader.feed(bytes(t.written))
            assert decode_apdu(reader.next_frame().apdu).result == 0  # the AARE
            assert decode_apdu(reader.next_frame().apdu).result.value == b"1.0.0"
            proto.connection_lost(None)

    asyncio.run(run())
    uvloop = pytest.importorskip("uvloop")
    other = uvloop.new_event_loop()
    try:
        assert protocol_class(other) is _Protocol
    finally:
        other.close()


def test_meters_behind_one_port_are_addressed_by_wport(meters, mode):
    with in_process(meters, **mode, time_scale=0) as server:
        for wport, serial in ((1, b"MTR00000001"), (2, b"MTR00000002")):
            with TcpClient("127.0.0.1", server.port, server_sap=wport, timeout=WAIT) as c:
                assert c.associate().accepted
                assert c.get("0.0.96.1.0.255", 2).value == serial
        s = raw_socket(server)
        s.sendall(wrap(16, 3, b"\x60\x00"))  # no meter at wPort 3: closed
        assert read_until_closed(s) == b""
        s.close()


def test_the_server_moves_the_meters_clock():
    m = make_meter(make_keys(0))
    ticks = iter(range(0, 10**6, 10))  # a fake monotonic clock: 10 s a call
    with in_process({1: m}, time_scale=1.0, clock=lambda: float(next(ticks))) as server, \
            TcpClient("127.0.0.1", server.port, timeout=WAIT) as c:
        assert c.associate().accepted
        first = c.get("1.0.1.8.0.255", 2).value
        second = c.get("1.0.1.8.0.255", 2).value
        assert second > first  # 1 kW: energy counted between the two reads
    assert m.now > 0
