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

from ..errors import UsageError

__all__ = [
    "BY_OBIS",
    "OBJECTS",
    "AccessMode",
    "Axdr",
    "Client",
    "CosemObject",
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


def obis_bytes(obis: str | bytes) -> bytes:
    """``"0.0.96.10.2.255"`` (or the 6 raw bytes) as 6 bytes; UsageError otherwise."""
    if isinstance(obis, bytes | bytearray):
        if len(obis) != 6:
            raise UsageError(f"an OBIS code is 6 bytes, not {len(obis)}")
        return bytes(obis)
    parts = obis.split(".") if isinstance(obis, str) else []
    if len(parts) != 6 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
        raise UsageError(f"not an OBIS code: {obis!r} (want six dot-separated 0..255)")
    return bytes(int(p) for p in parts)


def obis_str(obis: bytes) -> str:
    return ".".join(str(b) for b in obis)


_R, _W, _RW, _NO = AccessMode.READ, AccessMode.WRITE, AccessMode.READ_WRITE, AccessMode.NO_ACCESS


class Axdr(enum.Enum):
    """The A-XDR type of a value on the wire (DLMS Green Book), by its tag."""

    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    LONG64_UNSIGNED = 21
    ENUM = 22
    DATE_TIME = 25  # sent as an octet-string of 12 bytes


@dataclass(frozen=True)
class Attribute:
    handler: str  # served by ``CosemServer.get_<handler>`` (and ``set_<handler>``)
    public: AccessMode
    management: AccessMode
    axdr: Axdr  # its type on the wire


@dataclass(frozen=True)
class Method:
    handler: str  # served by ``CosemServer.act_<handler>``
    public: bool
    management: bool
    param: Axdr  # the type of its parameter


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
         AccessMode, Axdr]], methods: dict[int, tuple[str, bool, bool, Axdr]] | None = None,
         ) -> CosemObject:
    return CosemObject(
        obis, class_id, version,
        {n: Attribute(*a) for n, a in attrs.items()},
        {n: Method(*m) for n, m in (methods or {}).items()},
    )


# The object table. Attribute 1 (logical_name) is served generically.
_OS, _T = Axdr.OCTET_STRING, Axdr
OBJECTS: tuple[CosemObject, ...] = (
    _obj("0.0.40.0.0.255", 15, 1, {
        1: ("logical_name", _R, _R, _OS),
        2: ("object_list", _R, _R, _T.ARRAY),
    }),
    _obj("0.0.42.0.0.255", 1, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("logical_device_name", _R, _R, _OS),
    }),
    _obj("0.0.96.1.0.255", 1, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("serial", _R, _R, _OS),
    }),
    _obj("1.0.0.2.0.255", 1, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("firmware_id", _R, _R, _OS),
    }),
    _obj("0.0.1.0.0.255", 8, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("clock_time", _R, _RW, _T.DATE_TIME),
        3: ("clock_time_zone", _R, _R, _T.LONG),
        4: ("clock_status", _R, _R, _T.UNSIGNED),
        9: ("clock_base", _R, _R, _T.ENUM),
    }),
    _obj("1.0.1.8.0.255", 3, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("energy_value", _R, _R, _T.LONG64_UNSIGNED),
        3: ("energy_scaler_unit", _R, _R, _T.STRUCTURE),
    }),
    _obj("0.0.44.0.0.255", 18, 0, {
        1: ("logical_name", _NO, _R, _OS),
        2: ("image_block_size", _NO, _R, _T.DOUBLE_LONG_UNSIGNED),
        3: ("image_transferred_blocks_status", _NO, _R, _T.BIT_STRING),
        4: ("image_first_not_transferred_block_number", _NO, _R,
            _T.DOUBLE_LONG_UNSIGNED),
        5: ("image_transfer_enabled", _NO, _RW, _T.BOOLEAN),
        6: ("image_transfer_status", _NO, _R, _T.ENUM),
        7: ("image_to_activate_info", _NO, _R, _T.ARRAY),
    }, {
        1: ("image_transfer_initiate", False, True, _T.STRUCTURE),
        2: ("image_block_transfer", False, True, _T.STRUCTURE),
        3: ("image_verify", False, True, _T.INTEGER),
        4: ("image_activate", False, True, _T.INTEGER),
    }),
    _obj("0.0.96.10.1.255", 1, 0, {
        1: ("logical_name", _R, _R, _OS),
        2: ("inactive_package_sha256", _R, _R, _OS),
    }),
    # The audit log (SPEC section 4: readable through the API, the CLI and
    # DLMS): attribute 2, its lines oldest first, as octet-strings.
    _obj("0.0.96.10.3.255", 1, 0, {
        1: ("logical_name", _NO, _R, _OS),
        2: ("audit_log", _NO, _R, _T.ARRAY),
    }),
    _obj("0.0.96.10.2.255", 1, 0, {
        1: ("logical_name", _NO, _R, _OS),
        2: ("boot_state", _NO, _R, _T.ENUM),
    }, {
        1: ("activate", False, True, _T.BOOLEAN),
    }),
)

BY_OBIS: dict[bytes, CosemObject] = {obis_bytes(o.obis): o for o in OBJECTS}
