"""The bootloader's on-flash records in construct (layout: ``csrc/mt_boot.h``).

* :data:`BootControlRecord` -- 32 bytes, one per change of the boot decision,
  appended alternately to the two boot-control areas; the valid record with
  the highest sequence is the current one.
* :data:`FloorSlot` -- 16 bytes, appended to the anti-rollback floor area
  (never erased) when the floor rises; the area's floor is the highest valid
  slot.

Both end in a CRC-32 over the bytes before it (a ``Checksum`` over a
``RawCopy``). Parsing checks what the C decoders check, in their order where
it matters: magic and CRC first, then the field rules, so a flipped bit reads
as a bad CRC. The C codecs (``mt_boot_record_encode``/``_decode``,
``mt_boot_floor_encode``/``_decode``) are the bootloader's; the tests check
that they and these definitions agree byte for byte.
"""

from __future__ import annotations

from construct import Bytes, Const, Int8ul, Int32ul, Rebuild, Struct

from .layout import Sealed

__all__ = [
    "BOOT_MAGIC",
    "BOOT_RECORD_SIZE",
    "FLOOR_MAGIC",
    "FLOOR_SLOT_SIZE",
    "BootControlBody",
    "BootControlRecord",
    "FloorSlot",
    "FloorSlotBody",
]

BOOT_MAGIC = b"MTBC"
FLOOR_MAGIC = b"MTFL"
_U32 = 0xFFFFFFFF
_BANK_MAX = 2  # 0 A, 1 B, 2 golden
_STATE_MAX = 2  # 0 confirmed, 1 trial, 2 reverted
_OUTCOME_MAX = 2  # 0 none, 1 confirmed, 2 reverted
_RESERVED = 11

BootControlBody = Struct(
    "magic" / Const(BOOT_MAGIC) * '"MTBC" (4D 54 42 43)',
    "sequence" / Int32ul
    * "+1 per record written; the valid record with the highest sequence is the current one",
    "active" / Int8ul * "bank to run: 0 A, 1 B, 2 golden",
    "state" / Int8ul
    * "0 confirmed; 1 trial (a new image awaiting its heartbeat); 2 reverted (an older "
      "image brought back after a failure, on probation until it boots once)",
    "attempts" / Int8ul * "boots of the active image while the state is not confirmed",
    "previous" / Int8ul * "bank a trial reverts to: 0 A, 1 B, 2 golden",
    "counter" / Int32ul
    * "confirmed security counter: the anti-rollback floor as this record knows it "
      "(the floor area keeps it too; the higher of the two wins)",
    "outcome" / Int8ul
    * "how the last update ended: 0 none (none yet, or one still on trial), 1 confirmed, "
      "2 reverted; it outlives the state",
    "reserved" / Bytes(_RESERVED) * "0",
)

#: The boot-control record as one flat record (the body's fields and ``crc32``).
BootControlRecord = Sealed(
    BootControlBody,
    rules=[
        (lambda r: r.active <= _BANK_MAX, "active must be a bank: 0 A, 1 B, 2 golden"),
        (lambda r: r.state <= _STATE_MAX, "state must be 0 confirmed, 1 trial or 2 reverted"),
        (lambda r: r.previous <= _BANK_MAX, "previous must be a bank: 0 A, 1 B, 2 golden"),
        (lambda r: r.outcome <= _OUTCOME_MAX,
         "outcome must be 0 none, 1 confirmed or 2 reverted"),
        (lambda r: r.reserved == bytes(_RESERVED), "reserved bytes 17..27 must be 0"),
    ],
    defaults={"reserved": bytes(_RESERVED)},
)
BOOT_RECORD_SIZE = BootControlRecord.sizeof()

FloorSlotBody = Struct(
    "magic" / Const(FLOOR_MAGIC) * '"MTFL" (4D 54 46 4C)',
    "floor" / Int32ul * "a confirmed security counter",
    "floor_inv" / Rebuild(Int32ul, lambda ctx: ctx.floor ^ _U32)
    * "bitwise NOT of floor (built from it)",
)

#: A slot of the anti-rollback floor area as one flat record (``floor``,
#: ``floor_inv``, ``crc32``). A torn slot can only have bits of the intended
#: one still set, so floor and floor_inv are complements only when whole.
FloorSlot = Sealed(
    FloorSlotBody,
    rules=[(lambda s: s.floor_inv == s.floor ^ _U32, "floor_inv must be the bitwise NOT of floor")],
)
FLOOR_SLOT_SIZE = FloorSlot.sizeof()
