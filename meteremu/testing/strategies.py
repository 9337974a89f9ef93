"""Hypothesis strategies for image acceptance and fragment transport.

* :func:`packages` -- valid signed packages with random metadata and images,
  which the meters of :func:`meteremu.testing.make_meter` accept.
* :func:`hostile_packages` -- packages broken in one way each (bit flips,
  truncation, wrong key, forged signature, wrong vendor or hardware,
  oversized, downgrade, lying header, malformed trailer), each with the error
  code the meter must report (:class:`HostilePackage`).
* :func:`fragment_streams` -- a package's frames as a radio delivers them:
  some lost, some twice, some damaged, out of order (:class:`FragmentStream`).

Every choice is hypothesis's, so failures shrink to small, readable cases.
Packages come from the packager's own code (``meteremu.package``); the
deliberately wrong ones are signed here and get their trailer from the
construct definition, unchecked.
Signatures are deterministic (RFC 6979), so a case replays byte for byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import strategies as st

from .._lowlevel.reasm import encode_frame
from ..errors import (
    CRC_MISMATCH,
    DOWNGRADE,
    HW_REVISION_MISMATCH,
    INCOMPLETE_IMAGE,
    INSUFFICIENT_MEMORY,
    MALFORMED_HEADER,
    MALFORMED_TRAILER,
    MISSING_SIGNATURE,
    SHA256_MISMATCH,
    SIGNATURE_FAILED,
    SIGNATURE_MISMATCH,
    VENDOR_MISMATCH,
)
from ..hes.fragments import fragment_count, fragment_package
from ..package import BANK_SIZE_DEFAULT, PackageConfig
from ..wire.frames import FrameRecord
from ..wire.layout import offset_of, size_of
from ..wire.package import (
    FRAGMENT_ALIGN,
    FRAGMENT_MAX,
    FRAGMENT_MIN,
    HEADER_CRC_OFFSET,
    HEADER_SIZE,
    SIG_DER_MIN,
    TLV_SIG_DER,
    TLV_SIG_RAW,
    TRAILER_DEFAULT,
    Header,
    SignatureRecord,
    Trailer,
)
from .factory import (
    HW_REVISION,
    VENDOR_ID,
    KeyPair,
    make_keys,
    make_package,
    sign_deterministic,
)

__all__ = [
    "FRAGMENT_SIZES",
    "HOSTILE_KINDS",
    "FragmentStream",
    "HostilePackage",
    "fragment_streams",
    "hostile_packages",
    "packages",
]

BANK_SIZE = BANK_SIZE_DEFAULT
#: Fragment sizes drawn by default: every size the package format allows,
#: 16..1024 in steps of 16 (a fragment starts on a flash write unit).
FRAGMENT_SIZES: st.SearchStrategy[int] = st.integers(
    FRAGMENT_MIN // FRAGMENT_ALIGN, FRAGMENT_MAX // FRAGMENT_ALIGN).map(
    lambda n: FRAGMENT_ALIGN * n)
_TRAILER_MIN = PackageConfig.TRAILER_MIN  # a DER signature record is at most 3 + 72 bytes



def _span(con: object, name: str) -> slice:
    """Where field ``name`` of definition ``con`` lies (a slice of its bytes)."""
    at = offset_of(con, name)  # type: ignore[arg-type]
    return slice(at, at + size_of(con, name))  # type: ignore[arg-type]


# header fields, where the definition puts them
_TRAILER_SIZE, _CRC32, _SHA = (
    _span(Header, name) for name in ("trailer_size", "image_crc32", "image_sha256"))
_RESERVED, _HCRC = offset_of(Header, "reserved"), HEADER_CRC_OFFSET
# the signature record's length field, and where its value starts
_SIG_LEN, _SIG_VALUE = _span(SignatureRecord, "length"), offset_of(SignatureRecord, "value")


@dataclass(frozen=True)
class HostilePackage:
    """A package a meter must refuse, and the code it must report.

    ``code`` is the FOTA error code (``"0x8005"``); the meter writes it to its
    audit log as ``FOTA_ERR <code>`` when the download completes -- or, for a
    ``truncated`` package whose tail never comes, when activation is asked.
    Cut the frames with :meth:`frames`: the header of a damaged package may
    no longer tell its fragment size, and a truncated one announces the size
    of the whole package.
    """

    data: bytes = field(repr=False)
    code: str
    kind: str
    fragment_size: int
    announced_size: int

    def frames(self, session_id: int = 0x0BAD) -> list[bytes]:
        if self.announced_size == len(self.data):
            return fragment_package(self.data, session_id=session_id,
                                    fragment_size=self.fragment_size)
        fs, size = self.fragment_size, self.announced_size
        count = fragment_count(size, fs)
        whole = len(self.data) // fs  # fragments the sender holds in full
        return [encode_frame(FrameRecord(session_id, size, fs, i, count,
                                         self.data[i * fs:(i + 1) * fs]))
                for i in range(min(whole, count))]


@dataclass(frozen=True)
class FragmentStream:
    """``stream`` is what arrives for ``frames`` (index order, intact); the
    fragments in ``missing`` never arrive intact."""

    package: bytes = field(repr=False)
    frames: Sequence[bytes] = field(repr=False)
    stream: Sequence[bytes] = field(repr=False)
    missing: frozenset[int]
    lost: int
    duplicated: int
    corrupted: int
    reordered: bool

    @property
    def complete(self) -> bool:
        return not self.missing


# --------------------------------------------------------------------------- valid packages

def _keys(keys: KeyPair | None) -> KeyPair:
    return make_keys(0) if keys is None else keys


@st.composite
def packages(
    draw: st.DrawFn,
    keys: KeyPair | None = None,
    *,
    vendor_id: int = VENDOR_ID,
    hw_revision: int = HW_REVISION,
    min_counter: int = 1,
    min_image: int = 1,
    max_image: int = 4096,
    behaviours: Sequence[str] = ("normal",),
    fragment_sizes: st.SearchStrategy[int] | None = None,
) -> bytes:
    """Valid signed packages: random image, version, security counter (at least
    ``min_counter``), fragment size (``fragment_sizes``, default
    :data:`FRAGMENT_SIZES`), trailer size and signature encoding."""
    k = _keys(keys)
    fragment_sizes = FRAGMENT_SIZES if fragment_sizes is None else fragment_sizes
    image = draw(st.binary(min_size=min_image, max_size=max_image))
    version = (f"{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}."
               f"{draw(st.integers(0, 0xFFFF))}+{draw(st.integers(0, 0xFFFFFFFF))}")
    config = {
        "vendor_id": vendor_id,
        "hw_revision": hw_revision,
        "version": version,
        "security_counter": draw(st.integers(min_counter, min_counter + 1000)),
        "fragment_size": draw(fragment_sizes),
        "trailer_size": draw(st.one_of(st.just(128), st.integers(_TRAILER_MIN, 1024))),
        "behaviour": draw(st.sampled_from(list(behaviours))),
    }
    pkg = make_package(image, k, config)
    if draw(st.booleans()):  # raw r||s instead of DER: the meter takes both
        pkg = _resign(pkg[: HEADER_SIZE + len(image)], k, raw=True)
    return pkg


def _resign(unsigned: bytes, signer: KeyPair, *, raw: bool = False) -> bytes:
    """Sign ``unsigned`` with ``signer`` whatever its header says (key ID, even a
    broken field), and attach the trailer the header's ``trailer_size`` asks for."""
    der = sign_deterministic(signer, unsigned)
    if raw:
        r, s = decode_dss_signature(der)
        record = {"type": "sig_raw", "value": r.to_bytes(32, "big") + s.to_bytes(32, "big")}
    else:
        record = {"type": "sig_der", "value": der}
    size = int.from_bytes(unsigned[_TRAILER_SIZE], "little")
    pad = size - _SIG_VALUE - len(record["value"])
    return unsigned + Trailer.build({"records": [record], "padding": pad})


def _reseal(header: bytearray) -> bytes:
    """Recompute the header CRC over bytes 0..123 (zlib: independent of the core)."""
    header[_HCRC:HEADER_SIZE] = struct.pack("<I", zlib.crc32(bytes(header[:_HCRC])))
    return bytes(header)


def _flip(data: bytes, lo: int, hi: int, draw: st.DrawFn) -> bytes:
    bit = draw(st.integers(8 * lo, 8 * hi - 1))
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --------------------------------------------------------------------------- hostile packages

HOSTILE_KINDS: dict[str, str] = {
    "image-bit-flip": CRC_MISMATCH.code,
    "lying-crc": CRC_MISMATCH.code,
    "lying-sha": SHA256_MISMATCH.code,
    "header-bit-flip": MALFORMED_HEADER.code,
    "bad-header-field": MALFORMED_HEADER.code,
    "wrong-hw-revision": HW_REVISION_MISMATCH.code,
    "wrong-key": SIGNATURE_MISMATCH.code,
    "downgrade": DOWNGRADE.code,
    "wrong-vendor": VENDOR_MISMATCH.code,
    "truncated": INCOMPLETE_IMAGE.code,
    "oversized": INSUFFICIENT_MEMORY.code,
    "signature-bit-flip": SIGNATURE_FAILED.code,
    "forged-signature": SIGNATURE_FAILED.code,
    "no-signature": MISSING_SIGNATURE.code,
    "trailer-padding": MALFORMED_TRAILER.code,
    "trailer-unknown-record": MALFORMED_TRAILER.code,
    "trailer-bad-length": MALFORMED_TRAILER.code,
}


@st.composite
def hostile_packages(
    draw: st.DrawFn,
    keys: KeyPair | None = None,
    *,
    other_keys: KeyPair | None = None,
    installed_counter: int = 1,
    bank_size: int = BANK_SIZE,
    kinds: Sequence[str] | None = None,
    max_image: int = 2048,
) -> HostilePackage:
    """Packages broken in exactly one way, for a meter that trusts ``keys``
    (not ``other_keys``), runs an image with ``installed_counter`` and has
    banks of ``bank_size`` bytes (the defaults are :func:`make_meter`'s)."""
    k = _keys(keys)
    other = make_keys(1) if other_keys is None else other_keys
    allowed = list(HOSTILE_KINDS) if kinds is None else list(kinds)
    if installed_counter == 0 and "downgrade" in allowed:
        allowed.remove("downgrade")  # nothing is lower than 0
    kind = draw(st.sampled_from(allowed))
    code = HOSTILE_KINDS[kind]
    image = draw(st.binary(min_size=1, max_size=max_image))
    # A truncated package keeps at least its first fragment and loses at least
    # its last: with fragments of at most 128 bytes it has three or more.
    fs = draw(FRAGMENT_SIZES.filter(lambda v: v <= 128 or kind != "truncated"))
    counter = draw(st.integers(max(installed_counter, 0), installed_counter + 100))
    base = {"fragment_size": fs, "security_counter": counter}

    def build(signer: KeyPair = k, img: bytes = image, **over: object) -> bytes:
        return make_package(img, signer, {**base, **over})

    pkg = build()
    isize = len(image)
    unsigned = pkg[: HEADER_SIZE + isize]
    trailer_at = HEADER_SIZE + isize
    announced = None

    if kind == "image-bit-flip":
        pkg = _flip(pkg, HEADER_SIZE, trailer_at, draw)
    elif kind in ("lying-crc", "lying-sha"):
        # The header lies about the image and is signed as it stands: only the
        # digest check can catch it.
        head = bytearray(unsigned[:HEADER_SIZE])
        at = _CRC32 if kind == "lying-crc" else _SHA
        head[at] = _flip(bytes(head[at]), 0, at.stop - at.start, draw)
        pkg = _resign(_reseal(head) + image, k)
    elif kind == "header-bit-flip":
        pkg = _flip(pkg, 0, HEADER_SIZE, draw)
    elif kind == "bad-header-field":
        head = bytearray(unsigned[:HEADER_SIZE])
        head[draw(st.integers(_RESERVED, _HCRC - 1))] = draw(st.integers(1, 255))
        pkg = _resign(_reseal(head) + image, k)
    elif kind == "wrong-hw-revision":
        pkg = build(hw_revision=draw(st.integers(0, 0xFFFF).filter(lambda v: v != HW_REVISION)))
    elif kind == "wrong-vendor":
        pkg = build(vendor_id=draw(st.integers(0, 0xFFFFFFFF).filter(lambda v: v != VENDOR_ID)))
    elif kind == "wrong-key":
        pkg = build(signer=other)
    elif kind == "forged-signature":
        pkg = _resign(unsigned, other)  # names the trusted key, signed by another
    elif kind == "downgrade":
        pkg = build(security_counter=draw(st.integers(0, installed_counter - 1)))
    elif kind == "truncated":
        announced = len(pkg)
        pkg = pkg[: draw(st.integers(fs, len(pkg) - 1))]
    elif kind == "oversized":
        trailer = TRAILER_DEFAULT  # make_package's
        extra = draw(st.integers(1, 4096))
        big = image * (bank_size // len(image) + 1)
        pkg = build(img=big[: bank_size - HEADER_SIZE - trailer + extra],
                    fragment_size=max(fs, 128))
        fs = max(fs, 128)
    elif kind == "signature-bit-flip":
        value_at = trailer_at + _SIG_VALUE
        length = int.from_bytes(pkg[trailer_at:][_SIG_LEN], "little")
        pkg = _flip(pkg, value_at, value_at + length, draw)
    elif kind == "no-signature":
        pkg = unsigned + b"\xff" * (len(pkg) - trailer_at)
    elif kind == "trailer-padding":
        length = int.from_bytes(pkg[trailer_at:][_SIG_LEN], "little")
        pad_at = trailer_at + _SIG_VALUE + length
        pos = draw(st.integers(pad_at, len(pkg) - 1))
        pkg = pkg[:pos] + bytes([draw(st.integers(0, 254))]) + pkg[pos + 1 :]
    elif kind == "trailer-unknown-record":
        t = draw(st.integers(0, 254).filter(lambda v: v not in (TLV_SIG_DER, TLV_SIG_RAW)))
        pkg = pkg[:trailer_at] + bytes([t]) + pkg[trailer_at + 1 :]  # the type byte
    elif kind == "trailer-bad-length":
        room = len(pkg) - trailer_at - _SIG_VALUE
        bad = draw(st.one_of(st.integers(0, SIG_DER_MIN - 1), st.integers(room + 1, 0xFFFF)))
        pkg = (pkg[: trailer_at + _SIG_LEN.start] + struct.pack("<H", bad)
               + pkg[trailer_at + _SIG_LEN.stop :])
    else:  # pragma: no cover - HOSTILE_KINDS and this chain are kept in step
        raise AssertionError(kind)
    return HostilePackage(pkg, code, kind, fs, len(pkg) if announced is None else announced)


# --------------------------------------------------------------------------- fragment streams

_DELIVER, _DROP, _TWICE, _DAMAGE = "deliver", "drop", "twice", "damage"


@st.composite
def fragment_streams(
    draw: st.DrawFn,
    package: bytes | st.SearchStrategy[bytes] | None = None,
    *,
    session_id: int | None = None,
    max_image: int = 2048,
) -> FragmentStream:
    """A package's frames with loss, duplication, corruption and reordering.

    ``package`` is a package, a strategy for one, or None for :func:`packages`
    (images up to ``max_image`` bytes). Damaged copies have one bit flipped,
    which the frame check sequence always catches.
    """
    if package is None:
        package = packages(max_image=max_image)
    pkg = draw(package) if isinstance(package, st.SearchStrategy) else bytes(package)
    sid = draw(st.integers(0, 0xFFFFFFFF)) if session_id is None else session_id
    frames = fragment_package(pkg, session_id=sid)
    ops = draw(st.lists(
        st.sampled_from([_DELIVER, _DELIVER, _DELIVER, _DROP, _TWICE, _DAMAGE]),
        min_size=len(frames), max_size=len(frames)))
    stream: list[bytes] = []
    intact: set[int] = set()
    lost = twice = damaged = 0
    for i, (frame, op) in enumerate(zip(frames, ops, strict=True)):
        if op == _DROP:
            lost += 1
            continue
        if op == _DAMAGE:
            stream.append(_flip(frame, 0, len(frame), draw))
            damaged += 1
            continue
        stream.append(frame)
        intact.add(i)
        if op == _TWICE:
            stream.append(frame)
            twice += 1
    reordered = draw(st.booleans())
    if reordered:
        stream = list(draw(st.permutations(stream)))
    missing = frozenset(range(len(frames))) - intact
    return FragmentStream(pkg, frames, stream, missing, lost, twice, damaged, reordered)

