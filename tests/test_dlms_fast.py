"""The struct fast paths (``meteremu/dlms/fast.py``) against the construct
definitions: where a fast path answers, it gives exactly what construct gives,
byte for byte; where it is not sure, it leaves the answer to construct."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dlms_formats import datas
from test_dlms_fuzz import apdus

from meteremu.dlms import xdlms
from meteremu.dlms.apdu import decode_with_construct, encode_with_construct
from meteremu.dlms.axdr import AxdrData, Data, DataType
from meteremu.dlms.errors import ApduError
from meteremu.dlms.fast import (
    decode_apdu_fast,
    decode_data_fast,
    encode_apdu_fast,
    encode_data_fast,
)
from meteremu.dlms.xdlms import AccessResult


def _has_bit_string(d: Data) -> bool:
    if d.type is DataType.BIT_STRING:
        return True
    return d.type in (DataType.ARRAY, DataType.STRUCTURE) and any(map(_has_bit_string, d.value))


@given(datas)
def test_data_fast_path_agrees_with_construct(data):
    raw = AxdrData.build(data)
    fast = encode_data_fast(data)
    assert fast == raw or (fast is None and _has_bit_string(data))
    back = decode_data_fast(raw)
    assert back == AxdrData.parse(raw) or (back is None and _has_bit_string(data))


@settings(max_examples=500)
@given(apdus)
def test_apdu_fast_decode_agrees_with_construct(raw):
    fast = decode_apdu_fast(raw)
    if fast is None:
        return
    assert decode_with_construct(raw) == fast  # and construct does not refuse it


invokes = st.integers(0, 255)
results = st.sampled_from(list(AccessResult))
descs = st.builds(xdlms.AttributeDescriptor, st.integers(0, 0xFFFF),
                  st.binary(min_size=6, max_size=6), st.integers(-128, 127))
methods = st.builds(xdlms.MethodDescriptor, st.integers(0, 0xFFFF),
                    st.binary(min_size=6, max_size=6), st.integers(-128, 127))
covered = st.one_of(
    st.builds(xdlms.GetRequestNormal, invokes, descs),
    st.builds(xdlms.SetRequestNormal, invokes, descs, datas),
    st.builds(xdlms.ActionRequestNormal, invokes, methods, st.none() | datas),
    st.builds(xdlms.GetResponseNormal, invokes, datas | results),
    st.builds(xdlms.ActionResponseNormal, invokes, results),
    st.builds(xdlms.SetResponseNormal, invokes, results),
    st.builds(xdlms.GetResponseWithDatablock, invokes, st.booleans(),
              st.integers(0, 0xFFFFFFFF), st.binary(max_size=300)),
)


@settings(max_examples=500)
@given(covered)
def test_apdu_fast_encode_agrees_with_construct(apdu):
    raw = encode_with_construct(apdu)
    fast = encode_apdu_fast(apdu)
    assert fast is None or fast == raw
    back = decode_apdu_fast(raw)
    assert back is None or back == decode_with_construct(raw)


def test_the_common_shapes_do_take_the_fast_path():
    get = xdlms.GetRequestNormal(0xC1, xdlms.AttributeDescriptor(3, bytes((1, 0, 1, 8, 0, 255)),
                                                                2))
    assert decode_apdu_fast(encode_apdu_fast(get)) == get
    block = xdlms.ActionRequestNormal(0xC1, xdlms.MethodDescriptor(
        18, bytes((0, 0, 44, 0, 0, 255)), 2), Data(DataType.STRUCTURE, (
            Data(DataType.DOUBLE_LONG_UNSIGNED, 7), Data(DataType.OCTET_STRING, b"x" * 128))))
    assert decode_apdu_fast(encode_apdu_fast(block)) == block
    assert encode_apdu_fast(xdlms.ActionResponseNormal(0xC1, AccessResult.SUCCESS)) == \
        bytes.fromhex("C701C10000")


@pytest.mark.parametrize("raw", ["C001C1", "C001C10001 0100000200FF 02 02", "C301C1 00",
                                 "C401C1 00 0905", "C701C1 00 01"])
def test_what_the_fast_path_refuses_construct_decides(raw):
    raw = bytes.fromhex(raw)
    assert decode_apdu_fast(raw) is None
    with pytest.raises(ApduError):
        decode_with_construct(raw)


@given(invokes, datas.filter(lambda d: not _has_bit_string(d)))
def test_get_response_from_encoded_data_agrees_with_construct(invoke, data):
    from meteremu.dlms.axdr import encode_data
    from meteremu.dlms.fast import get_response_normal

    assert get_response_normal(invoke, encode_data(data)) == encode_with_construct(
        xdlms.GetResponseNormal(invoke, data))


_requests = st.one_of(
    apdus,
    st.builds(lambda r: encode_with_construct(r), st.one_of(
        st.builds(xdlms.GetRequestNormal, invokes, st.builds(
            xdlms.AttributeDescriptor, st.sampled_from([1, 3, 8, 15, 18]),
            st.sampled_from([bytes((1, 0, 0, 2, 0, 255)), bytes((0, 0, 1, 0, 0, 255)),
                             bytes((0, 0, 40, 0, 0, 255)), bytes((1, 0, 1, 8, 0, 255))]),
            st.integers(1, 4))),
        st.builds(xdlms.ActionRequestNormal, invokes, methods, st.none() | datas))))


@settings(max_examples=200, deadline=None)
@given(st.lists(_requests, min_size=1, max_size=4), st.booleans())
def test_a_whole_frame_at_once_is_served_as_the_reader_serves_it(raws, associate):
    """The connection's fast path for one whole frame per read gives the bytes and
    events the wrapper reader gives when the same frames come a byte at a time
    (after an AARQ, so requests reach the association)."""
    from meteremu.dlms.client import DlmsClient
    from meteremu.dlms.connection import ServerConnection
    from meteremu.dlms.security import SecurityPolicy
    from meteremu.dlms.wrapper import wrap
    from meteremu.testing.factory import make_keys, make_meter

    frames = ([DlmsClient().associate()] if associate else []) + [wrap(16, 1, r) for r in raws]
    outs = []
    for chunked in (False, True):
        conn = ServerConnection({1: make_meter(make_keys(0))}, SecurityPolicy.default(b"s"))
        out, events = b"", []
        for frame in frames:
            pieces = [frame[i:i + 1] for i in range(len(frame))] if chunked else [frame]
            for piece in pieces:
                events += conn.receive_data(piece)
                out += conn.data_to_send()
        outs.append((out, events, conn.closing, conn.frames))
    assert outs[0] == outs[1]
