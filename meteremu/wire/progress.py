"""The download-progress partition in construct (layout: ``csrc/mt_reasm.h``).

The reassembler keeps one record at the start of the progress partition --
which session is being written, its geometry, the bank it goes to -- and,
right after it, a bitmap with one bit per fragment that is programmed (1 -> 0)
as each fragment lands. After a power cut the meter reads both back and picks
the download up where it stopped.

:data:`ProgressRecord` is the 32-byte record. Its first four bytes are the
magic while the session is open and are programmed to zero when it is closed;
the CRC stays the one computed with the magic, so a closed record still says
which session it was. :data:`Progress` is the record and its bitmap (bit ``i``
of byte ``i // 8``, LSB first: 1, erased, = fragment ``i`` missing).

Only the C reassembler writes the partition; ``tests/test_wire_progress.py``
checks that these definitions read what it writes, and that it resumes from
what they build.
"""

from __future__ import annotations

from construct import Bytes, Int32ul, OneOf, Struct, this

from .layout import Sealed, crc32

__all__ = [
    "PROGRESS_CLOSED",
    "PROGRESS_MAGIC",
    "PROGRESS_RECORD_SIZE",
    "Progress",
    "ProgressBody",
    "ProgressRecord",
]

PROGRESS_MAGIC = b"MTDL"
#: The magic of a closed record: programmed to zero, the rest kept.
PROGRESS_CLOSED = bytes(4)


def _crc(data: bytes) -> int:
    """The record's CRC: over bytes 0..27 with the magic in place, open or closed."""
    return crc32(PROGRESS_MAGIC + data[len(PROGRESS_MAGIC) :])


ProgressBody = Struct(
    "magic" / OneOf(Bytes(4), [PROGRESS_MAGIC, PROGRESS_CLOSED])
    * '"MTDL" (4D 54 44 4C) while the session is open; 00 00 00 00 once it is closed',
    "session_id" / Int32ul * "the download session's ID",
    "package_size" / Int32ul * "header + image + trailer bytes",
    "fragment_size" / Int32ul * "bytes per fragment (the last may be shorter)",
    "fragment_count" / Int32ul * "fragments in the package: bits in the bitmap",
    "bank_off" / Int32ul * "device address of the bank being written",
    "tag" / Int32ul * "the caller's label for the session (the meter: 0 mesh, 1 DLMS)",
)

#: The progress record as one flat record (the body's fields and ``crc32``).
ProgressRecord = Sealed(
    ProgressBody,
    crc=_crc,
    crc_doc='CRC-32/ISO-HDLC of bytes 0..27 with "MTDL" as bytes 0..3, also once closed',
)
PROGRESS_RECORD_SIZE = ProgressRecord.sizeof()

#: The record and its bitmap, ceil(fragment_count / 8) bytes (erased bytes follow).
Progress = Struct(
    "record" / ProgressRecord,
    "bitmap" / Bytes((this.record.fragment_count + 7) // 8)
    * "bit i (byte 32 + i/8, bit i%8, LSB first): 1 (erased) = fragment i missing, "
      "0 (programmed) = received",
)
