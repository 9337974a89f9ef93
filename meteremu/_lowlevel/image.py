"""Thin typed wrappers over the C package parser and acceptance check (csrc/mt_image.h).

The check runs in C on the bytes handed in, in the order of SPEC §4; the first
failure raises :class:`~meteremu.errors.PackageRefused`, a
:class:`~meteremu.errors.PackageError` (so ``str(exc)`` is the operator line,
``exc.error`` the error-table record) that
also carries the C return code as ``exc.err``. The C codes stay distinct where
the operator codes merge (a malformed trailer and a bad signature are both
signature failures to the operator, but ``MT_E_TRAILER`` vs ``MT_E_SIGNATURE``
here).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import MT_NAMES, PackageRefused
from ..wire.package import HEADER_SIZE
from . import ffi, lib, nbytes
from .crypto import CRC_IMPL, SHA256_IMPL

__all__ = [
    "MAX_KEYS",
    "ImageCache",
    "PackageHeader",
    "TrailerSignature",
    "check_package",
    "key_id",
    "parse_header",
    "parse_trailer",
]

MAX_KEYS = 4
_SEC1_LENGTHS = (33, 65)
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF


@dataclass(frozen=True)
class PackageHeader:
    """The parsed 128-byte package header (csrc/mt_pkg.h), plus the derived
    ``package_size`` (header + image + trailer)."""

    format_version: int
    header_size: int
    vendor_id: int
    hw_revision: int
    flags: int
    behaviour: int
    version_major: int
    version_minor: int
    version_patch: int
    version_build: int
    security_counter: int
    image_size: int
    fragment_size: int
    trailer_size: int
    fragment_count: int
    image_crc32: int
    image_sha256: bytes
    key_id: bytes
    header_crc32: int
    package_size: int

    @property
    def version(self) -> tuple[int, int, int, int]:
        return (self.version_major, self.version_minor, self.version_patch, self.version_build)

    @functools.cached_property  # (read by every GET of the firmware identifier)
    def version_text(self) -> str:
        """``major.minor.patch``, with ``+build`` when the build is not 0."""
        text = f"{self.version_major}.{self.version_minor}.{self.version_patch}"
        return text + (f"+{self.version_build}" if self.version_build else "")


@dataclass(frozen=True)
class TrailerSignature:
    """The trailer's one signature record: ``der`` true for DER, false for raw r||s."""

    der: bool
    signature: bytes


def _header_from_c(h: object) -> PackageHeader:
    # cdata mt_pkg_header *, never kept: its bytes are the key
    return _header_of(ffi.buffer(h)[:])


@functools.lru_cache(maxsize=256)
def _header_of(raw: bytes) -> PackageHeader:
    """The header a C mt_pkg_header of these bytes holds, made once: a
    PackageHeader is immutable, and a fleet's meters read the same few headers
    (their running image's, at every boot) many times."""
    c = ffi.from_buffer("mt_pkg_header *", raw)
    return PackageHeader(
        format_version=int(c.format_version),
        header_size=int(c.header_size),
        vendor_id=int(c.vendor_id),
        hw_revision=int(c.hw_revision),
        flags=int(c.flags),
        behaviour=int(c.behaviour),
        version_major=int(c.version_major),
        version_minor=int(c.version_minor),
        version_patch=int(c.version_patch),
        version_build=int(c.version_build),
        security_counter=int(c.security_counter),
        image_size=int(c.image_size),
        fragment_size=int(c.fragment_size),
        trailer_size=int(c.trailer_size),
        fragment_count=int(c.fragment_count),
        image_crc32=int(c.image_crc32),
        image_sha256=bytes(ffi.buffer(c.image_sha256)),
        key_id=bytes(ffi.buffer(c.key_id)),
        header_crc32=int(c.header_crc32),
        package_size=int(c.package_size),
    )


def _buf(data: bytes | bytearray | memoryview):  # -> cdata, private to this module
    return ffi.from_buffer("uint8_t[]", data)


def parse_header(data: bytes | bytearray | memoryview) -> PackageHeader:
    """Parse and sanity-check the first 128 bytes of ``data`` (the rest is ignored).

    The C fast path of :func:`meteremu.package.parse_header` (the construct
    definition :data:`meteremu.wire.package.Header`), for the meter: the two
    accept the same headers and read the same fields
    (``tests/test_package_verify.py``).

    Raises :class:`~meteremu.errors.PackageRefused` (MT_E_HDR_MAGIC, MT_E_HDR_CRC, MT_E_HDR_FIELD),
    or ``ValueError`` when fewer than 128 bytes are given.
    """
    n = nbytes(data)
    if n < HEADER_SIZE:
        raise ValueError(f"a package header is {HEADER_SIZE} bytes, got {n}")
    out = ffi.new("mt_pkg_header *")
    rc = lib.mt_pkg_header_parse(out, _buf(data), n)
    if rc != 0:
        raise PackageRefused(rc)
    return _header_from_c(out)


def parse_trailer(trailer: bytes | bytearray | memoryview) -> TrailerSignature:
    """Parse a trailer of exactly ``trailer_size`` bytes: TLVs, then 0xFF padding.

    Raises :class:`~meteremu.errors.PackageRefused` (MT_E_TRAILER, MT_E_NO_SIGNATURE).
    """
    out = ffi.new("mt_pkg_signature *")
    rc = lib.mt_pkg_trailer_parse(out, _buf(trailer), nbytes(trailer))
    if rc != 0:
        raise PackageRefused(rc)
    return TrailerSignature(der=int(out.type) == 1, signature=bytes(out.sig[0 : int(out.len)]))


def _keys(trusted_keys: Sequence[bytes]):  # -> (cdata mt_image_key[], count)
    if isinstance(trusted_keys, (bytes, bytearray, memoryview)):
        raise TypeError("trusted_keys is a sequence of SEC1 points, not one point: [point]")
    if all(type(k) is bytes for k in trusted_keys):
        return _shared_keys(tuple(trusted_keys))
    return _new_keys(trusted_keys)


@functools.lru_cache(maxsize=64)
def _shared_keys(points: tuple[bytes, ...]):  # -> (cdata mt_image_key[], count)
    """The parsed keys of ``points``, made once: the C core only reads them
    (``const mt_image_key *``), so every bootloader and check given the same
    keys (a fleet's meters) shares one array; a refused key raises every time."""
    return _new_keys(points)


def _new_keys(trusted_keys: Sequence[bytes]):  # -> (cdata mt_image_key[], count)
    if len(trusted_keys) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} trusted keys, got {len(trusted_keys)}")
    keys = ffi.new("mt_image_key[]", max(1, len(trusted_keys)))
    for i, point in enumerate(trusted_keys):
        n = nbytes(point)
        if n not in _SEC1_LENGTHS:
            raise ValueError(f"trusted key {i}: a SEC1 point is 33 or 65 bytes, got {n}")
        rc = lib.mt_image_key_init(keys + i, _buf(point), n)
        if rc != 0:
            raise ValueError(f"trusted key {i}: not a valid P-256 point ({MT_NAMES.get(rc, rc)})")
    return keys, len(trusted_keys)


def key_id(point: bytes) -> bytes:
    """The 8-byte key ID of a SEC1 public key, as the header carries it: the
    C core's computation, which :func:`meteremu.crypto.key_id` runs."""
    keys, _ = _keys([point])
    return bytes(ffi.buffer(keys[0].key_id))


class ImageCache:
    """A verification cache of the C check (``mt_image_cache``, csrc/mt_image.h).

    Handed to :func:`check_package`, it keeps the content key of the package
    that passed: SHA-256 over the signed digest, the whole trailer and the
    signer's key, i.e. every byte the check read. A :class:`~.boot.Bootloader`
    can adopt that key for a bank (:meth:`~.boot.Bootloader.adopt`): the bank's
    next validation then spares the image SHA-256 and ECDSA if, and only if,
    the bank holds those very bytes.

    It also keeps the package that passed, as an immutable copy it holds (the
    C cache's pinned reference, csrc/mt_image.h "By reference"): a bank that
    adopted it and holds the same bytes is then checked by one compare with
    them -- no SHA-256 either, the same verdict.
    """

    __slots__ = ("_c", "_ref")

    def __init__(self) -> None:
        self._c = ffi.new("mt_image_cache *")
        self._c.pin = 1  # the bytes a check passes are ours to keep (_ref)
        self._ref: bytes | None = None  # what self._c.ref points into, kept alive

    @property
    def matched(self) -> int:
        """Checks with this cache that its reference answered (diagnostics)."""
        return int(self._c.matched)

    @property
    def filled(self) -> bool:
        """True once a package passed signature verification with this cache."""
        return bool(self._c.valid)


def _u(value: int, mask: int, name: str) -> int:
    if not 0 <= value <= mask:
        raise ValueError(f"{name} out of range: {value}")
    return value


def check_package(
    pkg: bytes | bytearray | memoryview,
    *,
    vendor_id: int,
    hw_revision: int,
    bank_size: int,
    trusted_keys: Sequence[bytes],
    installed_counter: int = 0,
    complete: bool = True,
    cache: ImageCache | None = None,
) -> PackageHeader:
    """Run the full acceptance check on ``pkg`` (a file, or a whole bank).

    ``trusted_keys`` are SEC1 points (65 or 33 bytes), at most four.
    ``complete`` is the caller's word that every fragment was received.
    ``cache`` (an :class:`ImageCache`) keeps the content key of a package that
    passes, and spares the image SHA-256 and ECDSA for one it already holds.
    Returns the parsed header; raises :class:`~meteremu.errors.PackageRefused` at the first failing
    check, ``ValueError`` for bad arguments.
    """
    keys, count = _keys(trusted_keys)
    policy = ffi.new("mt_image_policy *")
    policy.vendor_id = _u(vendor_id, _U32, "vendor_id")
    policy.hw_revision = _u(hw_revision, _U16, "hw_revision")
    policy.bank_size = _u(bank_size, _U32, "bank_size")
    policy.installed_counter = _u(installed_counter, _U32, "installed_counter")
    policy.keys = keys
    policy.key_count = count
    policy.sha_impl = SHA256_IMPL  # the CPU asked once, at import
    policy.crc_impl = CRC_IMPL
    out = ffi.new("mt_pkg_header *")
    if cache is not None and not isinstance(cache, ImageCache):
        raise TypeError(f"cache must be an ImageCache, not {cache!r:.60}")
    if cache is None:
        rc = lib.mt_image_check(out, policy, _buf(pkg), nbytes(pkg), 1 if complete else 0,
                                ffi.NULL)
    else:
        # the pinned cache may name the bytes it checks: bytes nobody can change
        data = pkg if type(pkg) is bytes else bytes(pkg)
        buf = _buf(data)
        rc = lib.mt_image_check(out, policy, buf, len(data), 1 if complete else 0, cache._c)
        if cache._c.ref == buf:  # steps 6 to 9 passed: data is the reference now
            cache._ref = data
    if rc != 0:
        raise PackageRefused(rc)
    return _header_from_c(out)
