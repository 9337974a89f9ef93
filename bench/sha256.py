"""SHA-256 against hashlib, on the default (CPU-selected) and the portable path."""

from __future__ import annotations

import hashlib
import random

from meteremu import crypto

from ._rows import Row
from ._timing import Budget, calls_per_second

MIB = 1 << 20
# The one-shot C function asks the CPU for SHA extensions only from this size
# on (MT_SHA256_ACCEL_MIN in csrc/mt_sha256_impl.h).
ACCEL_MIN = 16384


def run(budget: Budget) -> list[Row]:
    data = random.Random(2).randbytes(MIB)
    accel = crypto.sha256_accelerated()
    want = hashlib.sha256(data).digest()

    def ours() -> bytes:
        return crypto.sha256(data)

    def portable() -> bytes:
        return crypto.Sha256(data, portable=True).digest()

    def peer() -> bytes:
        return hashlib.sha256(data).digest()

    wrong = ours() != want, portable() != want
    fast, slow, theirs = calls_per_second([ours, portable, peer], budget)
    return [
        Row(
            area="SHA-256",
            case="1 MiB",
            unit="MB/s",
            ours=fast * MIB / 1e6,
            peer="hashlib",
            theirs=theirs * MIB / 1e6,
            target=0.9,
            path="SHA-NI" if accel and MIB >= ACCEL_MIN else "portable C",
            note="WRONG RESULT" if wrong[0] else "",
        ),
        Row(
            area="SHA-256",
            case="1 MiB, portable",
            unit="MB/s",
            ours=slow * MIB / 1e6,
            peer="hashlib",
            theirs=theirs * MIB / 1e6,
            target=None,
            path="portable C (forced)",
            note="WRONG RESULT" if wrong[1] else "",
        ),
    ]
