"""Published vectors: CRC catalogue, FIPS 180 SHA-256, Wycheproof ECDSA P-256."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from meteremu import crypto

VECTORS = pathlib.Path(__file__).parent / "vectors"


def _crc_input(spec: dict) -> bytes:
    name = spec["name"]
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if name == "ff_1024":
        return b"\xff" * 1024
    if name == "ramp_4096":
        return bytes(range(256)) * 16
    if name == "lcg_4096":
        x, out = 1, bytearray()
        for _ in range(4096):
            x = (1103515245 * x + 12345) % (1 << 31)
            out.append((x >> 16) & 0xFF)
        return bytes(out)
    raise AssertionError(f"unknown CRC input {name}")


def _crc_cases():
    doc = json.loads((VECTORS / "crc.json").read_text())
    inputs = {name: _crc_input({"name": name, **spec}) for name, spec in doc["inputs"].items()}
    funcs = {"CRC-32/ISO-HDLC": crypto.crc32, "CRC-16/IBM-SDLC": crypto.crc16_x25}
    for algo in doc["algorithms"]:
        if algo["name"] not in funcs:
            continue
        for vec in algo["vectors"]:
            data = inputs[vec["input"]]
            assert len(data) == vec["length"]
            yield pytest.param(
                funcs[algo["name"]], data, int(vec["crc"], 16), id=f"{algo['name']}-{vec['input']}"
            )
        codeword = bytes.fromhex(algo["check_codeword_hex"])
        yield pytest.param(
            funcs[algo["name"]],
            codeword,
            int(algo["check_codeword_crc"], 16),
            id=f"{algo['name']}-codeword",
        )


@pytest.mark.parametrize(("func", "data", "expected"), list(_crc_cases()))
def test_crc_catalogue(func, data, expected):
    assert func(data) == expected


def _sha_message(msg: dict) -> bytes:
    if "ascii" in msg:
        return msg["ascii"].encode("ascii")
    rep = msg["repeat"]
    return rep["ascii"].encode("ascii") * rep["times"]


SHA_VECTORS = json.loads((VECTORS / "sha256.json").read_text())["vectors"]


@pytest.mark.parametrize("vec", SHA_VECTORS, ids=[v["name"] for v in SHA_VECTORS])
@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
def test_sha256_fips(vec, portable):
    msg = _sha_message(vec["message"])
    h = crypto.Sha256(portable=portable)
    for i in range(0, len(msg), 4099):  # odd chunking crosses block boundaries
        h.update(msg[i : i + 4099])
    assert h.hexdigest() == vec["digest"]
    if not portable:
        assert crypto.sha256(msg).hex() == vec["digest"]


def _wycheproof(name: str):
    doc = json.loads((VECTORS / "wycheproof" / name).read_text())
    for group in doc["testGroups"]:
        point = bytes.fromhex(group["publicKey"]["uncompressed"])
        for t in group["tests"]:
            assert t["result"] in ("valid", "invalid")  # no "acceptable" cases in these files
            yield pytest.param(point, t, id=f"tc{t['tcId']}")


@pytest.mark.parametrize(("point", "case"), list(_wycheproof("ecdsa_secp256r1_sha256_test.json")))
def test_wycheproof_der(point, case):
    digest = crypto.sha256(bytes.fromhex(case["msg"]))
    got = crypto.verify_p256(point, digest, bytes.fromhex(case["sig"]), encoding="der")
    assert got is (case["result"] == "valid"), case["comment"]


@pytest.mark.parametrize(
    ("point", "case"), list(_wycheproof("ecdsa_secp256r1_sha256_p1363_test.json"))
)
def test_wycheproof_p1363(point, case):
    digest = crypto.sha256(bytes.fromhex(case["msg"]))
    got = crypto.verify_p256(point, digest, bytes.fromhex(case["sig"]), encoding="raw")
    assert got is (case["result"] == "valid"), case["comment"]


def test_wycheproof_keys_load_from_pem_and_der():
    doc = json.loads((VECTORS / "wycheproof" / "ecdsa_secp256r1_sha256_test.json").read_text())
    for group in doc["testGroups"][:10]:
        point = bytes.fromhex(group["publicKey"]["uncompressed"])
        assert crypto.load_public_key(group["publicKeyPem"].encode()) == point
        assert crypto.load_public_key(bytes.fromhex(group["publicKeyDer"])) == point


@pytest.mark.parametrize("name", ["crc.json", "sha256.json"])
def test_vectors_name_published_sources_not_local_paths(name):
    # provenance is something a reader can look up: no path on somebody's machine
    def strings(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    doc = json.loads((VECTORS / name).read_text())
    local = [s for s in strings(doc) if re.search(r"(^|\s)/(work|home|tmp|root|Users)/", s)]
    assert local == []
    assert "reveng" in json.dumps(doc).lower() or "FIPS 180" in json.dumps(doc)
