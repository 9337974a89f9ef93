"""Reading packages: take one apart, describe it, check it as a meter would.

Parsing follows :mod:`meteremu.wire.package`; :func:`verify` runs the C
core's acceptance check, the same code the virtual meter runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from construct import ChecksumError, ConstructError

from .._lowlevel.image import MAX_KEYS, check_package
from ..crypto import crc32, key_id, sha256
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
    ConfigError,
    ErrorCode,
    PackageError,
    short_repr,
)
from ..wire import package as fmt
from .config import Version

__all__ = [
    "BANK_SIZE_DEFAULT",
    "ParsedPackage",
    "SignatureEncoding",
    "describe",
    "parse_header",
    "parse_package",
    "verify",
]

BANK_SIZE_DEFAULT = 128 * 1024
_U16, _U32 = 0xFFFF, 0xFFFFFFFF

SignatureEncoding = Literal["der", "raw"]


@dataclass(frozen=True)
class ParsedPackage:
    """A package file taken apart. ``signature`` is None for an unsigned package."""

    header: Mapping[str, Any]
    image: bytes
    raw: bytes = field(repr=False)
    signature: bytes | None = None
    signature_encoding: SignatureEncoding | None = None

    @property
    def unsigned(self) -> bytes:
        """header || image: the signing input."""
        return self.raw[: fmt.HEADER_SIZE + len(self.image)]

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def behaviour(self) -> str:
        return str(self.header["flags"]["behaviour"])

    @property
    def version(self) -> Version:
        h = self.header
        return Version(h["version_major"], h["version_minor"], h["version_patch"],
                       h["version_build"])


def _construct_detail(exc: ConstructError) -> str:
    # construct says "Error in path (parsing) -> body -> field\n<message>"; keep
    # the innermost field name and the message.
    lines = str(exc).strip().splitlines()
    message = lines[-1].replace("parsing expected", "expected")
    path = getattr(exc, "path", None) or ""
    name = path.split(" -> ")[-1].strip() if " -> " in path else ""
    if name in ("", "body", "header", "trailer", "padding") or name.startswith("("):
        return message
    return f"{name}: {message}"


def parse_header(data: bytes) -> Mapping[str, Any]:
    """Parse and check the 128-byte header (the C core's header sanity rules).

    Fewer than 128 bytes is an incomplete image (0x8001), as on the meter.
    """
    if len(data) < fmt.HEADER_SIZE:
        raise PackageError(
            INCOMPLETE_IMAGE, f"{len(data)} bytes, shorter than the {fmt.HEADER_SIZE}-byte header"
        )
    try:
        return fmt.Header.parse(bytes(data[: fmt.HEADER_SIZE]))
    except ChecksumError:
        stored = int.from_bytes(data[fmt.HEADER_CRC_OFFSET : fmt.HEADER_SIZE], "little")
        raise PackageError(
            MALFORMED_HEADER, f"header CRC mismatch (stored 0x{stored:08x})"
        ) from None
    except ConstructError as exc:
        raise PackageError(MALFORMED_HEADER, _construct_detail(exc)) from None


def parse_package(data: bytes) -> ParsedPackage:
    """Take a package file apart: unsigned (header || image) or signed (with trailer).

    Raises :class:`PackageError`: 0x8008 malformed header, 0x8001 when the
    file is shorter than the header announces, 0xE06 malformed trailer (or
    bytes after it), 0xE05 when the trailer holds no signature.
    """
    data = bytes(data)
    header = parse_header(data)
    unsigned_len = fmt.HEADER_SIZE + header["image_size"]
    full_len = unsigned_len + header["trailer_size"]
    if len(data) == unsigned_len:
        return ParsedPackage(header, data[fmt.HEADER_SIZE :], data)
    if len(data) < full_len:
        raise PackageError(
            INCOMPLETE_IMAGE,
            f"file holds {len(data)} bytes; the header announces {unsigned_len} unsigned or "
            f"{full_len} signed",
        )
    if len(data) > full_len:
        raise PackageError(MALFORMED_TRAILER, f"{len(data) - full_len} bytes after the trailer")
    try:
        trailer = fmt.Trailer.parse(data[unsigned_len:])
    except ConstructError as exc:
        raise PackageError(MALFORMED_TRAILER, _construct_detail(exc)) from None
    if not trailer.records:
        raise PackageError(MISSING_SIGNATURE, "the trailer holds no signature record")
    record = trailer.records[0]
    encoding: SignatureEncoding = "der" if record.type == "sig_der" else "raw"
    return ParsedPackage(header, data[fmt.HEADER_SIZE : unsigned_len], data,
                         record.value, encoding)


def describe(data: bytes) -> dict[str, Any]:
    """Everything ``meteremu inspect`` shows, as JSON-ready values."""
    p = parse_package(data)
    h = p.header
    image_crc = crc32(p.image)
    image_sha = sha256(p.image)
    flags = int.from_bytes(fmt.Flags.build(h["flags"]), "little")  # the word as stored
    return {
        "header": {
            "magic": h["magic"].decode("ascii"),
            "format_version": h["format_version"],
            "header_size": h["header_size"],
            "vendor_id": h["vendor_id"],
            "hw_revision": h["hw_revision"],
            "flags": flags,
            "behaviour": p.behaviour,
            "version": str(p.version),
            "version_major": h["version_major"],
            "version_minor": h["version_minor"],
            "version_patch": h["version_patch"],
            "version_build": h["version_build"],
            "security_counter": h["security_counter"],
            "image_size": h["image_size"],
            "fragment_size": h["fragment_size"],
            "trailer_size": h["trailer_size"],
            "fragment_count": h["fragment_count"],
            "image_crc32": f"0x{h['image_crc32']:08x}",
            "image_sha256": h["image_sha256"].hex(),
            "key_id": h["key_id"].hex(),
            "header_crc32": f"0x{h['header_crc32']:08x}",
        },
        "sizes": {
            "file": len(p.raw),
            "unsigned": len(p.unsigned),
            "package": fmt.HEADER_SIZE + h["image_size"] + h["trailer_size"],
        },
        "digests": {
            "image_crc32": f"0x{image_crc:08x}",
            "image_crc32_matches_header": image_crc == h["image_crc32"],
            "image_sha256": image_sha.hex(),
            "image_sha256_matches_header": image_sha == h["image_sha256"],
            "signed_sha256": sha256(p.unsigned).hex(),
            "package_sha256": sha256(p.raw).hex(),
        },
        "signature": {
            "present": p.signed,
            "encoding": p.signature_encoding,
            "length": None if p.signature is None else len(p.signature),
            "value": None if p.signature is None else p.signature.hex(),
        },
    }


def verify(
    data: bytes,
    public_keys: Sequence[bytes],
    *,
    vendor_id: int | None = None,
    hw_revision: int | None = None,
    min_security_counter: int = 0,
    bank_size: int = BANK_SIZE_DEFAULT,
) -> Mapping[str, Any]:
    """Run the meter's acceptance check (C core, SPEC section 4 order) on a package file.

    ``public_keys`` are the meter's trusted keys (65-byte points, at most 4).
    ``vendor_id`` / ``hw_revision`` default to the package's own values (that
    check then passes); ``min_security_counter`` plays the installed image's
    counter. The file is checked as it stands, complete: a file shorter than
    the package its header announces is 0x8001, as a bank with fragments
    missing would be. Returns the parsed header; raises :class:`PackageError`
    with the first failing check's code and a detail naming the values, and
    :class:`ConfigError` for a meter setting its field cannot hold (vendor ID
    and counter 32 bits, hardware revision 16, bank size 1..2**32-1).
    """
    for name, value, low, high in (
        ("vendor_id", vendor_id, 0, _U32),
        ("hw_revision", hw_revision, 0, _U16),
        ("min_security_counter", min_security_counter, 0, _U32),
        ("bank_size", bank_size, 1, _U32),
    ):
        if value is None and name in ("vendor_id", "hw_revision"):
            continue  # the package's own value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(name, f"must be an integer {low}..{high}, not {short_repr(value)}")
    data = bytes(data)
    if not public_keys:
        raise ConfigError("pubkey", "at least one trusted public key is needed")
    if len(public_keys) > MAX_KEYS:
        raise ConfigError("pubkey", f"a meter holds at most {MAX_KEYS} trusted keys")
    own: Mapping[str, Any] | None
    try:
        own = parse_header(data)
    except PackageError:
        own = None  # the C check reports it, in its own order
    meter_vendor = vendor_id if vendor_id is not None else (own["vendor_id"] if own else 0)
    meter_hw = hw_revision if hw_revision is not None else (own["hw_revision"] if own else 0)
    try:
        check_package(
            data,
            vendor_id=meter_vendor,
            hw_revision=meter_hw,
            bank_size=bank_size,
            trusted_keys=list(public_keys),
            installed_counter=min_security_counter,
            complete=True,
        )
    except PackageError as exc:
        err_name = getattr(exc, "err_name", "")
        detail = _explain(exc.error, data, own, public_keys, meter_vendor, meter_hw,
                          bank_size, min_security_counter)
        if err_name:
            detail = f"{detail} ({err_name})" if detail else err_name
        raise PackageError(exc.error, detail) from None
    assert own is not None  # the C check passed, so the header parses
    return own


def _explain(
    e: ErrorCode,
    data: bytes,
    h: Mapping[str, Any] | None,
    public_keys: Sequence[bytes],
    vendor_id: int,
    hw_revision: int,
    bank_size: int,
    installed: int,
) -> str:
    """Words for a failed check, from the values that made it fail."""
    if h is None:
        if len(data) < fmt.HEADER_SIZE:
            return f"{len(data)} bytes, shorter than the {fmt.HEADER_SIZE}-byte header"
        try:
            parse_header(data)
        except PackageError as exc:
            return exc.detail
        return ""
    size = fmt.HEADER_SIZE + h["image_size"] + h["trailer_size"]
    if e is INCOMPLETE_IMAGE:
        if len(data) == fmt.HEADER_SIZE + h["image_size"]:
            return "unsigned package: no trailer (attach a signature first)"
        return f"file holds {len(data)} of the package's {size} bytes"
    if e is SIGNATURE_MISMATCH:
        trusted = ", ".join(key_id(p).hex() for p in public_keys)
        return f"key ID {h['key_id'].hex()} is not among the trusted keys ({trusted})"
    if e in (MISSING_SIGNATURE, MALFORMED_TRAILER):
        try:
            parse_package(data[:size])
        except PackageError as exc:
            return exc.detail
        return ""
    return {
        VENDOR_MISMATCH: f"package vendor 0x{h['vendor_id']:08X}, meter 0x{vendor_id:08X}",
        HW_REVISION_MISMATCH:
            f"package hardware revision {h['hw_revision']}, meter {hw_revision}",
        INSUFFICIENT_MEMORY: f"package of {size} bytes, bank of {bank_size}",
        CRC_MISMATCH: "the image does not match the header's CRC-32",
        SHA256_MISMATCH: "the image does not match the header's SHA-256",
        DOWNGRADE:
            f"package security counter {h['security_counter']} < installed {installed}",
        SIGNATURE_FAILED: f"the signature does not verify with key {h['key_id'].hex()}",
    }.get(e, "")
