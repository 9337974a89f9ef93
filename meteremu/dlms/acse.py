"""ACSE APDUs (AARQ, AARE, RLRQ, RLRE) in BER, as DLMS uses them (Green Book, ISO 8650).

An ACSE APDU is an application tag, a BER length, and a run of
context-specific elements (tag, BER length, contents). BER lengths are one
byte below 128, else ``81 nn`` or ``82 nn nn``. The elements DLMS uses::

    AARQ 60                                    AARE 61
      A1 06 len OID  application-context-name    A1 06 len OID  application-context-name
      A6 04 len title  calling-AP-title          A2 02 01 n     result (0 accepted,
      8A 07 80  sender-acse-requirements                        1 rejected-permanent,
      8B OID    mechanism-name                                  2 rejected-transient)
      AC 80 len value  calling-authentication    A3 A1|A2 03 02 01 n  result-source-diagnostic
      BE 04 len InitiateRequest  user-info                      (A1 acse-service-user,
                                                                A2 acse-service-provider)
                                                 A4 04 len title  responding-AP-title
                                                 88 07 80  responder-acse-requirements
                                                 89 OID    mechanism-name
                                                 AA 80 len value  responding-authentication
                                                 BE 04 len InitiateResponse | Confirmed-
                                                           Service-Error  user-information
    RLRQ 62  [80 01 reason] [BE 04 len InitiateRequest]
    RLRE 63  [80 01 reason] [BE 04 len InitiateResponse]

OIDs are carried as their content bytes: the LN, no-ciphering application
context 2.16.756.5.8.1.1 is ``60 85 74 05 08 01 01``; the mechanism names are
2.16.756.5.8.2.n (``60 85 74 05 08 02 0n``: 0 lowest, 1 LLS, 5 HLS-GMAC).
Elements a DLMS server has no use for (protocol-version, AE qualifiers and
invocation IDs, implementation-information) are accepted and skipped when
parsing and never built. ``Aarq``, ``Aare``, ``Rlrq``, ``Rlre`` are the
dataclasses; :data:`CONSTRUCTS` holds their definitions.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass
from typing import Any

from construct import (
    Adapter,
    Const,
    Construct,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Prefixed,
    SizeofError,
    Struct,
    Terminated,
    stream_read,
    stream_write,
)

from .axdr import AxdrFormatError
from .xdlms import CONSTRUCTS as XDLMS
from .xdlms import ConfirmedServiceError, InitiateRequest, InitiateResponse

__all__ = [
    "CONSTRUCTS",
    "LN_NO_CIPHERING",
    "MECHANISM_HLS_GMAC",
    "MECHANISM_LLS",
    "MECHANISM_LOWEST",
    "Aare",
    "Aarq",
    "AssociationResult",
    "Rlre",
    "Rlrq",
    "SourceDiagnostic",
]

_DLMS_UA = b"\x60\x85\x74\x05\x08"  # 2.16.756.5.8
LN_NO_CIPHERING = _DLMS_UA + b"\x01\x01"
SN_NO_CIPHERING = _DLMS_UA + b"\x01\x02"
LN_CIPHERING = _DLMS_UA + b"\x01\x03"
MECHANISM_LOWEST = _DLMS_UA + b"\x02\x00"
MECHANISM_LLS = _DLMS_UA + b"\x02\x01"
MECHANISM_HLS_GMAC = _DLMS_UA + b"\x02\x05"


class AssociationResult(enum.IntEnum):
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class SourceDiagnostic(enum.IntEnum):
    """acse-service-user diagnostics."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


ACSE_SERVICE_USER, ACSE_SERVICE_PROVIDER = 1, 2


# ---------------------------------------------------------------------------
# BER building blocks


class _BerLength(Construct):
    """BER definite length: short form below 128, else ``81 nn`` or ``82 nn nn``."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> int:
        first = stream_read(stream, 1, path)[0]
        if first < 0x80:
            return first
        k = first & 0x7F
        if not 1 <= k <= 2:
            raise AxdrFormatError(f"BER length of {k} bytes", path=path)
        return int.from_bytes(stream_read(stream, k, path), "big")

    def _build(self, obj: int, stream: io.BytesIO, context: Any, path: str) -> int:
        if not isinstance(obj, int) or not 0 <= obj <= 0xFFFF:
            raise AxdrFormatError(f"BER length {obj!r} out of range", path=path)
        raw = bytes((obj,)) if obj < 0x80 else (
            b"\x81" + bytes((obj,)) if obj <= 0xFF else b"\x82" + obj.to_bytes(2, "big"))
        stream_write(stream, raw, len(raw), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("a BER length has a variable size", path=path)


BerLength = _BerLength()


class _SingleByteTag(Adapter):
    """A BER identifier octet; multi-byte tags (number 31 and up) are refused."""

    def _decode(self, obj: int, context: Any, path: str) -> int:
        if obj & 0x1F == 0x1F:
            raise AxdrFormatError(f"multi-byte BER tag {obj:#04x}", path=path)
        return obj

    def _encode(self, obj: int, context: Any, path: str) -> int:
        return obj


BerElement = Struct("tag" / _SingleByteTag(Int8ub), "value" / Prefixed(BerLength, GreedyBytes))
BerElements = Prefixed(BerLength, Struct("elements" / GreedyRange(BerElement), Terminated))


def _primitive(tag: bytes) -> Construct:
    """A universal-class element's contents: ``tag``, BER length, bytes."""
    return Struct(Const(tag), "value" / Prefixed(BerLength, GreedyBytes), Terminated)


BerOid = _primitive(b"\x06")
BerOctets = _primitive(b"\x04")
BerInteger = _primitive(b"\x02")
BerGraphicString = _primitive(b"\x80")  # Authentication-value CHOICE charstring [0]
AUTHENTICATION_REQUIREMENT = b"\x07\x80"  # BIT STRING, 7 unused bits, bit 0 set
Diagnostic = Struct("source" / Int8ub, "value" / Prefixed(BerLength, BerInteger), Terminated)


def _unsigned(raw: bytes) -> int:
    """A small BER INTEGER (a result, diagnostic or reason: 0..255)."""
    value = int.from_bytes(raw, "big")
    if not 1 <= len(raw) <= 2 or value > 255:
        raise AxdrFormatError(f"INTEGER {raw.hex()} out of range")
    return value


def _user_information(raw: bytes, kinds: tuple[type, ...]) -> Any:
    """The xDLMS APDU in a user-information element's octet string."""
    apdu = BerOctets.parse(raw).value
    for cls in kinds:
        tag = {InitiateRequest: 0x01, InitiateResponse: 0x08, ConfirmedServiceError: 0x0E}[cls]
        if apdu[:1] == bytes((tag,)):
            stream = io.BytesIO(apdu)
            value = XDLMS[cls].parse_stream(stream)
            if stream.tell() != len(apdu):
                raise AxdrFormatError("bytes after the user-information APDU")
            return value
    return apdu  # another xDLMS APDU (a ciphered initiate): kept as bytes


def _user_info_element(value: Any) -> tuple[int, bytes]:
    apdu = value if isinstance(value, bytes) else XDLMS[type(value)].build(value)
    return 0xBE, BerOctets.build({"value": apdu})


def _bitstring_first(raw: bytes) -> bool:
    """Bit 0 of a BER BIT STRING's contents (unused-bits byte first)."""
    return len(raw) >= 2 and bool(raw[1] & 0x80)


# ---------------------------------------------------------------------------
# the APDUs


@dataclass(frozen=True)
class Aarq:
    application_context_name: bytes = LN_NO_CIPHERING
    user_information: InitiateRequest | bytes | None = None
    mechanism_name: bytes | None = None
    calling_authentication_value: bytes | None = None
    calling_ap_title: bytes | None = None
    sender_acse_requirements: bool = False  # the authentication functional unit


@dataclass(frozen=True)
class Aare:
    result: AssociationResult | int
    diagnostic: int
    application_context_name: bytes = LN_NO_CIPHERING
    diagnostic_source: int = ACSE_SERVICE_USER
    user_information: InitiateResponse | ConfirmedServiceError | bytes | None = None
    responding_ap_title: bytes | None = None
    mechanism_name: bytes | None = None
    responding_authentication_value: bytes | None = None
    responder_acse_requirements: bool = False


@dataclass(frozen=True)
class Rlrq:
    reason: int | None = 0  # 0 normal, 1 urgent, 30 user-defined
    user_information: InitiateRequest | bytes | None = None


@dataclass(frozen=True)
class Rlre:
    reason: int | None = 0  # 0 normal, 1 not-finished, 30 user-defined
    user_information: InitiateResponse | bytes | None = None


def _elements(items: list[Any]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for item in items:
        if item.tag in out:
            raise AxdrFormatError(f"element {item.tag:#04x} twice")
        out[item.tag] = item.value
    return out


class _AcseAdapter(Adapter):
    """The element list of one ACSE APDU <-> its dataclass."""

    def __init__(self, subcon: Construct, decode: Any, encode: Any, cls: type) -> None:
        super().__init__(subcon)
        self.decode_fn, self.encode_fn, self.cls = decode, encode, cls

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        return self.decode_fn(_elements(obj.body.elements))

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if not isinstance(obj, self.cls):
            raise AxdrFormatError(f"expected {self.cls.__name__}, got {obj!r}", path=path)
        return {"body": {"elements": [{"tag": t, "value": v} for t, v in self.encode_fn(obj)]}}


def _decode_aarq(e: dict[int, bytes]) -> Aarq:
    if 0xA1 not in e:
        raise AxdrFormatError("AARQ without application-context-name")
    auth = e.get(0xAC)
    return Aarq(
        application_context_name=BerOid.parse(e[0xA1]).value,
        user_information=_user_information(e[0xBE], (InitiateRequest,)) if 0xBE in e else None,
        mechanism_name=e.get(0x8B),
        calling_authentication_value=None if auth is None else BerGraphicString.parse(auth).value,
        calling_ap_title=BerOctets.parse(e[0xA6]).value if 0xA6 in e else None,
        sender_acse_requirements=_bitstring_first(e.get(0x8A, b"")),
    )


def _encode_aarq(a: Aarq) -> list[tuple[int, bytes]]:
    out = [(0xA1, BerOid.build({"value": a.application_context_name}))]
    if a.calling_ap_title is not None:
        out.append((0xA6, BerOctets.build({"value": a.calling_ap_title})))
    if a.sender_acse_requirements:
        out.append((0x8A, AUTHENTICATION_REQUIREMENT))
    if a.mechanism_name is not None:
        out.append((0x8B, a.mechanism_name))
    if a.calling_authentication_value is not None:
        out.append((0xAC, BerGraphicString.build({"value": a.calling_authentication_value})))
    if a.user_information is not None:
        out.append(_user_info_element(a.user_information))
    return out


def _decode_aare(e: dict[int, bytes]) -> Aare:
    for tag, name in ((0xA1, "application-context-name"), (0xA2, "result"),
                      (0xA3, "result-source-diagnostic")):
        if tag not in e:
            raise AxdrFormatError(f"AARE without {name}")
    diag = Diagnostic.parse(e[0xA3])
    result = _unsigned(BerInteger.parse(e[0xA2]).value)
    auth = e.get(0xAA)
    return Aare(
        result=_enum(AssociationResult, result),
        diagnostic=_unsigned(diag.value.value),
        application_context_name=BerOid.parse(e[0xA1]).value,
        diagnostic_source=_diagnostic_source(diag.source),
        user_information=_user_information(
            e[0xBE], (InitiateResponse, ConfirmedServiceError)) if 0xBE in e else None,
        responding_ap_title=BerOctets.parse(e[0xA4]).value if 0xA4 in e else None,
        mechanism_name=e.get(0x89),
        responding_authentication_value=None if auth is None
        else BerGraphicString.parse(auth).value,
        responder_acse_requirements=_bitstring_first(e.get(0x88, b"")),
    )


def _diagnostic_source(tag: int) -> int:
    source = {0xA1: ACSE_SERVICE_USER, 0xA2: ACSE_SERVICE_PROVIDER}.get(tag)
    if source is None:
        raise AxdrFormatError(f"result-source-diagnostic choice {tag:#04x}")
    return source


def _encode_aare(a: Aare) -> list[tuple[int, bytes]]:
    source = {ACSE_SERVICE_USER: 0xA1, ACSE_SERVICE_PROVIDER: 0xA2}.get(a.diagnostic_source)
    if source is None:
        raise AxdrFormatError(f"diagnostic source {a.diagnostic_source!r}")
    diag = BerInteger.build({"value": bytes((int(a.diagnostic),))})
    out = [
        (0xA1, BerOid.build({"value": a.application_context_name})),
        (0xA2, BerInteger.build({"value": bytes((int(a.result),))})),
        (0xA3, bytes((source, len(diag))) + diag),
    ]
    if a.responding_ap_title is not None:
        out.append((0xA4, BerOctets.build({"value": a.responding_ap_title})))
    if a.responder_acse_requirements:
        out.append((0x88, AUTHENTICATION_REQUIREMENT))
    if a.mechanism_name is not None:
        out.append((0x89, a.mechanism_name))
    if a.responding_authentication_value is not None:
        out.append((0xAA, BerGraphicString.build({"value": a.responding_authentication_value})))
    if a.user_information is not None:
        out.append(_user_info_element(a.user_information))
    return out


def _reason(e: dict[int, bytes]) -> int | None:
    return _unsigned(e[0x80]) if 0x80 in e else None


def _decode_rlrq(e: dict[int, bytes]) -> Rlrq:
    return Rlrq(_reason(e), _user_information(e[0xBE], (InitiateRequest,))
                if 0xBE in e else None)


def _decode_rlre(e: dict[int, bytes]) -> Rlre:
    return Rlre(_reason(e), _user_information(e[0xBE], (InitiateResponse,))
                if 0xBE in e else None)


def _encode_release(r: Rlrq | Rlre) -> list[tuple[int, bytes]]:
    out = [] if r.reason is None else [(0x80, bytes((int(r.reason),)))]
    if r.user_information is not None:
        out.append(_user_info_element(r.user_information))
    return out


def _enum(cls: type[enum.IntEnum], value: int) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


def _apdu(tag: bytes, decode: Any, encode: Any, cls: type) -> Construct:
    return _AcseAdapter(Struct(Const(tag), "body" / BerElements), decode, encode, cls)


CONSTRUCTS: dict[type, Construct] = {
    Aarq: _apdu(b"\x60", _decode_aarq, _encode_aarq, Aarq),
    Aare: _apdu(b"\x61", _decode_aare, _encode_aare, Aare),
    Rlrq: _apdu(b"\x62", _decode_rlrq, _encode_release, Rlrq),
    Rlre: _apdu(b"\x63", _decode_rlre, _encode_release, Rlre),
}
