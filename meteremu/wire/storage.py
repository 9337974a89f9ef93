"""The head of a meter's flash file, in construct (``meteremu.device.storage``).

A flash backed by a file (so that ``kill -9`` leaves exactly the cells a
power cut would) starts with a 64-byte head naming the geometry the cells
were made for; the cells and one u32 LE erase counter per sector follow. A
file whose head differs from the one the meter would write is refused, so a
meter never resumes from a flash of another geometry.
"""

from __future__ import annotations

from construct import Const, Int32ul, Struct

__all__ = ["STATE_FILE_HEAD_SIZE", "STATE_FILE_MAGIC", "StateFileHead"]

STATE_FILE_MAGIC = b"METEREMU-FLASH02"

StateFileHead = Struct(
    "magic" / Const(STATE_FILE_MAGIC) * '"METEREMU-FLASH02"',
    "flash_size" / Int32ul * "bytes of flash cells after the head",
    "sector_size" / Int32ul * "erase sector, bytes",
    "align" / Int32ul * "write alignment, bytes",
    "bank_size" / Int32ul * "bytes per bank",
    "metrology_sectors" / Int32ul * "sectors of the metrology ring",
    "audit_sectors" / Int32ul * "sectors of the audit log",
    "reserved" / Const(bytes(24)) * "0",
)
STATE_FILE_HEAD_SIZE = StateFileHead.sizeof()
