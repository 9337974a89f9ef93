"""One DLMS/COSEM association as a sans-I/O state machine: APDU in, APDU out.

An :class:`Association` serves one client (a SAP of the
:class:`~.security.SecurityPolicy`) on one meter for the life of one
connection: AARQ first, RLRQ last (SPEC section 7). It never touches a socket
or a clock; :mod:`meteremu.dlms.connection` feeds it the APDUs of a TCP
wrapper connection (an HDLC link could feed it the same way).

States and what moves them -- all of it is here, as data:

* :data:`TRANSITIONS`: ``(state, step) -> state``; a pair not in it is a bug
  (``MeterUsageError``);
* :data:`SERVICES`: the APDUs a state lets a client send; anything else gets
  an exception-response and changes nothing.

What a request cannot get is answered through the error model only:
whatever the meter (or this layer) raises, ``dlms_outcome(exc)`` says the
answer -- a Data-Access-Result in the response, an AARE rejection, or
closing the connection (``MeterUnavailable``, or a bug). Every COSEM call
names the association's client. The first successful management
association confirms an image on trial (``meter.heartbeat()``, SPEC section
5); it is called on every management association and is a no-op when
nothing is on trial.

Wire facts this follows (SPEC section 7): the invoke-id-and-priority byte is
echoed as received; a SET or ACTION whose service-class bit (0x40) is clear
is unconfirmed and gets no response; negotiated conformance = proposed AND
:data:`SUPPORTED`; a client's proposed max PDU up to 65535 is accepted, and a
response longer than it goes out in GET blocks (the object list does at small
PDU sizes); an action response always ends with the "no return parameters"
byte.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..device.cosem import BY_OBIS, Client, CosemObject, obis_str
from ..errors import (
    AareRejection,
    AuthenticationFailure,
    DataAccessResult,
    MeterUnavailable,
    MeterUsageError,
    ObjectUndefined,
    PeerError,
    dlms_outcome,
)
from . import acse, xdlms
from .acse import Aare, Aarq, AssociationResult, Rlre, Rlrq, SourceDiagnostic
from .apdu import UnsupportedApdu, decode_apdu, encode_apdu
from .axdr import AxdrLength, Data, DataType, encode_data
from .errors import ApduError
from .events import (
    ApduRefused,
    Associated,
    AssociationRejected,
    ConnectionClosed,
    Event,
    Released,
    Served,
)
from .fast import get_response_normal
from .security import ClientAccess, Granted, SecurityPolicy
from .shortcuts import (
    NOT_SHORT,
    Answered,
    CloseConnection,
    Shortcuts,
    result_name,
    reusable,
)
from .values import attribute_schema, from_data, method_schema, python_value, to_data
from .xdlms import AccessResult, Conformance, ServiceError, StateError

__all__ = [
    "DEFAULT_MAX_RECEIVE_PDU",
    "SERVICES",
    "SUPPORTED",
    "TRANSITIONS",
    "Association",
    "MeterLike",
    "State",
    "Step",
]

#: The conformance this server offers; negotiated = the client's proposal AND this.
SUPPORTED = (Conformance.GET | Conformance.SET | Conformance.ACTION
             | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ | Conformance.MULTIPLE_REFERENCES)
_NEEDED = Conformance.GET | Conformance.SET | Conformance.ACTION  # at least one of them
DEFAULT_MAX_RECEIVE_PDU = 1024  # server-max-receive-pdu-size (SPEC: at least 256)
MIN_CLIENT_PDU = 12  # a smaller client-max-receive-pdu-size is refused (pdu-size-too-short)
CONFIRMED = 0x40  # invoke-id-and-priority: service class confirmed
ASSOCIATION_LN = bytes((0, 0, 40, 0, 0, 255))
REPLY_TO_HLS_AUTHENTICATION = 1  # Association LN method 1


class MeterLike(Protocol):
    """What an association needs of a meter (``VirtualMeter`` has it)."""

    @property
    def available(self) -> bool: ...
    def get(self, obis: bytes, attr: int, client: Client) -> Any: ...
    def set(self, obis: bytes, attr: int, value: Any, client: Client) -> None: ...
    def action(self, obis: bytes, method: int, param: Any, client: Client) -> Any: ...
    def heartbeat(self) -> bool: ...


class State(enum.Enum):
    IDLE = "idle"  # waiting for an AARQ
    AUTHENTICATING = "authenticating"  # HLS: accepted, waiting for the client's reply
    ASSOCIATED = "associated"
    RELEASED = "released"  # RLRE sent (or the connection is closing): nothing more


#: read per request: module names, not an Enum class's attributes (a lookup each)
_RELEASED, _ASSOCIATED = State.RELEASED, State.ASSOCIATED


class Step(enum.Enum):
    ACCEPTED = "accepted"  # AARQ accepted
    CHALLENGED = "challenged"  # AARQ accepted pending the HLS reply
    REJECTED = "rejected"  # AARQ (or HLS reply) refused
    PROVEN = "proven"  # HLS reply accepted
    RELEASED = "released"  # RLRQ answered
    CLOSED = "closed"  # the connection closes


_S, _P = State, Step
TRANSITIONS: dict[tuple[State, Step], State] = {
    (_S.IDLE, _P.ACCEPTED): _S.ASSOCIATED,
    (_S.IDLE, _P.CHALLENGED): _S.AUTHENTICATING,
    (_S.IDLE, _P.REJECTED): _S.IDLE,
    (_S.AUTHENTICATING, _P.PROVEN): _S.ASSOCIATED,
    (_S.AUTHENTICATING, _P.REJECTED): _S.IDLE,
    (_S.ASSOCIATED, _P.REJECTED): _S.ASSOCIATED,  # a second AARQ: refused, the first stands
    **{(s, _P.RELEASED): _S.RELEASED for s in (_S.IDLE, _S.AUTHENTICATING, _S.ASSOCIATED)},
    **{(s, _P.CLOSED): _S.RELEASED for s in State},
}

_REQUESTS = (xdlms.GetRequestNormal, xdlms.GetRequestNext, xdlms.GetRequestWithList,
             xdlms.SetRequestNormal, xdlms.SetRequestWithList,
             xdlms.ActionRequestNormal, xdlms.ActionRequestWithList)
#: The APDUs each state lets a client send.
SERVICES: dict[State, frozenset[type]] = {
    _S.IDLE: frozenset({Aarq, Rlrq}),
    _S.AUTHENTICATING: frozenset({xdlms.ActionRequestNormal, Rlrq}),
    _S.ASSOCIATED: frozenset({Aarq, Rlrq, *_REQUESTS}),
    _S.RELEASED: frozenset(),
}
# The conformance bit each request needs.
_NEEDS: dict[type, Conformance] = {
    xdlms.GetRequestNormal: Conformance.GET,
    xdlms.GetRequestNext: Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ,
    xdlms.GetRequestWithList: Conformance.GET | Conformance.MULTIPLE_REFERENCES,
    xdlms.SetRequestNormal: Conformance.SET,
    xdlms.SetRequestWithList: Conformance.SET | Conformance.MULTIPLE_REFERENCES,
    xdlms.ActionRequestNormal: Conformance.ACTION,
    xdlms.ActionRequestWithList: Conformance.ACTION | Conformance.MULTIPLE_REFERENCES,
}


_Close = CloseConnection  # the connection closes without an answer




@dataclass
class _LongGet:
    """A GET response going out in blocks."""

    invoke: int
    payload: bytes
    chunk: int
    sent: int = 0  # the last block number sent (1-based)
    offset: int = 0


@dataclass
class _Negotiated:
    conformance: Conformance
    client_max_pdu: int
    access: ClientAccess
    granted: Granted = field(default_factory=Granted)
    negotiated: frozenset[type] = frozenset()  # the requests whose conformance bits it has

    def __post_init__(self) -> None:
        c = int(self.conformance)
        self.negotiated = frozenset(kind for kind, need in _NEEDS.items()
                                    if c & int(need) == int(need))


@functools.lru_cache(maxsize=1024)
def _served_event(service: str, instance: bytes, index: int, result: int) -> Served:
    """The (immutable) event of one item served: made once for each outcome."""
    return Served(service, obis_str(instance), index, result_name(result))


_SCHEMAS: dict[tuple[str, str, int], Any] = {}  # the table's schemas, looked up once


def _attribute_schema(obj: CosemObject, attr: int) -> Any:
    key = ("attribute", obj.obis, attr)
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = _SCHEMAS[key] = attribute_schema(obj, attr)  # KeyError: no such attribute
    return schema


def _method_schema(obj: CosemObject, method: int) -> Any:
    key = ("method", obj.obis, method)
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = _SCHEMAS[key] = method_schema(obj, method)
    return schema


class Association(Shortcuts):
    """One client's association with one meter, for one connection.

    ``receive(apdu)`` returns the response APDU (None when there is none to
    send) and queues :mod:`~.events`; :attr:`closing` is set when the
    connection must close (after sending the response, if any). A repeated
    GET and a class 18 block take the shortcuts of :mod:`.shortcuts` (same
    bytes, same events); ``shortcuts=False`` sends every request through the
    decoder, as the tests that compare the two do.
    """

    def __init__(self, meter: MeterLike, *, client_sap: int, meter_address: int,
                 policy: SecurityPolicy,
                 max_receive_pdu: int = DEFAULT_MAX_RECEIVE_PDU,
                 shortcuts: bool = True) -> None:
        if not 256 <= max_receive_pdu <= 0xFFFF:
            raise MeterUsageError("server max receive PDU is 256..65535 (SPEC section 7)")
        self.meter = meter
        self.shortcuts = shortcuts  # False: every request decoded and answered afresh
        self.client_sap = client_sap
        self.meter_address = meter_address
        self.policy = policy
        self.max_receive_pdu = max_receive_pdu
        self.state = State.IDLE
        self.closing: str | None = None
        self._events: list[Event] = []
        self._n: _Negotiated | None = None
        self._long_get: _LongGet | None = None
        self._answered: dict[bytes, Answered] = {}  # GET request APDU -> its answer

    # ---------------------------------------------------------------- state
    def _step(self, step: Step) -> None:
        nxt = TRANSITIONS.get((self.state, step))
        if nxt is None:
            raise MeterUsageError(f"no transition from {self.state.value} on {step.value}")
        self.state = nxt

    def drain_events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    @property
    def client(self) -> Client | None:
        """The COSEM client the association runs as (None before it is accepted)."""
        return None if self._n is None else self._n.access.client

    @property
    def conformance(self) -> Conformance:
        return Conformance(0) if self._n is None else self._n.conformance

    def close(self, reason: str) -> None:
        """The connection ends (transport closed, idle timeout...)."""
        if self.state is not State.RELEASED:
            self._step(Step.CLOSED)
        if self.closing is None:
            self.closing = reason
            self._events.append(ConnectionClosed(reason))

    # ---------------------------------------------------------------- entry point
    def receive(self, raw: bytes) -> bytes | None:
        """One APDU from the client; the response APDU, or None."""
        state = self.state
        if state is _RELEASED:
            return None
        if state is _ASSOCIATED and self.shortcuts:
            try:
                reply = self._shortcut(raw)
            except _Close as exc:
                self.close(exc.reason)
                return None
            if reply is not NOT_SHORT:
                return reply
        try:
            apdu = decode_apdu(raw)
        except UnsupportedApdu as exc:
            state = StateError.SERVICE_NOT_ALLOWED if exc.known else StateError.SERVICE_UNKNOWN
            return self._refuse(str(exc), state, ServiceError.SERVICE_NOT_SUPPORTED)
        except ApduError as exc:
            if raw[:1] == b"\x60" and self.state is State.IDLE:  # a broken AARQ
                return self._reject(SourceDiagnostic.NO_REASON_GIVEN, f"AARQ: {exc}")
            return self._refuse(f"malformed APDU: {exc}", StateError.SERVICE_NOT_ALLOWED,
                                ServiceError.OTHER_REASON)
        kind = type(apdu)
        if kind not in SERVICES[self.state]:
            return self._refuse(f"{kind.__name__} not allowed while {self.state.value}",
                                StateError.SERVICE_NOT_ALLOWED,
                                ServiceError.OPERATION_NOT_POSSIBLE)
        try:
            if kind is Aarq:
                return self._aarq(apdu)
            if kind is Rlrq:
                return self._rlrq(apdu)
            if self.state is State.AUTHENTICATING:
                return self._hls_reply(apdu)
            assert self._n is not None
            if kind not in self._n.negotiated:
                return self._refuse(f"{kind.__name__} was not negotiated",
                                    StateError.SERVICE_NOT_ALLOWED,
                                    ServiceError.SERVICE_NOT_SUPPORTED)
            return self._request(apdu, raw)
        except _Close as exc:
            self.close(exc.reason)
            return None

    def _refuse(self, reason: str, state: StateError, service: ServiceError) -> bytes:
        self._events.append(ApduRefused(reason))
        return encode_apdu(xdlms.ExceptionResponse(state, service))

    def _outcome(self, exc: BaseException) -> AccessResult:
        """The Data-Access-Result for ``exc``, by the error model; close otherwise."""
        outcome = dlms_outcome(exc)
        if isinstance(outcome, DataAccessResult):
            return AccessResult(int(outcome))
        raise _Close(f"{type(exc).__name__}: {exc}")

    # ---------------------------------------------------------------- ACSE
    def _reject(self, diagnostic: int, reason: str,
                user_information: Any = None) -> bytes:
        self._step(Step.REJECTED)
        self._events.append(AssociationRejected(self.client_sap, int(diagnostic), reason))
        return encode_apdu(Aare(AssociationResult.REJECTED_PERMANENT, int(diagnostic),
                                user_information=user_information))

    def _initiate_error(self, value: int, reason: str) -> bytes:
        return self._reject(SourceDiagnostic.NO_REASON_GIVEN, reason, xdlms.ConfirmedServiceError(
            xdlms.INITIATE_ERROR, xdlms.SERVICE_ERROR_INITIATE, value))

    def _aarq(self, aarq: Aarq) -> bytes:
        if self.state is not State.IDLE:
            return self._reject(SourceDiagnostic.NO_REASON_GIVEN,
                                "already associated: one association per connection")
        if aarq.application_context_name != acse.LN_NO_CIPHERING:
            return self._reject(SourceDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
                                "only LN referencing without ciphering is served")
        ini = aarq.user_information
        if not isinstance(ini, xdlms.InitiateRequest):
            return self._initiate_error(xdlms.INITIATE_OTHER, "no xDLMS InitiateRequest")
        if ini.dlms_version < 6:
            return self._initiate_error(xdlms.DLMS_VERSION_TOO_LOW,
                                        f"DLMS version {ini.dlms_version}")
        conformance = Conformance(int(ini.conformance) & int(SUPPORTED))
        if not conformance & _NEEDED:
            return self._initiate_error(xdlms.INCOMPATIBLE_CONFORMANCE,
                                        f"proposed conformance {int(ini.conformance):#08x}")
        if ini.max_receive_pdu < MIN_CLIENT_PDU:
            return self._initiate_error(xdlms.PDU_SIZE_TOO_SHORT,
                                        f"client max receive PDU {ini.max_receive_pdu}")
        try:
            access = self.policy.lookup(self.client_sap)
            granted = access.authentication.authenticate(aarq)
            if not self.meter.available:
                raise MeterUnavailable("the meter does not answer")
        except Exception as exc:
            outcome = dlms_outcome(exc)
            if isinstance(outcome, AareRejection):
                return self._reject(outcome.diagnostic, getattr(exc, "detail", "") or str(exc))
            raise _Close(f"AARQ: {type(exc).__name__}: {exc}") from None
        self._n = _Negotiated(conformance, ini.max_receive_pdu, access, granted)
        if granted.pending:
            self._step(Step.CHALLENGED)
        else:
            self._accept()
        return encode_apdu(Aare(
            AssociationResult.ACCEPTED, SourceDiagnostic.NULL,
            mechanism_name=granted.mechanism_name,
            responding_authentication_value=granted.responding_authentication_value,
            responder_acse_requirements=granted.responding_authentication_value is not None,
            user_information=xdlms.InitiateResponse(conformance, self.max_receive_pdu)))

    def _accept(self) -> None:
        """The association stands: the heartbeat for a management client (SPEC 5)."""
        assert self._n is not None
        heartbeat = False
        if self._n.access.client is Client.MANAGEMENT:
            try:
                heartbeat = bool(self.meter.heartbeat())
            except Exception as exc:  # a meter that does not answer (or a bug): silence
                raise _Close(f"heartbeat: {type(exc).__name__}: {exc}") from None
        self._step(Step.ACCEPTED if self.state is State.IDLE else Step.PROVEN)
        self._events.append(Associated(self.client_sap, self.meter_address,
                                       int(self._n.conformance), self._n.client_max_pdu,
                                       heartbeat))

    def _hls_reply(self, apdu: Any) -> bytes:
        """AUTHENTICATING: only reply_to_HLS_authentication (0.0.40.0.0.255 method 1),
        checked by the client's strategy; its proof goes back as return parameters."""
        assert self._n is not None
        m = apdu.method
        if (m.class_id, m.instance, m.method) != (15, ASSOCIATION_LN,
                                                   REPLY_TO_HLS_AUTHENTICATION):
            return self._refuse("only the HLS reply is accepted before authentication ends",
                                StateError.SERVICE_NOT_ALLOWED,
                                ServiceError.OPERATION_NOT_POSSIBLE)
        reply = apdu.parameters.value if isinstance(apdu.parameters, Data) else None
        try:
            if not isinstance(reply, bytes):
                raise AuthenticationFailure("the HLS reply is an octet-string")
            proof = self._n.access.authentication.finish(self._n.granted, reply)
        except Exception as exc:
            outcome = dlms_outcome(exc)
            if not isinstance(outcome, AareRejection):
                raise _Close(f"HLS reply: {type(exc).__name__}: {exc}") from None
            self._step(Step.REJECTED)
            self._events.append(AssociationRejected(self.client_sap, outcome.diagnostic,
                                                    str(exc)))
            return encode_apdu(xdlms.ActionResponseNormal(apdu.invoke,
                                                          AccessResult.OTHER_REASON))
        self._accept()
        return encode_apdu(xdlms.ActionResponseNormal(
            apdu.invoke, AccessResult.SUCCESS, Data(DataType.OCTET_STRING, proof)))

    def _rlrq(self, rlrq: Rlrq) -> bytes:
        self._step(Step.RELEASED)
        self._events.append(Released(self.client_sap))
        self.closing = "released"
        self._events.append(ConnectionClosed("released"))
        user_information = None
        if isinstance(rlrq.user_information, xdlms.InitiateRequest) and self._n is not None:
            user_information = xdlms.InitiateResponse(self._n.conformance, self.max_receive_pdu)
        return encode_apdu(Rlre(0, user_information))

    # ---------------------------------------------------------------- xDLMS
    def _request(self, apdu: Any, raw: bytes = b"") -> bytes | None:
        kind = type(apdu)
        if kind is not xdlms.GetRequestNext:
            self._long_get = None  # any other request ends a long GET
        if kind is xdlms.GetRequestNormal:
            found: list[Any] = []
            result = self._get(apdu.attribute, apdu.access, found)
            if isinstance(result, Data):
                whole = self._data_reply(apdu.invoke, result)
                if self.shortcuts and found and reusable(found[0], whole) \
                        and type(raw) is bytes:
                    self._remember(raw, Answered(
                        apdu.attribute.instance, apdu.attribute.attribute, apdu.invoke,
                        found[1], found[0], whole, self._events[-1]))
                return whole
            return encode_apdu(xdlms.GetResponseNormal(apdu.invoke, result))
        if kind is xdlms.GetRequestNext:
            return self._get_next(apdu)
        if kind is xdlms.GetRequestWithList:
            results = tuple(self._get(a.attribute, a.access) for a in apdu.attributes)
            payload = _list_payload(results)
            return self._get_response(apdu.invoke, payload,
                                      xdlms.GetResponseWithList(apdu.invoke, results))
        confirmed = bool(apdu.invoke & CONFIRMED)
        if kind is xdlms.SetRequestNormal:
            r = self._set(apdu.attribute, apdu.access, apdu.value)
            return encode_apdu(xdlms.SetResponseNormal(apdu.invoke, r)) if confirmed else None
        if kind is xdlms.SetRequestWithList:
            if len(apdu.values) != len(apdu.attributes):
                return self._refuse("SET with-list: as many values as attributes",
                                    StateError.SERVICE_NOT_ALLOWED, ServiceError.OTHER_REASON)
            rs = tuple(self._set(a.attribute, a.access, v)
                       for a, v in zip(apdu.attributes, apdu.values, strict=True))
            return encode_apdu(xdlms.SetResponseWithList(apdu.invoke, rs)) if confirmed else None
        if kind is xdlms.ActionRequestNormal:
            r = self._action(apdu.method, apdu.parameters)
            return encode_apdu(xdlms.ActionResponseNormal(apdu.invoke, r)) if confirmed else None
        if kind is xdlms.ActionRequestWithList:
            if len(apdu.parameters) != len(apdu.methods):
                return self._refuse("ACTION with-list: as many parameters as methods",
                                    StateError.SERVICE_NOT_ALLOWED, ServiceError.OTHER_REASON)
            results = tuple(xdlms.ActionResult(self._action(m, p))
                            for m, p in zip(apdu.methods, apdu.parameters, strict=True))
            return encode_apdu(xdlms.ActionResponseWithList(apdu.invoke, results)) \
                if confirmed else None
        raise MeterUsageError(f"no handler for {kind.__name__}")  # SERVICES and this agree

    def _data_reply(self, invoke: int, data: Data) -> bytes:
        """GET-Response-Normal with ``data``, or its first block when too long."""
        assert self._n is not None
        payload = encode_data(data)
        whole = get_response_normal(invoke, payload)
        if len(whole) <= self._n.client_max_pdu:  # the usual case: no blocks
            return whole
        return self._get_response(invoke, payload, xdlms.GetResponseNormal(invoke, data))

    def _object(self, instance: bytes, class_id: int) -> CosemObject:
        obj = BY_OBIS.get(instance)
        if obj is None or obj.class_id != class_id:
            raise ObjectUndefined(f"no object {obis_str(instance)} of class {class_id}")
        return obj

    def _served(self, service: str, instance: bytes, index: int, result: int) -> None:
        self._events.append(_served_event(service, instance, index, int(result)))

    def _get(self, d: xdlms.AttributeDescriptor, access: Any,
             found: list[Any] | None = None) -> Data | AccessResult:
        """One attribute's Data, or the result that refuses it; ``found`` gets the
        meter's value and the attribute's schema when it is read."""
        assert self._n is not None
        try:
            obj = self._object(d.instance, d.class_id)
            if access is not None:
                raise PeerError("selective access is not supported")
            value = self.meter.get(d.instance, d.attribute, self._n.access.client)
            schema = _attribute_schema(obj, d.attribute)
            data = to_data(value, schema)
            if found is not None:
                found += (value, schema)
        except _Close:
            raise
        except Exception as exc:
            result = self._outcome(exc)
            self._served("get", d.instance, d.attribute, result)
            return result
        self._served("get", d.instance, d.attribute, AccessResult.SUCCESS)
        return data

    def _peer_value(self, data: Data, schema: Callable[[], Any]) -> Any:
        """What the client sent, as the meter takes it: by the table's type when it
        fits; otherwise the natural value, so the meter decides (its access check
        comes before its type check: a denied write stays denied)."""
        try:
            return from_data(data, schema())
        except (KeyError, PeerError):
            return python_value(data)

    def _set(self, d: xdlms.AttributeDescriptor, access: Any, value: Data) -> AccessResult:
        assert self._n is not None
        try:
            obj = self._object(d.instance, d.class_id)
            if access is not None:
                raise PeerError("selective access is not supported")
            py = self._peer_value(value, lambda: _attribute_schema(obj, d.attribute))
            self.meter.set(d.instance, d.attribute, py, self._n.access.client)
            result = AccessResult.SUCCESS
        except _Close:
            raise
        except Exception as exc:
            result = self._outcome(exc)
        self._served("set", d.instance, d.attribute, result)
        return result

    def _action(self, m: xdlms.MethodDescriptor, param: Data | None) -> AccessResult:
        assert self._n is not None
        try:
            obj = self._object(m.instance, m.class_id)
            py = None if param is None else self._peer_value(
                param, lambda: _method_schema(obj, m.method))
            self.meter.action(m.instance, m.method, py, self._n.access.client)
            result = AccessResult.SUCCESS
        except _Close:
            raise
        except Exception as exc:
            result = self._outcome(exc)
        self._served("action", m.instance, m.method, result)
        return result

    # ---------------------------------------------------------------- GET blocks
    def _get_response(self, invoke: int, payload: bytes, whole: Any) -> bytes:
        """``whole`` when it fits the client's PDU; else the first of the blocks of
        ``payload`` (the Data, or the with-list results, as raw data)."""
        assert self._n is not None
        raw = encode_apdu(whole)
        limit = self._n.client_max_pdu
        if len(raw) <= limit:
            return raw
        if not self._n.conformance & Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ:
            self._events.append(ApduRefused(f"a {len(raw)}-byte response, the client takes "
                                            f"{limit} and no block transfer"))
            if isinstance(whole, xdlms.GetResponseWithList):
                return encode_apdu(xdlms.GetResponseWithList(
                    invoke, tuple(AccessResult.OTHER_REASON for _ in whole.results)))
            return encode_apdu(xdlms.GetResponseNormal(invoke, AccessResult.OTHER_REASON))
        self._long_get = _LongGet(invoke, payload, _block_chunk(limit))
        return self._next_block(invoke)

    def _next_block(self, invoke: int) -> bytes:
        lg = self._long_get
        assert lg is not None
        chunk = lg.payload[lg.offset:lg.offset + lg.chunk]
        lg.offset += len(chunk)
        lg.sent += 1
        last = lg.offset >= len(lg.payload)
        if last:
            self._long_get = None
        return encode_apdu(xdlms.GetResponseWithDatablock(invoke, last, lg.sent, chunk))

    def _get_next(self, apdu: xdlms.GetRequestNext) -> bytes:
        lg = self._long_get
        if lg is None:
            return encode_apdu(xdlms.GetResponseWithDatablock(
                apdu.invoke, True, apdu.block_number, AccessResult.NO_LONG_GET_IN_PROGRESS))
        if apdu.block_number != lg.sent:
            self._long_get = None
            return encode_apdu(xdlms.GetResponseWithDatablock(
                apdu.invoke, True, apdu.block_number, AccessResult.LONG_GET_ABORTED))
        return self._next_block(apdu.invoke)


def _list_payload(results: tuple[Data | AccessResult, ...]) -> bytes:
    """The raw data of a with-list response sent in blocks: the SEQUENCE OF
    Get-Data-Result (count, then 00 Data | 01 result each)."""
    out = bytearray(AxdrLength.build(len(results)))
    for r in results:
        out += b"\x00" + encode_data(r) if isinstance(r, Data) else bytes((1, int(r)))
    return bytes(out)


def _block_chunk(max_pdu: int) -> int:
    """The most raw-data bytes a GET-Response-With-Datablock of ``max_pdu`` bytes holds:
    C4 02 invoke last block(4) 00 length raw."""
    n = max_pdu - 9
    while n > 1 and 9 + len(AxdrLength.build(n)) + n > max_pdu:
        n -= 1
    return max(n, 1)
