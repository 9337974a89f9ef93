"""Fuzzing the DLMS decoders and the server connection with hypothesis.

Invariant: any input is decoded or refused with the documented protocol error
(:class:`meteremu.dlms.errors.ApduError`), nothing else -- fed whole and byte by
byte. A server connection never raises, answers the same whatever the
chunking, and garbage never changes the meter.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meteremu.dlms import acse, xdlms
from meteremu.dlms.apdu import decode_apdu, encode_apdu
from meteremu.dlms.axdr import Data, DataType, decode_data
from meteremu.dlms.client import DlmsClient
from meteremu.dlms.connection import ServerConnection
from meteremu.dlms.errors import ApduError
from meteremu.dlms.security import SecurityPolicy
from meteremu.dlms.wrapper import wrap
from meteremu.dlms.xdlms import Conformance
from meteremu.testing.factory import make_keys, make_meter

H = bytes.fromhex
INI = xdlms.InitiateRequest(Conformance.GET | Conformance.SET | Conformance.ACTION
                            | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
                            | Conformance.MULTIPLE_REFERENCES, 64)
AARQ = encode_apdu(acse.Aarq(user_information=INI))
# valid APDUs of every kind, to mutate
SEEDS = [
    AARQ,
    encode_apdu(acse.Aarq(user_information=INI, mechanism_name=acse.MECHANISM_LLS,
                          calling_authentication_value=b"wrong", calling_ap_title=b"T")),
    encode_apdu(acse.Rlrq()),
    H("C001C10001 0100000200FF 02 00"),
    H("C001C10008 0000010000FF 02 01 01 0202 0600000001 0600000002"),
    H("C002C1 00000001"),
    H("C003C1 02 0008 0000010000FF 02 00 0003 0100010800FF 03 00"),
    H("C101C10008 0000010000FF 02 00 090C07EA010104000000000000 00"),
    H("C104C1 01 0008 0000010000FF 02 00 01 0300"),
    H("C301C10012 00002C0000FF 01 01 0202 0902 4142 0600001000"),
    H("C303C1 01 0001 00000A0200FF 01 01 0301"),
    H("C701C1 00 01 00 0903414243"),
    H("C402C1 00 00000001 00 03 010203"),
    H("D8 01 06 00000007"),
    H("6129 A109 0607 60857405080101 A203 020100 A305 A103 020100"
      " BE10 040E 0800065F1F040000501F01F40007"),
]


def mutated() -> st.SearchStrategy[bytes]:
    """A valid APDU with a few bytes changed, inserted, removed, or cut."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        raw = bytearray(draw(st.sampled_from(SEEDS)))
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "length"]))
            pos = draw(st.integers(0, max(len(raw) - 1, 0)))
            if op == "flip" and raw:
                raw[pos] = draw(st.integers(0, 255))
            elif op == "insert":
                raw[pos:pos] = draw(st.binary(min_size=1, max_size=4))
            elif op == "delete" and raw:
                del raw[pos]
            elif op == "cut":
                del raw[pos:]
            elif op == "length" and raw:
                raw[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85,
                                                 0xFF]))
        return bytes(raw)

    return build()


apdus = st.one_of(st.binary(max_size=200), mutated())


def _decode(raw: bytes) -> object:
    try:
        return decode_apdu(raw)
    except ApduError:
        return ApduError


@settings(max_examples=500)
@given(apdus)
def test_decode_apdu_decodes_or_raises_apdu_error(raw):
    result = _decode(raw)
    if result is not ApduError:
        assert encode_apdu(result)  # what decodes, encodes again


@settings(max_examples=300)
@given(apdus)
def test_decoded_apdus_round_trip(raw):
    result = _decode(raw)
    if result is not ApduError:
        assert decode_apdu(encode_apdu(result)) == result


@given(st.binary(max_size=100))
def test_decode_data_decodes_or_raises_apdu_error(raw):
    with contextlib.suppress(ApduError):
        assert isinstance(decode_data(raw), Data)


@pytest.fixture(scope="module")
def meter():
    m = make_meter(make_keys(0))
    yield m
    m.close()


def _frames(draw_apdus: list[bytes], sap: int) -> bytes:
    return b"".join(wrap(sap, 1, a) for a in draw_apdus)


def _serve(meter, data: bytes, chunk: int) -> tuple[bytes, str | None]:
    return _serve_pieces(meter, [data[i:i + chunk] for i in range(0, len(data), chunk)])


def _serve_pieces(meter, pieces: list[bytes]) -> tuple[bytes, str | None]:
    conn = ServerConnection({1: meter}, SecurityPolicy.default(b"secret"))
    out = bytearray()
    for piece in pieces:
        conn.receive_data(piece)
        out += conn.data_to_send()
    return bytes(out), conn.closing


def _by_frames(data: bytes) -> list[bytes]:
    """``data`` cut where its wrapper headers say a frame ends (one frame a read, as a
    client waiting for each answer sends them): the connection's one-frame paths."""
    pieces, pos = [], 0
    while pos < len(data):
        end = pos + 8 + (int.from_bytes(data[pos + 6:pos + 8], "big") if pos + 8 <= len(data)
                         else 0)
        pieces.append(data[pos:end])
        pos = end
    return pieces


streams = st.one_of(
    # an association, then hostile APDUs, from the public client
    st.lists(apdus, max_size=6).map(lambda xs: _frames([AARQ, *xs], 16)),
    # and from a management client with the wrong password
    st.lists(apdus, max_size=4).map(lambda xs: _frames([SEEDS[1], *xs], 1)),
    # raw garbage, wrapper headers included
    st.binary(max_size=120),
    # valid frames with a damaged byte somewhere
    st.tuples(st.lists(apdus, min_size=1, max_size=3), st.integers(0, 10_000),
              st.integers(0, 255)).map(
        lambda t: (lambda raw: raw[:t[1] % len(raw)] + bytes((t[2],)) + raw[t[1] % len(raw) + 1:])(
            _frames([AARQ, *t[0]], 16))),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(streams, st.integers(1, 60))
def test_server_connection_answers_the_same_whole_and_byte_by_byte(meter, data, chunk):
    before = meter.flash.dump()
    whole = _serve(meter, data, len(data) or 1)
    assert _serve(meter, data, 1) == whole
    assert _serve(meter, data, chunk) == whole
    assert _serve_pieces(meter, _by_frames(data)) == whole
    assert meter.flash.dump() == before  # nothing a public client or garbage sends changes it


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_client_decodes_responses_or_raises_apdu_error(raw):
    client = DlmsClient()
    client.associate()
    with contextlib.suppress(ApduError):
        client.receive_data(wrap(1, 16, raw))


def test_a_deeply_nested_request_is_refused_not_recursed(meter):
    deep = H("C101C10008 0000010000FF 02 00") + H("0101") * 500 + H("00")
    out, closing = _serve(meter, _frames([AARQ, deep], 16), 1 << 16)
    assert out.endswith(H("0001 0001 0010 0003 D8 01 03")) and closing is None


def test_every_data_type_survives_mutation_of_its_tag():
    for t in DataType:
        raw = bytes((t,)) + b"\x00" * 12
        with contextlib.suppress(ApduError):
            decode_data(raw)
