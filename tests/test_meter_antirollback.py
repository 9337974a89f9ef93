"""The anti-rollback floor through the meter (SPEC section 5): losing or corrupting
boot-control records must not lower it.

The confirmed security counter is kept in the boot-control records and in the
floor region (append-only, never erased: the meter's OTP). With the records
erased or rolled back the floor region still says what was confirmed; a
disagreement between the two is logged (FLOOR_MISMATCH) and the higher wins.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from meterkit import MGMT, deliver, grep, meter, package

from meteremu._lowlevel.boot import RECORD_SIZE, decode_record
from meteremu.device import BootState, VirtualMeter

ACTIVATE = ("0.0.96.10.2.255", 1, True)


def _update(m: VirtualMeter, version: int, counter: int, session: int,
            confirm: bool = True) -> bool:
    """Download, activate, heartbeat. False when the package was refused."""
    deliver(m, package(version, counter=counter), session=session)
    if m.boot_state is not BootState.VERIFIED:
        return False
    m.action(*ACTIVATE, client=MGMT)
    assert m.boot_state is BootState.TRIAL
    if confirm:
        assert m.heartbeat()
    return True


def _erase_records(m: VirtualMeter, names: tuple[str, ...] = ("boot0", "boot1")) -> None:
    for name in names:
        region = m.layout[name]
        m.flash.erase(region.offset, region.size)


def _newest_record_addr(m: VirtualMeter) -> int:
    seq = m.boot_record.sequence
    for name in ("boot0", "boot1"):
        region = m.layout[name]
        cells = m.flash.read(region.offset, region.size)
        for off in range(0, region.size, RECORD_SIZE):
            rec = decode_record(cells[off : off + RECORD_SIZE])
            if rec is not None and rec.sequence == seq:
                return region.offset + off
    raise AssertionError("no record with the current sequence on flash")


def _refused_as_downgrade(m: VirtualMeter, counter: int) -> bool:
    return any(f"counter={counter}" in line for line in grep(m, "FOTA_ERR 0x8006"))


def test_floor_survives_erased_boot_records() -> None:
    m = meter()
    assert _update(m, 5, 5, session=0x501)
    assert grep(m, "FOTA_OK CONFIRMED version=5.0.0 bank=B counter=5")
    assert m.anti_rollback_floor == 5
    _erase_records(m)
    m.power_cycle()
    assert grep(m, "FOTA_EVT FLOOR_MISMATCH record=0 otp=5 floor=5")
    assert m.anti_rollback_floor == 5
    # the blank default names bank A (the factory image, counter 1): below the
    # floor, so the meter falls back to the confirmed image in B
    assert m.active_version == "5.0.0"
    assert m.boot_record.counter == 5
    deliver(m, package(2, counter=2), session=0x502)
    assert _refused_as_downgrade(m, 2), "\n".join(m.audit_log)
    assert m.boot_state is BootState.FAILED
    assert not grep(m, "FOTA_OK VERIFIED version=2.0.0")
    m.power_cycle()
    assert m.active_version == "5.0.0"
    assert len(grep(m, "FLOOR_MISMATCH")) == 1  # the records agree again


def test_floor_survives_a_flipped_boot_record() -> None:
    m = meter()
    assert _update(m, 5, 5, session=0x501)
    # the newest record (the confirmation) goes bad: the one before it, the
    # trial record written at activation with the factory counter, is current
    m.flash.flip_bits(_newest_record_addr(m) + 12, 0x01)
    m.power_cycle()
    assert grep(m, "FOTA_EVT FLOOR_MISMATCH record=1 otp=5 floor=5")
    assert m.boot_state is BootState.TRIAL and m.active_version == "5.0.0"
    # no heartbeat this time: the trial is given up; the previous image (A,
    # counter 1) is below the floor, so the meter ends on the golden image
    m.advance(m.heartbeat_window + 1)
    assert grep(m, "ROLLBACK reason=no-heartbeat")
    assert m.active_version == "1.0.0" and m.active_bank == "golden"
    assert m.anti_rollback_floor == 5
    deliver(m, package(3, counter=3), session=0x503)
    assert _refused_as_downgrade(m, 3), "\n".join(m.audit_log)
    assert not grep(m, "FOTA_OK VERIFIED version=3.0.0")
    assert not grep(m, "CONFIRMED version=3.0.0")


def test_floor_region_fault_is_logged_and_the_record_keeps_the_floor() -> None:
    m = meter()
    floor = m.layout["floor"]
    m.flash.set_sector_endurance(floor.offset, 0)  # the OTP cannot be written
    assert _update(m, 5, 5, session=0x501)
    assert grep(m, "FOTA_ERR 0x9004 flash fault at=floor rc=MT_E_FLASH_WORN")
    assert m.anti_rollback_floor == 5
    m.power_cycle()  # the record says 5, the floor region 1: repaired, or logged
    assert grep(m, "FOTA_EVT FLOOR_MISMATCH record=5 otp=1 floor=5")
    assert len(grep(m, "at=floor")) == 2
    deliver(m, package(2, counter=2), session=0x502)
    assert _refused_as_downgrade(m, 2)
    m.flash.clear_faults()
    m.power_cycle()  # the repair works now
    assert len(grep(m, "at=floor")) == 2
    assert len(grep(m, "FLOOR_MISMATCH")) == 2
    m.power_cycle()
    assert len(grep(m, "FLOOR_MISMATCH")) == 2  # both say 5 now


class FloorMachine(RuleBasedStateMachine):
    """Random update histories with random damage to the boot-control records:
    the effective floor is never below the highest counter ever confirmed (and,
    with the floor region intact, never above it: nothing else raises it), and a
    package is refused with 0x8006 exactly when its counter is below that."""

    @initialize()
    def start(self) -> None:
        self.m = meter()
        self.highest = 1  # the factory image's counter, provisioned as the floor
        self.counters = {"1.0.0": 1}
        self.next_version = 2

    def _confirm_trial(self) -> None:
        version = self.m.active_version
        if self.m.heartbeat():
            assert version is not None
            self.highest = max(self.highest, self.counters[version])

    @rule(counter=st.integers(1, 9), confirm=st.booleans())
    def update(self, counter: int, confirm: bool) -> None:
        m = self.m
        if m.boot_state is BootState.TRIAL:  # a trial, maybe one a damaged record brought back
            if confirm:
                self._confirm_trial()
            else:
                m.advance(m.heartbeat_window + 1)
            return
        version = self.next_version
        self.next_version += 1
        self.counters[f"{version}.0.0"] = counter
        accepted = _update(m, version, counter, session=0x1000 + version, confirm=False)
        assert accepted == (counter >= self.highest), "\n".join(m.audit_log[-8:])
        if not accepted:
            assert _refused_as_downgrade(m, counter)
        elif confirm:
            self._confirm_trial()

    @rule(which=st.sampled_from([("boot0",), ("boot1",), ("boot0", "boot1")]))
    def erase_records(self, which: tuple[str, ...]) -> None:
        _erase_records(self.m, which)
        self.m.power_cycle()

    @rule(offset=st.integers(0, RECORD_SIZE - 1), bit=st.integers(0, 7))
    def flip_newest_record(self, offset: int, bit: int) -> None:
        if self.m.boot_record.sequence == 0:
            return  # no record on flash
        self.m.flash.flip_bits(_newest_record_addr(self.m) + offset, 1 << bit)
        self.m.power_cycle()

    @rule(region=st.sampled_from(["boot0", "boot1"]), offset=st.integers(0, 4095),
          bit=st.integers(0, 7))
    def flip_any_record_bit(self, region: str, offset: int, bit: int) -> None:
        r = self.m.layout[region]
        self.m.flash.flip_bits(r.offset + offset % r.size, 1 << bit)
        self.m.power_cycle()

    @rule()
    def wait_out_the_trial(self) -> None:
        self.m.advance(self.m.heartbeat_window + 1)

    @invariant()
    def floor_is_the_highest_confirmed(self) -> None:
        m = self.m
        assert m.active_version is not None
        assert m.anti_rollback_floor >= self.highest
        assert m.anti_rollback_floor == self.highest
        assert self.counters[m.active_version] >= self.highest or m.active_bank == "golden"


FloorMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_floor_never_below_the_highest_confirmed_counter = FloorMachine.TestCase
