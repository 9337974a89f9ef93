"""Every construct definition of the DLMS layer: known byte vectors (Green Book
examples and the wire facts of SPEC section 7) and round trips."""

from __future__ import annotations

import datetime as dt
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meteremu.device.cosem import OBJECTS, Axdr
from meteremu.dlms import acse, xdlms
from meteremu.dlms.apdu import APDU_TYPES, decode_apdu, encode_apdu
from meteremu.dlms.axdr import (
    MAX_DEPTH,
    AxdrLength,
    CosemDateTime,
    Data,
    DataType,
    decode_data,
    decode_datetime,
    encode_data,
    encode_datetime,
)
from meteremu.dlms.errors import ApduError
from meteremu.dlms.values import SCHEMAS, from_data, python_value, to_data
from meteremu.dlms.wrapper import (
    Frame,
    FrameTooLong,
    WrapperFrame,
    WrapperHeader,
    WrapperReader,
    wrap,
)
from meteremu.dlms.xdlms import AccessResult, Conformance
from meteremu.errors import TypeUnmatched, UsageError

H = bytes.fromhex
CLOCK = bytes((0, 0, 1, 0, 0, 255))
ENERGY = bytes((1, 0, 1, 8, 0, 255))

# ---------------------------------------------------------------- the TCP wrapper


def test_wrapper_frame_vector_and_reply():
    raw = H("0001 0010 0001 000D") + H("C001C1000301000108 00FF0200")
    frame = WrapperFrame.parse(raw)
    assert frame == Frame(16, 1, H("C001C100030100010800FF0200"))
    assert WrapperFrame.build(frame) == raw == wrap(16, 1, frame.apdu)
    assert frame.reply(b"\xc4").source == 1 and frame.reply(b"\xc4").destination == 16
    assert WrapperHeader.parse(raw[:8]) == {"version": 1, "source": 16, "destination": 1,
                                            "length": 13}


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.binary(max_size=300))
def test_wrapper_fast_path_agrees_with_construct(src, dst, apdu):
    raw = wrap(src, dst, apdu)
    assert raw == WrapperFrame.build(Frame(src, dst, apdu))
    reader = WrapperReader(0xFFFF)
    reader.feed(raw)
    assert reader.next_frame() == WrapperFrame.parse(raw)


@given(st.lists(st.binary(max_size=40), max_size=6), st.integers(1, 50))
def test_wrapper_reader_any_chunking(apdus, chunk):
    stream = b"".join(wrap(16, 1, a) for a in apdus)
    reader = WrapperReader(1024)
    got = []
    for i in range(0, len(stream), chunk):
        reader.feed(stream[i:i + chunk])
        while (f := reader.next_frame()) is not None:
            got.append(f.apdu)
    assert got == apdus and reader.pending == 0


def test_wrapper_reader_refuses_version_and_length_at_the_header():
    reader = WrapperReader(256)
    reader.feed(H("0002 0010 0001 0001"))
    with pytest.raises(ApduError, match="version"):
        reader.next_frame()
    reader = WrapperReader(256)
    reader.feed(H("0001 0010 0001 0101"))  # 257 bytes announced, none sent
    with pytest.raises(FrameTooLong) as exc:
        reader.next_frame()
    assert (exc.value.source, exc.value.destination, exc.value.length) == (16, 1, 257)


# ---------------------------------------------------------------- A-XDR


@pytest.mark.parametrize(("data", "raw"), [
    (Data(DataType.NULL), "00"),
    (Data(DataType.BOOLEAN, True), "0301"),
    (Data(DataType.BOOLEAN, False), "0300"),
    (Data(DataType.BIT_STRING, "10101"), "0405A8"),
    (Data(DataType.BIT_STRING, ""), "0400"),
    (Data(DataType.DOUBLE_LONG, -2), "05FFFFFFFE"),
    (Data(DataType.DOUBLE_LONG_UNSIGNED, 128), "0600000080"),
    (Data(DataType.OCTET_STRING, CLOCK), "0906 0000010000FF"),
    (Data(DataType.VISIBLE_STRING, b"ABC"), "0A03414243"),
    (Data(DataType.INTEGER, -1), "0FFF"),
    (Data(DataType.LONG, -300), "10FED4"),
    (Data(DataType.UNSIGNED, 200), "11C8"),
    (Data(DataType.LONG_UNSIGNED, 0x1234), "121234"),
    (Data(DataType.LONG64, -1), "14FFFFFFFFFFFFFFFF"),
    (Data(DataType.LONG64_UNSIGNED, 5), "150000000000000005"),
    (Data(DataType.ENUM, 30), "161E"),
    (Data(DataType.FLOAT32, 1.5), "173FC00000"),
    # register scaler_unit {0, Wh}: structure of integer and enum
    (Data(DataType.STRUCTURE, (Data(DataType.INTEGER, 0), Data(DataType.ENUM, 30))),
     "0202 0F00 161E"),
    (Data(DataType.ARRAY, ()), "0100"),
])
def test_axdr_vectors(data, raw):
    assert encode_data(data) == H(raw)
    assert decode_data(H(raw)) == data


def test_octet_strings_of_128_bytes_and_more_use_the_long_length_form():
    assert encode_data(Data(DataType.OCTET_STRING, b"\x00" * 127))[:2] == H("097F")
    assert encode_data(Data(DataType.OCTET_STRING, b"\x00" * 128))[:3] == H("098180")
    assert encode_data(Data(DataType.OCTET_STRING, b"\x00" * 300))[:4] == H("0982012C")
    assert decode_data(H("098180") + b"\x01" * 128).value == b"\x01" * 128
    assert decode_data(H("098105") + b"\x01" * 5).value == b"\x01" * 5  # not minimal: read


@given(st.integers(0, 0xFFFFFFFF))
def test_axdr_length_round_trip(n):
    raw = AxdrLength.build(n)
    assert AxdrLength.parse(raw) == n
    assert len(raw) == (1 if n < 128 else 2 + (n.bit_length() - 1) // 8)


_INTS = {
    DataType.INTEGER: (-128, 127), DataType.LONG: (-(1 << 15), (1 << 15) - 1),
    DataType.DOUBLE_LONG: (-(1 << 31), (1 << 31) - 1), DataType.LONG64: (-(1 << 63), (1 << 63) - 1),
    DataType.UNSIGNED: (0, 255), DataType.ENUM: (0, 255), DataType.BCD: (-128, 127),
    DataType.LONG_UNSIGNED: (0, 0xFFFF), DataType.DOUBLE_LONG_UNSIGNED: (0, 0xFFFFFFFF),
    DataType.LONG64_UNSIGNED: (0, (1 << 64) - 1),
}


def _leaves() -> st.SearchStrategy[Data]:
    ints = [st.integers(lo, hi).map(lambda v, t=t: Data(t, v)) for t, (lo, hi) in _INTS.items()]
    blobs = [st.binary(max_size=300).map(lambda v, t=t: Data(t, v))
             for t in (DataType.OCTET_STRING, DataType.VISIBLE_STRING, DataType.UTF8_STRING)]
    fixed = [st.binary(min_size=n, max_size=n).map(lambda v, t=t: Data(t, v))
             for t, n in ((DataType.DATE_TIME, 12), (DataType.DATE, 5), (DataType.TIME, 4))]
    return st.one_of(
        st.just(Data(DataType.NULL)), st.booleans().map(lambda v: Data(DataType.BOOLEAN, v)),
        st.text("01", max_size=70).map(lambda v: Data(DataType.BIT_STRING, v)),
        st.floats(width=32, allow_nan=False).map(lambda v: Data(DataType.FLOAT32, v)),
        st.floats(allow_nan=False).map(lambda v: Data(DataType.FLOAT64, v)),
        *ints, *blobs, *fixed)


datas = st.recursive(_leaves(), lambda inner: st.one_of(
    st.lists(inner, max_size=5).map(lambda v: Data(DataType.ARRAY, tuple(v))),
    st.lists(inner, max_size=5).map(lambda v: Data(DataType.STRUCTURE, tuple(v))),
), max_leaves=20)


@given(datas)
def test_axdr_round_trip(data):
    raw = encode_data(data)
    assert decode_data(raw) == data
    assert encode_data(decode_data(raw)) == raw


def test_nesting_deeper_than_the_limit_is_refused():
    deep = H("0101") * (MAX_DEPTH + 1) + H("00")
    with pytest.raises(ApduError, match="nested"):
        decode_data(deep)
    assert decode_data(H("0101") * MAX_DEPTH + H("00"))
    value = Data(DataType.NULL)
    for _ in range(MAX_DEPTH + 1):
        value = Data(DataType.ARRAY, (value,))
    with pytest.raises(UsageError):
        encode_data(value)


@pytest.mark.parametrize("bad", [
    Data(DataType.UNSIGNED, 256), Data(DataType.INTEGER, True), Data(DataType.OCTET_STRING, "x"),
    Data(DataType.BOOLEAN, 1), Data(DataType.NULL, 0), Data(DataType.BIT_STRING, "012"),
    Data(DataType.DATE_TIME, b"\x00" * 11), Data(DataType.ARRAY, Data(DataType.NULL)),
])
def test_values_that_do_not_fit_their_type_are_not_encoded(bad):
    with pytest.raises(UsageError):
        encode_data(bad)


@pytest.mark.parametrize("raw", ["", "07", "1300", "09", "0905AABB", "0985", "0980", "0203 00",
                                 "00 00"])
def test_garbage_data_is_an_apdu_error(raw):
    with pytest.raises(ApduError):
        decode_data(H(raw))


def test_date_time_vector():
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # a Thursday
    assert encode_datetime(when) == H("07EA 01 01 04 00 00 00 00 0000 00")
    assert decode_datetime(H("07EA 01 01 04 00 00 00 00 0000 00")) == when
    # deviation -60: local time = UTC + 60 min (Blue Book)
    cet = decode_datetime(H("07EA 01 01 FF 01 00 00 FF FFC4 00"))
    assert cet == when and cet.utcoffset() == dt.timedelta(minutes=60)
    assert decode_datetime(H("07EA 01 01 FF 00 00 00 FF 8000 FF")) == when  # unspecified
    for wildcard in ("FFFF 01 01 FF 00 00 00 00 8000 FF", "07EA FF 01 FF 00 00 00 00 8000 FF"):
        with pytest.raises(TypeUnmatched):
            decode_datetime(H(wildcard))
    assert CosemDateTime.sizeof() == 12


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31),
                    timezones=st.just(dt.timezone.utc)))
def test_date_time_round_trip(when):
    when = when.replace(microsecond=when.microsecond // 10_000 * 10_000)
    assert decode_datetime(encode_datetime(when)) == when


# ---------------------------------------------------------------- values by the object table


def test_every_composite_in_the_object_table_has_a_schema():
    for obj in OBJECTS:
        for attr in obj.attributes.values():
            if attr.axdr in (Axdr.ARRAY, Axdr.STRUCTURE):
                assert attr.handler in SCHEMAS, (obj.obis, attr.handler)
        for m in obj.methods.values():
            if m.param in (Axdr.ARRAY, Axdr.STRUCTURE):
                assert m.handler in SCHEMAS, (obj.obis, m.handler)


def test_object_list_element_encodes_as_association_ln_version_1():
    element = (1, 0, H("0000600100FF"), (((1, 1, None), (2, 1, None)), ((1, True),)))
    data = to_data([element], SCHEMAS["object_list"])
    assert encode_data(data) == H(
        "0101 0204 120001 1100 0906 0000600100FF 0202"
        "  0102 0203 0F01 1601 00  0203 0F02 1601 00"
        "  0101 0202 0F01 1601")  # method access: enum (version 1), not boolean
    assert from_data(data, SCHEMAS["object_list"]) == [
        (1, 0, H("0000600100FF"), ([(1, 1, None), (2, 1, None)], [(1, 1)]))]


def test_values_are_checked_against_their_schema():
    with pytest.raises(UsageError):
        to_data((1, 2, 3), SCHEMAS["energy_scaler_unit"])
    with pytest.raises(UsageError):
        to_data(-1, Axdr.LONG64_UNSIGNED)
    with pytest.raises(TypeUnmatched):
        from_data(Data(DataType.OCTET_STRING, b"x"), SCHEMAS["image_block_transfer"])
    # any integer width where an integer is expected: clients differ
    assert from_data(Data(DataType.STRUCTURE, (Data(DataType.LONG_UNSIGNED, 3),
                                              Data(DataType.OCTET_STRING, b"b"))),
                     SCHEMAS["image_block_transfer"]) == (3, b"b")
    assert python_value(Data(DataType.ARRAY, (Data(DataType.UNSIGNED, 1),))) == [1]


def test_date_time_goes_as_an_octet_string_of_12():
    when = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    data = to_data(when, Axdr.DATE_TIME)
    assert data.type is DataType.OCTET_STRING and len(data.value) == 12
    assert from_data(data, Axdr.DATE_TIME) == when
    assert from_data(Data(DataType.DATE_TIME, data.value), Axdr.DATE_TIME) == when


# ---------------------------------------------------------------- ACSE and xDLMS vectors

# Green Book examples: an AARQ with LLS (password "12345678") and the AARE accepting it.
AARQ_LLS = H("6036 A109 0607 60857405080101 8A02 0780 8B07 60857405080201"
             " AC0A 8008 3132333435363738 BE10 040E 01000000065F1F0400007E1F04B0")
AARE_OK = H("6129 A109 0607 60857405080101 A203 020100 A305 A103 020100"
            " BE10 040E 0800065F1F040000501F01F40007")


def test_aarq_vector():
    aarq = decode_apdu(AARQ_LLS)
    assert aarq == acse.Aarq(
        acse.LN_NO_CIPHERING,
        xdlms.InitiateRequest(Conformance(0x007E1F), 0x04B0),
        mechanism_name=acse.MECHANISM_LLS, calling_authentication_value=b"12345678",
        sender_acse_requirements=True)
    assert encode_apdu(aarq) == AARQ_LLS


def test_aare_vector():
    aare = decode_apdu(AARE_OK)
    assert aare.result == acse.AssociationResult.ACCEPTED and aare.diagnostic == 0
    assert aare.user_information == xdlms.InitiateResponse(Conformance(0x00501F), 0x01F4)
    assert encode_apdu(aare) == AARE_OK


def test_aare_rejected_authentication_failure_vector():
    aare = acse.Aare(acse.AssociationResult.REJECTED_PERMANENT,
                     acse.SourceDiagnostic.AUTHENTICATION_FAILURE)
    assert encode_apdu(aare) == H("6117 A109 0607 60857405080101 A203 020101 A305 A103 02010D")
    assert decode_apdu(encode_apdu(aare)) == aare


def test_aarq_with_calling_ap_title_and_unused_elements():
    # protocol-version (80), a calling-AP-title (A6) and implementation-information (BD)
    raw = H("6025 8002 0780 A109 0607 60857405080101 A60A 0408 4752583132333435"
            " BE10 040E 01000000065F1F0400FFFFFF FFFF")
    raw = raw[:1] + bytes((len(raw) - 2,)) + raw[2:]
    aarq = decode_apdu(raw)
    assert aarq.calling_ap_title == b"GRX12345"
    assert aarq.user_information.max_receive_pdu == 0xFFFF


def test_initiate_vectors():
    ini = xdlms.InitiateRequest(Conformance(0x007E1F), 0x04B0)
    assert encode_apdu(ini) == H("01000000065F1F0400007E1F04B0")
    with_key = H("0101 10" + "11" * 16 + "00 00 06 5F1F0400 00101D FFFF")
    assert decode_apdu(with_key).dedicated_key == b"\x11" * 16
    assert decode_apdu(H("01 00 01 00 00 06 5F1F0400 00101D FFFF")).response_allowed is False
    resp = xdlms.InitiateResponse(Conformance.GET | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ,
                                  1024)
    assert encode_apdu(resp) == H("0800065F1F04000010100400 0007")


def test_conformance_bits_count_from_the_most_significant():
    assert Conformance.GET == 1 << (23 - 19)
    assert Conformance.ACTION == 1 << (23 - 23)
    assert Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ == 1 << (23 - 11)
    assert Conformance.MULTIPLE_REFERENCES == 1 << (23 - 14)


def test_release_vectors():
    assert encode_apdu(acse.Rlrq()) == H("6203 800100")
    assert encode_apdu(acse.Rlre()) == H("6303 800100")
    assert decode_apdu(H("6200")) == acse.Rlrq(None)
    rlrq = decode_apdu(H("6215 800100 BE10 040E 01000000065F1F0400007E1F04B0"))
    assert isinstance(rlrq.user_information, xdlms.InitiateRequest)


@pytest.mark.parametrize(("raw", "apdu"), [
    ("C001C1 0003 0100010800FF 02 00",
     xdlms.GetRequestNormal(0xC1, xdlms.AttributeDescriptor(3, ENERGY, 2))),
    ("C002C1 00000001", xdlms.GetRequestNext(0xC1, 1)),
    ("C003C1 02 0008 0000010000FF 02 00 0003 0100010800FF 03 00",
     xdlms.GetRequestWithList(0xC1, (
         xdlms.AttributeRequest(xdlms.AttributeDescriptor(8, CLOCK, 2)),
         xdlms.AttributeRequest(xdlms.AttributeDescriptor(3, ENERGY, 3))))),
    ("C401C1 00 150000000000000005",
     xdlms.GetResponseNormal(0xC1, Data(DataType.LONG64_UNSIGNED, 5))),
    ("C401C1 01 04", xdlms.GetResponseNormal(0xC1, AccessResult.OBJECT_UNDEFINED)),
    ("C402C1 00 00000001 00 03 010203",
     xdlms.GetResponseWithDatablock(0xC1, False, 1, H("010203"))),
    ("C402C1 01 00000002 01 0F",
     xdlms.GetResponseWithDatablock(0xC1, True, 2, AccessResult.LONG_GET_ABORTED)),
    ("C403C1 02 00 1101 01 03",
     xdlms.GetResponseWithList(0xC1, (Data(DataType.UNSIGNED, 1),
                                      AccessResult.READ_WRITE_DENIED))),
    ("C101C1 0003 0100010800FF 02 00 0300",
     xdlms.SetRequestNormal(0xC1, xdlms.AttributeDescriptor(3, ENERGY, 2),
                            Data(DataType.BOOLEAN, False))),
    ("C501C1 03", xdlms.SetResponseNormal(0xC1, AccessResult.READ_WRITE_DENIED)),
    ("C505C1 02 00 0C", xdlms.SetResponseWithList(0xC1, (AccessResult.SUCCESS,
                                                         AccessResult.TYPE_UNMATCHED))),
    ("C301C1 0012 00002C0000FF 03 01 0F00",
     xdlms.ActionRequestNormal(0xC1, xdlms.MethodDescriptor(18, H("00002C0000FF"), 3),
                               Data(DataType.INTEGER, 0))),
    ("C301C1 0012 00002C0000FF 04 00",
     xdlms.ActionRequestNormal(0xC1, xdlms.MethodDescriptor(18, H("00002C0000FF"), 4))),
    # SPEC 7: the action response always ends with "no return parameters" (00)
    ("C701C1 00 00", xdlms.ActionResponseNormal(0xC1, AccessResult.SUCCESS)),
    ("C701C1 00 01 00 0903414243",
     xdlms.ActionResponseNormal(0xC1, AccessResult.SUCCESS,
                                Data(DataType.OCTET_STRING, b"ABC"))),
    ("C703C1 02 00 00 FA 00", xdlms.ActionResponseWithList(0xC1, (
        xdlms.ActionResult(AccessResult.SUCCESS), xdlms.ActionResult(AccessResult.OTHER_REASON)))),
    ("D8 01 02", xdlms.ExceptionResponse(xdlms.StateError.SERVICE_NOT_ALLOWED,
                                         xdlms.ServiceError.SERVICE_NOT_SUPPORTED)),
    ("D8 01 06 00000007", xdlms.ExceptionResponse(1, 6, 7)),
    ("0E 01 06 03", xdlms.ConfirmedServiceError(1, 6, 3)),
])
def test_xdlms_vectors(raw, apdu):
    assert decode_apdu(H(raw)) == apdu
    assert encode_apdu(apdu) == H(raw)


def test_every_apdu_type_has_a_vector_or_a_round_trip():
    samples = {
        xdlms.SetRequestWithList: xdlms.SetRequestWithList(
            0x41, (xdlms.AttributeRequest(xdlms.AttributeDescriptor(8, CLOCK, 2)),),
            (Data(DataType.OCTET_STRING, b"\x00" * 12),)),
        xdlms.ActionRequestWithList: xdlms.ActionRequestWithList(
            0xC2, (xdlms.MethodDescriptor(1, CLOCK, 1),), (Data(DataType.NULL),)),
        xdlms.GetRequestNormal: xdlms.GetRequestNormal(
            0xC1, xdlms.AttributeDescriptor(7, CLOCK, 2),
            xdlms.SelectiveAccess(1, Data(DataType.STRUCTURE, ()))),
    }
    for apdu in samples.values():
        assert decode_apdu(encode_apdu(apdu)) == apdu
    assert len(APDU_TYPES) >= 21


def test_encoding_garbage_is_a_usage_error():
    with pytest.raises(UsageError):
        encode_apdu(xdlms.GetRequestNormal(300, xdlms.AttributeDescriptor(1, CLOCK, 2)))
    with pytest.raises(UsageError):
        encode_apdu(xdlms.GetRequestNormal(1, xdlms.AttributeDescriptor(1, b"short", 2)))
    with pytest.raises(UsageError):
        encode_apdu("not an apdu")


def test_float_values_keep_their_bits():
    raw = encode_data(Data(DataType.FLOAT64, math.pi))
    assert raw == b"\x18" + struct.pack(">d", math.pi)
