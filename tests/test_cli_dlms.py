"""``meteremu dlms``: the client command against a real server on a loopback port
(in-process, its loop on a thread; one test runs ``meteremu serve`` as a
subprocess). Exit codes and one-line messages, the seed's steps 5 and 6 as
written, class 18 pushes (whole, resumed, refused), JSON for scripts, and the
JSON-to-A-XDR mapping of method parameters."""

from __future__ import annotations

import json
import pathlib

import pytest
from servekit import IMAGE_TRANSFER, PW, Served, in_process

from meteremu.cli import main
from meteremu.crypto import sha256
from meteremu.device import BootState
from meteremu.device.cosem import BY_OBIS, obis_bytes
from meteremu.dlms.axdr import Data, DataType
from meteremu.dlms.values import SCHEMAS, method_schema
from meteremu.errors import UsageError
from meteremu.hes.params import data_from_json, default_parameter
from meteremu.hes.session import image_identifier
from meteremu.testing.factory import make_firmware, make_keys, make_meter, make_package
from meteremu.transports.client import TcpClient

KEYS = make_keys(0)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["dlms", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def meter():
    return make_meter(KEYS)


@pytest.fixture
def server(meter):
    with in_process({1: meter}, time_scale=0) as s:
        yield s


@pytest.fixture
def port(server) -> str:
    return str(server.port)


@pytest.fixture
def pkg_file(tmp_path: pathlib.Path) -> tuple[pathlib.Path, bytes]:
    pkg = make_package(make_firmware(3000, seed=4), KEYS, version="2.0.0")
    path = tmp_path / "fw.pkg"
    path.write_bytes(pkg)
    return path, pkg


def one_line(err: str) -> bool:
    return err.count("\n") == 1


# ---------------------------------------------------------------- usage and connection


@pytest.mark.parametrize(("argv", "word"), [
    ([], "SUBCOMMAND"),
    (["read"], "OBIS"),
    (["read", "1.2.3"], "OBIS"),
    (["read", "0.0.96.10.1.255", "--attribute", "0"], "--attribute"),
    (["--port", "70000", "status"], "--port"),
    (["status", "--wport", "0"], "--wport"),
    (["method", "0.0.96.10.2.255", "--method", "x"], "--method"),
])
def test_usage_errors_are_one_line_exit_2(capsys, argv, word):
    code, _, err = run(capsys, *argv)
    assert code == 2 and one_line(err) and word in err


def test_a_management_client_without_a_password_is_a_usage_error(capsys, port, monkeypatch):
    monkeypatch.delenv("METEREMU_PASSWORD", raising=False)
    code, _, err = run(capsys, "--port", port, "--client", "1", "status")
    assert code == 2 and one_line(err) and "--password" in err


def test_no_meter_listening_is_exit_2(capsys, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = str(s.getsockname()[1])
    code, _, err = run(capsys, "--port", free, "status")
    assert code == 2 and one_line(err) and f"cannot connect to 127.0.0.1:{free}" in err


def test_method_parameters_that_do_not_fit_are_usage_errors(capsys, port):
    for params, word in (('{"activate": 1}', "boolean"), ("not json", "not JSON"),
                         ('{"a": true, "b": true}', "one value")):
        code, _, err = run(capsys, "--port", port, "--password", PW, "method",
                           "0.0.96.10.2.255", "--params", params)
        assert code == 2 and one_line(err) and word in err, err


# ---------------------------------------------------------------- associations


def test_wrong_password_exit_1_authentication_failure(capsys, port):
    code, out, err = run(capsys, "--port", port, "--password", "wrong", "status")
    assert code == 1 and out == "" and one_line(err)
    assert "association refused: authentication failure" in err


def test_password_from_the_environment_selects_the_management_client(capsys, port,
                                                                     monkeypatch):
    monkeypatch.setenv("METEREMU_PASSWORD", PW)
    code, out, _ = run(capsys, "--port", port, "read", "0.0.96.10.2.255")
    assert code == 0 and out == "0 (idle)\n"  # the boot state: management only


def test_public_client_reads_and_is_denied_the_rest(capsys, port, monkeypatch):
    monkeypatch.delenv("METEREMU_PASSWORD", raising=False)
    code, out, _ = run(capsys, "--port", port, "read", "1.0.0.2.0.255")
    assert (code, out) == (0, "1.0.0\n")
    code, out, err = run(capsys, "--port", port, "read", "0.0.96.10.2.255")
    assert code == 1 and out == "" and one_line(err)
    assert "read-write-denied (3)" in err and "--password" in err
    code, _, err = run(capsys, "--port", port, "method", "0.0.96.10.2.255", "--params",
                       '{"activate": true}')
    assert code == 1 and "0.0.96.10.2.255 method 1: read-write-denied (3)" in err


# ---------------------------------------------------------------- read, objects, status


def test_read_json(capsys, port):
    code, out, _ = run(capsys, "--port", port, "read", "1.0.0.2.0.255", "--json")
    doc = json.loads(out)
    assert code == 0 and doc == {"ok": True, "obis": "1.0.0.2.0.255", "attribute": 2,
                                 "name": "firmware_id", "type": "octet-string",
                                 "value": b"1.0.0".hex(), "text": "1.0.0"}
    code, out, _ = run(capsys, "--port", port, "read", "0.0.1.0.0.255", "--json")
    assert code == 0 and json.loads(out)["value"].endswith("Z")


def test_read_outside_the_object_table(capsys, port):
    code, _, err = run(capsys, "--port", port, "read", "1.2.3.4.5.6")
    assert code == 1 and "not in the meter's object list" in err
    code, _, err = run(capsys, "--port", port, "read", "1.2.3.4.5.6", "--class-id", "1")
    assert code == 1 and "object-undefined (4)" in err


def test_objects_as_each_client_sees_them(capsys, port):
    code, out, _ = run(capsys, "--port", port, "objects", "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["objects"]) == len(BY_OBIS) == 10
    transfer = next(o for o in doc["objects"] if o["obis"] == IMAGE_TRANSFER)
    assert transfer["class_id"] == 18 and transfer["attributes"]["2"] == "-"
    code, out, _ = run(capsys, "--port", port, "--password", PW, "objects")
    line = next(x for x in out.splitlines() if x.startswith(IMAGE_TRANSFER))
    assert "Image transfer" in line and "5:RW" in line and "methods 1 2 3 4" in line


def test_status(capsys, port):
    code, out, _ = run(capsys, "--port", port, "--password", PW, "status")
    assert code == 0
    assert "serial                    MTR00000001" in out
    assert "boot state                0 (idle)" in out
    assert "image transfer status     0 (not-initiated)" in out
    code, out, _ = run(capsys, "--port", port, "status", "--json")
    doc = json.loads(out)
    assert doc["firmware"]["text"] == "1.0.0" and doc["boot_state"]["error"].startswith(
        "read-write-denied")
    assert doc["inactive_package_sha256"]["value"] == ""


# ---------------------------------------------------------------- the seed's steps 5 and 6


def test_seed_steps_5_and_6_as_written(capsys, port, pkg_file, meter):
    path, pkg = pkg_file
    code, out, _ = run(capsys, "--port", port, "--password", PW, "push", str(path),
                       "--no-activate")
    assert code == 0 and "verified (0.0.96.10.1.255 = the package's SHA-256)" in out
    assert "activated" not in out
    code, out, _ = run(capsys, "--port", port, "read", "0.0.96.10.1.255")  # step 5
    assert (code, out) == (0, sha256(pkg).hex() + "\n")
    code, out, _ = run(capsys, "--port", port, "--password", PW, "method",  # step 6
                       "0.0.96.10.2.255", "--params", '{"activate": true}')
    assert code == 0 and out.splitlines()[:2] == ["0.0.96.10.2.255 method 1: success",
                                                  "firmware 2.0.0, boot state trial"]
    assert "the next management association confirms it" in out
    assert meter.boot_state is BootState.TRIAL
    code, out, _ = run(capsys, "--port", port, "--password", PW, "status")  # a heartbeat
    assert "boot state                4 (confirmed)" in out


def test_activation_refused_says_what_the_meter_shows(capsys, port):
    code, _, err = run(capsys, "--port", port, "--password", PW, "method", "0.0.96.10.2.255",
                       "--params", "true")
    assert code == 1 and one_line(err)
    # the FOTA code comes from the meter's audit log (0.0.96.10.3.255)
    assert err.startswith("0x8000 invalid request: activate")
    assert "other-reason (250)" in err and "boot state idle" in err


# ---------------------------------------------------------------- push


def test_push_whole_json(capsys, port, pkg_file, meter):
    path, pkg = pkg_file
    code, out, _ = run(capsys, "--port", port, "--password", PW, "push", str(path), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["activated"] and doc["verified"]
    assert doc["identifier"] == image_identifier(pkg, "2.0.0").decode()
    blocks = -(-len(pkg) // 128)
    assert (doc["blocks"], doc["block_size"], doc["sent"], doc["resumed_from"]) == (
        blocks, 128, blocks, 0)
    assert (doc["firmware"], doc["boot_state"]) == ("2.0.0", "trial")
    assert meter.active_version == "2.0.0"


def test_push_resumes_from_the_first_missing_block(capsys, server, port, pkg_file, meter):
    path, pkg = pkg_file
    ident = image_identifier(pkg, "2.0.0")
    with TcpClient("127.0.0.1", server.port, client_sap=1, password=PW.encode()) as c:
        assert c.associate().accepted
        assert c.action(IMAGE_TRANSFER, 1, (ident, len(pkg))).ok
        for n in range(10):
            assert c.action(IMAGE_TRANSFER, 2, (n, pkg[n * 128:(n + 1) * 128])).ok
    code, out, _ = run(capsys, "--port", port, "--password", PW, "push", str(path), "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["resumed_from"], doc["sent"]) == (10, doc["blocks"] - 10)
    assert doc["activated"]
    assert meter.active_version == "2.0.0"


def test_push_of_another_image_starts_afresh(capsys, server, port, pkg_file):
    path, pkg = pkg_file
    with TcpClient("127.0.0.1", server.port, client_sap=1, password=PW.encode()) as c:
        assert c.associate().accepted
        assert c.action(IMAGE_TRANSFER, 1, (b"something-else", len(pkg))).ok
        assert c.action(IMAGE_TRANSFER, 2, (0, pkg[:128])).ok
    code, out, _ = run(capsys, "--port", port, "--password", PW, "push", str(path), "--json",
                       "--no-activate")
    doc = json.loads(out)
    assert code == 0 and (doc["resumed_from"], doc["sent"]) == (0, doc["blocks"])


def test_push_a_corrupt_package(capsys, port, tmp_path, pkg_file):
    _, pkg = pkg_file
    bad = bytearray(pkg)
    bad[500] ^= 0x01  # in the image: its CRC-32 no longer matches the header
    path = tmp_path / "bad.pkg"
    path.write_bytes(bytes(bad))
    code, out, err = run(capsys, "--port", port, "--password", PW, "push", str(path))
    assert code == 1 and out == "" and one_line(err)
    assert err.startswith("0x8002 CRC mismatch") and "not sent" in err
    code, out, err = run(capsys, "--port", port, "--password", PW, "push", str(path),
                         "--force")  # the meter refuses it; the code comes with it
    assert code == 1 and one_line(err) and err.startswith("0x8002 CRC mismatch: verify: ")
    assert "other-reason (250)" in err and "4 verification-failed" in err


def test_push_a_package_the_meter_does_not_trust(capsys, port, tmp_path):
    path = tmp_path / "foreign.pkg"
    path.write_bytes(make_package(make_firmware(1000), make_keys(7), version="2.0.0"))
    code, out, err = run(capsys, "--port", port, "--password", PW, "push", str(path), "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and one_line(err)
    assert doc["refused"]["request"] == "verify: 0.0.44.0.0.255 method 3"
    assert doc["refused"]["result"] == 250 and doc["refused"]["fota_code"] == "0x8005"
    assert err.startswith("0x8005 signature mismatch")


def test_push_by_the_public_client_is_refused(capsys, port, pkg_file, monkeypatch):
    monkeypatch.delenv("METEREMU_PASSWORD", raising=False)
    path, _ = pkg_file
    code, _, err = run(capsys, "--port", port, "push", str(path))
    assert code == 1 and one_line(err) and "read-write-denied (3)" in err


def test_push_of_an_unreadable_file_is_exit_2(capsys, port, tmp_path):
    code, _, err = run(capsys, "--port", port, "--password", PW, "push",
                       str(tmp_path / "missing.pkg"))
    assert code == 2 and one_line(err) and "missing.pkg" in err


# ---------------------------------------------------------------- JSON parameters


def schema(obis: str, method: int):
    return method_schema(BY_OBIS[obis_bytes(obis)], method)


def test_json_parameters_follow_the_object_table():
    activate = schema("0.0.96.10.2.255", 1)
    assert data_from_json({"activate": True}, activate) == Data(DataType.BOOLEAN, True)
    assert data_from_json(True, activate) == Data(DataType.BOOLEAN, True)
    initiate = schema(IMAGE_TRANSFER, 1)
    assert initiate == SCHEMAS["image_transfer_initiate"]
    assert data_from_json(["fw-2", 300], initiate) == Data(DataType.STRUCTURE, (
        Data(DataType.OCTET_STRING, b"fw-2"), Data(DataType.DOUBLE_LONG_UNSIGNED, 300)))
    block = data_from_json({"block": [1, "hex:00ff"]}, schema(IMAGE_TRANSFER, 2))
    assert block.value[1] == Data(DataType.OCTET_STRING, b"\x00\xff")
    assert default_parameter(schema(IMAGE_TRANSFER, 3)) == Data(DataType.INTEGER, 0)
    assert default_parameter(activate) is None
    # outside the table: natural types
    assert data_from_json([True, 5, "x", None], None) == Data(DataType.STRUCTURE, (
        Data(DataType.BOOLEAN, True), Data(DataType.DOUBLE_LONG, 5),
        Data(DataType.OCTET_STRING, b"x"), Data(DataType.NULL)))


@pytest.mark.parametrize(("value", "word"), [
    ({"a": 1, "b": 2}, "one value"),
    (["fw"], "2 fields"),
    ([1, 300], "JSON string"),
    (["hex:zz", 1], "not hex"),
    (["fw", -1], "0..4294967295"),
    ({"x": "fw"}, "JSON array"),
])
def test_json_parameters_that_do_not_fit(value, word):
    with pytest.raises(UsageError, match=word):
        data_from_json(value, schema(IMAGE_TRANSFER, 1))


# ---------------------------------------------------------------- meteremu serve, by wPort


def test_against_meteremu_serve_by_wport(tmp_path, capsys):
    pub = tmp_path / "pub.pem"
    pub.write_bytes(KEYS.public_pem)
    pkg = tmp_path / "fw.pkg"
    pkg.write_bytes(make_package(make_firmware(2000, seed=3), KEYS, version="2.0.0"))
    served = Served(tmp_path / "state", "--trusted-key", str(pub), "--meters", "2", "-q")
    try:
        port = str(served.port)
        code, out, _ = run(capsys, "--port", port, "--wport", "2", "read", "0.0.96.1.0.255")
        assert (code, out) == (0, "MTR00000002\n")
        code, out, _ = run(capsys, "--port", port, "--password", PW, "push", str(pkg),
                           "--wport", "2")
        assert code == 0 and "activated: firmware 2.0.0, boot state trial" in out
        code, out, _ = run(capsys, "--port", port, "read", "1.0.0.2.0.255")
        assert out == "1.0.0\n"  # meter 1 untouched
        code, _, err = run(capsys, "--port", port, "--wport", "3", "status")
        assert code == 2 and one_line(err) and "closed the connection" in err
    finally:
        code, _ = served.terminate()
    assert code == 0
