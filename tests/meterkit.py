"""Shared helpers for the VirtualMeter tests: keys, packages, meters, frame streams
(a helper module, not a test module: ``test_meterkit.py`` tests it).

Packages come from ``_pkg_build`` (struct/hashlib/cryptography, independent of
the meter's own checks).
"""

from __future__ import annotations

import functools
import random

from _pkg_build import make_package, sec1
from cryptography.hazmat.primitives.asymmetric import ec

from meteremu._lowlevel.reasm import Frame, encode_frame
from meteremu.device import Client, Geometry, VirtualMeter
from meteremu.errors import PackageError, PeerError

VENDOR = 0x4D455445
HW_REV = 3
MGMT, PUBLIC = Client.MANAGEMENT, Client.PUBLIC
#: What a COSEM request the meter refuses raises (a peer's request, an update step).
REFUSED = (PeerError, PackageError)
SMALL = Geometry(bank_size=16 * 1024, sector_size=1024, align=8, audit_sectors=4)


@functools.cache
def key(n: int = 0) -> ec.EllipticCurvePrivateKey:
    # Deterministic keys: tests stay reproducible.
    return ec.derive_private_key(0xC0FFEE + n, ec.SECP256R1())


def point(n: int = 0) -> bytes:
    return sec1(key(n).public_key())


def image(version: int, size: int = 3000) -> bytes:
    rnd = random.Random(version * 7919 + size)
    return bytes(rnd.getrandbits(8) for _ in range(size))


@functools.cache
def package(version: int = 2, *, size: int = 3000, counter: int | None = None,
            behaviour: int = 0, signer: int = 0, fragment_size: int = 128,
            **fields: object) -> bytes:
    return make_package(
        key(signer), image(version, size), version=(version, 0, 0, 0),
        security_counter=version if counter is None else counter, flags=behaviour,
        fragment_size=fragment_size, **fields)


def meter(**kw: object) -> VirtualMeter:
    args: dict[str, object] = dict(
        serial="SN0001", vendor_id=VENDOR, hw_revision=HW_REV, trusted_keys=[point(0)],
        factory_package=package(1), geometry=SMALL)
    args.update(kw)
    return VirtualMeter(**args)  # type: ignore[arg-type]


def frames(pkg: bytes, session: int = 0x5EED, fragment_size: int = 128) -> list[bytes]:
    n = -(-len(pkg) // fragment_size)
    return [encode_frame(Frame(session, len(pkg), fragment_size, i, n,
                               pkg[i * fragment_size : (i + 1) * fragment_size]))
            for i in range(n)]


def deliver(m: VirtualMeter, pkg: bytes, session: int = 0x5EED) -> None:
    for f in frames(pkg, session):
        m.receive(f)


def grep(m: VirtualMeter, needle: str) -> list[str]:
    return [line for line in m.audit_log if needle in line]
