"""ECDSA P-256 verification against OpenSSL (via cryptography) and python-ecdsa."""

from __future__ import annotations

import hashlib

import ecdsa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from meteremu import crypto

from ._rows import Row
from ._timing import Budget, calls_per_second


def _setup() -> tuple[bytes, bytes, bytes, ec.EllipticCurvePublicKey]:
    # A fixed key: the same work in every run (verification time does not
    # depend on the key, but a fixed one keeps runs comparable byte for byte).
    priv = ec.derive_private_key(0x6D657465_72656D75_2062656E_6368, ec.SECP256R1())
    digest = hashlib.sha256(b"meteremu bench: firmware image").digest()
    sig = priv.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    pub = priv.public_key()
    point = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return point, digest, sig, pub


def _ours_works(point: bytes, digest: bytes, sig: bytes) -> tuple[bool | None, str]:
    """None when the C verifier is not in the build; else whether it answers right."""
    try:
        good = crypto.verify_p256(point, digest, sig)
        bad = crypto.verify_p256(point, bytes([digest[0] ^ 1]) + digest[1:], sig)
    except (ValueError, TypeError):
        raise  # the binding is there and rejected its input: a real failure
    except Exception as exc:  # missing symbol, undefined cdef type, no binding
        kind = type(exc)
        return None, f"{kind.__module__}.{kind.__name__}: {str(exc).splitlines()[0]}"
    return good is True and bad is False, ""


def run(budget: Budget) -> list[Row]:
    point, digest, sig, pub = _setup()
    vk = ecdsa.VerifyingKey.from_string(point, curve=ecdsa.NIST256p)
    algo = ec.ECDSA(utils.Prehashed(hashes.SHA256()))

    def openssl() -> None:
        pub.verify(sig, digest, algo)  # raises InvalidSignature on failure

    def pyecdsa() -> bool:
        return vk.verify_digest(sig, digest, sigdecode=ecdsa.util.sigdecode_der)

    def ours() -> bool:
        return crypto.verify_p256(point, digest, sig)

    works, why = _ours_works(point, digest, sig)
    if works is None:
        theirs_ossl, theirs_py = calls_per_second([openssl, pyecdsa], budget)
        mine = None
        note = f"not built ({why[:60]})"
    else:
        mine, theirs_ossl, theirs_py = calls_per_second([ours, openssl, pyecdsa], budget)
        note = "" if works else "WRONG RESULT (valid/tampered signature misjudged)"
    common = {"area": "ECDSA P-256 verify", "case": "DER sig", "unit": "verify/s"}
    return [
        Row(
            **common,
            ours=mine,
            peer="OpenSSL (cryptography)",
            theirs=theirs_ossl,
            target=0.5,
            path="C core",
            note=note,
        ),
        Row(
            **common,
            ours=mine,
            peer="python-ecdsa",
            theirs=theirs_py,
            target=15.0,
            path="C core",
            note=note,
        ),
    ]
