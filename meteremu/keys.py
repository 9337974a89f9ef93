"""P-256 signing keys: generate, load and save them in the forms OpenSSL uses.

Private keys load from PEM or DER, SEC1 (``openssl ecparam -genkey``, with or
without the ``EC PARAMETERS`` block in front) or PKCS#8, plain or encrypted
with a passphrase. Public keys load from what ``openssl ec -pubout`` writes
(PEM or DER SubjectPublicKeyInfo) or a bare SEC1 point; a private key file is
accepted where a public key is asked for (its public half is used).

Everything that is wrong with a key file raises :class:`KeyFileError` with a
message that says what: unreadable, wrong passphrase, not EC, or the curve it
is on when that curve is not P-256.
"""

from __future__ import annotations

import pathlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._lowlevel.crypto import p256_parse_point
from .errors import KeyFileError

__all__ = [
    "PrivateKey",
    "generate_private_key",
    "load_private_key",
    "load_private_key_file",
    "load_public_key",
    "load_public_key_file",
    "private_key_pem",
    "public_key_pem",
    "public_point",
]

PrivateKey = ec.EllipticCurvePrivateKey


def _require_p256(key: object, what: str) -> None:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyFileError(
                f"{what} is on curve {key.curve.name}; P-256 (prime256v1) is required"
            )
        return
    kind = type(key).__name__.replace("_", "")
    raise KeyFileError(f"{what} is not an EC key ({kind}); a P-256 (prime256v1) key is required")


def generate_private_key() -> PrivateKey:
    """A fresh P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def load_private_key(data: bytes, passphrase: bytes | None = None) -> PrivateKey:
    """A P-256 private key from PEM or DER bytes (SEC1 or PKCS#8, optionally encrypted)."""
    pem = data.lstrip().startswith(b"-----BEGIN")
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        key = loader(data, password=passphrase)
    except TypeError as exc:
        # cryptography says "password was (not) given" this way.
        if passphrase is None:
            raise KeyFileError("private key is encrypted: give its passphrase") from None
        raise KeyFileError(f"private key: {exc}") from None
    except ValueError as exc:
        # A wrong passphrase usually fails the padding check ("could not decrypt"),
        # but about once in 200 it decrypts to garbage that fails as key data
        # instead: an encrypted key that does not load is a wrong passphrase.
        if passphrase is not None and _encrypted(data, loader):
            raise KeyFileError("private key: wrong passphrase") from None
        raise KeyFileError(f"not a PEM or DER private key ({exc})") from None
    except Exception as exc:  # unsupported algorithm and similar
        raise KeyFileError(f"not a usable private key ({exc})") from None
    _require_p256(key, "private key")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _encrypted(data: bytes, loader: Any) -> bool:
    """True when the key needs a passphrase (the loader says so without one)."""
    try:
        loader(data, password=None)
    except TypeError:
        return True
    except Exception:  # malformed: not a matter of the passphrase
        return False
    return False


def _read(path: str | pathlib.Path, what: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {what}: {exc.strerror or exc}") from None


def load_private_key_file(
    path: str | pathlib.Path, passphrase: bytes | None = None
) -> PrivateKey:
    try:
        return load_private_key(_read(path, "private key"), passphrase)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def public_point(key: PrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The 65-byte uncompressed SEC1 point of a key (what the key ID hashes)."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _load_point(data: bytes) -> bytes:
    """The 65-byte point of a public key: PEM or DER SubjectPublicKeyInfo, or a
    bare SEC1 point. ``ValueError`` for anything else, naming the curve when it
    is not P-256."""
    if len(data) in (33, 65) and data[0] in (2, 3, 4):
        return p256_parse_point(data)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as exc:
        raise ValueError(f"not a PEM or DER public key: {exc}") from None
    except Exception as exc:  # unsupported algorithm, bad structure
        raise ValueError(f"not a usable public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"not an EC public key ({type(key).__name__}); P-256 is required")
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"public key is on curve {key.curve.name}; P-256 (prime256v1) is required")
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return p256_parse_point(point)


def load_public_key(data: bytes) -> bytes:
    """The 65-byte SEC1 point of a P-256 public key (or of a private key's public half).

    Accepts what ``openssl ec -pubout`` writes (PEM), its DER form
    (SubjectPublicKeyInfo), a bare SEC1 point (33 or 65 bytes), or a private
    key in any form :func:`load_private_key` reads without a passphrase.
    Anything else raises :class:`KeyFileError` (a ``ValueError``) saying why,
    naming the curve when it is not P-256. The point is validated by the C
    core, so a key accepted here is a key the meter accepts.
    """
    data = bytes(data)
    if data.lstrip().startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in data:
        return _load_point(public_point(load_private_key(data)))
    try:
        return _load_point(data)
    except ValueError as exc:
        public_error = str(exc)
    if not data.lstrip().startswith(b"-----BEGIN"):
        try:  # a DER private key (unencrypted: no passphrase is asked here)
            key = serialization.load_der_private_key(data, password=None)
        except Exception:  # not one: the public key's error says what was wanted
            key = None
        if key is not None:
            _require_p256(key, "private key")  # names the curve or the kind
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return _load_point(public_point(key))
    raise KeyFileError(public_error)


def load_public_key_file(path: str | pathlib.Path) -> bytes:
    try:
        return load_public_key(_read(path, "public key"))
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def private_key_pem(
    key: PrivateKey, passphrase: bytes | None = None, *, pkcs8: bool = True
) -> bytes:
    """PEM that ``openssl pkey`` / ``openssl dgst -sign`` read.

    PKCS#8 by default (``BEGIN PRIVATE KEY``); ``pkcs8=False`` writes SEC1
    (``BEGIN EC PRIVATE KEY``), as ``openssl ecparam -genkey`` does. With a
    passphrase the key is encrypted (PKCS#8, AES-256-CBC, which SEC1 PEM
    cannot carry portably).
    """
    if passphrase:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    fmt = (
        serialization.PrivateFormat.PKCS8
        if pkcs8
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def public_key_pem(key: PrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, as ``openssl ec -pubout`` writes it."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
