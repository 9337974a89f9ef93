"""The seed's six steps, end to end, against one virtual meter."""

from __future__ import annotations

import hashlib
import random

from meterkit import MGMT, deliver, frames, grep, meter, package

from meteremu.device import BootState, Client


def test_seed_six_steps_end_to_end() -> None:
    m = meter(load=2000)  # a 2 kW load all along
    assert m.boot_state is BootState.IDLE and m.active_version == "1.0.0"

    # 1-2. A signed package whose header carries vendor, hardware revision and the
    # total packet count (fragments of 128 bytes).
    pkg = package(2)
    stream = frames(pkg)
    assert int.from_bytes(pkg[36:40], "little") == len(stream)

    # 3-4. The concentrator broadcasts with 30 % loss, then re-sends what each
    # round's missing list names. Halfway through, the power fails.
    rnd = random.Random(4)
    rounds = 0
    cut_done = False
    todo = list(range(len(stream)))
    while todo:
        rounds += 1
        for i in todo:
            if rnd.random() >= 0.3:
                m.receive(stream[i])
            m.advance(0.05)
        if not cut_done and m.download_progress()[0] > len(stream) // 2:
            m.power_cycle()  # resumes from the bitmap in flash, not from zero
            cut_done = True
            assert m.boot_state is BootState.DOWNLOADING
            assert m.download_progress()[0] > len(stream) // 2
        todo = m.missing_fragments()
    assert rounds > 1
    assert m.boot_state is BootState.VERIFIED

    # 5. The HES reads 0.0.96.10.1.255: a bit-perfect copy sits in the inactive bank.
    assert m.get("0.0.96.10.1.255", 2, client=Client.PUBLIC) == hashlib.sha256(pkg).digest()

    # 6. Activation; metrology pauses only for the swap.
    before = m.energy_wh
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.boot_state is BootState.TRIAL and m.active_version == "2.0.0"
    m.advance(60)
    assert m.energy_wh - before > 2000 * 59.99 / 3600
    assert m.heartbeat()
    assert m.boot_state is BootState.CONFIRMED
    assert m.get("0.0.96.10.2.255", 2, client=MGMT) == BootState.CONFIRMED.value
    assert m.get("1.0.0.2.0.255", 2, client=MGMT) == b"2.0.0"

    # The audit log tells the story, greppable and timestamped by the meter clock.
    assert grep(m, "FOTA_OK VERIFIED version=2.0.0")
    assert grep(m, "FOTA_OK ACTIVATED")
    assert grep(m, "FOTA_OK CONFIRMED version=2.0.0")
    assert all(line.startswith("2026-01-01T") for line in m.audit_log)

    # It all survives a power cycle; the confirmed energy is the floor.
    floor = m.energy_floor_wh
    m.power_cycle()
    assert m.active_version == "2.0.0" and m.boot_state is BootState.CONFIRMED
    assert m.energy_wh >= floor > 0


def test_duplicates_and_reordering_are_harmless() -> None:
    m = meter()
    stream = frames(package(2))
    order = list(range(len(stream))) * 2
    random.Random(1).shuffle(order)
    for i in order:
        m.receive(stream[i])
    assert m.boot_state is BootState.VERIFIED
    assert m.counters["duplicate"] > 0


def test_meter_resumes_from_a_state_file_as_after_a_power_cut(tmp_path) -> None:
    path = tmp_path / "meter.flash"
    m = meter(state=path)
    stream = frames(package(2))
    for f in stream[: len(stream) // 2]:
        m.receive(f)
    m.advance(1000)
    energy_floor = m.energy_floor_wh
    del m  # no close(): the mapping holds what a killed process leaves
    m2 = meter(state=path)
    assert m2.boot_state is BootState.DOWNLOADING
    assert m2.download_progress()[0] == len(stream) // 2
    assert m2.energy_wh == energy_floor > 0
    deliver(m2, package(2))
    assert m2.boot_state is BootState.VERIFIED
    m2.close()
