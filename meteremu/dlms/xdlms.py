"""xDLMS APDUs with logical-name referencing (DLMS UA Green Book, IEC 62056-5-3), in construct.

Each APDU is a frozen dataclass; :data:`CONSTRUCTS` maps each class to the one
construct definition that parses it from and builds it into bytes
(:func:`meteremu.dlms.apdu.decode_apdu` / ``encode_apdu`` dispatch on the tag).
All integers are big-endian. ``invoke`` is the invoke-id-and-priority byte
(bits 0-3 invoke id, bit 6 service class confirmed, bit 7 priority high): a
server echoes the byte it received. ::

    C0 01 invoke  class(2) instance(6) attr(1) access?        GET-Request-Normal
    C0 02 invoke  block-number(4)                             GET-Request-Next
    C0 03 invoke  count {descriptor access?}*                 GET-Request-With-List
    C4 01 invoke  00 Data | 01 result                         GET-Response-Normal
    C4 02 invoke  last(1) block-number(4) 00 octets | 01 result  GET-Response-With-Datablock
    C4 03 invoke  count {00 Data | 01 result}*                GET-Response-With-List
    C1 01 invoke  descriptor access? Data                     SET-Request-Normal
    C1 04 invoke  count {descriptor access?}* count Data*     SET-Request-With-List
    C5 01 invoke  result                                      SET-Response-Normal
    C5 05 invoke  count result*                               SET-Response-With-List
    C3 01 invoke  class(2) instance(6) method(1) Data?        ACTION-Request-Normal
    C3 03 invoke  count method-descriptor* count Data*        ACTION-Request-With-List
    C7 01 invoke  result {00 | 01 (00 Data | 01 result)}      ACTION-Response-Normal
    C7 03 invoke  count {result return?}*                     ACTION-Response-With-List
    D8 state-error service-error [invocation counter(4)]      EXCEPTION-Response
    0E service error-type value                               Confirmed-Service-Error
    01 key? response-allowed qos? version 5F1F0400 conf(3) max-pdu(2)  InitiateRequest
    08 qos? version 5F1F0400 conf(3) max-pdu(2) 0007          InitiateResponse

``access?`` is the A-XDR OPTIONAL selective access (``00`` absent, ``01``
selector Data). An action response always ends with the return-parameters
presence byte, ``00`` when there are none (SPEC section 7).
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass, fields
from typing import Any

from construct import (
    Adapter,
    Bytes,
    Const,
    Construct,
    Flag,
    Int8sb,
    Int8ub,
    Int16ub,
    Int24ub,
    Int32ub,
    PrefixedArray,
    SizeofError,
    Struct,
    stream_read,
    stream_write,
)

from .axdr import AxdrData, AxdrFormatError, AxdrLength, AxdrOptional, Data, OctetString

__all__ = [
    "CONSTRUCTS",
    "AccessResult",
    "ActionRequestNormal",
    "ActionRequestWithList",
    "ActionResponseNormal",
    "ActionResponseWithList",
    "ActionResult",
    "AttributeDescriptor",
    "AttributeRequest",
    "ConfirmedServiceError",
    "Conformance",
    "ExceptionResponse",
    "GetRequestNext",
    "GetRequestNormal",
    "GetRequestWithList",
    "GetResponseNormal",
    "GetResponseWithDatablock",
    "GetResponseWithList",
    "InitiateRequest",
    "InitiateResponse",
    "MethodDescriptor",
    "SelectiveAccess",
    "ServiceError",
    "SetRequestNormal",
    "SetRequestWithList",
    "SetResponseNormal",
    "SetResponseWithList",
    "StateError",
]


class Conformance(enum.IntFlag):
    """The conformance block (Green Book): a BIT STRING (SIZE(24)) whose bit 0 is
    the most significant bit of the first byte, so bit ``n`` is ``1 << (23 - n)``."""

    GENERAL_PROTECTION = 1 << 22  # bit 1
    GENERAL_BLOCK_TRANSFER = 1 << 21  # bit 2
    READ = 1 << 20  # bit 3 (SN)
    WRITE = 1 << 19  # bit 4 (SN)
    UNCONFIRMED_WRITE = 1 << 18  # bit 5 (SN)
    DELTA_VALUE_ENCODING = 1 << 17  # bit 6
    ATTRIBUTE0_SUPPORTED_WITH_SET = 1 << 15  # bit 8
    PRIORITY_MGMT_SUPPORTED = 1 << 14  # bit 9
    ATTRIBUTE0_SUPPORTED_WITH_GET = 1 << 13  # bit 10
    BLOCK_TRANSFER_WITH_GET_OR_READ = 1 << 12  # bit 11
    BLOCK_TRANSFER_WITH_SET_OR_WRITE = 1 << 11  # bit 12
    BLOCK_TRANSFER_WITH_ACTION = 1 << 10  # bit 13
    MULTIPLE_REFERENCES = 1 << 9  # bit 14
    INFORMATION_REPORT = 1 << 8  # bit 15 (SN)
    DATA_NOTIFICATION = 1 << 7  # bit 16
    ACCESS = 1 << 6  # bit 17
    PARAMETERIZED_ACCESS = 1 << 5  # bit 18 (SN)
    GET = 1 << 4  # bit 19
    SET = 1 << 3  # bit 20
    SELECTIVE_ACCESS = 1 << 2  # bit 21
    EVENT_NOTIFICATION = 1 << 1  # bit 22
    ACTION = 1 << 0  # bit 23


class AccessResult(enum.IntEnum):
    """Data-Access-Result and Action-Result (they share their numbers); the
    device's ``meteremu.errors.DataAccessResult`` is a subset with equal values."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15  # long-action-aborted for ACTION
    NO_LONG_GET_IN_PROGRESS = 16  # no-long-action-in-progress for ACTION
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class StateError(enum.IntEnum):
    """EXCEPTION-Response state-error."""

    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ServiceError(enum.IntEnum):
    """EXCEPTION-Response service-error."""

    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


def _result(value: int) -> AccessResult | int:
    """A result byte as :class:`AccessResult` when it is one (a peer may send others)."""
    try:
        return AccessResult(value)
    except ValueError:
        return value


# ---------------------------------------------------------------------------
# building blocks


class _As(Adapter):
    """A Struct parsed into dataclass ``cls`` (its fields named like the Struct's)."""

    def __init__(self, cls: type, subcon: Construct) -> None:
        super().__init__(subcon)
        self.cls = cls
        self.names = [f.name for f in fields(cls)]

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        return self.cls(**{n: obj[n] for n in self.names})

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if not isinstance(obj, self.cls):
            raise AxdrFormatError(f"expected {self.cls.__name__}, got {obj!r}", path=path)
        return {n: getattr(obj, n) for n in self.names}


class _Tuple(Adapter):
    """A list parsed as a tuple (dataclasses stay hashable and immutable)."""

    def _decode(self, obj: Any, context: Any, path: str) -> tuple[Any, ...]:
        return tuple(obj)

    def _encode(self, obj: Any, context: Any, path: str) -> list[Any]:
        return list(obj)


def _Counted(subcon: Construct) -> Construct:
    return _Tuple(PrefixedArray(AxdrLength, subcon))


class _ResultByte(Adapter):
    def _decode(self, obj: int, context: Any, path: str) -> AccessResult | int:
        return _result(obj)

    def _encode(self, obj: int, context: Any, path: str) -> int:
        return int(obj)


ResultByte = _ResultByte(Int8ub)


class _DataOrResult(Construct):
    """Get-Data-Result: ``00`` Data, or ``01`` a Data-Access-Result byte."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Data | AccessResult | int:
        choice = stream_read(stream, 1, path)[0]
        if choice == 0:
            return AxdrData._parsereport(stream, context, path)
        if choice == 1:
            return _result(stream_read(stream, 1, path)[0])
        raise AxdrFormatError(f"Get-Data-Result choice {choice}", path=path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if isinstance(obj, Data):
            stream_write(stream, b"\x00", 1, path)
            return AxdrData._build(obj, stream, context, path)
        if isinstance(obj, int) and not isinstance(obj, bool) and 0 <= obj <= 255:
            stream_write(stream, bytes((1, int(obj))), 2, path)
            return obj
        raise AxdrFormatError(f"a result is Data or an access result, not {obj!r}", path=path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("variable size", path=path)


DataOrResult = _DataOrResult()


class _RawOrResult(Construct):
    """DataBlock-G result: ``00`` raw-data octet-string, or ``01`` a result byte."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> bytes | AccessResult | int:
        choice = stream_read(stream, 1, path)[0]
        if choice == 0:
            return OctetString._parsereport(stream, context, path)
        if choice == 1:
            return _result(stream_read(stream, 1, path)[0])
        raise AxdrFormatError(f"DataBlock-G choice {choice}", path=path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if isinstance(obj, bytes | bytearray):
            stream_write(stream, b"\x00", 1, path)
            return OctetString._build(bytes(obj), stream, context, path)
        if isinstance(obj, int) and not isinstance(obj, bool) and 0 <= obj <= 255:
            stream_write(stream, bytes((1, int(obj))), 2, path)
            return obj
        raise AxdrFormatError(f"raw data is bytes or an access result, not {obj!r}", path=path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("variable size", path=path)


RawOrResult = _RawOrResult()


class _AxdrDefault(Construct):
    """A-XDR DEFAULT: ``00`` the default, or ``01`` and the value (built as ``00``
    when the value is the default)."""

    def __init__(self, subcon: Construct, default: Any) -> None:
        super().__init__()
        self.subcon = subcon
        self.default = default

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        flag = stream_read(stream, 1, path)[0]
        if flag == 0:
            return self.default
        if flag != 1:
            raise AxdrFormatError(f"default flag {flag:#04x}", path=path)
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if obj == self.default:
            stream_write(stream, b"\x00", 1, path)
            return obj
        stream_write(stream, b"\x01", 1, path)
        return self.subcon._build(obj, stream, context, path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("variable size", path=path)


class _ConformanceAdapter(Adapter):
    def _decode(self, obj: int, context: Any, path: str) -> Conformance:
        return Conformance(obj)

    def _encode(self, obj: int, context: Any, path: str) -> int:
        return int(obj)


# [APPLICATION 31] IMPLICIT BIT STRING (SIZE(24)): tag 5F 1F, length 4, 0 unused bits.
ConformanceBlock = Struct(Const(b"\x5f\x1f\x04\x00"), "bits" / _ConformanceAdapter(Int24ub))


class _ConformanceField(Adapter):
    def _decode(self, obj: Any, context: Any, path: str) -> Conformance:
        return obj.bits

    def _encode(self, obj: Any, context: Any, path: str) -> dict[str, Any]:
        return {"bits": obj}


Conformance_ = _ConformanceField(ConformanceBlock)


# ---------------------------------------------------------------------------
# xDLMS-Initiate (carried in the AARQ/AARE user-information)


@dataclass(frozen=True)
class InitiateRequest:
    conformance: Conformance
    max_receive_pdu: int  # client-max-receive-pdu-size
    dlms_version: int = 6
    dedicated_key: bytes | None = None
    response_allowed: bool = True
    quality_of_service: int | None = None


@dataclass(frozen=True)
class InitiateResponse:
    conformance: Conformance  # negotiated
    max_receive_pdu: int  # server-max-receive-pdu-size
    dlms_version: int = 6
    quality_of_service: int | None = None
    vaa_name: int = 0x0007  # LN referencing


@dataclass(frozen=True)
class ConfirmedServiceError:
    """``0E`` service, error type, value: e.g. ``0E 01 06 01`` is initiateError,
    initiate, dlms-version-too-low (an AARE's user-information when the
    xDLMS-Initiate is refused)."""

    service: int  # ConfirmedServiceError CHOICE: 1 initiateError, ...
    error_type: int  # ServiceError CHOICE: 6 initiate, ...
    value: int  # e.g. initiate: 0 other, 1 dlms-version-too-low,
    #             2 incompatible-conformance, 3 pdu-size-too-short


INITIATE_ERROR = 1  # ConfirmedServiceError: initiateError
SERVICE_ERROR_INITIATE = 6  # ServiceError: initiate
INITIATE_OTHER, DLMS_VERSION_TOO_LOW, INCOMPATIBLE_CONFORMANCE, PDU_SIZE_TOO_SHORT = 0, 1, 2, 3


@dataclass(frozen=True)
class ExceptionResponse:
    state_error: StateError | int
    service_error: ServiceError | int
    invocation_counter: int | None = None  # only with invocation-counter-error


# ---------------------------------------------------------------------------
# descriptors


@dataclass(frozen=True)
class AttributeDescriptor:
    class_id: int
    instance: bytes  # the OBIS code, 6 bytes
    attribute: int


@dataclass(frozen=True)
class MethodDescriptor:
    class_id: int
    instance: bytes
    method: int


@dataclass(frozen=True)
class SelectiveAccess:
    selector: int
    parameters: Data


@dataclass(frozen=True)
class AttributeRequest:
    """One element of a with-list request: a descriptor and its selective access."""

    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None


_AttrDesc = _As(AttributeDescriptor, Struct(
    "class_id" / Int16ub, "instance" / Bytes(6), "attribute" / Int8sb))
_MethodDesc = _As(MethodDescriptor, Struct(
    "class_id" / Int16ub, "instance" / Bytes(6), "method" / Int8sb))
_Access = AxdrOptional(_As(SelectiveAccess, Struct("selector" / Int8ub,
                                                   "parameters" / AxdrData)))
_AttrRequest = _As(AttributeRequest, Struct("attribute" / _AttrDesc, "access" / _Access))


# ---------------------------------------------------------------------------
# GET


@dataclass(frozen=True)
class GetRequestNormal:
    invoke: int
    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None


@dataclass(frozen=True)
class GetRequestNext:
    invoke: int
    block_number: int  # the last block received


@dataclass(frozen=True)
class GetRequestWithList:
    invoke: int
    attributes: tuple[AttributeRequest, ...]


@dataclass(frozen=True)
class GetResponseNormal:
    invoke: int
    result: Data | AccessResult | int


@dataclass(frozen=True)
class GetResponseWithDatablock:
    invoke: int
    last: bool
    block_number: int
    raw: bytes | AccessResult | int  # raw data, or the result that ends the transfer


@dataclass(frozen=True)
class GetResponseWithList:
    invoke: int
    results: tuple[Data | AccessResult | int, ...]


# ---------------------------------------------------------------------------
# SET


@dataclass(frozen=True)
class SetRequestNormal:
    invoke: int
    attribute: AttributeDescriptor
    value: Data
    access: SelectiveAccess | None = None


@dataclass(frozen=True)
class SetRequestWithList:
    invoke: int
    attributes: tuple[AttributeRequest, ...]
    values: tuple[Data, ...]


@dataclass(frozen=True)
class SetResponseNormal:
    invoke: int
    result: AccessResult | int


@dataclass(frozen=True)
class SetResponseWithList:
    invoke: int
    results: tuple[AccessResult | int, ...]


# ---------------------------------------------------------------------------
# ACTION


@dataclass(frozen=True)
class ActionRequestNormal:
    invoke: int
    method: MethodDescriptor
    parameters: Data | None = None


@dataclass(frozen=True)
class ActionRequestWithList:
    invoke: int
    methods: tuple[MethodDescriptor, ...]
    parameters: tuple[Data, ...]  # one per method (null-data for none)


@dataclass(frozen=True)
class ActionResult:
    """Action-Response-With-Optional-Data."""

    result: AccessResult | int
    return_parameters: Data | AccessResult | int | None = None


@dataclass(frozen=True)
class ActionResponseNormal:
    invoke: int
    result: AccessResult | int
    return_parameters: Data | AccessResult | int | None = None


@dataclass(frozen=True)
class ActionResponseWithList:
    invoke: int
    results: tuple[ActionResult, ...]


_ActionResult = _As(ActionResult, Struct("result" / ResultByte,
                                         "return_parameters" / AxdrOptional(DataOrResult)))

# ---------------------------------------------------------------------------
# the definitions

CONSTRUCTS: dict[type, Construct] = {
    InitiateRequest: _As(InitiateRequest, Struct(
        Const(b"\x01"),
        "dedicated_key" / AxdrOptional(OctetString),
        "response_allowed" / _AxdrDefault(Flag, True),
        "quality_of_service" / AxdrOptional(Int8sb),
        "dlms_version" / Int8ub,
        "conformance" / Conformance_,
        "max_receive_pdu" / Int16ub,
    )),
    InitiateResponse: _As(InitiateResponse, Struct(
        Const(b"\x08"),
        "quality_of_service" / AxdrOptional(Int8sb),
        "dlms_version" / Int8ub,
        "conformance" / Conformance_,
        "max_receive_pdu" / Int16ub,
        "vaa_name" / Int16ub,
    )),
    ConfirmedServiceError: _As(ConfirmedServiceError, Struct(
        Const(b"\x0e"), "service" / Int8ub, "error_type" / Int8ub, "value" / Int8ub)),
    GetRequestNormal: _As(GetRequestNormal, Struct(
        Const(b"\xc0\x01"), "invoke" / Int8ub, "attribute" / _AttrDesc, "access" / _Access)),
    GetRequestNext: _As(GetRequestNext, Struct(
        Const(b"\xc0\x02"), "invoke" / Int8ub, "block_number" / Int32ub)),
    GetRequestWithList: _As(GetRequestWithList, Struct(
        Const(b"\xc0\x03"), "invoke" / Int8ub, "attributes" / _Counted(_AttrRequest))),
    GetResponseNormal: _As(GetResponseNormal, Struct(
        Const(b"\xc4\x01"), "invoke" / Int8ub, "result" / DataOrResult)),
    GetResponseWithDatablock: _As(GetResponseWithDatablock, Struct(
        Const(b"\xc4\x02"), "invoke" / Int8ub, "last" / Flag, "block_number" / Int32ub,
        "raw" / RawOrResult)),
    GetResponseWithList: _As(GetResponseWithList, Struct(
        Const(b"\xc4\x03"), "invoke" / Int8ub, "results" / _Counted(DataOrResult))),
    SetRequestNormal: _As(SetRequestNormal, Struct(
        Const(b"\xc1\x01"), "invoke" / Int8ub, "attribute" / _AttrDesc, "access" / _Access,
        "value" / AxdrData)),
    SetRequestWithList: _As(SetRequestWithList, Struct(
        Const(b"\xc1\x04"), "invoke" / Int8ub, "attributes" / _Counted(_AttrRequest),
        "values" / _Counted(AxdrData))),
    SetResponseNormal: _As(SetResponseNormal, Struct(
        Const(b"\xc5\x01"), "invoke" / Int8ub, "result" / ResultByte)),
    SetResponseWithList: _As(SetResponseWithList, Struct(
        Const(b"\xc5\x05"), "invoke" / Int8ub, "results" / _Counted(ResultByte))),
    ActionRequestNormal: _As(ActionRequestNormal, Struct(
        Const(b"\xc3\x01"), "invoke" / Int8ub, "method" / _MethodDesc,
        "parameters" / AxdrOptional(AxdrData))),
    ActionRequestWithList: _As(ActionRequestWithList, Struct(
        Const(b"\xc3\x03"), "invoke" / Int8ub, "methods" / _Counted(_MethodDesc),
        "parameters" / _Counted(AxdrData))),
    ActionResponseNormal: _As(ActionResponseNormal, Struct(
        Const(b"\xc7\x01"), "invoke" / Int8ub, "result" / ResultByte,
        "return_parameters" / AxdrOptional(DataOrResult))),
    ActionResponseWithList: _As(ActionResponseWithList, Struct(
        Const(b"\xc7\x03"), "invoke" / Int8ub, "results" / _Counted(_ActionResult))),
}


class _ExceptionResponse(Construct):
    """``D8`` state-error service-error, and the invocation counter after
    invocation-counter-error (6)."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> ExceptionResponse:
        tag, state, service = stream_read(stream, 3, path)
        if tag != 0xD8:
            raise AxdrFormatError("not an exception-response", path=path)
        counter = None
        if service == ServiceError.INVOCATION_COUNTER_ERROR:
            counter = int.from_bytes(stream_read(stream, 4, path), "big")
        return ExceptionResponse(_enum(StateError, state), _enum(ServiceError, service), counter)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if not isinstance(obj, ExceptionResponse):
            raise AxdrFormatError(f"expected ExceptionResponse, got {obj!r}", path=path)
        try:
            out = bytes((0xD8, int(obj.state_error), int(obj.service_error)))
            if obj.service_error == ServiceError.INVOCATION_COUNTER_ERROR:
                out += int(obj.invocation_counter or 0).to_bytes(4, "big")
        except (ValueError, OverflowError, TypeError) as exc:
            raise AxdrFormatError(f"exception-response field out of range: {exc}",
                                  path=path) from None
        stream_write(stream, out, len(out), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("variable size", path=path)


def _enum(cls: type[enum.IntEnum], value: int) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


CONSTRUCTS[ExceptionResponse] = _ExceptionResponse()
