"""Building and signing: the unsigned package, its signature, the trailer.

The signing input is the unsigned package (header || image) as
:func:`build_unsigned` returns it, so an HSM or ``openssl dgst -sha256 -sign``
signs that file as it stands; :func:`attach_signature` appends the trailer.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .._lowlevel.crypto import ecdsa_der_to_raw
from ..crypto import crc32, key_id, sha256, verify_p256
from ..errors import (
    MALFORMED_TRAILER,
    SIGNATURE_FAILED,
    SIGNATURE_MISMATCH,
    ConfigError,
    PackageError,
)
from ..keys import PrivateKey, public_point
from ..wire import package as fmt
from .config import PackageConfig
from .read import ParsedPackage, SignatureEncoding, parse_package

__all__ = ["attach_signature", "build_unsigned", "sign", "signature_encoding"]

_U32 = 0xFFFFFFFF


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


def signature_encoding(signature: bytes) -> SignatureEncoding:
    """``"der"`` for strict DER (what OpenSSL writes), ``"raw"`` for 64-byte r||s.

    Strict DER is tried first: a 64-byte buffer that is valid strict DER is
    DER (a raw r||s that happens to be DER-shaped is astronomically unlikely).
    """
    if fmt.SIG_DER_MIN <= len(signature) <= fmt.SIG_DER_MAX and ecdsa_der_to_raw(signature):
        return "der"
    if len(signature) == fmt.SIG_RAW_LEN:
        return "raw"
    raise PackageError(
        SIGNATURE_FAILED,
        f"signature of {len(signature)} bytes is neither strict DER nor raw 64-byte r||s",
    )


def sign(unsigned: bytes, key: PrivateKey) -> bytes:
    """ECDSA P-256 over SHA-256(unsigned package), DER -- what ``openssl dgst -sha256 -sign`` makes.

    The header's key ID must name ``key``; a package signed by another key would
    be refused by every meter as 0x8005, so this refuses it here.
    """
    parsed = parse_package(unsigned)
    if parsed.signed:
        raise ValueError("sign() takes the unsigned package (header || image)")
    own = key_id(public_point(key))
    if parsed.header["key_id"] != own:
        raise PackageError(
            SIGNATURE_MISMATCH,
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
            MALFORMED_TRAILER,
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
    wanted = parsed.header["key_id"]
    for point in public_keys:
        if key_id(point) == wanted:
            if not verify_p256(point, sha256(parsed.unsigned), signature, encoding=encoding):
                raise PackageError(
                    SIGNATURE_FAILED, f"the signature does not verify with key {wanted.hex()}"
                )
            return
    given = ", ".join(key_id(p).hex() for p in public_keys)
    raise PackageError(
        SIGNATURE_MISMATCH, f"header key ID {wanted.hex()} is not among the given keys ({given})"
    )
