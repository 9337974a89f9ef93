"""SHA-256 against hashlib, on the default (CPU-selected) and the portable path."""

from __future__ import annotations

import hashlib
import random

from meteremu import crypto

from ._rows import Row
from ._timing import Budget, calls_per_second

MIB = 1 << 20
#: Sizes the 0.9x target judges: a 4 KiB chunk, a 128 KiB image, 1 MiB.
SIZES = (MIB, 128 * 1024, 4096)


def _label(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB else f"{size // 1024} KiB"


def run(budget: Budget) -> list[Row]:
    # The binding asks the CPU once, at import, and hands the answer to the C
    # one-shot (mt_sha256_impl): the SHA extensions at every size where present.
    accel = crypto.sha256_accelerated()
    rng = random.Random(2)
    rows = []
    for size in SIZES:
        data = rng.randbytes(size)
        want = hashlib.sha256(data).digest()

        def ours(data: bytes = data) -> bytes:
            return crypto.sha256(data)

        def peer(data: bytes = data) -> bytes:
            return hashlib.sha256(data).digest()

        wrong = ours() != want
        fast, theirs = calls_per_second([ours, peer], budget)
        rows.append(Row(
            area="SHA-256",
            case=_label(size),
            unit="MB/s",
            ours=fast * size / 1e6,
            peer="hashlib",
            theirs=theirs * size / 1e6,
            target=0.9,
            path="SHA-NI" if accel else "portable C",
            note="WRONG RESULT" if wrong else "",
        ))
    data = rng.randbytes(MIB)

    def portable() -> bytes:
        return crypto.Sha256(data, portable=True).digest()

    def peer_mib() -> bytes:
        return hashlib.sha256(data).digest()

    wrong = portable() != hashlib.sha256(data).digest()
    slow, theirs = calls_per_second([portable, peer_mib], budget)
    rows.append(Row(
        area="SHA-256",
        case="1 MiB, portable",
        unit="MB/s",
        ours=slow * MIB / 1e6,
        peer="hashlib",
        theirs=theirs * MIB / 1e6,
        target=None,
        path="portable C (forced)",
        note="WRONG RESULT" if wrong else "",
    ))
    return rows
