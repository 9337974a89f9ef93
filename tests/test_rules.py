"""The rules module: the tables are whole, the docs show them, and the meter
moves only by them."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from meterkit import MGMT, frames, meter, package

from meteremu._lowlevel.boot import BootState as RecordState
from meteremu._lowlevel.boot import Outcome
from meteremu.device import events
from meteremu.device.cosem import OBJECTS, AccessMode, Axdr
from meteremu.device.rules import (
    AVAILABILITY,
    BOOT,
    IMAGE_TRANSFER,
    RESTORE,
    Availability,
    AvailabilityEvent,
    BootState,
    Event,
    ImageTransferEvent,
    ImageTransferStatus,
    Refusal,
    markdown,
    restored_state,
    step,
)
from meteremu.device.services import CosemServer
from meteremu.errors import MeterUsageError

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUESTS = {Event.FRAME, Event.INITIATE, Event.ACTIVATE, Event.HEARTBEAT}


def test_meter_md_carries_the_generated_tables() -> None:
    out = subprocess.run([sys.executable, "-m", "meteremu.device"], capture_output=True,
                         check=True, text=True, cwd=ROOT).stdout
    assert out == markdown()
    doc = (ROOT / "docs" / "METER.md").read_text()
    assert out in doc, "docs/METER.md is stale: paste `python -m meteremu.device` over its rules"


def test_requests_are_answered_in_every_state() -> None:
    for event in REQUESTS:
        for state in BootState:
            assert (state, event) in BOOT, (state, event)


def test_life_cycle_events_are_never_refusals() -> None:
    for (state, event), result in BOOT.items():
        if event not in REQUESTS:
            assert isinstance(result, BootState), (state, event, result)
        elif isinstance(result, Refusal):
            assert result.reason


def test_nothing_downloads_while_an_image_is_on_trial() -> None:
    assert (BootState.TRIAL, Event.DOWNLOAD_START) not in BOOT
    assert isinstance(BOOT[(BootState.TRIAL, Event.FRAME)], Refusal)
    assert isinstance(BOOT[(BootState.TRIAL, Event.INITIATE)], Refusal)
    assert BOOT[(BootState.TRIAL, Event.CONFIRMED)] is BootState.CONFIRMED


def test_unknown_pairs_are_the_callers_bug() -> None:
    assert step(BOOT, BootState.VERIFIED, Event.ACTIVATED) is BootState.TRIAL
    with pytest.raises(MeterUsageError, match="not allowed in idle"):
        step(BOOT, BootState.IDLE, Event.ACTIVATED)


def test_image_transfer_activates_only_a_verified_image() -> None:
    for status in ImageTransferStatus:
        r = IMAGE_TRANSFER[(status, ImageTransferEvent.ACTIVATE)]
        if status is ImageTransferStatus.VERIFICATION_SUCCESSFUL:
            assert r is ImageTransferStatus.ACTIVATION_INITIATED
        else:
            assert isinstance(r, Refusal) and r.error is not None
    for status in ImageTransferStatus:
        assert IMAGE_TRANSFER[(status, ImageTransferEvent.POWER_UP)] is \
            ImageTransferStatus.NOT_INITIATED


def test_power_down_always_ends_off() -> None:
    for a in Availability:
        assert AVAILABILITY[(a, AvailabilityEvent.POWER_DOWN)] is Availability.OFF
    assert (Availability.NO_IMAGE, AvailabilityEvent.BOOTED) not in AVAILABILITY


def test_restore_is_total_and_first_match() -> None:
    for record in RecordState:
        for outcome in Outcome:
            for opened in (False, True):
                for persisted in BootState:
                    got = restored_state(record, outcome, opened, persisted)
                    assert isinstance(got, BootState)
                    if record is RecordState.TRIAL:
                        assert got is BootState.TRIAL
                    elif opened:
                        assert got is BootState.DOWNLOADING
                    elif persisted in (BootState.DOWNLOADING, BootState.VERIFIED,
                                       BootState.TRIAL):
                        assert got is {Outcome.NONE: BootState.IDLE,
                                       Outcome.CONFIRMED: BootState.CONFIRMED,
                                       Outcome.REVERTED: BootState.REVERTED}[outcome]
                    else:
                        assert got is persisted
    assert RESTORE[-1].record is None and RESTORE[-1].persisted is None


def test_every_state_change_of_a_meter_is_a_table_step() -> None:
    m = meter()
    stream = frames(package(2))
    m.receive_many(stream)
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    m.heartbeat()
    m.power_cycle()
    changes = [e for e in m.drain_events() if isinstance(e, events.StateChanged)]
    assert [(c.old, c.new) for c in changes] == [
        (BootState.IDLE, BootState.DOWNLOADING), (BootState.DOWNLOADING, BootState.VERIFIED),
        (BootState.VERIFIED, BootState.TRIAL), (BootState.TRIAL, BootState.CONFIRMED)]
    steps = {(s, BOOT[(s, e)]) for (s, e) in BOOT if not isinstance(BOOT[(s, e)], Refusal)}
    for c in changes:
        assert (c.old, c.new) in steps


# ---------------------------------------------------------------- the COSEM table
def test_every_cosem_entry_has_its_handlers_and_its_type() -> None:
    for obj in OBJECTS:
        for n, attr in obj.attributes.items():
            assert isinstance(attr.axdr, Axdr), (obj.obis, n)
            if n == 1:
                assert attr.axdr is Axdr.OCTET_STRING
                continue
            assert callable(getattr(CosemServer, "get_" + attr.handler, None)), (obj.obis, n)
            if (attr.public | attr.management) & AccessMode.WRITE:
                assert callable(getattr(CosemServer, "set_" + attr.handler, None)), (obj.obis, n)
        for n, method in obj.methods.items():
            assert isinstance(method.param, Axdr), (obj.obis, n)
            assert callable(getattr(CosemServer, "act_" + method.handler, None)), (obj.obis, n)


# ---------------------------------------------------------------- events
def test_the_audit_log_is_written_from_the_events() -> None:
    m = meter()
    m.drain_events()
    before = len(m.audit_log)
    m.receive_many(frames(package(2, hw_revision=99)))  # refused at the header
    m.receive_many(frames(package(2), 0x77))
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    out = m.drain_events()
    lines = [e.line() for e in out if e.line() is not None]
    assert m.audit_log[before:] == lines
    refused = [e for e in out if isinstance(e, events.Refused)]
    assert refused and refused[0].error.code == "0x8004"
    assert any(isinstance(e, events.DownloadProgress) and e.received == e.count for e in out)
    assert m.drain_events() == []


def test_undrained_events_are_bounded_and_counted() -> None:
    m = meter()
    m.drain_events()
    for i in range(m.EVENTS_KEPT + 10):
        m.emit(events.ClockSet, was=str(i))
    assert len(m.drain_events()) == m.EVENTS_KEPT and m.events_dropped == 10
