"""``meteremu serve``: its usage errors (one line, exit 2), a golden image that does
not verify (exit 1), and, as a subprocess, meters by wPort, the state lock, and
a clean SIGTERM that saves everything a restart then finds."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys

import pytest
from servekit import IMAGE_TRANSFER, PW, Served

from meteremu.cli import main
from meteremu.package.builtin import demo_key, factory_package
from meteremu.testing.factory import make_firmware, make_keys, make_package


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def pub(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "pub.pem"
    path.write_bytes(make_keys(0).public_pem)
    return path


@pytest.mark.parametrize(("args", "word"), [
    ([], "--state"),
    (["--state", "S"], "--password"),
    (["--state", "S", "--password", "pw", "--time-scale", "-1"], "--time-scale"),
    (["--state", "S", "--password", "pw", "--time-scale", "fast"], "--time-scale"),
    (["--state", "S", "--password", "pw", "--meters", "0"], "--meters"),
    (["--state", "S", "--password", "pw", "--meters", "99999"], "--meters"),
    (["--state", "S", "--password", "pw", "--port", "70000"], "--port"),
    (["--state", "S", "--password", "pw", "--clock-start", "yesterday"], "--clock-start"),
    (["--state", "S", "--password", ""], "password"),
    (["--state", "S", "--password", "pw", "--golden", "G"], "--trusted-key"),
    (["--state", "S", "--password", "pw", "--trusted-key", "nothere.pem"], "nothere.pem"),
    (["--state", "S", "--password", "pw", "--loop", "trio"], "--loop"),
    (["--state", "S", "--password", "pw", "--busy-poll", "-5"], "--busy-poll"),
    (["--state", "S", "--password", "pw", "--busy-poll", "lots"], "--busy-poll"),
    (["--state", "S", "--password", "pw", "--busy-poll", "5000"], "--busy-poll"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path, monkeypatch, capsys, args, word):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["serve", *args], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and word in err


def test_loop_uvloop_without_uvloop_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    code, _, err = run(["serve", "--state", str(tmp_path / "s"), "--password", "pw",
                        "--loop", "uvloop"], capsys)
    assert code == 2 and "pip install uvloop" in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()  # refused before anything was made


def test_the_default_loop_is_uvloop_where_it_is_installed(monkeypatch):
    import asyncio

    from meteremu.cli.serve import _runner

    uvloop = pytest.importorskip("uvloop")
    assert _runner("auto") is uvloop.run
    assert _runner("asyncio") is asyncio.run
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not installed: asyncio's, no error
    assert _runner("auto") is asyncio.run


def test_a_golden_image_not_signed_by_a_trusted_key_is_refused(tmp_path, pub, capsys):
    golden = tmp_path / "golden.pkg"
    golden.write_bytes(make_package(make_firmware(1024), make_keys(5), version="1.0.0",
                                    security_counter=1))
    code, _, err = run(["serve", "--state", str(tmp_path / "s"), "--password", "pw",
                        "--trusted-key", str(pub), "--golden", str(golden)], capsys)
    assert code == 1 and err.startswith("0x8005 ")


def test_too_many_trusted_keys(tmp_path, capsys):
    paths = []
    for i in range(4):
        p = tmp_path / f"k{i}.pem"
        p.write_bytes(make_keys(i).public_pem)
        paths += ["--trusted-key", str(p)]
    code, _, err = run(["serve", "--state", str(tmp_path / "s"), "--password", "pw", *paths],
                       capsys)
    assert code == 2 and "at most 4" in err


def test_builtin_factory_image_is_deterministic_and_signed_by_the_demo_key():
    from meteremu.keys import public_point
    from meteremu.package import parse_package, verify

    a, point = factory_package(0x4D455445, 3)
    b, _ = factory_package(0x4D455445, 3)
    assert parse_package(a).unsigned == parse_package(b).unsigned  # the signature may vary

    assert point == public_point(demo_key())
    assert verify(a, [point], vendor_id=0x4D455445, hw_revision=3)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs signals")
def test_serve_meters_by_wport_lock_and_a_clean_sigterm(tmp_path, pub):
    state = tmp_path / "state"
    golden = tmp_path / "golden.pkg"
    keys = make_keys(0)
    golden.write_bytes(make_package(make_firmware(2048, seed=9), keys, version="1.0.0",
                                    security_counter=1))
    args = ("--trusted-key", str(pub), "--golden", str(golden), "--meters", "3",
            "--time-scale", "1000", "-q")
    server = Served(state, *args, "--loop", "asyncio", "--busy-poll", "0")
    # the directory is locked while it runs
    second = subprocess.run([sys.executable, "-m", "meteremu.cli", "serve", "--port", "0",
                             "--state", str(state), "--password", PW, *args],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "another meteremu serve" in second.stderr
    for wport in (1, 2, 3):
        with server.client(server_sap=wport) as c:
            assert c.associate().accepted
            assert c.get("0.0.96.1.0.255", 2).value == f"MTR{wport:08d}".encode()
            assert c.get("1.0.0.2.0.255", 2).value == b"1.0.0"
    package = make_package(make_firmware(3000, seed=2), keys, version="2.0.0")
    with server.client(server_sap=2) as c:
        assert c.associate().accepted
        assert c.action(IMAGE_TRANSFER, 1, (b"fw", len(package))).ok
        for n in range(7):
            assert c.action(IMAGE_TRANSFER, 2, (n, package[n * 128:(n + 1) * 128])).ok
        energy = c.get("1.0.1.8.0.255", 2).value
        c.release()
    code, out = server.terminate()
    assert code == 0 and b"stopped; 3 meters saved" in out
    assert sorted(p.name for p in state.glob("*.flash")) == [
        "meter-00001.flash", "meter-00002.flash", "meter-00003.flash"]
    # a restart finds all of it: the transfer where it stopped, no energy lost (on
    # the default loop, uvloop where it is installed, and busy polling: the same
    # server in the other mode, SIGTERM included)
    server = Served(state, *args)
    with server.client(server_sap=2) as c:
        assert c.associate().accepted
        assert c.get("1.0.1.8.0.255", 2).value >= energy  # the power-fail save kept it
        assert c.action(IMAGE_TRANSFER, 1, (b"fw", len(package))).ok  # resume
        assert c.get(IMAGE_TRANSFER, 4).value == 7
    code, _ = server.terminate()
    assert code == 0
