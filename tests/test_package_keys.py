"""Key files: what OpenSSL writes loads here, and what keygen writes loads in OpenSSL."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from meteremu.errors import KeyFileError
from meteremu.keys import (
    generate_private_key,
    load_private_key,
    load_private_key_file,
    load_public_key,
    load_public_key_file,
    private_key_pem,
    public_key_pem,
    public_point,
)

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def _openssl(*args: str) -> None:
    subprocess.run([OPENSSL or "openssl", *args], check=True, capture_output=True)


@needs_openssl
@pytest.mark.parametrize("noout", [True, False], ids=["sec1", "sec1-with-ec-parameters"])
def test_openssl_ecparam_key(tmp_path: pathlib.Path, noout: bool) -> None:
    key = tmp_path / "k.pem"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", *(["-noout"] if noout else []),
             "-out", str(key))
    assert (b"EC PARAMETERS" in key.read_bytes()) is not noout
    _openssl("ec", "-in", str(key), "-pubout", "-out", str(tmp_path / "pub.pem"))
    priv = load_private_key_file(key)
    assert load_public_key_file(tmp_path / "pub.pem") == public_point(priv)
    # A private key file also gives its public half where a public key is asked for.
    assert load_public_key_file(key) == public_point(priv)


@needs_openssl
def test_openssl_pkcs8_der_and_encrypted(tmp_path: pathlib.Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(tmp_path / "p8.pem"))
    _openssl("pkey", "-in", str(tmp_path / "p8.pem"), "-outform", "DER",
             "-out", str(tmp_path / "p8.der"))
    _openssl("pkey", "-in", str(tmp_path / "p8.pem"), "-pubout", "-outform", "DER",
             "-out", str(tmp_path / "pub.der"))
    _openssl("pkey", "-in", str(tmp_path / "p8.pem"), "-aes256", "-passout", "pass:s3cret",
             "-out", str(tmp_path / "enc.pem"))
    point = public_point(load_private_key_file(tmp_path / "p8.pem"))
    assert public_point(load_private_key_file(tmp_path / "p8.der")) == point
    assert load_public_key_file(tmp_path / "pub.der") == point
    assert public_point(load_private_key_file(tmp_path / "enc.pem", b"s3cret")) == point
    with pytest.raises(KeyFileError, match="passphrase"):
        load_private_key_file(tmp_path / "enc.pem")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private_key_file(tmp_path / "enc.pem", b"nope")


@needs_openssl
@pytest.mark.parametrize("curve", ["secp384r1", "secp256k1"])
def test_other_curves_named(tmp_path: pathlib.Path, curve: str) -> None:
    key = tmp_path / "k.pem"
    _openssl("ecparam", "-name", curve, "-genkey", "-noout", "-out", str(key))
    _openssl("ec", "-in", str(key), "-pubout", "-out", str(tmp_path / "pub.pem"))
    with pytest.raises(KeyFileError, match=curve):
        load_private_key_file(key)
    with pytest.raises(KeyFileError, match=curve):
        load_public_key_file(tmp_path / "pub.pem")


def test_rsa_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    with pytest.raises(KeyFileError, match="not an EC key"):
        load_private_key(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyFileError, match="P-256"):
        load_public_key(pub)


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_garbage_refused(data: bytes) -> None:
    with pytest.raises(KeyFileError):
        load_private_key(data)
    with pytest.raises(KeyFileError):
        load_public_key(data)


@pytest.mark.parametrize("data", [b"x" * 100, bytes(range(256)) * 3, b"\x30\x03\x02\x01\x00"])
def test_binary_that_is_no_key_is_refused_as_a_public_key(data: bytes) -> None:
    """Where a public key is wanted, a file that is no key at all (a package
    given by mistake) is refused as what it should have been; cryptography's
    own message for it mentions "EC curves", which must not turn it into a
    private-key error."""
    with pytest.raises(KeyFileError, match="not a PEM or DER public key"):
        load_public_key(data)


def test_a_der_private_key_stands_for_its_public_half_or_names_its_curve() -> None:
    der = serialization.Encoding.DER
    pkcs8, none = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    key = generate_private_key()
    assert load_public_key(key.private_bytes(der, pkcs8, none)) == public_point(key)
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(KeyFileError, match="secp384r1"):
        load_public_key(other.private_bytes(der, pkcs8, none))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyFileError, match="not an EC key"):
        load_public_key(rsa_key.private_bytes(der, pkcs8, none))


def test_missing_file_named(tmp_path: pathlib.Path) -> None:
    with pytest.raises(KeyFileError, match=r"nope\.pem"):
        load_private_key_file(tmp_path / "nope.pem")
    with pytest.raises(KeyFileError, match=r"nope\.pem"):
        load_public_key_file(tmp_path / "nope.pem")


def test_bare_sec1_points() -> None:
    key = generate_private_key()
    point = public_point(key)
    assert load_public_key(point) == point
    compressed = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.CompressedPoint)
    assert load_public_key(compressed) == point


@pytest.mark.parametrize("pkcs8", [True, False])
def test_written_pem_round_trips(pkcs8: bool) -> None:
    key = generate_private_key()
    pem = private_key_pem(key, pkcs8=pkcs8)
    assert (b"BEGIN PRIVATE KEY" in pem) is pkcs8
    assert public_point(load_private_key(pem)) == public_point(key)
    enc = private_key_pem(key, b"pw")
    assert b"ENCRYPTED PRIVATE KEY" in enc
    assert public_point(load_private_key(enc, b"pw")) == public_point(key)
    assert load_public_key(public_key_pem(key)) == public_point(key)
    assert isinstance(load_private_key(pem), ec.EllipticCurvePrivateKey)


# Encrypted with passphrase b"right"; b"wrong" happens to pass this key's padding
# check, so the decryption error is a key-data error rather than "bad password".
_WRONG_PASSPHRASE_DECRYPTS = b"""-----BEGIN ENCRYPTED PRIVATE KEY-----
MIH0MF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBCq242cTmjkoF8diWP6
RyO2AgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQAvH/vgdf/FZMqi8o
422BlwSBkGsYds4AjNmMgh0U+IOkDD5yc9OspQdSqTIfNsGRV8TSMiUbh2YsA2RZ
+NrVMbEYGLXrBU+3S8kL7cl2NrtQhb6SuqGCvNATKhioXv3q6Cda8uTSpCvKkM3/
wmkzIujZnN8eXPo45WWNRHz6fx4TbXYB+X9/le6lgjPec1cQFcGPlbhZHZAc5hiL
w54f04jGMQ==
-----END ENCRYPTED PRIVATE KEY-----
"""


def test_wrong_passphrase_named_even_when_it_decrypts_to_garbage() -> None:
    load_private_key(_WRONG_PASSPHRASE_DECRYPTS, b"right")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private_key(_WRONG_PASSPHRASE_DECRYPTS, b"wrong")
    with pytest.raises(KeyFileError, match="not a PEM or DER"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                         b"any")
