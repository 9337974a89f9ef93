"""The meter's COSEM objects (SPEC section 7) as data: classes, attributes, methods, rights.

Values are plain Python types; encoding them as A-XDR is the DLMS layer's job.
Each attribute and method names the meter handler that serves it and the
access each client association has. Two clients exist (SPEC section 7):
``PUBLIC`` (client SAP 16, no authentication, read-only) and ``MANAGEMENT``
(client SAP 1, low-level security, read/write/action).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import ErrorCode, MeteremuError

__all__ = [
    "OBJECTS",
    "AccessMode",
    "Client",
    "CosemError",
    "CosemObject",
    "DataAccessResult",
    "obis_bytes",
    "obis_str",
]


class Client(enum.IntEnum):
    """Client SAPs of the two associations."""

    MANAGEMENT = 1
    PUBLIC = 16


class AccessMode(enum.IntEnum):
    """Attribute access modes as the association's object list shows them."""

    NO_ACCESS = 0
    READ = 1
    WRITE = 2
    READ_WRITE = 3


class DataAccessResult(enum.IntEnum):
    """Data-Access-Result / Action-Result values (the numbers they share)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    OTHER_REASON = 250


class CosemError(MeteremuError):
    """A get/set/action the meter answers with a non-success result.

    ``result`` is what goes on the wire; ``error`` the FOTA error record when
    the refusal is one (it is also in the audit log).
    """

    def __init__(self, result: DataAccessResult, detail: str = "",
                 error: ErrorCode | None = None) -> None:
        self.result = result
        self.error = error
        self.detail = detail
        text = result.name.lower().replace("_", "-")
        if error is not None:
            text += f" ({error})"
        super().__init__(f"{text}: {detail}" if detail else text)


def obis_bytes(obis: str | bytes) -> bytes:
    """``"0.0.96.10.2.255"`` (or the 6 raw bytes) as 6 bytes; ValueError otherwise."""
    if isinstance(obis, bytes | bytearray):
        if len(obis) != 6:
            raise ValueError(f"an OBIS code is 6 bytes, not {len(obis)}")
        return bytes(obis)
    parts = obis.split(".")
    if len(parts) != 6 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError(f"not an OBIS code: {obis!r} (want six dot-separated 0..255)")
    return bytes(int(p) for p in parts)


def obis_str(obis: bytes) -> str:
    return ".".join(str(b) for b in obis)


_R, _W, _RW, _NO = AccessMode.READ, AccessMode.WRITE, AccessMode.READ_WRITE, AccessMode.NO_ACCESS


@dataclass(frozen=True)
class Attribute:
    handler: str  # meter method ``_get_<handler>`` (and ``_set_<handler>`` when writable)
    public: AccessMode
    management: AccessMode


@dataclass(frozen=True)
class Method:
    handler: str  # meter method ``_act_<handler>``
    public: bool
    management: bool


@dataclass(frozen=True)
class CosemObject:
    obis: str
    class_id: int
    version: int
    attributes: dict[int, Attribute]
    methods: dict[int, Method]

    def attribute_access(self, client: Client, attr: int) -> AccessMode:
        a = self.attributes.get(attr)
        if a is None:
            return _NO
        return a.public if client is Client.PUBLIC else a.management

    def method_access(self, client: Client, method: int) -> bool:
        m = self.methods.get(method)
        if m is None:
            return False
        return m.public if client is Client.PUBLIC else m.management


def _obj(obis: str, class_id: int, version: int, attrs: dict[int, tuple[str, AccessMode,
         AccessMode]], methods: dict[int, tuple[str, bool, bool]] | None = None) -> CosemObject:
    return CosemObject(
        obis, class_id, version,
        {n: Attribute(*a) for n, a in attrs.items()},
        {n: Method(*m) for n, m in (methods or {}).items()},
    )


# The object table. Attribute 1 (logical_name) is served generically.
OBJECTS: tuple[CosemObject, ...] = (
    _obj("0.0.40.0.0.255", 15, 1, {
        1: ("logical_name", _R, _R),
        2: ("object_list", _R, _R),
    }),
    _obj("0.0.42.0.0.255", 1, 0, {
        1: ("logical_name", _R, _R),
        2: ("logical_device_name", _R, _R),
    }),
    _obj("0.0.96.1.0.255", 1, 0, {
        1: ("logical_name", _R, _R),
        2: ("serial", _R, _R),
    }),
    _obj("1.0.0.2.0.255", 1, 0, {
        1: ("logical_name", _R, _R),
        2: ("firmware_id", _R, _R),
    }),
    _obj("0.0.1.0.0.255", 8, 0, {
        1: ("logical_name", _R, _R),
        2: ("clock_time", _R, _RW),
        3: ("clock_time_zone", _R, _R),
        4: ("clock_status", _R, _R),
        9: ("clock_base", _R, _R),
    }),
    _obj("1.0.1.8.0.255", 3, 0, {
        1: ("logical_name", _R, _R),
        2: ("energy_value", _R, _R),
        3: ("energy_scaler_unit", _R, _R),
    }),
    _obj("0.0.44.0.0.255", 18, 0, {
        1: ("logical_name", _NO, _R),
        2: ("image_block_size", _NO, _R),
        3: ("image_transferred_blocks_status", _NO, _R),
        4: ("image_first_not_transferred_block_number", _NO, _R),
        5: ("image_transfer_enabled", _NO, _RW),
        6: ("image_transfer_status", _NO, _R),
        7: ("image_to_activate_info", _NO, _R),
    }, {
        1: ("image_transfer_initiate", False, True),
        2: ("image_block_transfer", False, True),
        3: ("image_verify", False, True),
        4: ("image_activate", False, True),
    }),
    _obj("0.0.96.10.1.255", 1, 0, {
        1: ("logical_name", _R, _R),
        2: ("inactive_package_sha256", _R, _R),
    }),
    _obj("0.0.96.10.2.255", 1, 0, {
        1: ("logical_name", _NO, _R),
        2: ("boot_state", _NO, _R),
    }, {
        1: ("activate", False, True),
    }),
)

BY_OBIS: dict[bytes, CosemObject] = {obis_bytes(o.obis): o for o in OBJECTS}


class ImageTransferStatus(enum.IntEnum):
    """Class 18 attribute 6, as the Blue Book numbers it."""

    NOT_INITIATED = 0
    INITIATED = 1
    VERIFICATION_INITIATED = 2
    VERIFICATION_SUCCESSFUL = 3
    VERIFICATION_FAILED = 4
    ACTIVATION_INITIATED = 5
    ACTIVATION_SUCCESSFUL = 6
    ACTIVATION_FAILED = 7
