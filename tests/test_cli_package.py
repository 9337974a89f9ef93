"""The package CLI end to end: keygen, package, attach-signature, inspect, verify, with OpenSSL."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from meteremu.cli import main

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")

CONFIG = {
    "vendor_id": 1296389189,
    "hw_revision": 3,
    "version": "2.1.0+318",
    "security_counter": 12,
    "fragment_size": 128,
}


Cap = pytest.CaptureFixture[str]


def run(capsys: Cap, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def openssl(*args: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([OPENSSL or "openssl", *map(str, args)], capture_output=True)


@pytest.fixture
def work(tmp_path: pathlib.Path, capsys: Cap) -> pathlib.Path:
    """A directory with a key pair, an image and a config.json."""
    (tmp_path / "fw.bin").write_bytes(os.urandom(3000))
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    assert run(capsys, "keygen", "--out", tmp_path / "k.pem", "--pub", tmp_path / "pub.pem")[0] == 0
    return tmp_path


def _files(d: pathlib.Path) -> set[str]:
    return {p.name for p in d.iterdir()}


def test_keygen(work: pathlib.Path, capsys: Cap) -> None:
    assert b"BEGIN PRIVATE KEY" in (work / "k.pem").read_bytes()
    assert (work / "k.pem").stat().st_mode & 0o077 == 0
    code, _, err = run(capsys, "keygen", "--out", work / "k.pem")
    assert code == 2 and "exists" in err
    assert run(capsys, "keygen", "--out", work / "s.pem", "--sec1")[0] == 0
    assert b"BEGIN EC PRIVATE KEY" in (work / "s.pem").read_bytes()


@needs_openssl
def test_keygen_files_read_by_openssl(work: pathlib.Path, capsys: Cap) -> None:
    (work / "pw").write_text("hunter2\n")
    assert run(capsys, "keygen", "--out", work / "e.pem", "--passphrase-file", work / "pw")[0] == 0
    for args in (["pkey", "-in", work / "k.pem", "-noout"],
                 ["pkey", "-pubin", "-in", work / "pub.pem", "-noout"],
                 ["pkey", "-in", work / "e.pem", "-passin", "pass:hunter2", "-noout"]):
        assert openssl(*args).returncode == 0, args


@needs_openssl
def test_openssl_signs_meteremu_verifies(work: pathlib.Path, capsys: Cap) -> None:
    """The seed's flow: package unsigned, sign it with openssl, attach, verify."""
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", work / "hsm.pem")
    openssl("ec", "-in", work / "hsm.pem", "-pubout", "-out", work / "hsm_pub.pem")
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
                       "-o", work / "fw.unsigned.pkg", "--pubkey", work / "hsm_pub.pem")
    assert code == 0, err
    assert len((work / "fw.unsigned.pkg").read_bytes()) == 128 + 3000
    r = openssl("dgst", "-sha256", "-sign", work / "hsm.pem", "-out", work / "fw.sig",
                work / "fw.unsigned.pkg")
    assert r.returncode == 0, r.stderr
    code, _, err = run(capsys, "attach-signature", work / "fw.unsigned.pkg", work / "fw.sig",
                       "-o", work / "fw.pkg", "--pubkey", work / "hsm_pub.pem")
    assert code == 0, err
    code, out, err = run(capsys, "verify", work / "fw.pkg", "--pubkey", work / "hsm_pub.pem",
                         "--vendor-id", "0x4D455445", "--hw-revision", "3")
    assert code == 0, err
    assert out.startswith("OK")
    # Another trusted key in the list does not matter; only the named one is used.
    code, _, err = run(capsys, "verify", work / "fw.pkg", "--pubkey", work / "pub.pem",
                       "--pubkey", work / "hsm_pub.pem")
    assert code == 0, err


@needs_openssl
def test_meteremu_signs_openssl_verifies(work: pathlib.Path, capsys: Cap) -> None:
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
                       "-o", work / "fw.pkg", "--key", work / "k.pem")
    assert code == 0, err
    code, out, _ = run(capsys, "inspect", work / "fw.pkg", "--json")
    info = json.loads(out)
    assert info["signature"]["encoding"] == "der"
    signed = (work / "fw.pkg").read_bytes()
    (work / "fw.unsigned.pkg").write_bytes(signed[: info["sizes"]["unsigned"]])
    (work / "fw.sig").write_bytes(bytes.fromhex(info["signature"]["value"]))
    r = openssl("dgst", "-sha256", "-verify", work / "pub.pem", "-signature", work / "fw.sig",
                work / "fw.unsigned.pkg")
    assert r.returncode == 0 and b"Verified OK" in r.stdout
    # ...and the digest openssl would sign is the one inspect reports.
    r = openssl("dgst", "-sha256", "-r", work / "fw.unsigned.pkg")
    assert r.stdout.split()[0].decode() == info["digests"]["signed_sha256"]


def test_inspect(work: pathlib.Path, capsys: Cap) -> None:
    cfg = dict(CONFIG, behaviour="crash-on-boot", packet_count=26)
    (work / "c2.json").write_text(json.dumps(cfg))
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "c2.json",
                       "-o", work / "fw.pkg", "--key", work / "k.pem")
    assert code == 0, err
    code, out, _ = run(capsys, "inspect", work / "fw.pkg", "--json")
    assert code == 0
    h = json.loads(out)["header"]
    assert (h["vendor_id"], h["hw_revision"], h["version"], h["security_counter"]) == (
        1296389189, 3, "2.1.0+318", 12)
    assert (h["behaviour"], h["fragment_count"], h["image_size"]) == ("crash-on-boot", 26, 3000)
    code, out, _ = run(capsys, "inspect", work / "fw.pkg")
    assert code == 0 and "crash-on-boot" in out and "package_sha256" in out


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fragment_size": 8}, "fragment_size"),
        ({"packet_count": 99}, "packet_count"),
        ({"version": "2.1"}, "version"),
        ({"behaviour": "sulk"}, "behaviour"),
        ({"vendor_id": None}, "vendor_id"),
        ({"hw_revison": 3}, "hw_revison"),
    ],
)
def test_bad_config_exit_2_no_file(
    work: pathlib.Path, capsys: Cap, change: dict, field: str
) -> None:
    (work / "bad.json").write_text(json.dumps({**CONFIG, **change}))
    before = _files(work)
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "bad.json",
                         "-o", work / "out.pkg", "--key", work / "k.pem")
    assert code == 2
    assert field in err and "Traceback" not in err
    assert _files(work) == before  # no output, no temporary file left behind


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "--pubkey PUB.pem is required"),
        (["--key", "missing.pem"], "missing.pem"),
        (["--pubkey", "k.pem", "--key", "other.pem"], "is not the public key"),
        (["--passphrase-file", "config.json", "--pubkey", "pub.pem"], "only goes with --key"),
    ],
)
def test_package_usage_errors(
    work: pathlib.Path, capsys: Cap, args: list[str], words: str
) -> None:
    run(capsys, "keygen", "--out", work / "other.pem")
    before = _files(work)
    argv = [work / a if a.endswith((".pem", ".json")) else a for a in args]
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
                       "-o", work / "out.pkg", *argv)
    assert code == 2 and words in err
    assert _files(work) == before


def test_bad_inputs_exit_2(work: pathlib.Path, capsys: Cap) -> None:
    code, _, err = run(capsys, "package", work / "nofw.bin", "--config", work / "config.json",
                       "-o", work / "o.pkg", "--key", work / "k.pem")
    assert code == 2 and "nofw.bin" in err
    (work / "broken.json").write_text("{")
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "broken.json",
                       "-o", work / "o.pkg", "--key", work / "k.pem")
    assert code == 2 and "not valid JSON" in err
    assert run(capsys, "bogus-command")[0] == 2
    assert run(capsys, "package")[0] == 2
    assert run(capsys)[0] == 2


@needs_openssl
def test_wrong_curve_key_exit_2(work: pathlib.Path, capsys: Cap) -> None:
    openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", work / "p384.pem")
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
                       "-o", work / "o.pkg", "--key", work / "p384.pem")
    assert code == 2 and "secp384r1" in err
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
            "-out", work / "rsa.pem")
    code, _, err = run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
                       "-o", work / "o.pkg", "--key", work / "rsa.pem")
    assert code == 2 and "not an EC key" in err
    assert not (work / "o.pkg").exists()


def test_encrypted_key_with_passphrase_file(
    work: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "pw").write_text("correct horse\n")
    (work / "bad").write_text("wrong\n")
    assert run(capsys, "keygen", "--out", work / "e.pem", "--pub", work / "e_pub.pem",
               "--passphrase-file", work / "pw")[0] == 0
    base = ["package", work / "fw.bin", "--config", work / "config.json", "-o", work / "o.pkg",
            "--key", work / "e.pem"]
    code, _, err = run(capsys, *base)
    assert code == 2 and "passphrase" in err
    code, _, err = run(capsys, *base, "--passphrase-file", work / "bad")
    assert code == 2 and "wrong passphrase" in err
    code, _, err = run(capsys, *base, "--passphrase-file", work / "pw")
    assert code == 0, err
    assert run(capsys, "verify", work / "o.pkg", "--pubkey", work / "e_pub.pem")[0] == 0


def test_attach_refuses_bad_signature(work: pathlib.Path, capsys: Cap) -> None:
    run(capsys, "keygen", "--out", work / "other.pem", "--pub", work / "other_pub.pem")
    assert run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
               "-o", work / "u.pkg", "--pubkey", work / "pub.pem")[0] == 0
    assert run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
               "-o", work / "o.pkg", "--key", work / "other.pem")[0] == 0
    code, out, _ = run(capsys, "inspect", work / "o.pkg", "--json")
    (work / "other.sig").write_bytes(bytes.fromhex(json.loads(out)["signature"]["value"]))
    before = _files(work)
    code, _, err = run(capsys, "attach-signature", work / "u.pkg", work / "other.sig",
                       "-o", work / "s.pkg", "--pubkey", work / "pub.pem")
    assert code == 1
    assert err.strip() == (
        "0xE04 signature verification failed: the signature does not verify with key "
        + json.loads(run(capsys, "inspect", work / "u.pkg", "--json")[1])["header"]["key_id"]
    )
    assert _files(work) == before
    code, _, err = run(capsys, "attach-signature", work / "u.pkg", work / "other.sig",
                       "-o", work / "s.pkg", "--pubkey", work / "other_pub.pem")
    assert code == 1 and err.startswith("0x8005 signature mismatch")
    assert not (work / "s.pkg").exists()


def test_verify_failures_one_line(work: pathlib.Path, capsys: Cap) -> None:
    run(capsys, "keygen", "--out", work / "other.pem", "--pub", work / "other_pub.pem")
    assert run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
               "-o", work / "fw.pkg", "--key", work / "k.pem")[0] == 0
    pkg, pub = work / "fw.pkg", work / "pub.pem"
    cases = [
        (["--pubkey", work / "other_pub.pem"], "0x8005 signature mismatch"),
        (["--pubkey", pub, "--vendor-id", "1"], "0x8007 vendor mismatch"),
        (["--pubkey", pub, "--hw-revision", "4"], "0x8004 hardware revision mismatch"),
        (["--pubkey", pub, "--min-security-counter", "13"], "0x8006 downgrade"),
        (["--pubkey", pub, "--bank-size", "2000"], "0x9002 insufficient memory"),
    ]
    for args, expected in cases:
        code, out, err = run(capsys, "verify", pkg, *args)
        assert code == 1, (args, err)
        assert err.startswith(expected) and err.count("\n") == 1, err
        assert out == ""
    assert run(capsys, "verify", pkg, "--pubkey", pub, "--min-security-counter", "12")[0] == 0
    data = bytearray(pkg.read_bytes())
    data[500] ^= 0x40
    (work / "flip.pkg").write_bytes(bytes(data))
    code, _, err = run(capsys, "verify", work / "flip.pkg", "--pubkey", pub)
    assert code == 1 and err.startswith("0x8002 CRC mismatch")
    (work / "short.pkg").write_bytes(pkg.read_bytes()[:1000])
    code, _, err = run(capsys, "verify", work / "short.pkg", "--pubkey", pub)
    assert code == 1 and err.startswith("0x8001 incomplete image")
    (work / "junk.pkg").write_bytes(b"\x00" * 10)
    code, _, err = run(capsys, "inspect", work / "junk.pkg")
    assert code == 1 and err.startswith("0x8001") and "Traceback" not in err


def test_console_entry_point(work: pathlib.Path) -> None:
    r = subprocess.run([sys.executable, "-m", "meteremu.cli", "inspect", str(work / "nothere")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "nothere" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "meteremu.cli", "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    for command in ("keygen", "package", "attach-signature", "inspect", "verify"):
        assert command in r.stdout


def test_a_reader_that_goes_away_gets_no_traceback(work: pathlib.Path, capsys: Cap) -> None:
    assert run(capsys, "package", work / "fw.bin", "--config", work / "config.json",
               "-o", work / "o.pkg", "--key", work / "k.pem")[0] == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head` does once it has its lines
    try:
        argv = [sys.executable, "-m", "meteremu.cli", "inspect", str(work / "o.pkg")]
        done = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr
