"""Seed corpus for fuzz_reasm: a few command streams that reach a complete
download, resumes after power cuts, conflicts and raw frames (the command
encoding is described at the top of fuzz_reasm.c)."""

from __future__ import annotations

import sys

import corpus

SEEDS = {
    # synthesized, fragment size 128: one retransmission round completes it
    "complete": bytes([0x84, 0x00, 0x05, 5, 6, 0, 0]),
    # fragment size 64: a few frames, a cut, power-up/resume, then a round
    "cut_resume": bytes([0x83, 0x10, 0x02, 0, 1, 0, 0, 3, 0, 2, 5, 5, 3, 5]),
    # fragment size 16 (header spans 8 fragments): torn write, resume, round
    "small_header": bytes([0x80, 0xFF, 0x0F, 5, 0x0A, 3, 5, 3, 5, 1, 2, 0, 3, 0, 5]),
    # a conflicting block, then the true duplicate, then a round
    "conflict": bytes([0x85, 0x40, 0x03, 1, 2, 0, 3, 0, 1, 2, 0, 4, 0, 5]),
    # raw mode: a run of garbage frames
    "raw": bytes([0x04, 0x20, 0x01, 0, 10, 0]) + b"\xf1" * 10 + bytes([7, 9, 0]) + b"\x00" * 9,
}


if __name__ == "__main__":
    sys.exit(corpus.write(SEEDS, "corpus-reasm"))
