"""The COSEM object model's entry points and handlers, mixed into VirtualMeter.

``get``/``set``/``action`` look the object up in ``cosem.OBJECTS``, check the
client's access right there, and call the handler the table names. Refusals
raise :class:`~meteremu.device.cosem.CosemError` with the DLMS result;
a meter that does not answer (off, booting) raises ``MeterUnavailable``.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from ..crypto import crc32
from ..errors import (
    BATTERY_RESERVE,
    INSUFFICIENT_MEMORY,
    INVALID_REQUEST,
    MALFORMED_HEADER,
    ErrorCode,
    from_mt_err,
)
from ._download import KIND_DLMS
from .clock import RTC_MAX, RTC_MIN, format_utc
from .cosem import (
    BY_OBIS,
    OBJECTS,
    AccessMode,
    Client,
    CosemError,
    DataAccessResult,
    ImageTransferStatus,
    obis_bytes,
)
from .states import BootState, MeterUsageError, Receipt

if TYPE_CHECKING:
    from .meter import VirtualMeter

__all__ = ["CosemServices"]

_R = DataAccessResult
WH_UNIT = 30  # DLMS unit enumeration: Wh


def _client(client: Client | int) -> Client:
    try:
        return Client(client)
    except ValueError:
        raise MeterUsageError(f"unknown client SAP {client!r} (1 management, 16 public)") from None


def _refused(error: ErrorCode | None, detail: str = "") -> CosemError:
    return CosemError(_R.OTHER_REASON, detail, error)


class CosemServices:
    """get/set/action over the object table; ``self`` is a VirtualMeter."""

    # -- entry points ------------------------------------------------------------------
    def get(self: VirtualMeter, obis: str | bytes, attr: int,
            client: Client | int = Client.MANAGEMENT) -> Any:
        """Read attribute ``attr`` of object ``obis`` as ``client`` (default management)."""
        obj, c = self._lookup(obis, client)
        if not obj.attribute_access(c, attr) & AccessMode.READ:
            raise self._denied(obj.attributes.get(attr) is None, f"{obj.obis}/{attr}")
        self._require_available()
        if attr == 1:
            return obis_bytes(obj.obis)
        self._current_client = c
        return getattr(self, "_get_" + obj.attributes[attr].handler)()

    def set(self: VirtualMeter, obis: str | bytes, attr: int, value: Any,
            client: Client | int = Client.MANAGEMENT) -> None:
        obj, c = self._lookup(obis, client)
        if not obj.attribute_access(c, attr) & AccessMode.WRITE:
            raise self._denied(obj.attributes.get(attr) is None, f"{obj.obis}/{attr}")
        self._require_available()
        getattr(self, "_set_" + obj.attributes[attr].handler)(value)

    def action(self: VirtualMeter, obis: str | bytes, method: int, param: Any = None,
               client: Client | int = Client.MANAGEMENT) -> Any:
        """Invoke ``method``; returns its return parameters (None for all of ours)."""
        obj, c = self._lookup(obis, client)
        if not obj.method_access(c, method):
            raise self._denied(obj.methods.get(method) is None, f"{obj.obis} method {method}")
        self._require_available()
        from .._lowlevel.flash import FlashPowerError as PowerLost

        try:
            return getattr(self, "_act_" + obj.methods[method].handler)(param)
        except PowerLost:
            self._die()
            from .meter import MeterUnavailable

            raise MeterUnavailable("power lost during the action") from None

    def _lookup(self: VirtualMeter, obis: str | bytes, client: Client | int) -> Any:
        c = _client(client)
        obj = BY_OBIS.get(obis_bytes(obis))
        if obj is None:
            raise CosemError(_R.OBJECT_UNDEFINED, f"no object {obis!r}")
        return obj, c

    @staticmethod
    def _denied(undefined: bool, what: str) -> CosemError:
        if undefined:
            return CosemError(_R.OBJECT_UNDEFINED, f"{what} does not exist")
        return CosemError(_R.READ_WRITE_DENIED, f"{what} not accessible to this client")

    # -- association, identity ---------------------------------------------------------
    def object_list(self: VirtualMeter, client: Client | int = Client.MANAGEMENT) -> list[Any]:
        """0.0.40.0.0.255 attribute 2 for ``client``: (class, version, OBIS, rights)."""
        c = _client(client)
        out = []
        for o in OBJECTS:
            attrs = tuple((n, int(o.attribute_access(c, n)), None) for n in sorted(o.attributes))
            methods = tuple((n, o.method_access(c, n)) for n in sorted(o.methods))
            out.append((o.class_id, o.version, obis_bytes(o.obis), (attrs, methods)))
        return out

    def _get_object_list(self: VirtualMeter) -> list[Any]:
        return self.object_list(self._current_client)

    def _get_logical_device_name(self: VirtualMeter) -> bytes:
        return b"MTE" + self.serial.encode()

    def _get_serial(self: VirtualMeter) -> bytes:
        return self.serial.encode()

    def _get_firmware_id(self: VirtualMeter) -> bytes:
        return (self.active_version or "").encode()

    # -- clock ---------------------------------------------------------------------
    def _get_clock_time(self: VirtualMeter) -> _dt.datetime:
        return self.clock.datetime

    def _set_clock_time(self: VirtualMeter, value: Any) -> None:
        if not isinstance(value, _dt.datetime) or value.tzinfo is None:
            raise CosemError(_R.TYPE_UNMATCHED, "clock time must be a timezone-aware datetime")
        if not RTC_MIN <= value <= RTC_MAX:
            raise CosemError(_R.OTHER_REASON, f"the meter's clock runs from {format_utc(RTC_MIN)} "
                             f"to {format_utc(RTC_MAX)}; {value.isoformat()} is refused")
        old = self.clock.stamp()
        self.clock.set_datetime(value)
        self._evt("CLOCK_SET", was=old)

    def _get_clock_time_zone(self: VirtualMeter) -> int:
        return 0

    def _get_clock_status(self: VirtualMeter) -> int:
        return 0

    def _get_clock_base(self: VirtualMeter) -> int:
        return 1  # internal crystal

    # -- energy --------------------------------------------------------------------
    def _get_energy_value(self: VirtualMeter) -> int:
        return int(self.metrology.energy_wh)

    def _get_energy_scaler_unit(self: VirtualMeter) -> tuple[int, int]:
        return (0, WH_UNIT)

    # -- seed steps 5 and 6 ---------------------------------------------------------
    def _get_inactive_package_sha256(self: VirtualMeter) -> bytes:
        return self.inactive_package_sha256()

    def _get_boot_state(self: VirtualMeter) -> int:
        return self._state.value

    def _act_activate(self: VirtualMeter, param: Any) -> None:
        if param is not True:
            raise CosemError(_R.TYPE_UNMATCHED, "activate takes the boolean true")
        error = self._activate()
        if error is not None:
            raise _refused(error, "activation refused")

    # -- class 18 image transfer ------------------------------------------------------
    def _dlms_session(self: VirtualMeter) -> Any:
        """The open download session when it came by class 18, else None."""
        dl = self._open_download()
        return dl if dl is not None and dl.tag == KIND_DLMS else None

    def _get_image_block_size(self: VirtualMeter) -> int:
        return self.BLOCK_SIZE

    def _get_image_transferred_blocks_status(self: VirtualMeter) -> str:
        s = self._dlms_session()
        if s is None:
            return ""
        missing = set(self.missing_fragments())
        return "".join("0" if i in missing else "1" for i in range(s.fragment_count))

    def _get_image_first_not_transferred_block_number(self: VirtualMeter) -> int:
        s = self._dlms_session()
        if s is None:
            return 0
        missing = self.missing_fragments()
        return missing[0] if missing else s.fragment_count

    def _get_image_transfer_enabled(self: VirtualMeter) -> bool:
        return self._it_enabled

    def _set_image_transfer_enabled(self: VirtualMeter, value: Any) -> None:
        if not isinstance(value, bool):
            raise CosemError(_R.TYPE_UNMATCHED, "image_transfer_enabled is a boolean")
        self._it_enabled = value

    def _get_image_transfer_status(self: VirtualMeter) -> int:
        return self._it_status

    def _get_image_to_activate_info(self: VirtualMeter) -> list[tuple[int, bytes, bytes]]:
        s = self._dlms_session()
        if s is None or self._it_status != ImageTransferStatus.VERIFICATION_SUCCESSFUL:
            return []
        return [(s.package_size, self._it_identifier, self.inactive_package_sha256())]

    def _act_image_transfer_initiate(self: VirtualMeter, param: Any) -> None:
        if not (isinstance(param, tuple | list) and len(param) == 2
                and isinstance(param[0], bytes) and isinstance(param[1], int)):
            raise CosemError(_R.TYPE_UNMATCHED, "initiate takes (identifier: bytes, size: int)")
        identifier, size = param
        if not self._it_enabled:
            raise CosemError(_R.TEMPORARY_FAILURE, "image transfer is disabled (attribute 5)")
        if self._state is BootState.TRIAL:
            raise CosemError(_R.TEMPORARY_FAILURE, "an image is on trial; confirm it first")
        if size > self.geometry.bank_size:
            e = self._err(INSUFFICIENT_MEMORY, size=size, bank=self.geometry.bank_size)
            raise _refused(e, "image larger than the bank")
        if size <= 128:
            e = self._err(MALFORMED_HEADER, size=size)
            raise _refused(e, "image smaller than a package header")
        sid = crc32(identifier)
        count = -(-size // self.BLOCK_SIZE)
        s = self._dlms_session()
        if s is not None and s.session_id == sid and s.package_size == size:
            self._it_status = ImageTransferStatus.INITIATED  # same image: resume
            self._it_identifier = identifier
            return
        if self._dl is None:
            raise CosemError(_R.TEMPORARY_FAILURE, "no bank free for a download now")
        battery = self._battery
        if battery is not None and not battery.affordable(count):
            self._battery_refuse(sid, frames=count)
            raise _refused(BATTERY_RESERVE, "the battery reserve cannot pay for the transfer")
        rc = self._begin(KIND_DLMS, sid, size, self.BLOCK_SIZE, count)
        if rc:  # checked above already; the C check has the last word
            raise _refused(from_mt_err(rc), "the download could not start")
        self._it_identifier = identifier
        self._it_status = ImageTransferStatus.INITIATED

    def _act_image_block_transfer(self: VirtualMeter, param: Any) -> None:
        if not (isinstance(param, tuple | list) and len(param) == 2
                and isinstance(param[0], int) and isinstance(param[1], bytes)):
            raise CosemError(_R.TYPE_UNMATCHED, "block transfer takes (number: int, value: bytes)")
        s = self._dlms_session()
        if s is None:
            raise CosemError(_R.TEMPORARY_FAILURE, "no image transfer initiated")
        number, value = param
        if self._battery is not None and self._radio_rx(s.session_id) is not None:
            raise _refused(BATTERY_RESERVE, f"block {number}: the battery reserve is at its "
                           "minimum; the transfer is stopped")
        expect = s.package_size - (s.fragment_count - 1) * s.fragment_size \
            if number == s.fragment_count - 1 else s.fragment_size
        if not 0 <= number < s.fragment_count or len(value) != expect:
            self._reject_once("block")
            raise CosemError(_R.OTHER_REASON, f"block {number}: bad number or length")
        self._refusal = None
        r = self._fragment(KIND_DLMS, s.session_id, number, s.fragment_count, value,
                           s.fragment_size, s.package_size)
        self.counters[r.value] += 1
        if r is Receipt.REFUSED:
            raise _refused(self._refusal, f"block {number} refused; the transfer is stopped")
        if self._it_status == ImageTransferStatus.VERIFICATION_FAILED:
            self._it_status = ImageTransferStatus.INITIATED

    def _act_image_verify(self: VirtualMeter, param: Any) -> None:
        s = self._dlms_session()
        if s is None:
            raise CosemError(_R.TEMPORARY_FAILURE, "no image transfer to verify")
        self._it_status = ImageTransferStatus.VERIFICATION_INITIATED
        error = self._accept()
        if error is not None:
            self._it_status = ImageTransferStatus.VERIFICATION_FAILED
            raise _refused(error, "verification failed")
        self._it_status = ImageTransferStatus.VERIFICATION_SUCCESSFUL

    def _act_image_activate(self: VirtualMeter, param: Any) -> None:
        if self._it_status != ImageTransferStatus.VERIFICATION_SUCCESSFUL:
            e = self._err(INVALID_REQUEST, request="image_activate", status=self._it_status)
            raise CosemError(_R.TEMPORARY_FAILURE, "image not verified", e)
        self._it_status = ImageTransferStatus.ACTIVATION_INITIATED
        error = self._activate()
        if error is not None:
            self._it_status = ImageTransferStatus.ACTIVATION_FAILED
            raise _refused(error, "activation failed")
        self._it_status = ImageTransferStatus.ACTIVATION_SUCCESSFUL
