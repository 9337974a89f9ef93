"""Firmware packages on the head-end side: build, sign, attach, inspect, verify.

The signing input is the *unsigned package* -- the 128-byte header followed by
the image, exactly the bytes of the file :func:`build_unsigned` returns -- so an
HSM or ``openssl dgst -sha256 -sign key.pem -out fw.sig fw.unsigned.pkg`` signs
it as it stands; :func:`attach_signature` then appends the trailer. The header
(vendor, hardware revision, version, security counter, behaviour and the key
ID of the signer) is inside the signed bytes, so none of it can be changed
without breaking the signature.

Byte layouts come from :mod:`meteremu.wire.package`; the acceptance check of
:func:`verify` is the C core's, the same code the virtual meter runs.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from construct import ChecksumError, ConstructError

from .errors import ConfigError, PackageError
from .keys import PrivateKey, public_point
from .wire import package as fmt

__all__ = [
    "BANK_SIZE_DEFAULT",
    "PackageConfig",
    "ParsedPackage",
    "Version",
    "attach_signature",
    "build_unsigned",
    "describe",
    "load_config",
    "parse_header",
    "parse_package",
    "sign",
    "signature_encoding",
    "verify",
]

BANK_SIZE_DEFAULT = 128 * 1024

SignatureEncoding = Literal["der", "raw"]

_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF


@dataclass(frozen=True)
class Version:
    """Firmware version: ``major.minor.patch`` plus a build number.

    Written ``"1.2.3"`` (build 0) or ``"1.2.3+45"``; ``str()`` gives the same
    form back. Ranges follow the header fields: major and minor 0..255, patch
    0..65535, build 0..2**32-1.
    """

    major: int
    minor: int
    patch: int
    build: int = 0

    _PATTERN = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:\+(\d+))?")

    def __post_init__(self) -> None:
        for name, limit in (("major", _U8), ("minor", _U8), ("patch", _U16), ("build", _U32)):
            value = getattr(self, name)
            if not 0 <= value <= limit:
                raise ValueError(f"{name} must be 0..{limit}, not {value}")

    @classmethod
    def parse(cls, text: str) -> Version:
        m = cls._PATTERN.fullmatch(text.strip())
        if not m:
            raise ValueError(f'must look like "1.2.3" or "1.2.3+45", not {text!r}')
        return cls(*(int(g) if g is not None else 0 for g in m.groups()))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}+{self.build}" if self.build else text


def _int_field(data: Mapping[str, Any], name: str, limit: int, low: int = 0) -> int:
    value = data[name]
    if isinstance(value, str) and value.strip().lower().startswith("0x"):
        try:
            value = int(value, 16)
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a hexadecimal number") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an integer (or a \"0x...\" string), not {value!r}")
    if not low <= value <= limit:
        raise ConfigError(name, f"must be {low}..{limit}, got {value}")
    return value


@dataclass(frozen=True)
class PackageConfig:
    """The package metadata of ``config.json`` (seed step 2).

    ``packet_count``, when given, is the fragment count the operator expects;
    building checks it against the real one. ``trailer_size`` is the space
    reserved after the image for the signature trailer.
    """

    vendor_id: int
    hw_revision: int
    version: Version
    security_counter: int
    fragment_size: int
    behaviour: str = "normal"
    packet_count: int | None = None
    trailer_size: int = fmt.TRAILER_DEFAULT

    REQUIRED = ("vendor_id", "hw_revision", "version", "security_counter", "fragment_size")
    OPTIONAL = ("packet_count", "behaviour", "trailer_size")
    # A DER P-256 signature record is at most 3 + 72 bytes.
    TRAILER_MIN = 3 + fmt.SIG_DER_MAX

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PackageConfig:
        """Validate a parsed ``config.json``; :class:`ConfigError` names the bad field."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", "must be a JSON object")
        unknown = sorted(set(data) - set(cls.REQUIRED) - set(cls.OPTIONAL))
        if unknown:
            raise ConfigError(unknown[0], "unknown field (typo?); known fields: "
                              + ", ".join(cls.REQUIRED + cls.OPTIONAL))
        for name in cls.REQUIRED:
            if name not in data:
                raise ConfigError(name, "missing (required)")
        version = data["version"]
        if not isinstance(version, str):
            raise ConfigError("version", f'must be a string like "1.2.3+45", not {version!r}')
        try:
            parsed_version = Version.parse(version)
        except ValueError as exc:
            raise ConfigError("version", str(exc)) from None
        behaviour = data.get("behaviour", "normal")
        if behaviour not in fmt.BEHAVIOURS:
            raise ConfigError(
                "behaviour", f"must be one of {', '.join(fmt.BEHAVIOURS)}, not {behaviour!r}"
            )
        packet_count = data.get("packet_count")
        fragment_size = _int_field(data, "fragment_size", fmt.FRAGMENT_MAX, fmt.FRAGMENT_MIN)
        if fragment_size % fmt.FRAGMENT_ALIGN:
            raise ConfigError(
                "fragment_size",
                f"must be a multiple of {fmt.FRAGMENT_ALIGN} (the flash write unit), "
                f"got {fragment_size}",
            )
        return cls(
            vendor_id=_int_field(data, "vendor_id", _U32),
            hw_revision=_int_field(data, "hw_revision", _U16),
            version=parsed_version,
            security_counter=_int_field(data, "security_counter", _U32),
            fragment_size=fragment_size,
            behaviour=behaviour,
            packet_count=None if packet_count is None else _int_field(data, "packet_count", _U32),
            trailer_size=(
                _int_field(data, "trailer_size", fmt.TRAILER_MAX, cls.TRAILER_MIN)
                if "trailer_size" in data
                else fmt.TRAILER_DEFAULT
            ),
        )

    def fragment_count(self, image_size: int) -> int:
        return fmt.fragment_count(image_size, self.trailer_size, self.fragment_size)


def load_config(path: str | pathlib.Path) -> PackageConfig:
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid JSON: {exc}") from None
    return PackageConfig.from_dict(data)


def build_unsigned(image: bytes, config: PackageConfig, key_id: bytes) -> bytes:
    """The unsigned package: header || image. This is the signing input.

    ``key_id`` (8 bytes, :func:`meteremu.crypto.key_id`) names the key that
    will sign it; it sits in the signed header, so it is fixed before signing.
    """
    if len(key_id) != fmt.KEY_ID_LEN:
        raise ValueError(f"key_id must be {fmt.KEY_ID_LEN} bytes, got {len(key_id)}")
    if not image:
        raise ConfigError("firmware", "image is empty")
    if len(image) > _U32 - fmt.HEADER_SIZE - config.trailer_size:
        raise ConfigError("firmware", f"image of {len(image)} bytes does not fit 32 bits")
    count = config.fragment_count(len(image))
    if config.packet_count is not None and config.packet_count != count:
        raise ConfigError(
            "packet_count",
            f"is {config.packet_count}, but the package needs {count} fragments of "
            f"{config.fragment_size} bytes (128 header + {len(image)} image + "
            f"{config.trailer_size} trailer bytes)",
        )
    from .crypto import crc32, sha256

    header = {
        "vendor_id": config.vendor_id,
        "hw_revision": config.hw_revision,
        "flags": {"reserved": 0, "behaviour": config.behaviour},
        "version_major": config.version.major,
        "version_minor": config.version.minor,
        "version_patch": config.version.patch,
        "version_build": config.version.build,
        "security_counter": config.security_counter,
        "image_size": len(image),
        "fragment_size": config.fragment_size,
        "trailer_size": config.trailer_size,
        "fragment_count": count,
        "image_crc32": crc32(image),
        "image_sha256": sha256(image),
        "key_id": bytes(key_id),
    }
    return fmt.UnsignedPackage.build({"header": header, "image": bytes(image)})


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
            "0x8001", f"{len(data)} bytes, shorter than the {fmt.HEADER_SIZE}-byte header"
        )
    try:
        return fmt.Header.parse(bytes(data[: fmt.HEADER_SIZE]))
    except ChecksumError:
        stored = int.from_bytes(data[fmt.HEADER_CRC_OFFSET : fmt.HEADER_SIZE], "little")
        raise PackageError("0x8008", f"header CRC mismatch (stored 0x{stored:08x})") from None
    except ConstructError as exc:
        raise PackageError("0x8008", _construct_detail(exc)) from None


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
            "0x8001",
            f"file holds {len(data)} bytes; the header announces {unsigned_len} unsigned or "
            f"{full_len} signed",
        )
    if len(data) > full_len:
        raise PackageError("0xE06", f"{len(data) - full_len} bytes after the trailer")
    try:
        trailer = fmt.Trailer.parse(data[unsigned_len:])
    except ConstructError as exc:
        raise PackageError("0xE06", _construct_detail(exc)) from None
    if not trailer.records:
        raise PackageError("0xE05", "the trailer holds no signature record")
    record = trailer.records[0]
    encoding: SignatureEncoding = "der" if record.type == "sig_der" else "raw"
    return ParsedPackage(header, data[fmt.HEADER_SIZE : unsigned_len], data,
                         record.value, encoding)


def signature_encoding(signature: bytes) -> SignatureEncoding:
    """``"der"`` for strict DER (what OpenSSL writes), ``"raw"`` for 64-byte r||s.

    Strict DER is tried first: a 64-byte buffer that is valid strict DER is
    DER (a raw r||s that happens to be DER-shaped is astronomically unlikely).
    """
    from ._lowlevel.crypto import ecdsa_der_to_raw

    if fmt.SIG_DER_MIN <= len(signature) <= fmt.SIG_DER_MAX and ecdsa_der_to_raw(signature):
        return "der"
    if len(signature) == fmt.SIG_RAW_LEN:
        return "raw"
    raise PackageError(
        "0xE04",
        f"signature of {len(signature)} bytes is neither strict DER nor raw 64-byte r||s",
    )


def sign(unsigned: bytes, key: PrivateKey) -> bytes:
    """ECDSA P-256 over SHA-256(unsigned package), DER -- what ``openssl dgst -sha256 -sign`` makes.

    The header's key ID must name ``key``; a package signed by another key would
    be refused by every meter as 0x8005, so this refuses it here.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from .crypto import key_id

    parsed = parse_package(unsigned)
    if parsed.signed:
        raise ValueError("sign() takes the unsigned package (header || image)")
    own = key_id(public_point(key))
    if parsed.header["key_id"] != own:
        raise PackageError(
            "0x8005",
            f"header key ID {parsed.header['key_id'].hex()} is not the signing key's "
            f"{own.hex()}",
        )
    return key.sign(parsed.unsigned, ec.ECDSA(hashes.SHA256()))


def attach_signature(
    package: bytes, signature: bytes, public_keys: Sequence[bytes] = ()
) -> bytes:
    """Append the trailer: one signature TLV, then 0xFF up to ``trailer_size``.

    ``package`` is the unsigned package (a signed one gets its trailer
    replaced). ``signature`` is DER or raw r||s, detected. With
    ``public_keys`` (65-byte points), the header's key ID must be one of
    theirs (else 0x8005) and the signature must verify with it (else 0xE04).
    """
    parsed = parse_package(package)
    encoding = signature_encoding(signature)
    if public_keys:
        _check_signature(parsed, signature, encoding, public_keys)
    record_size = 3 + len(signature)
    trailer_size = parsed.header["trailer_size"]
    if record_size > trailer_size:
        raise PackageError(
            "0xE06",
            f"a {record_size}-byte signature record does not fit trailer_size {trailer_size}",
        )
    kind = "sig_der" if encoding == "der" else "sig_raw"
    trailer = fmt.Trailer.build(
        {"records": [{"type": kind, "value": bytes(signature)}],
         "padding": trailer_size - record_size}
    )
    return parsed.unsigned + trailer


def _check_signature(
    parsed: ParsedPackage,
    signature: bytes,
    encoding: SignatureEncoding,
    public_keys: Sequence[bytes],
) -> None:
    from .crypto import key_id, sha256, verify_p256

    wanted = parsed.header["key_id"]
    for point in public_keys:
        if key_id(point) == wanted:
            if not verify_p256(point, sha256(parsed.unsigned), signature, encoding=encoding):
                raise PackageError(
                    "0xE04", f"the signature does not verify with key {wanted.hex()}"
                )
            return
    given = ", ".join(key_id(p).hex() for p in public_keys)
    raise PackageError(
        "0x8005", f"header key ID {wanted.hex()} is not among the given keys ({given})"
    )


def describe(data: bytes) -> dict[str, Any]:
    """Everything ``meteremu inspect`` shows, as JSON-ready values."""
    from .crypto import crc32, sha256

    p = parse_package(data)
    h = p.header
    image_crc = crc32(p.image)
    image_sha = sha256(p.image)
    flags = (h["flags"]["reserved"] << 4) | fmt.BEHAVIOURS[str(h["flags"]["behaviour"])]
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
    with the first failing check's code and a detail naming the values.
    """
    from ._lowlevel.image import MAX_KEYS, check_package

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
        detail = _explain(exc.code.code, data, own, public_keys, meter_vendor, meter_hw,
                          bank_size, min_security_counter)
        if err_name:
            detail = f"{detail} ({err_name})" if detail else err_name
        raise PackageError(exc.code, detail) from None
    assert own is not None  # the C check passed, so the header parses
    return own


def _explain(
    code: str,
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
    if code == "0x8007":
        return f"package vendor 0x{h['vendor_id']:08X}, meter 0x{vendor_id:08X}"
    if code == "0x8004":
        return f"package hardware revision {h['hw_revision']}, meter {hw_revision}"
    if code == "0x9002":
        return f"package of {size} bytes, bank of {bank_size}"
    if code == "0x8001":
        if len(data) == fmt.HEADER_SIZE + h["image_size"]:
            return "unsigned package: no trailer (attach a signature first)"
        return f"file holds {len(data)} of the package's {size} bytes"
    if code == "0x8002":
        return "the image does not match the header's CRC-32"
    if code == "0x8003":
        return "the image does not match the header's SHA-256"
    if code == "0x8006":
        return f"package security counter {h['security_counter']} < installed {installed}"
    from .crypto import key_id

    if code == "0x8005":
        trusted = ", ".join(key_id(p).hex() for p in public_keys)
        return f"key ID {h['key_id'].hex()} is not among the trusted keys ({trusted})"
    if code in ("0xE05", "0xE06"):
        try:
            parse_package(data[:size])
        except PackageError as exc:
            return exc.detail
        return ""
    if code == "0xE04":
        return f"the signature does not verify with key {h['key_id'].hex()}"
    return ""
