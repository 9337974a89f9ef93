"""What ``python -m bench.dlms`` stands on, checked without timing anything: the
gurux-dlms reference server answers our client correctly (in process, no
socket), the frames the bench sends decode as the requests they claim to be,
the ceiling server's canned answers are well-formed responses, the report
shows what was measured, and the placements pin what they say."""

from __future__ import annotations

import os
import pathlib
import sys
import types

import pytest

from meteremu.crypto import sha256
from meteremu.dlms import xdlms
from meteremu.dlms.apdu import decode_apdu
from meteremu.dlms.client import DlmsClient
from meteremu.dlms.wrapper import WrapperReader

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the bench package

bench_dlms = pytest.importorskip("bench.dlms")


def frames_of(raw: bytes) -> list:
    reader = WrapperReader(0xFFFF)
    reader.feed(raw)
    out = []
    while (frame := reader.next_frame()) is not None:
        out.append(frame)
    return out


def test_the_bench_frames_are_the_requests_they_claim():
    frames = bench_dlms._frames()
    (get,) = frames_of(frames["get"])
    assert (get.source, get.destination) == (16, 1)
    req = decode_apdu(get.apdu)
    assert isinstance(req, xdlms.GetRequestNormal) and req.invoke == bench_dlms.INVOKE
    assert req.attribute == xdlms.AttributeDescriptor(1, bytes((1, 0, 0, 2, 0, 255)), 2)
    package = bytes(range(256)) * 2 + b"tail"
    blocks = frames["blocks"](package)
    assert len(blocks) == 5
    last = decode_apdu(frames_of(blocks[-1])[0].apdu)
    assert last.method.method == 2 and last.parameters.value[1].value == b"tail"
    init = decode_apdu(frames_of(frames["initiate"](b"id", 516))[0].apdu)
    assert [d.value for d in init.parameters.value] == [b"id", 516]


def test_the_ceiling_answers_are_well_formed():
    for raw, kind in ((bench_dlms._Canned.GET, xdlms.GetResponseNormal),
                      (bench_dlms._Canned.ACTION, xdlms.ActionResponseNormal)):
        (frame,) = frames_of(raw)
        apdu = decode_apdu(frame.apdu)
        assert isinstance(apdu, kind) and apdu.invoke == bench_dlms.INVOKE


def test_the_gurux_reference_serves_our_client():
    pytest.importorskip("gurux_dlms")
    from bench.gurux_server import ReferenceServer

    server = ReferenceServer(b"secret")
    client = DlmsClient(client_sap=1, password=b"secret")

    def ask(request: bytes) -> object:
        (result,) = client.receive_data(server.answer(request))
        return result

    assert ask(client.associate()).accepted
    assert ask(client.get("1.0.0.2.0.255", 2)).value == b"1.0.0"
    assert ask(client.get("0.0.44.0.0.255", 2)).value == 128
    image = bytes(range(200))

    def act(method: int, param: object) -> bytes:
        request = client.action("0.0.44.0.0.255", method, param)
        client._pending = None  # its answer is checked raw, below
        (frame,) = frames_of(server.answer(request))
        return frame.apdu

    # success, the invoke byte echoed; the library leaves out the action
    # response's "no return parameters" byte, which our client requires
    assert act(1, (b"img", len(image)))[:4] == bytes((0xC7, 1, client._invoke | 0xC0, 0))
    for n in range(2):
        assert act(2, (n, image[n * 128:(n + 1) * 128]))[3] == 0
    assert act(3, 0)[3] == 0
    assert ask(client.get("0.0.96.10.1.255", 2)).value == sha256(image)


def test_the_report_names_the_loop_and_shows_the_other_modes_beside_it():
    F = bench_dlms.Figures
    figures = {name: F(get_per_s=g, get_cpu_us=10.0, transfer_s=t, block_cpu_us=20.0,
                       activate_ms=1.0, multi_get_per_s=g / 2)
               for name, g, t in (("meteremu", 50_000, 0.03), ("gurux", 10_000, 0.2),
                                  ("ceiling", 90_000, 0.0), ("meteremu-asyncio", 30_000, 0.05),
                                  ("meteremu-nopoll", 40_000, 0.04),
                                  ("ceiling-nopoll", 70_000, 0.0))}
    text = "\n".join(bench_dlms.render(figures, "uvloop"))
    assert "5.00x" in text and "0.15x" in text and "pass" in text and "FAIL" not in text
    assert "ceiling: no-DLMS server (uvloop, busy poll)" in text
    assert "meteremu on asyncio's loop, GET/s" in text and "3.00x" in text
    assert "meteremu, no busy poll, GET/s" in text and "4.00x" in text
    assert "ceiling, no busy poll (uvloop), GET/s" in text and "7.00x" in text
    assert bench_dlms.fast_loop() in ("uvloop", "asyncio")


def test_the_report_gives_each_placement_and_the_best_of_them_is_the_figure():
    F = bench_dlms.Figures
    figures = {name: F(get_per_s=g, get_cpu_us=10.0, transfer_s=t, block_cpu_us=20.0,
                       activate_ms=1.0, multi_get_per_s=g / 2)
               for name, g, t in (("meteremu", 60_000, 0.02), ("gurux", 12_000, 0.125),
                                  ("ceiling", 90_000, 0.0))}
    figures["meteremu"].get_by_placement = {"one CPU": 60_000, "two CPUs": 40_000,
                                            "unpinned": 45_000}
    figures["gurux"].get_by_placement = {"one CPU": 12_000, "two CPUs": 8_000,
                                         "unpinned": 10_000}
    figures["meteremu"].transfer_by_placement = {"one CPU": 0.02, "two CPUs": 0.04}
    figures["gurux"].transfer_by_placement = {"one CPU": 0.125, "two CPUs": 0.16}
    text = "\n".join(bench_dlms.render(figures, "uvloop"))
    rows = {line.split("  ")[0]: line for line in text.splitlines()}
    assert "5.00x" in rows["GET/s, one CPU"] and "5.00x" in rows["GET/s, two CPUs"]
    assert "4.50x" in rows["GET/s, unpinned"]
    assert "0.16x" in rows["transfer (s), one CPU"] and "0.25x" in rows["transfer (s), two CPUs"]
    assert "transfer (s), unpinned" not in rows  # not measured: no row


def test_placements_need_two_cpus_and_affinity(monkeypatch):
    monkeypatch.setattr(bench_dlms.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert bench_dlms.placements() == ("unpinned",)
    monkeypatch.setattr(bench_dlms.os, "sched_getaffinity", lambda pid: {1, 3}, raising=False)
    if hasattr(bench_dlms.os, "sched_setaffinity"):
        assert bench_dlms.placements() == bench_dlms.PLACEMENTS


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs")
def test_the_placer_pins_client_and_server_and_frees_them():
    import subprocess
    import sys

    start = os.sched_getaffinity(0)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    server = types.SimpleNamespace(proc=proc)
    placer = bench_dlms.Placer()
    first, second = sorted(start)[:2]
    try:
        placer.place("one CPU", server)
        assert os.sched_getaffinity(0) == {first} == os.sched_getaffinity(proc.pid)
        placer.place("two CPUs", server)
        assert os.sched_getaffinity(0) == {first}
        assert os.sched_getaffinity(proc.pid) == {second}
        placer.place("unpinned", server)
        assert os.sched_getaffinity(0) == start == os.sched_getaffinity(proc.pid)
        placer.place("two CPUs", server)
        placer.free({"s": server})
        assert os.sched_getaffinity(0) == start == os.sched_getaffinity(proc.pid)
    finally:
        os.sched_setaffinity(0, start)
        proc.kill()
        proc.wait()
