"""A DLMS/COSEM client over the TCP wrapper, sans-I/O: requests out, results in.

Each request method (:meth:`DlmsClient.associate`, ``get``, ``get_list``,
``set``, ``action``, ``release``) returns the bytes to send and remembers the
request; :meth:`DlmsClient.receive_data` takes whatever the socket delivered
and returns the finished results (:class:`AssociationResult`,
:class:`GetResult`, ...). A GET answered in blocks is followed through by the
client itself: each GET-Request-Next waits in :meth:`data_to_send` until the
last block, then one :class:`GetResult` carries the whole value. One request
is outstanding at a time, as DLMS clients do over the wrapper; the invoke id
runs 0..15 and each response must echo the request's byte.

Values: the object table (``meteremu/device/cosem.py``) gives class IDs and
types of the meter's objects, so ``get("1.0.1.8.0.255", 2)`` and
``action("0.0.44.0.0.255", 2, (n, block))`` need nothing more; for other
objects pass ``class_id`` and an explicit :class:`~.axdr.Data` value. Results
carry the typed :class:`~.axdr.Data` and its Python value.

A response that does not decode, or does not answer the request, raises
:class:`~meteremu.dlms.errors.ApduError`; calling a method at the wrong time
is a :class:`~meteremu.errors.UsageError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..device.cosem import BY_OBIS, Client, obis_bytes, obis_str
from ..errors import PeerError, UsageError
from . import acse, xdlms
from .apdu import decode_apdu, encode_apdu
from .axdr import Data, decode_data
from .errors import ApduError
from .values import attribute_schema, from_data, method_schema, python_value, to_data
from .wrapper import WrapperReader, wrap
from .xdlms import AccessResult, Conformance

__all__ = [
    "DEFAULT_PROPOSAL",
    "ActionResult",
    "AssociationResult",
    "DlmsClient",
    "ExceptionReceived",
    "GetListResult",
    "GetResult",
    "ReleaseResult",
    "Result",
    "SetResult",
]

DEFAULT_PROPOSAL = (Conformance.GET | Conformance.SET | Conformance.ACTION
                    | Conformance.SELECTIVE_ACCESS | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
                    | Conformance.MULTIPLE_REFERENCES)
_HIGH_CONFIRMED = 0xC0  # invoke-id-and-priority: high priority, confirmed


@dataclass(frozen=True)
class Result:
    """A finished request."""


@dataclass(frozen=True)
class AssociationResult(Result):
    accepted: bool
    diagnostic: int
    conformance: Conformance  # negotiated (0 when refused)
    server_max_pdu: int
    aare: acse.Aare


@dataclass(frozen=True)
class GetResult(Result):
    obis: str
    attribute: int
    result: AccessResult | int  # SUCCESS when ``data`` is there
    data: Data | None = None
    value: Any = None  # ``data`` as a Python value (by the table's type when known)

    @property
    def ok(self) -> bool:
        return self.result == AccessResult.SUCCESS


@dataclass(frozen=True)
class GetListResult(Result):
    results: tuple[GetResult, ...]


@dataclass(frozen=True)
class SetResult(Result):
    obis: str
    attribute: int
    result: AccessResult | int

    @property
    def ok(self) -> bool:
        return self.result == AccessResult.SUCCESS


@dataclass(frozen=True)
class ActionResult(Result):
    obis: str
    method: int
    result: AccessResult | int
    return_parameters: Data | AccessResult | int | None = None

    @property
    def ok(self) -> bool:
        return self.result == AccessResult.SUCCESS


@dataclass(frozen=True)
class ReleaseResult(Result):
    reason: int | None


@dataclass(frozen=True)
class ExceptionReceived(Result):
    """The server answered the request with an exception-response."""

    state_error: int
    service_error: int


class _State(enum.Enum):
    IDLE = "idle"
    ASSOCIATED = "associated"
    RELEASED = "released"


@dataclass
class _Pending:
    kind: str  # "aarq", "get", "get-list", "set", "set-list", "action", "action-list", "rlrq"
    invoke: int
    targets: list[tuple[bytes, int]] = field(default_factory=list)  # (obis, attr/method)
    blocks: bytearray = field(default_factory=bytearray)
    block_number: int = 0


class DlmsClient:
    """The client end of one TCP wrapper connection (one association)."""

    def __init__(self, *, client_sap: int = int(Client.PUBLIC), server_sap: int = 1,
                 password: bytes | None = None, max_receive_pdu: int = 0xFFFF,
                 conformance: Conformance = DEFAULT_PROPOSAL,
                 calling_ap_title: bytes | None = None) -> None:
        self.client_sap = client_sap
        self.server_sap = server_sap
        self.password = password
        self.max_receive_pdu = max_receive_pdu
        self.proposed = conformance
        self.calling_ap_title = calling_ap_title
        self.conformance = Conformance(0)
        self.server_max_pdu = 0
        self._state = _State.IDLE
        self._invoke = 0
        self._pending: _Pending | None = None
        self._reader = WrapperReader(0xFFFF)
        self._out = bytearray()

    # ---------------------------------------------------------------- plumbing
    @property
    def associated(self) -> bool:
        return self._state is _State.ASSOCIATED

    @property
    def busy(self) -> bool:
        """A request is waiting for its response."""
        return self._pending is not None

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def _send(self, apdu: Any) -> bytes:
        frame = wrap(self.client_sap, self.server_sap, encode_apdu(apdu))
        self._out += frame
        return frame

    def _start(self, kind: str, *, associated: bool = True) -> _Pending:
        if self._pending is not None:
            raise UsageError(f"a {self._pending.kind} request is still waiting for its response")
        if associated and self._state is not _State.ASSOCIATED:
            raise UsageError(f"{kind}: not associated (call associate() first)")
        self._invoke = (self._invoke + 1) & 0x0F
        self._pending = _Pending(kind, _HIGH_CONFIRMED | self._invoke)
        return self._pending

    # ---------------------------------------------------------------- requests
    def associate(self) -> bytes:
        """The AARQ: LN referencing, no ciphering; LLS when a password is set."""
        if self._state is not _State.IDLE:
            raise UsageError("associate: one association per connection")
        self._start("aarq", associated=False)
        lls = self.password is not None
        self._send(acse.Aarq(
            user_information=xdlms.InitiateRequest(self.proposed, self.max_receive_pdu),
            mechanism_name=acse.MECHANISM_LLS if lls else None,
            calling_authentication_value=self.password,
            calling_ap_title=self.calling_ap_title,
            sender_acse_requirements=lls,
        ))
        return self.data_to_send()

    def release(self) -> bytes:
        """The RLRQ (reason normal)."""
        self._start("rlrq", associated=False)
        self._send(acse.Rlrq(0))
        return self.data_to_send()

    def get(self, obis: str | bytes, attribute: int, *, class_id: int | None = None) -> bytes:
        p = self._start("get")
        desc = self._attribute(obis, attribute, class_id)
        p.targets.append((desc.instance, attribute))
        self._send(xdlms.GetRequestNormal(p.invoke, desc))
        return self.data_to_send()

    def get_list(self, items: list[tuple[str | bytes, int]]) -> bytes:
        """GET-Request-With-List of ``(obis, attribute)`` pairs (known objects)."""
        p = self._start("get-list")
        descs = [self._attribute(o, a, None) for o, a in items]
        p.targets += [(d.instance, d.attribute) for d in descs]
        self._send(xdlms.GetRequestWithList(
            p.invoke, tuple(xdlms.AttributeRequest(d) for d in descs)))
        return self.data_to_send()

    def set(self, obis: str | bytes, attribute: int, value: Any, *,
            class_id: int | None = None) -> bytes:
        p = self._start("set")
        desc = self._attribute(obis, attribute, class_id)
        data = value if isinstance(value, Data) else to_data(
            value, attribute_schema(BY_OBIS[desc.instance], attribute))
        p.targets.append((desc.instance, attribute))
        self._send(xdlms.SetRequestNormal(p.invoke, desc, data))
        return self.data_to_send()

    def action(self, obis: str | bytes, method: int, param: Any = None, *,
               class_id: int | None = None) -> bytes:
        """ACTION-Request-Normal; ``param`` None sends no parameters."""
        p = self._start("action")
        instance = obis_bytes(obis)
        cid = self._class_id(instance, class_id)
        if param is None or isinstance(param, Data):
            data = param
        else:
            data = to_data(param, method_schema(BY_OBIS[instance], method))
        p.targets.append((instance, method))
        self._send(xdlms.ActionRequestNormal(p.invoke, xdlms.MethodDescriptor(
            cid, instance, method), data))
        return self.data_to_send()

    def _class_id(self, instance: bytes, class_id: int | None) -> int:
        if class_id is not None:
            return class_id
        obj = BY_OBIS.get(instance)
        if obj is None:
            raise UsageError(f"{obis_str(instance)} is not in the meter's object table: "
                             "pass class_id")
        return obj.class_id

    def _attribute(self, obis: str | bytes, attribute: int,
                   class_id: int | None) -> xdlms.AttributeDescriptor:
        instance = obis_bytes(obis)
        return xdlms.AttributeDescriptor(self._class_id(instance, class_id), instance, attribute)

    # ---------------------------------------------------------------- responses
    def receive_data(self, data: bytes) -> list[Result]:
        """Bytes from the server; the requests they finished."""
        self._reader.feed(data)
        out: list[Result] = []
        while True:
            frame = self._reader.next_frame()
            if frame is None:
                return out
            if (frame.source, frame.destination) != (self.server_sap, self.client_sap):
                raise ApduError(f"a frame for wPorts {frame.destination} from "
                                f"{frame.source}, not this association's")
            result = self._response(decode_apdu(frame.apdu))
            if result is not None:
                out.append(result)

    def _finish(self) -> _Pending:
        p = self._pending
        assert p is not None
        self._pending = None
        return p

    def _response(self, apdu: Any) -> Result | None:
        p = self._pending
        if p is None:
            raise ApduError(f"{type(apdu).__name__} when no request is waiting")
        if isinstance(apdu, xdlms.ExceptionResponse):
            self._finish()
            return ExceptionReceived(int(apdu.state_error), int(apdu.service_error))
        invoke = getattr(apdu, "invoke", None)
        if invoke is not None and invoke != p.invoke:
            raise ApduError(f"invoke byte {invoke:#04x}, the request's is {p.invoke:#04x}")
        handler = _HANDLERS.get((p.kind, type(apdu)))
        if handler is None:
            raise ApduError(f"{type(apdu).__name__} does not answer a {p.kind} request")
        return handler(self, p, apdu)

    def _on_aare(self, p: _Pending, aare: acse.Aare) -> Result:
        self._finish()
        ini = aare.user_information
        accepted = aare.result == acse.AssociationResult.ACCEPTED
        if accepted and not isinstance(ini, xdlms.InitiateResponse):
            raise ApduError("an AARE accepting without an InitiateResponse")
        if accepted:
            assert isinstance(ini, xdlms.InitiateResponse)
            self._state = _State.ASSOCIATED
            self.conformance = ini.conformance
            self.server_max_pdu = ini.max_receive_pdu
        return AssociationResult(accepted, aare.diagnostic, self.conformance,
                                 self.server_max_pdu, aare)

    def _on_rlre(self, p: _Pending, rlre: acse.Rlre) -> Result:
        self._finish()
        self._state = _State.RELEASED
        return ReleaseResult(rlre.reason)

    def _value(self, instance: bytes, attr: int, data: Data) -> Any:
        obj = BY_OBIS.get(instance)
        try:
            if obj is not None:
                return from_data(data, attribute_schema(obj, attr))
        except (KeyError, PeerError):
            pass
        return python_value(data)

    def _get_result(self, instance: bytes, attr: int, r: Data | AccessResult | int) -> GetResult:
        if isinstance(r, Data):
            return GetResult(obis_str(instance), attr, AccessResult.SUCCESS, r,
                             self._value(instance, attr, r))
        return GetResult(obis_str(instance), attr, r)

    def _on_get(self, p: _Pending, apdu: xdlms.GetResponseNormal) -> Result:
        self._finish()
        (instance, attr), = p.targets
        return self._get_result(instance, attr, apdu.result)

    def _on_get_list(self, p: _Pending, apdu: xdlms.GetResponseWithList) -> Result:
        self._finish()
        if len(apdu.results) != len(p.targets):
            raise ApduError(f"{len(apdu.results)} results for {len(p.targets)} attributes")
        return GetListResult(tuple(self._get_result(i, a, r)
                                   for (i, a), r in zip(p.targets, apdu.results, strict=True)))

    def _on_block(self, p: _Pending, apdu: xdlms.GetResponseWithDatablock) -> Result | None:
        if not isinstance(apdu.raw, bytes):  # the server ended the transfer
            self._finish()
            if p.kind == "get-list":
                return GetListResult(tuple(GetResult(obis_str(i), a, apdu.raw)
                                           for i, a in p.targets))
            (instance, attr), = p.targets
            return GetResult(obis_str(instance), attr, apdu.raw)
        if apdu.block_number != p.block_number + 1:
            raise ApduError(f"block {apdu.block_number} after block {p.block_number}")
        p.blocks += apdu.raw
        p.block_number = apdu.block_number
        if not apdu.last:
            self._send(xdlms.GetRequestNext(p.invoke, p.block_number))
            return None
        self._finish()
        raw = bytes(p.blocks)
        if p.kind == "get":
            (instance, attr), = p.targets
            return self._get_result(instance, attr, decode_data(raw))
        whole = decode_apdu(b"\xc4\x03" + bytes((p.invoke,)) + raw)
        return self._on_get_list(_Pending("get-list", p.invoke, p.targets), whole)

    def _on_set(self, p: _Pending, apdu: xdlms.SetResponseNormal) -> Result:
        self._finish()
        (instance, attr), = p.targets
        return SetResult(obis_str(instance), attr, apdu.result)

    def _on_action(self, p: _Pending, apdu: xdlms.ActionResponseNormal) -> Result:
        self._finish()
        (instance, method), = p.targets
        return ActionResult(obis_str(instance), method, apdu.result, apdu.return_parameters)


_HANDLERS: dict[tuple[str, type], Any] = {
    ("aarq", acse.Aare): DlmsClient._on_aare,
    ("rlrq", acse.Rlre): DlmsClient._on_rlre,
    ("get", xdlms.GetResponseNormal): DlmsClient._on_get,
    ("get", xdlms.GetResponseWithDatablock): DlmsClient._on_block,
    ("get-list", xdlms.GetResponseWithList): DlmsClient._on_get_list,
    ("get-list", xdlms.GetResponseWithDatablock): DlmsClient._on_block,
    ("set", xdlms.SetResponseNormal): DlmsClient._on_set,
    ("action", xdlms.ActionResponseNormal): DlmsClient._on_action,
}
