"""The meter's COSEM application: get, set and action over the object table.

``get``/``set``/``action`` look the object up in :data:`.cosem.OBJECTS`, check
the client's access right there, and call the handler the table names
(``get_<handler>``, ``set_<handler>``, ``act_<handler>``), giving it the client
that asks. Refusals raise the error model's exceptions (``meteremu.errors``):
:class:`~meteremu.errors.ObjectUndefined`, :class:`~meteremu.errors.AccessDenied`,
:class:`~meteremu.errors.TypeUnmatched`,
:class:`~meteremu.errors.TemporaryFailure`, and a
:class:`~meteremu.errors.PackageError` carrying the FOTA record when the meter
refuses an update step; a meter that does not answer raises
:class:`~meteremu.errors.MeterUnavailable`. ``dlms_outcome(exc)`` is the DLMS
answer to any of them.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from ..crypto import crc32
from ..errors import (
    BATTERY_RESERVE,
    FRAGMENT_REJECTED,
    INSUFFICIENT_MEMORY,
    INVALID_REQUEST,
    MALFORMED_HEADER,
    AccessDenied,
    ErrorCode,
    MeterUsageError,
    ObjectUndefined,
    PackageError,
    PeerError,
    TemporaryFailure,
    TypeUnmatched,
    from_mt_err,
)
from .clock import RTC_MAX, RTC_MIN, format_utc
from .cosem import BY_OBIS, OBJECTS, AccessMode, Client, CosemObject, obis_bytes
from .download import KIND_DLMS
from .events import ClockSet
from .receipts import Receipt
from .rules import Event, ImageTransferEvent, ImageTransferStatus

if TYPE_CHECKING:
    from .meter import VirtualMeter

__all__ = ["BLOCK_SIZE", "CosemServer", "client_of"]

WH_UNIT = 30  # DLMS unit enumeration: Wh
BLOCK_SIZE = 128  # class 18 image_block_size
_IT = ImageTransferEvent
_BLOCK, _REFUSED = _IT.BLOCK, Receipt.REFUSED  # (per block: module names)


def client_of(client: Client | int) -> Client:
    try:
        return Client(client)
    except ValueError:
        raise MeterUsageError(f"unknown client SAP {client!r} (1 management, 16 public)") from None


def _refused(error: ErrorCode | None, detail: str) -> PackageError:
    return PackageError(error or INVALID_REQUEST, detail)


class CosemServer:
    """The COSEM objects of one meter, served over its parts."""

    def __init__(self, meter: VirtualMeter) -> None:
        self.m = meter
        self.transfer_enabled = True
        self.identifier = b""  # class 18: the image identifier of the transfer
        # (OBIS bytes, attribute or method, client) -> (handler, client) for every
        # access the tables allow that has been asked for: the tables are fixed, so
        # a request the usual way (6 bytes, a Client) skips the lookup and the rights
        self._readers: dict[tuple[Any, int, Any], tuple[Any, Client]] = {}
        self._writers: dict[tuple[Any, int, Any], tuple[Any, Client]] = {}
        self._methods: dict[tuple[Any, int, Any], tuple[Any, Client]] = {}

    # ---------------------------------------------------------------- entry points
    def _lookup(self, obis: str | bytes, client: Client | int) -> tuple[CosemObject, Client]:
        c = client if type(client) is Client else client_of(client)
        obj = BY_OBIS.get(obis if type(obis) is bytes and len(obis) == 6 else obis_bytes(obis))
        if obj is None:
            raise ObjectUndefined(f"no object {obis!r}")
        return obj, c

    @staticmethod
    def _denied(undefined: bool, what: str) -> ObjectUndefined | AccessDenied:
        if undefined:
            return ObjectUndefined(f"{what} does not exist")
        return AccessDenied(f"{what} not accessible to this client")

    def _allowed(self, kind: str, obis: str | bytes, n: int,
                 client: Client | int) -> tuple[Any, Client]:
        """The handler of an access the tables allow, or the error refusing it;
        remembered under the request's own key when that is the usual one."""
        obj, c = self._lookup(obis, client)
        if kind == "get":
            if not obj.attribute_access(c, n) & AccessMode.READ:
                raise self._denied(obj.attributes.get(n) is None, f"{obj.obis}/{n}")
            ln = obis_bytes(obj.obis)
            handler = (lambda _c: ln) if n == 1 else \
                getattr(self, "get_" + obj.attributes[n].handler)
            memo = self._readers
        elif kind == "set":
            if not obj.attribute_access(c, n) & AccessMode.WRITE:
                raise self._denied(obj.attributes.get(n) is None, f"{obj.obis}/{n}")
            handler = getattr(self, "set_" + obj.attributes[n].handler)
            memo = self._writers
        else:
            if not obj.method_access(c, n):
                raise self._denied(obj.methods.get(n) is None, f"{obj.obis} method {n}")
            handler = getattr(self, "act_" + obj.methods[n].handler)
            memo = self._methods
        if type(obis) is bytes and len(obis) == 6 and type(client) is Client:
            memo[obis, n, client] = (handler, c)  # (bounded: the tables' own accesses)
        return handler, c

    def get(self, obis: str | bytes, attr: int, client: Client | int) -> Any:
        found = self._readers.get((obis, attr, client)) if type(obis) is bytes else None
        handler, c = self._allowed("get", obis, attr, client) if found is None else found
        self.m.power.require()
        return handler(c)

    def set(self, obis: str | bytes, attr: int, value: Any, client: Client | int) -> None:
        found = self._writers.get((obis, attr, client)) if type(obis) is bytes else None
        handler, c = self._allowed("set", obis, attr, client) if found is None else found
        self.m.power.require()
        handler(c, value)

    def action(self, obis: str | bytes, method: int, param: Any, client: Client | int) -> Any:
        found = self._methods.get((obis, method, client)) if type(obis) is bytes else None
        handler, c = self._allowed("action", obis, method, client) if found is None else found
        self.m.power.require()
        return handler(c, param)

    # ---------------------------------------------------------------- association, identity
    def object_list(self, client: Client) -> list[Any]:
        """0.0.40.0.0.255 attribute 2 for ``client``: (class, version, OBIS, rights)."""
        out = []
        for o in OBJECTS:
            attrs = tuple((n, int(o.attribute_access(client, n)), None)
                          for n in sorted(o.attributes))
            methods = tuple((n, o.method_access(client, n)) for n in sorted(o.methods))
            out.append((o.class_id, o.version, obis_bytes(o.obis), (attrs, methods)))
        return out

    def get_object_list(self, client: Client) -> list[Any]:
        return self.object_list(client)

    def get_logical_device_name(self, client: Client) -> bytes:
        return b"MTE" + self.m.serial.encode()

    def get_serial(self, client: Client) -> bytes:
        return self.m.serial.encode()

    def get_firmware_id(self, client: Client) -> bytes:
        return (self.m.active_version or "").encode()

    # ---------------------------------------------------------------- clock
    def get_clock_time(self, client: Client) -> _dt.datetime:
        return self.m.clock.datetime

    def set_clock_time(self, client: Client, value: Any) -> None:
        if not isinstance(value, _dt.datetime) or value.tzinfo is None:
            raise TypeUnmatched("clock time must be a timezone-aware datetime")
        if not RTC_MIN <= value <= RTC_MAX:
            raise PeerError(f"the meter's clock runs from {format_utc(RTC_MIN)} to "
                            f"{format_utc(RTC_MAX)}; {value.isoformat()} is refused")
        old = self.m.clock.stamp()
        self.m.clock.set_datetime(value)
        self.m.emit(ClockSet, was=old)

    def get_clock_time_zone(self, client: Client) -> int:
        return 0

    def get_clock_status(self, client: Client) -> int:
        return 0

    def get_clock_base(self, client: Client) -> int:
        return 1  # internal crystal

    # ---------------------------------------------------------------- energy
    def get_energy_value(self, client: Client) -> int:
        return int(self.m.metrology.energy_wh)

    def get_energy_scaler_unit(self, client: Client) -> tuple[int, int]:
        return (0, WH_UNIT)

    # ---------------------------------------------------------------- seed steps 5 and 6
    def get_inactive_package_sha256(self, client: Client) -> bytes:
        return self.m.download.inactive_sha256()

    def get_audit_log(self, client: Client) -> list[bytes]:
        return [line.encode("ascii") for line in self.m.audit_log]

    def get_boot_state(self, client: Client) -> int:
        return self.m.boot_state.value

    def act_activate(self, client: Client, param: Any) -> None:
        if param is not True:
            raise TypeUnmatched("activate takes the boolean true")
        error = self.m.activate()
        if error is not None:
            raise _refused(error, "activation refused")

    # ---------------------------------------------------------------- class 18
    def get_image_block_size(self, client: Client) -> int:
        return BLOCK_SIZE

    def get_image_transferred_blocks_status(self, client: Client) -> str:
        s = self.m.download.dlms_session()
        if s is None:
            return ""
        missing = set(self.m.download.missing())
        return "".join("0" if i in missing else "1" for i in range(s.fragment_count))

    def get_image_first_not_transferred_block_number(self, client: Client) -> int:
        s = self.m.download.dlms_session()
        if s is None:
            return 0
        missing = self.m.download.missing()
        return missing[0] if missing else s.fragment_count

    def get_image_transfer_enabled(self, client: Client) -> bool:
        return self.transfer_enabled

    def set_image_transfer_enabled(self, client: Client, value: Any) -> None:
        if not isinstance(value, bool):
            raise TypeUnmatched("image_transfer_enabled is a boolean")
        self.transfer_enabled = value

    def get_image_transfer_status(self, client: Client) -> int:
        return self.m.lifecycle.transfer

    def get_image_to_activate_info(self, client: Client) -> list[tuple[int, bytes, bytes]]:
        s = self.m.download.dlms_session()
        if s is None or self.m.lifecycle.transfer != ImageTransferStatus.VERIFICATION_SUCCESSFUL:
            return []
        return [(s.package_size, self.identifier, self.m.download.inactive_sha256())]

    def act_image_transfer_initiate(self, client: Client, param: Any) -> None:
        if not (isinstance(param, tuple | list) and len(param) == 2
                and isinstance(param[0], bytes) and isinstance(param[1], int)):
            raise TypeUnmatched("initiate takes (identifier: bytes, size: int)")
        identifier, size = param
        m = self.m
        if not self.transfer_enabled:
            raise TemporaryFailure("image transfer is disabled (attribute 5)")
        refusal = m.lifecycle.refusal(Event.INITIATE)
        if refusal is not None:
            raise TemporaryFailure(f"{refusal.reason}; confirm it first")
        bank = m.geometry.bank_size
        if size > bank:
            m.emit_refused(INSUFFICIENT_MEMORY, size=size, bank=bank)
            raise _refused(INSUFFICIENT_MEMORY, "image larger than the bank")
        if size <= 128:
            m.emit_refused(MALFORMED_HEADER, size=size)
            raise _refused(MALFORMED_HEADER, "image smaller than a package header")
        sid = crc32(identifier)
        count = -(-size // BLOCK_SIZE)
        s = m.download.dlms_session()
        if s is not None and s.session_id == sid and s.package_size == size:
            m.lifecycle.transfer_step(_IT.INITIATED)  # the same image: resume
            self.identifier = identifier
            return
        if m.download.dl is None:
            raise TemporaryFailure("no bank free for a download now")
        if not m.budget.affordable(count):
            m.budget.refuse(sid, frames=count)
            m.download.battery_refused(sid)
            raise _refused(BATTERY_RESERVE, "the battery reserve cannot pay for the transfer")
        rc = m.download.begin(KIND_DLMS, sid, size, BLOCK_SIZE, count)
        if rc:  # checked above already; the C check has the last word
            raise _refused(from_mt_err(rc), "the download could not start")
        self.identifier = identifier

    def act_image_block_transfer(self, client: Client, param: Any) -> None:
        if not (isinstance(param, (tuple, list)) and len(param) == 2
                and isinstance(param[0], int) and isinstance(param[1], bytes)):
            raise TypeUnmatched("block transfer takes (number: int, value: bytes)")
        m = self.m
        s = m.download.dlms_session()
        if s is None:
            raise TemporaryFailure("no image transfer initiated")
        number, value = param
        if m.budget.reserve is not None:
            dropped = m.budget.pay(s.session_id, s.session_id if s.complete else None)
            if m.budget.just_refused is not None:
                m.download.battery_refused(m.budget.just_refused)
            if dropped is not None and s.complete:
                raise TemporaryFailure(f"block {number}: the battery reserve is at its "
                                       "minimum; the image is complete and kept")
            if dropped is not None:
                raise _refused(BATTERY_RESERVE, f"block {number}: the battery reserve is at "
                               "its minimum; the transfer is stopped")
        _, package_size, size, count = s.session()
        expect = package_size - (count - 1) * size if number == count - 1 else size
        if not 0 <= number < count or len(value) != expect:
            m.download.reject_once("block")
            raise PeerError(f"block {number}: bad number or length", FRAGMENT_REJECTED)
        before = m.refusals
        r = m.download.block(s, number, value)
        m.count(r)
        if r is _REFUSED:
            raise _refused(m.last_refusal if m.refusals > before else None,
                           f"block {number} refused; the transfer is stopped")
        m.lifecycle.transfer_step(_BLOCK)

    def act_image_verify(self, client: Client, param: Any) -> None:
        m = self.m
        if m.download.dlms_session() is None:
            raise TemporaryFailure("no image transfer to verify")
        m.lifecycle.transfer_step(_IT.VERIFY)
        error = m.download.accept()
        if error is not None:
            m.lifecycle.transfer_step(_IT.VERIFY_FAILED)
            raise _refused(error, "verification failed")

    def act_image_activate(self, client: Client, param: Any) -> None:
        m = self.m
        refusal = m.lifecycle.transfer_step(_IT.ACTIVATE)
        if refusal is not None:
            assert refusal.error is not None
            m.emit_refused(refusal.error, request="image_activate", status=m.lifecycle.transfer)
            raise TemporaryFailure("image not verified", refusal.error)
        error = m.activate()
        m.lifecycle.transfer_step(_IT.ACTIVATE_FAILED if error is not None
                                  else _IT.ACTIVATE_OK)
        if error is not None:
            raise _refused(error, "activation failed")
