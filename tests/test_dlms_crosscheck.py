"""Our encodings against two independent DLMS implementations (the ``interop``
extra: gurux-dlms, dlms-cosem): what they build, we decode; what we build, they
read. Formats only; end-to-end interop over TCP lives with the DLMS client CLI."""

from __future__ import annotations

import pytest

from meteremu.dlms import acse, xdlms
from meteremu.dlms.apdu import decode_apdu, encode_apdu
from meteremu.dlms.axdr import Data, DataType, decode_data, encode_data
from meteremu.dlms.values import SCHEMAS, to_data
from meteremu.dlms.xdlms import AccessResult, Conformance

H = bytes.fromhex
OFFER = (Conformance.GET | Conformance.SET | Conformance.ACTION
         | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ)


@pytest.fixture(scope="module")
def gurux():
    pytest.importorskip("gurux_dlms")
    from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSTranslator
    from gurux_dlms.enums import Authentication, InterfaceType

    return GXByteBuffer, GXDLMSClient, GXDLMSTranslator, Authentication, InterfaceType


@pytest.fixture(scope="module")
def dc():
    pytest.importorskip("dlms_cosem")
    from dlms_cosem import cosem, enumerations
    from dlms_cosem.dlms_data import DlmsDataParser
    from dlms_cosem.protocol import acse as dacse
    from dlms_cosem.protocol import xdlms as dx

    return cosem, enumerations, DlmsDataParser, dacse, dx


def test_gurux_aarq_with_lls_decodes(gurux):
    _, GXDLMSClient, _, Authentication, InterfaceType = gurux
    c = GXDLMSClient(True, 1, 1, Authentication.LOW, "secret", InterfaceType.WRAPPER)
    (frame,) = c.aarqRequest()
    raw = bytes(frame)
    assert raw[:6] == H("0001 0001 0001")  # version 1, client SAP 1 -> server 1
    aarq = decode_apdu(raw[8:])
    assert aarq.mechanism_name == acse.MECHANISM_LLS
    assert aarq.calling_authentication_value == b"secret"
    assert aarq.user_information.max_receive_pdu == 0xFFFF  # real clients propose 65535


def test_gurux_reads_our_aare_and_its_get_request_decodes(gurux):
    GXByteBuffer, GXDLMSClient, _, Authentication, InterfaceType = gurux
    from gurux_dlms.objects import GXDLMSData

    c = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.WRAPPER)
    c.aarqRequest()
    aare = acse.Aare(0, 0, user_information=xdlms.InitiateResponse(OFFER, 1024))
    c.parseAareResponse(GXByteBuffer(encode_apdu(aare)))
    assert c.maxReceivePDUSize == 1024
    (frame,) = c.read(GXDLMSData("1.0.0.2.0.255"), 2)
    get = decode_apdu(bytes(frame)[8:])
    assert get == xdlms.GetRequestNormal(get.invoke, xdlms.AttributeDescriptor(
        1, H("0100000200FF"), 2))


def test_gurux_translates_our_apdus(gurux):
    _, _, GXDLMSTranslator, _, _ = gurux
    t = GXDLMSTranslator()
    xml = t.pduToXml(encode_apdu(acse.Aare(0, 0, user_information=xdlms.InitiateResponse(
        OFFER, 1024))))
    for tag in ("AssociationResult Value=\"00\"", "BlockTransferWithGetOrRead",
                "NegotiatedMaxPduSize Value=\"0400\"", "VaaName Value=\"0007\""):
        assert tag in xml
    xml = t.pduToXml(encode_apdu(acse.Aare(1, 13)))
    assert "AssociationResult Value=\"01\"" in xml and "ACSEServiceUser Value=\"0D\"" in xml
    xml = t.pduToXml(encode_apdu(xdlms.GetResponseNormal(0xC1, Data(
        DataType.OCTET_STRING, b"\x01" * 200))))
    assert "GetResponseNormal" in xml and "01" * 200 in xml.replace(" ", "")
    xml = t.pduToXml(encode_apdu(xdlms.ActionResponseNormal(0xC1, AccessResult.SUCCESS)))
    assert "ActionResponseNormal" in xml


def test_dlms_cosem_reads_our_aares(dc):
    _, _, _, dacse, _ = dc
    ok = dacse.ApplicationAssociationResponse.from_bytes(encode_apdu(acse.Aare(
        0, 0, user_information=xdlms.InitiateResponse(OFFER, 1024))))
    ini = ok.user_information.content
    assert ini.server_max_receive_pdu_size == 1024
    c = ini.negotiated_conformance
    assert c.get and c.set and c.action and c.block_transfer_with_get_or_read
    assert not c.selective_access
    rejected = dacse.ApplicationAssociationResponse.from_bytes(encode_apdu(acse.Aare(1, 13)))
    assert int(rejected.result) == 1 and int(rejected.result_source_diagnostics) == 13


def test_dlms_cosem_requests_decode_and_it_reads_our_responses(dc):
    cosem, enumerations, _, _, dx = dc
    get = dx.GetRequestNormal(cosem.CosemAttribute(
        interface=enumerations.CosemInterface.DATA, instance=cosem.Obis(1, 0, 0, 2, 0, 255),
        attribute=2))
    assert decode_apdu(get.to_bytes()).attribute == xdlms.AttributeDescriptor(
        1, H("0100000200FF"), 2)
    block = bytes(range(130))
    action = dx.ActionRequestNormal(
        cosem_method=cosem.CosemMethod(enumerations.CosemInterface.IMAGE_TRANSFER,
                                       cosem.Obis(0, 0, 44, 0, 0, 255), 2),
        data=encode_data(to_data((1, block), SCHEMAS["image_block_transfer"])))
    ours = decode_apdu(action.to_bytes())
    assert ours.parameters.value[1] == Data(DataType.OCTET_STRING, block)
    resp = dx.GetResponseFactory.from_bytes(encode_apdu(xdlms.GetResponseNormal(
        0xC1, Data(DataType.OCTET_STRING, b"2.0.0"))))
    assert resp.data == H("0905") + b"2.0.0"
    blk = dx.GetResponseFactory.from_bytes(encode_apdu(xdlms.GetResponseWithDatablock(
        0xC1, False, 1, b"\x01\x02")))
    assert (blk.block_number, blk.data) == (1, b"\x01\x02")
    act = dx.ActionResponseFactory.from_bytes(encode_apdu(xdlms.ActionResponseNormal(
        0xC1, AccessResult.SUCCESS)))
    assert int(act.status) == 0


def test_dlms_cosem_parses_our_data(dc):
    _, _, DlmsDataParser, _, _ = dc
    (su,) = DlmsDataParser().parse(H("0202 0F00 161E"))
    assert [v.value for v in su.value] == [0, 30]
    element = (15, 1, H("0000280000FF"), (((1, 1, None), (2, 1, None)), ()))
    raw = encode_data(to_data([element], SCHEMAS["object_list"]))
    (parsed,) = DlmsDataParser().parse(raw)
    assert parsed.value[0].value[2].value == H("0000280000FF")
    assert decode_data(raw).type is DataType.ARRAY
