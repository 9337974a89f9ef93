"""Every APDU meteremu speaks, decoded from and encoded to bytes in one place.

:func:`decode_apdu` reads one whole APDU (ACSE or xDLMS, either direction) into
its dataclass, or raises :class:`~meteremu.dlms.errors.ApduError` -- nothing
else, whatever the bytes (``tests/test_dlms_fuzz.py`` holds it to that). An
APDU this implementation does not serve (a ciphered APDU, a block transfer of
SET or ACTION, an SN service) raises :class:`UnsupportedApdu`, an ``ApduError``
that says so, so a server can answer "service not supported" rather than
"malformed". :func:`encode_apdu` builds any of the dataclasses; a value that
does not fit its field is the caller's bug
(:class:`~meteremu.errors.UsageError`). The common requests and responses take
a ``struct`` fast path first (:mod:`.fast`), which agrees with the construct
definitions byte for byte and leaves everything unusual to them.
"""

from __future__ import annotations

import io
from typing import Any

from construct import Construct, ConstructError

from ..errors import UsageError
from . import acse, xdlms
from .errors import ApduError
from .fast import decode_apdu_fast, encode_apdu_fast

__all__ = [
    "APDU_TYPES",
    "UnsupportedApdu",
    "decode_apdu",
    "decode_with_construct",
    "encode_apdu",
    "encode_with_construct",
]

_CONSTRUCTS: dict[type, Construct] = {**acse.CONSTRUCTS, **xdlms.CONSTRUCTS}
APDU_TYPES: tuple[type, ...] = tuple(_CONSTRUCTS)

# tag -> class, for the APDUs without a CHOICE byte after the tag
_BY_TAG: dict[int, type] = {
    0x60: acse.Aarq, 0x61: acse.Aare, 0x62: acse.Rlrq, 0x63: acse.Rlre,
    0x01: xdlms.InitiateRequest, 0x08: xdlms.InitiateResponse,
    0x0E: xdlms.ConfirmedServiceError, 0xD8: xdlms.ExceptionResponse,
}
# (tag, choice) -> class, for GET/SET/ACTION
_BY_CHOICE: dict[tuple[int, int], type] = {
    (0xC0, 1): xdlms.GetRequestNormal, (0xC0, 2): xdlms.GetRequestNext,
    (0xC0, 3): xdlms.GetRequestWithList,
    (0xC4, 1): xdlms.GetResponseNormal, (0xC4, 2): xdlms.GetResponseWithDatablock,
    (0xC4, 3): xdlms.GetResponseWithList,
    (0xC1, 1): xdlms.SetRequestNormal, (0xC1, 4): xdlms.SetRequestWithList,
    (0xC5, 1): xdlms.SetResponseNormal, (0xC5, 5): xdlms.SetResponseWithList,
    (0xC3, 1): xdlms.ActionRequestNormal, (0xC3, 3): xdlms.ActionRequestWithList,
    (0xC7, 1): xdlms.ActionResponseNormal, (0xC7, 3): xdlms.ActionResponseWithList,
}
_CHOICE_TAGS = {tag for tag, _ in _BY_CHOICE}
_SERVICES = {0xC0: "GET-Request", 0xC1: "SET-Request", 0xC3: "ACTION-Request",
             0xC4: "GET-Response", 0xC5: "SET-Response", 0xC7: "ACTION-Response"}


class UnsupportedApdu(ApduError):
    """A well-known APDU tag (or tag and CHOICE) this implementation does not serve.
    ``tag`` is the first byte; ``known`` says whether it is a service DLMS defines
    (a variant not implemented here) or a tag unknown to it."""

    def __init__(self, detail: str, tag: int, known: bool) -> None:
        super().__init__(detail)
        self.tag = tag
        self.known = known


# Tags DLMS defines that meteremu does not serve (SN services, notifications,
# ciphered APDUs, general block transfer...): "not supported", not "garbage".
_KNOWN_UNSERVED = {
    0x05: "ReadRequest", 0x06: "WriteRequest", 0x07: "UnconfirmedWriteRequest",
    0x0C: "ReadResponse", 0x0D: "WriteResponse", 0x0F: "data-notification",
    0x18: "InformationReportRequest", 0x21: "glo-initiateRequest",
    0x28: "glo-initiateResponse", 0xC2: "event-notification-request",
    0xD9: "access-request", 0xDA: "access-response", 0xDB: "general-glo-ciphering",
    0xDC: "general-ded-ciphering", 0xDD: "general-ciphering", 0xE0: "general-block-transfer",
    **{t: "glo-ciphered xDLMS" for t in range(0xC8, 0xD0)},
    **{t: "ded-ciphered xDLMS" for t in range(0xD0, 0xD8)},
}


def _class_of(raw: bytes) -> type:
    if not raw:
        raise ApduError("empty APDU")
    tag = raw[0]
    cls = _BY_TAG.get(tag)
    if cls is not None:
        return cls
    if tag in _CHOICE_TAGS:
        if len(raw) < 2:
            raise ApduError(f"{_SERVICES[tag]} without its CHOICE byte")
        cls = _BY_CHOICE.get((tag, raw[1]))
        if cls is None:
            raise UnsupportedApdu(f"{_SERVICES[tag]} CHOICE {raw[1]} is not supported",
                                  tag, known=True)
        return cls
    if tag in _KNOWN_UNSERVED:
        raise UnsupportedApdu(f"{_KNOWN_UNSERVED[tag]} ({tag:#04x}) is not supported",
                              tag, known=True)
    raise UnsupportedApdu(f"unknown APDU tag {tag:#04x}", tag, known=False)


def decode_apdu(raw: bytes) -> Any:
    """One whole APDU as its dataclass; :class:`ApduError` when it is not one."""
    raw = bytes(raw)
    fast = decode_apdu_fast(raw)  # the common requests and responses, by struct
    if fast is not None:
        return fast
    return decode_with_construct(raw)


def decode_with_construct(raw: bytes) -> Any:
    """:func:`decode_apdu` by the construct definitions alone (the fast path's
    reference: tests check the two agree)."""
    raw = bytes(raw)
    cls = _class_of(raw)
    stream = io.BytesIO(raw)
    try:
        value = _CONSTRUCTS[cls].parse_stream(stream)
    except ConstructError as exc:
        raise ApduError(f"{cls.__name__}: {_short(exc)}") from None
    if stream.tell() != len(raw):
        raise ApduError(f"{cls.__name__}: {len(raw) - stream.tell()} bytes after the APDU")
    return value


def encode_apdu(apdu: Any) -> bytes:
    """The bytes of ``apdu`` (one of :data:`APDU_TYPES`)."""
    fast = encode_apdu_fast(apdu)
    if fast is not None:
        return fast
    return encode_with_construct(apdu)


def encode_with_construct(apdu: Any) -> bytes:
    """:func:`encode_apdu` by the construct definitions alone."""
    con = _CONSTRUCTS.get(type(apdu))
    if con is None:
        raise UsageError(f"not an APDU: {apdu!r}")
    try:
        return bytes(con.build(apdu))
    except (ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise UsageError(f"cannot encode {type(apdu).__name__}: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
