"""The DLMS association without a socket: a sans-I/O client and a meter's server
connection joined in memory (``meteremu.testing.dlms.DlmsLink``)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from meteremu.device import BootState, Client, ImageTransferStatus
from meteremu.dlms import acse, xdlms
from meteremu.dlms.apdu import decode_apdu, encode_apdu
from meteremu.dlms.association import SUPPORTED, State
from meteremu.dlms.axdr import Data, DataType
from meteremu.dlms.client import DlmsClient, ExceptionReceived, GetResult
from meteremu.dlms.events import (
    ApduRefused,
    Associated,
    AssociationRejected,
    ConnectionClosed,
    Released,
)
from meteremu.dlms.security import ClientAccess, Granted, SecurityPolicy
from meteremu.dlms.wrapper import WrapperReader, wrap
from meteremu.dlms.xdlms import AccessResult, Conformance
from meteremu.errors import AuthenticationFailure
from meteremu.testing.dlms import DlmsLink
from meteremu.testing.factory import make_firmware, make_keys, make_meter, make_package

PW = b"secret"
IMAGE_TRANSFER = "0.0.44.0.0.255"
FIRMWARE_ID = "1.0.0.2.0.255"
BOOT_STATE = "0.0.96.10.2.255"


@pytest.fixture
def meter():
    m = make_meter(make_keys(0))
    yield m
    m.close()


def management(meter, **kw) -> DlmsLink:
    link = DlmsLink(meter, client_sap=1, password=PW, **kw)
    assert link.associate().accepted
    return link


def public(meter, **kw) -> DlmsLink:
    link = DlmsLink(meter, client_sap=16, **kw)
    assert link.associate().accepted
    return link


# ---------------------------------------------------------------- association


def test_public_association_reads_identity_clock_energy_and_hash(meter):
    link = public(meter)
    assert link.get("0.0.96.1.0.255", 2).value == b"MTR00000001"
    assert link.get("0.0.42.0.0.255", 2).value == b"MTEMTR00000001"
    assert link.get(FIRMWARE_ID, 2).value == b"1.0.0"
    clock = link.get("0.0.1.0.0.255", 2)
    assert clock.data.type is DataType.OCTET_STRING and len(clock.data.value) == 12
    assert clock.value == meter.datetime
    meter.advance(3600)
    assert link.get("1.0.1.8.0.255", 2).value == 1000  # 1 kW for an hour, in Wh
    assert link.get("1.0.1.8.0.255", 3).value == (0, 30)  # scaler 0, unit Wh
    assert link.get("0.0.96.10.1.255", 2).value == b""
    assert link.release().reason == 0
    assert any(isinstance(e, Released) for e in link.events)
    assert link.closed


def test_negotiated_conformance_is_the_proposal_and_what_is_supported(meter):
    proposal = Conformance.GET | Conformance.ACTION | Conformance.EVENT_NOTIFICATION
    link = DlmsLink(meter, conformance=proposal)
    r = link.associate()
    assert r.accepted and r.conformance == Conformance.GET | Conformance.ACTION
    assert r.server_max_pdu >= 256
    assert SUPPORTED & (Conformance.GET | Conformance.SET | Conformance.ACTION
                        | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ) == (
        Conformance.GET | Conformance.SET | Conformance.ACTION
        | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ)
    # SET was not negotiated: an exception-response, nothing written
    r = link.set("0.0.1.0.0.255", 2, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert isinstance(r, ExceptionReceived)
    assert r.service_error == xdlms.ServiceError.SERVICE_NOT_SUPPORTED


def test_wrong_password_is_rejected_permanent_with_diagnostic_13(meter):
    link = DlmsLink(meter, client_sap=1, password=b"wrong")
    r = link.associate()
    assert not r.accepted
    assert r.aare.result == acse.AssociationResult.REJECTED_PERMANENT
    assert r.diagnostic == acse.SourceDiagnostic.AUTHENTICATION_FAILURE == 13
    assert next(e for e in link.events if isinstance(e, AssociationRejected)).diagnostic == 13
    assert not link.closed  # the client may try again on the same connection
    link.client = DlmsClient(client_sap=1, password=PW)  # a second try, same connection
    assert link.associate().accepted


@pytest.mark.parametrize(("sap", "password", "diagnostic"), [
    (1, None, 14),  # management without a password: authentication-required
    (16, b"x", 11),  # public with LLS: mechanism not recognised
    (2, None, 13),  # no such client
])
def test_other_refusals_have_their_diagnostics(meter, sap, password, diagnostic):
    r = DlmsLink(meter, client_sap=sap, password=password).associate()
    assert not r.accepted and r.diagnostic == diagnostic


def test_initiate_errors_reject_with_a_confirmed_service_error(meter):
    link = DlmsLink(meter)
    ini = xdlms.InitiateRequest(Conformance.GET, 1024, dlms_version=5)
    out = link.send_raw(wrap(16, 1, encode_apdu(acse.Aarq(user_information=ini))))
    aare = decode_apdu(out[8:])
    assert aare.result == acse.AssociationResult.REJECTED_PERMANENT
    assert aare.user_information == xdlms.ConfirmedServiceError(1, 6, 1)  # version too low
    ini = xdlms.InitiateRequest(Conformance.EVENT_NOTIFICATION, 1024)
    aare = decode_apdu(link.send_raw(wrap(16, 1, encode_apdu(acse.Aarq(user_information=ini)))
                                     )[8:])
    assert aare.user_information == xdlms.ConfirmedServiceError(1, 6, 2)  # conformance
    ini = xdlms.InitiateRequest(Conformance.GET, 11)
    aare = decode_apdu(link.send_raw(wrap(16, 1, encode_apdu(acse.Aarq(user_information=ini)))
                                     )[8:])
    assert aare.user_information == xdlms.ConfirmedServiceError(1, 6, 3)  # PDU too short
    aare = decode_apdu(link.send_raw(wrap(16, 1, encode_apdu(acse.Aarq(
        application_context_name=acse.LN_CIPHERING, user_information=ini))))[8:])
    assert aare.diagnostic == acse.SourceDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED


def test_what_real_clients_send_is_accepted(meter):
    """A calling-AP-title without ciphering, max PDU 65535, odd invoke ids."""
    link = DlmsLink(meter, client_sap=1, password=PW, calling_ap_title=b"GRX12345",
                    max_receive_pdu=0xFFFF)
    assert link.associate().accepted
    for invoke in (0x00, 0x07, 0x4F, 0x81, 0xC5, 0xFF):
        apdu = xdlms.GetRequestNormal(invoke, xdlms.AttributeDescriptor(
            1, bytes((1, 0, 0, 2, 0, 255)), 2))
        answer = decode_apdu(link.send_raw(wrap(1, 1, encode_apdu(apdu)))[8:])
        assert answer.invoke == invoke  # echoed as received
        assert answer.result == Data(DataType.OCTET_STRING, b"1.0.0")


def test_the_reply_swaps_the_ports(meter):
    link = DlmsLink(meter)
    out = link.send_raw(link.client.associate())
    assert out[:8] == bytes.fromhex("0001 0001 0010") + len(out[8:]).to_bytes(2, "big")


def test_requests_before_the_aarq_get_an_exception_response_and_change_nothing(meter):
    link = DlmsLink(meter)
    get = xdlms.GetRequestNormal(0xC1, xdlms.AttributeDescriptor(1, bytes((1, 0, 0, 2, 0,
                                                                           255)), 2))
    out = link.send_raw(wrap(16, 1, encode_apdu(get)))
    assert decode_apdu(out[8:]) == xdlms.ExceptionResponse(
        xdlms.StateError.SERVICE_NOT_ALLOWED, xdlms.ServiceError.OPERATION_NOT_POSSIBLE)
    assert link.server.association.state is State.IDLE
    assert link.associate().accepted


def test_a_second_aarq_is_refused_and_the_first_association_stands(meter):
    link = public(meter)
    out = link.send_raw(wrap(16, 1, encode_apdu(acse.Aarq(
        user_information=xdlms.InitiateRequest(Conformance.GET, 1024)))))
    assert decode_apdu(out[8:]).result == acse.AssociationResult.REJECTED_PERMANENT
    assert link.get(FIRMWARE_ID, 2).ok


# ---------------------------------------------------------------- access


def test_public_client_may_not_write_transfer_or_activate(meter):
    link = public(meter)
    before = meter.clock.datetime
    r = link.set("0.0.1.0.0.255", 2, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert r.result == AccessResult.READ_WRITE_DENIED
    # even with a value of the wrong type: denied, not type-unmatched
    r = link.set("0.0.1.0.0.255", 2, Data(DataType.UNSIGNED, 3))
    assert r.result == AccessResult.READ_WRITE_DENIED
    assert link.action(IMAGE_TRANSFER, 1, (b"x", 1000)).result == AccessResult.READ_WRITE_DENIED
    assert link.action(BOOT_STATE, 1, True).result == AccessResult.READ_WRITE_DENIED
    assert link.get(IMAGE_TRANSFER, 6).result == AccessResult.READ_WRITE_DENIED
    assert meter.clock.datetime == before
    assert meter.download_session() is None


def test_unknown_objects_attributes_and_methods_are_object_undefined(meter):
    link = management(meter)
    assert link.get("1.2.3.4.5.6", 2, class_id=1).result == AccessResult.OBJECT_UNDEFINED
    assert link.get(FIRMWARE_ID, 9).result == AccessResult.OBJECT_UNDEFINED
    assert link.get(FIRMWARE_ID, 2, class_id=3).result == AccessResult.OBJECT_UNDEFINED
    assert link.action(IMAGE_TRANSFER, 9, Data(DataType.INTEGER, 0)).result == \
        AccessResult.OBJECT_UNDEFINED


def test_management_sets_the_clock_and_wrong_types_are_type_unmatched(meter):
    link = management(meter)
    when = dt.datetime(2027, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    assert link.set("0.0.1.0.0.255", 2, when).ok
    assert link.get("0.0.1.0.0.255", 2).value == when
    r = link.set("0.0.1.0.0.255", 2, Data(DataType.OCTET_STRING, b"\xff" * 12))
    assert r.result == AccessResult.TYPE_UNMATCHED  # wildcards name no instant
    r = link.set(IMAGE_TRANSFER, 5, Data(DataType.UNSIGNED, 1))
    assert r.result == AccessResult.TYPE_UNMATCHED
    assert meter.clock.datetime == when


def test_get_with_list_mixes_results(meter):
    link = public(meter)
    r = link.get_list([(FIRMWARE_ID, 2), (IMAGE_TRANSFER, 6), ("0.0.96.1.0.255", 2)])
    assert [x.result for x in r.results] == [AccessResult.SUCCESS,
                                             AccessResult.READ_WRITE_DENIED,
                                             AccessResult.SUCCESS]
    assert r.results[0].value == b"1.0.0" and r.results[2].value == b"MTR00000001"


# ---------------------------------------------------------------- block transfer


def test_object_list_comes_in_blocks_at_a_small_pdu(meter):
    link = DlmsLink(meter, max_receive_pdu=64)
    assert link.associate().accepted
    sent = []
    original = link.send_raw

    def spy(data: bytes) -> bytes:
        out = original(data)
        sent.append(out)
        return out

    link.send_raw = spy  # type: ignore[method-assign]
    r = link.get("0.0.40.0.0.255", 2)
    assert isinstance(r, GetResult) and r.ok
    assert len(sent) > 5  # many blocks
    assert all(len(frame) - 8 <= 64 for frame in sent)  # each within the client's PDU
    assert r.value == _expected_list(meter, Client.PUBLIC)


def _expected_list(meter, client):
    out = []
    for class_id, version, obis, (attrs, methods) in meter.object_list(client):
        out.append((class_id, version, obis,
                    ([(n, a, s) for n, a, s in attrs], [(n, int(m)) for n, m in methods])))
    return out


def test_object_list_rights_are_the_asking_clients(meter):
    pub = public(meter).get("0.0.40.0.0.255", 2).value
    mgmt = management(meter).get("0.0.40.0.0.255", 2).value
    transfer_pub = next(o for o in pub if o[2] == bytes((0, 0, 44, 0, 0, 255)))
    transfer_mgmt = next(o for o in mgmt if o[2] == bytes((0, 0, 44, 0, 0, 255)))
    assert {m for _, m in transfer_pub[3][1]} == {0}
    assert {m for _, m in transfer_mgmt[3][1]} == {1}


def test_get_next_out_of_order_aborts_the_long_get(meter):
    link = DlmsLink(meter, max_receive_pdu=64)
    assert link.associate().accepted
    first = decode_apdu(link.send_raw(link.client.get("0.0.40.0.0.255", 2))[8:])
    assert isinstance(first, xdlms.GetResponseWithDatablock) and not first.last
    wrong = xdlms.GetRequestNext(first.invoke, 7)
    r = decode_apdu(link.send_raw(wrap(16, 1, encode_apdu(wrong)))[8:])
    assert r.raw == AccessResult.LONG_GET_ABORTED and r.last
    r = decode_apdu(link.send_raw(wrap(16, 1, encode_apdu(
        xdlms.GetRequestNext(first.invoke, 1))))[8:])
    assert r.raw == AccessResult.NO_LONG_GET_IN_PROGRESS


# ---------------------------------------------------------------- class 18, the whole update


def _transfer(link: DlmsLink, package: bytes, identifier: bytes = b"fw-2.0.0") -> None:
    size = len(package)
    assert link.get(IMAGE_TRANSFER, 2).value == 128
    assert link.action(IMAGE_TRANSFER, 1, (identifier, size)).ok
    for n in range(-(-size // 128)):
        r = link.action(IMAGE_TRANSFER, 2, (n, package[n * 128:(n + 1) * 128]))
        assert r.ok, (n, r)
        assert r.return_parameters is None


def test_class18_transfer_verify_activate_then_the_heartbeat_confirms(meter):
    keys = make_keys(0)
    package = make_package(make_firmware(4000, seed=7), keys, version="2.0.0")
    assert len(package) % 128 != 0  # a short last block
    link = management(meter)
    _transfer(link, package)
    blocks = -(-len(package) // 128)
    assert link.get(IMAGE_TRANSFER, 4).value == blocks  # first not transferred
    assert link.get(IMAGE_TRANSFER, 3).value == "1" * blocks
    assert link.get("0.0.96.10.1.255", 2).value == hashlib.sha256(package).digest()
    assert link.action(IMAGE_TRANSFER, 3, 0).ok  # verify
    assert link.get(IMAGE_TRANSFER, 6).value == ImageTransferStatus.VERIFICATION_SUCCESSFUL
    info = link.get(IMAGE_TRANSFER, 7).value
    assert info == [(len(package), b"fw-2.0.0", hashlib.sha256(package).digest())]
    assert link.action(IMAGE_TRANSFER, 4, 0).ok  # activate
    assert link.get(IMAGE_TRANSFER, 6).value == ImageTransferStatus.ACTIVATION_SUCCESSFUL
    assert link.get(FIRMWARE_ID, 2).value == b"2.0.0"
    assert link.get(BOOT_STATE, 2).value == BootState.TRIAL.value
    link.release()
    # the first management association after the swap is the heartbeat
    pub = public(meter)
    assert not any(isinstance(e, Associated) and e.heartbeat for e in pub.events)
    assert meter.boot_state is BootState.TRIAL
    again = management(meter)
    assert [e.heartbeat for e in again.events if isinstance(e, Associated)] == [True]
    assert meter.boot_state is BootState.CONFIRMED
    assert again.get(BOOT_STATE, 2).value == BootState.CONFIRMED.value
    assert again.get(FIRMWARE_ID, 2).value == b"2.0.0"
    third = management(meter)
    assert [e.heartbeat for e in third.events if isinstance(e, Associated)] == [False]


def test_refused_update_steps_answer_other_reason_and_seed_step_6_activates(meter):
    keys = make_keys(0)
    link = management(meter)
    assert link.action(IMAGE_TRANSFER, 3, 0).result == AccessResult.TEMPORARY_FAILURE
    bad = make_package(make_firmware(3000, seed=3), make_keys(9))  # an unknown signer
    _transfer(link, bad, b"bad")
    assert link.action(IMAGE_TRANSFER, 3, 0).result == AccessResult.OTHER_REASON  # 0x8005
    assert link.get(IMAGE_TRANSFER, 6).value == ImageTransferStatus.VERIFICATION_FAILED
    good = make_package(make_firmware(3000, seed=4), keys, version="2.1.0")
    _transfer(link, good, b"good")
    assert link.action(IMAGE_TRANSFER, 3, 0).ok
    assert link.action(BOOT_STATE, 1, False).result == AccessResult.TYPE_UNMATCHED
    assert link.action(BOOT_STATE, 1, True).ok  # seed step 6
    assert link.get(FIRMWARE_ID, 2).value == b"2.1.0"


def test_a_block_of_the_wrong_size_is_refused_and_the_transfer_goes_on(meter):
    keys = make_keys(0)
    package = make_package(make_firmware(3000, seed=5), keys)
    link = management(meter)
    assert link.action(IMAGE_TRANSFER, 1, (b"id", len(package))).ok
    assert link.action(IMAGE_TRANSFER, 2, (0, package[:100])).result == \
        AccessResult.OTHER_REASON
    assert link.action(IMAGE_TRANSFER, 2, (0, package[:128])).ok
    assert link.get(IMAGE_TRANSFER, 4).value == 1


def test_unconfirmed_action_runs_without_a_response(meter):
    keys = make_keys(0)
    package = make_package(make_firmware(1000, seed=6), keys)
    link = management(meter)
    apdu = xdlms.ActionRequestNormal(0x81, xdlms.MethodDescriptor(
        18, bytes((0, 0, 44, 0, 0, 255)), 1), Data(DataType.STRUCTURE, (
            Data(DataType.OCTET_STRING, b"u"), Data(DataType.DOUBLE_LONG_UNSIGNED,
                                                    len(package)))))
    assert link.send_raw(wrap(1, 1, encode_apdu(apdu))) == b""
    assert link.get(IMAGE_TRANSFER, 6).value == ImageTransferStatus.INITIATED


def test_action_response_carries_the_no_return_parameters_byte(meter):
    link = management(meter)
    apdu = xdlms.ActionRequestNormal(0xC3, xdlms.MethodDescriptor(
        18, bytes((0, 0, 44, 0, 0, 255)), 3), Data(DataType.INTEGER, 0))
    out = link.send_raw(wrap(1, 1, encode_apdu(apdu)))
    assert out[8:] == bytes.fromhex("C7 01 C3 02 00")  # temporary-failure, no parameters


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(("apdu", "expected"), [
    ("C0 01 C1 00 01", "D8 01 03"),  # truncated GET: malformed
    ("C0 07 C1", "D8 01 02"),  # a GET CHOICE not served
    ("C1 02 C1 00 01 00 00 2A 00 00 FF 02 00 00 00 00 00 01 00", "D8 01 02"),  # SET block
    ("42", "D8 02 02"),  # unknown tag
    ("C4 01 C1 00 11 00", "D8 01 01"),  # a response sent to the server
    ("DB 08 00", "D8 01 02"),  # general-glo-ciphering
])
def test_malformed_and_unsupported_apdus_get_exception_responses(meter, apdu, expected):
    link = public(meter)
    dump = meter.flash.dump()
    out = link.send_raw(wrap(16, 1, bytes.fromhex(apdu)))
    assert out[8:] == bytes.fromhex(expected)
    assert any(isinstance(e, ApduRefused) for e in link.events)
    assert link.get(FIRMWARE_ID, 2).ok  # the association carries on
    assert meter.flash.dump() == dump


def test_a_broken_aarq_is_rejected_not_crashed(meter):
    link = DlmsLink(meter)
    out = link.send_raw(wrap(16, 1, bytes.fromhex("60 05 A1 03 06 01")))
    aare = decode_apdu(out[8:])
    assert aare.result == acse.AssociationResult.REJECTED_PERMANENT
    assert aare.diagnostic == acse.SourceDiagnostic.NO_REASON_GIVEN


def test_wrapper_errors_close_the_connection(meter):
    link = public(meter)
    assert link.send_raw(bytes.fromhex("0002 0010 0001 0001 00")) == b""  # version 2
    assert link.closed
    link = public(meter)
    out = link.send_raw(bytes.fromhex("0001 0010 0001 FFFF") + b"\x00" * 10)  # too long
    assert out[8:] == bytes.fromhex("D8 01 04")  # pdu-too-long, then closed
    assert link.closed
    link = public(meter)
    assert link.send_raw(wrap(1, 1, link.client.get(FIRMWARE_ID, 2)[8:])) == b""
    assert link.closed and any(isinstance(e, ConnectionClosed) for e in link.events)
    link = DlmsLink(meter)
    link.send_raw(wrap(16, 9, b"\x60\x00"))  # no meter at wPort 9
    assert link.closed


def test_byte_by_byte_equals_whole(meter):
    whole = DlmsLink(meter)
    bytewise = DlmsLink(meter, chunk=1)
    for link in (whole, bytewise):
        assert link.associate().accepted
        assert link.get("0.0.40.0.0.255", 2).ok
    a = [e for e in whole.events if not isinstance(e, ConnectionClosed)]
    b = [e for e in bytewise.events if not isinstance(e, ConnectionClosed)]
    assert a == b


# ---------------------------------------------------------------- HLS fits the shape


class _ToyChallenge:
    """A stand-in for HLS: the server's challenge is b"S", the right reply b"f(S)"."""

    name = "toy-hls"

    def authenticate(self, aarq):
        if aarq.calling_authentication_value != b"C":
            raise AuthenticationFailure("no client challenge")
        return Granted(mechanism_name=acse.MECHANISM_HLS_GMAC,
                       responding_authentication_value=b"S", pending=True)

    def finish(self, granted, reply):
        if reply != b"f(" + granted.responding_authentication_value + b")":
            raise AuthenticationFailure("wrong reply")
        return b"f(C)"


def test_a_challenge_strategy_plugs_in_without_reshaping(meter):
    policy = SecurityPolicy([ClientAccess(1, Client.MANAGEMENT, _ToyChallenge())])
    link = DlmsLink(meter, client_sap=1, policy=policy)
    aarq = acse.Aarq(user_information=xdlms.InitiateRequest(Conformance.GET
                                                            | Conformance.ACTION, 1024),
                     mechanism_name=acse.MECHANISM_HLS_GMAC,
                     calling_authentication_value=b"C", sender_acse_requirements=True)
    aare = decode_apdu(link.send_raw(wrap(1, 1, encode_apdu(aarq)))[8:])
    assert aare.result == acse.AssociationResult.ACCEPTED
    assert aare.responding_authentication_value == b"S"
    assert link.server.association.state is State.AUTHENTICATING
    get = xdlms.GetRequestNormal(0xC1, xdlms.AttributeDescriptor(1, bytes((1, 0, 0, 2, 0,
                                                                           255)), 2))
    out = decode_apdu(link.send_raw(wrap(1, 1, encode_apdu(get)))[8:])
    assert isinstance(out, xdlms.ExceptionResponse)  # nothing but the reply yet
    reply = xdlms.ActionRequestNormal(0xC1, xdlms.MethodDescriptor(
        15, bytes((0, 0, 40, 0, 0, 255)), 1), Data(DataType.OCTET_STRING, b"f(S)"))
    out = decode_apdu(link.send_raw(wrap(1, 1, encode_apdu(reply)))[8:])
    assert out.result == AccessResult.SUCCESS
    assert out.return_parameters == Data(DataType.OCTET_STRING, b"f(C)")
    assert link.server.association.state is State.ASSOCIATED
    assert decode_apdu(link.send_raw(wrap(1, 1, encode_apdu(get)))[8:]).result == \
        Data(DataType.OCTET_STRING, b"1.0.0")


def test_client_side_reader_reads_server_frames():
    reader = WrapperReader(100)
    reader.feed(bytes.fromhex("0001 0001 0010 0003 C7 01 C1"))
    frame = reader.next_frame()
    assert (frame.source, frame.destination, frame.apdu) == (1, 16, bytes.fromhex("C701C1"))
