"""Which image a fallback boots when the running bank stops validating: the
image confirmed before it while the bank still holds it, else the golden image
-- never an image a revert gave up, never a download nobody activated."""

from __future__ import annotations

from meterkit import MGMT, frames, meter, package

from meteremu.device import BootState

UPDATE = "0.0.96.10.2.255"


def _update(m, pkg: bytes, session: int, *, confirm: bool = True) -> None:
    m.receive_many(frames(pkg, session))
    assert m.boot_state is BootState.VERIFIED, m.audit_log
    m.action(UPDATE, 1, True, client=MGMT)
    if confirm:
        assert m.heartbeat()


def _rot(m, bank: str) -> None:
    m.flash.flip_bits(m.layout[bank].offset + 300, 0x10)


def test_a_failing_bank_falls_back_to_the_image_confirmed_before_it() -> None:
    m = meter()
    # A (1.0.0) -> B (2.0.0), confirmed; the same security counter, so the
    # anti-rollback floor still admits 1.0.0
    _update(m, package(2, counter=1), 0x101)
    _rot(m, "bank_b")
    m.power_cycle()
    assert (m.active_bank, m.active_version) == ("A", "1.0.0")
    assert m.boot_state is BootState.REVERTED


def test_an_image_a_revert_gave_up_never_comes_back() -> None:
    m = meter()
    _update(m, package(2, counter=1), 0x101)  # running 2.0.0 in B
    _update(m, package(3, behaviour=1, counter=1), 0x102, confirm=False)  # no-heartbeat
    m.advance(301)  # rolled back to B
    assert (m.active_bank, m.boot_state) == ("B", BootState.REVERTED)
    _rot(m, "bank_b")
    m.power_cycle()
    assert m.active_bank == "golden" and m.active_version == "1.0.0"
    assert m.active_version != "3.0.0"


def test_a_download_nobody_activated_is_never_booted_by_a_fallback() -> None:
    m = meter()
    _update(m, package(2, counter=1), 0x101)  # running 2.0.0 in B; A held 1.0.0
    m.receive_many(frames(package(3, counter=1), 0x102))  # 3.0.0 verified in A, not activated
    assert m.boot_state is BootState.VERIFIED
    _rot(m, "bank_b")
    m.power_cycle()
    assert m.active_bank == "golden" and m.active_version == "1.0.0"
