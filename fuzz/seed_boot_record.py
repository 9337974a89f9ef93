"""Seed corpus for fuzz_boot_record: valid boot-control records of every
state, bank and outcome, the erased slot, and near misses (one reserved byte
set, a field one past its range, a torn CRC), laid out as mt_boot.h documents.
Standard library only.

    python3 fuzz/seed_boot_record.py fuzz/corpus-boot_record
"""

from __future__ import annotations

import struct
import sys
import zlib

import corpus

MAGIC = b"MTBC"


def record(sequence: int, active: int, state: int, attempts: int, previous: int,
           counter: int, outcome: int) -> bytes:
    body = MAGIC + struct.pack("<IBBBBIB", sequence, active, state, attempts, previous,
                               counter, outcome) + bytes(11)
    assert len(body) == 28
    return body + struct.pack("<I", zlib.crc32(body))


def seeds() -> dict[str, bytes]:
    out = {"erased": b"\xff" * 32, "zeros": bytes(32)}
    for active in range(3):
        for state in range(3):
            for outcome in range(3):
                rec = record(7 + active, active, state, state, (active + 1) % 3, 3, outcome)
                out[f"valid-a{active}-s{state}-o{outcome}"] = rec
    good = record(0xFFFFFFFF, 1, 1, 255, 0, 0xFFFFFFFF, 0)
    out["valid-max"] = good
    reserved = bytearray(good)
    reserved[20] = 1
    out["reserved-set"] = bytes(reserved) + b"\x02"  # byte 32 bit 1: CRC repaired
    past = bytearray(good)
    past[8] = 3  # active one past golden
    out["active-past"] = bytes(past) + b"\x02"
    torn = bytearray(good)
    torn[30] ^= 0x10
    out["torn-crc"] = bytes(torn)
    out["steered"] = bytes(32) + b"\x03"  # magic written, CRC repaired, fields zero
    return out


if __name__ == "__main__":
    sys.exit(corpus.write(seeds(), "corpus-boot_record"))
