"""The C-core floor of bench.meter (csrc/bench/bench_wave.c), untimed: it builds,
runs a few meters' whole update with no Python in the loop, and every meter ends
confirmed on the new image with the bank read once (validation), not again at
activation or boot. bench.meter skips it, saying so, when it is not built."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the bench package
meter = pytest.importorskip("bench.meter")


@pytest.fixture(scope="module")
def floor_binary() -> pathlib.Path:
    if shutil.which("make") is None or (shutil.which("cc") or shutil.which("gcc")) is None:
        pytest.skip("no make or C compiler on PATH")
    subprocess.run(["make", "-s", "-C", str(ROOT / "csrc"), "bench-wave"], check=True,
                   capture_output=True)
    assert meter.FLOOR_BINARY.exists()
    return meter.FLOOR_BINARY


def test_the_floor_runs_every_meter_to_confirmed(floor_binary: pathlib.Path) -> None:
    keys, pkg, factory, frames = meter._case()
    got = meter.run_floor(5, pkg, keys.point, factory, floor_binary)
    assert got is not None
    assert got["meters"] == 5
    assert got["frames_delivered"] == len(frames)  # each fragment once
    assert got["frames_sent"] > len(frames)  # 10 % loss: retransmission rounds
    assert got["rounds"] > 1
    # one pass over the image and one ECDSA per meter on the new bank: the
    # validation's; activation, the trial boot and confirm read the header only
    assert got["image_passes"] == 1.0
    assert got["ecdsa"] == 1.0
    for key in ("fragments_us", "validation_us", "activation_us", "total_us"):
        assert got[key] >= 0.0


def test_the_floor_refuses_a_package_it_cannot_verify(floor_binary: pathlib.Path,
                                                      tmp_path: pathlib.Path) -> None:
    keys, pkg, factory, _ = meter._case()
    bad = bytearray(pkg)
    bad[-100] ^= 0x01  # in the trailer: the signature no longer verifies
    paths = []
    for name, data in (("p", bytes(bad)), ("k", keys.point), ("f", factory)):
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    done = subprocess.run([str(floor_binary), *paths, "2"], capture_output=True, text=True)
    assert done.returncode != 0
    assert "verify" in done.stderr


def test_bench_meter_skips_the_floor_when_not_built(tmp_path: pathlib.Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    keys, pkg, factory, _ = meter._case()
    assert meter.run_floor(1, pkg, keys.point, factory, tmp_path / "absent") is None
    meter.report_floor(None, None)
    assert "not built" in capsys.readouterr().out


def test_the_physical_floor_verifies_the_package_it_times() -> None:
    keys, pkg, _, _ = meter._case()
    assert meter.physical_floor(pkg, keys.point, repeat=2) > 0.0
    bad = bytearray(pkg)
    bad[-100] ^= 0x01  # the signature: OpenSSL refuses it, so the timing is of real work
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        meter.physical_floor(bytes(bad), keys.point, repeat=1)
