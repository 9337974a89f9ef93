#!/usr/bin/env python3
"""Seed corpus for fuzz_p256 from the Wycheproof ECDSA P-256 vectors.

Writes one file per test case into the directory given (created if needed),
in the harness's layout: selector byte, key, SHA-256 digest, signature. Every
DER case goes in with the uncompressed key; every 16th also with the
compressed key; the P1363 cases add raw 64-byte signatures. File names are
content hashes, so running it again adds nothing new. Standard library only.

    python3 fuzz/seed_p256.py fuzz/corpus-p256
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "wycheproof"
FILES = ("ecdsa_secp256r1_sha256_test.json", "ecdsa_secp256r1_sha256_p1363_test.json")


def cases() -> list[bytes]:
    out = []
    for name in FILES:
        data = json.loads((VECTORS / name).read_text())
        for group in data["testGroups"]:
            unc = bytes.fromhex(group["publicKey"]["uncompressed"])
            comp = bytes([2 + (unc[-1] & 1)]) + unc[1:33]
            for i, test in enumerate(group["tests"]):
                digest = hashlib.sha256(bytes.fromhex(test["msg"])).digest()
                sig = bytes.fromhex(test["sig"])
                out.append(b"\x01" + unc + digest + sig)
                if i % 16 == 0:
                    out.append(b"\x00" + comp + digest + sig)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = pathlib.Path(argv[1])
    corpus.mkdir(parents=True, exist_ok=True)
    added = 0
    for blob in cases():
        path = corpus / hashlib.sha1(blob).hexdigest()
        if not path.exists():
            path.write_bytes(blob)
            added += 1
    print(f"seed_p256: {added} new inputs in {corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
