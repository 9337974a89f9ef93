"""Download sessions as SPEC section 6 rules them: late, foreign and stray frames,
closed sessions, a session that replaces another, and the head-end's delivery.

Each test guards one way a meter used to get stuck or lose a package; the
names say which.
"""

from __future__ import annotations

import pytest
from meterkit import MGMT, REFUSED, SMALL, frames, grep, meter, package

from meteremu.device import BootState, ImageTransferStatus, Receipt
from meteremu.device.cosem import Client
from meteremu.device.download import KIND_MESH
from meteremu.device.sessions import KEEP, CloseReason
from meteremu.hes import LossyLink, deliver
from meteremu.testing.rig import MeterPair

UPDATE = "0.0.96.10.2.255"
IT = "0.0.44.0.0.255"
S, T, X = 0x5E55_0001, 0x5E55_0002, 0x0BAD_F00D


def _feed(m, stream) -> list[Receipt]:
    return [m.receive(f) for f in stream]


def _bank(m, name: str) -> bytes:
    r = m.layout[name]
    return m.flash.dump()[r.offset : r.end]


def _update(m, pkg: bytes, session: int) -> None:
    """A whole mesh update: every frame, activate, heartbeat."""
    _feed(m, frames(pkg, session))
    assert m.boot_state is BootState.VERIFIED, m.audit_log
    m.action(UPDATE, 1, True, client=MGMT)
    assert m.heartbeat()


def _transfer(m, pkg: bytes, ident: bytes = b"fw") -> None:
    m.action(IT, 1, (ident, len(pkg)), client=MGMT)
    block = m.get(IT, 2, client=MGMT)
    for i in range(-(-len(pkg) // block)):
        m.action(IT, 2, (i, pkg[i * block : (i + 1) * block]), client=MGMT)


# -- late frames of a closed session ----------------------------------------------------
@pytest.mark.parametrize("power_cycle", [False, True])
def test_late_frames_after_a_confirm_do_not_restart_the_download(power_cycle: bool) -> None:
    m = meter()
    _update(m, package(2), S)
    assert m.boot_state is BootState.CONFIRMED
    if power_cycle:
        m.power_cycle()
    old_image = _bank(m, "bank_a")  # the bank the next download goes to
    late = frames(package(2), S)
    assert _feed(m, late[5:7]) == [Receipt.DROPPED_CLOSED] * 2
    assert m.boot_state is BootState.CONFIRMED
    assert _bank(m, "bank_a") == old_image  # nothing erased
    assert len(grep(m, "FRAME_DROPPED reason=closed-session session=0x5e550001")) == 1
    # the next campaign goes through
    _update(m, package(3), T)
    assert m.boot_state is BootState.CONFIRMED and m.active_version == "3.0.0"


def test_a_closed_session_is_remembered_across_power_cycles() -> None:
    m = meter()
    _update(m, package(2), S)
    for _ in range(3):
        m.power_cycle()
        assert _feed(m, frames(package(2), S)[:3]) == [Receipt.DROPPED_CLOSED] * 3
    assert m.download_session() is None


def test_why_a_session_closed_is_remembered_across_power_cycles() -> None:
    """The reason is read back from the session records: activated, refused, or
    none once the session is older than the last KEEP."""
    m = meter()
    _update(m, package(2), S)
    assert m.receive(frames(package(9, hw_revision=99), X)[0]) is Receipt.REFUSED
    closed = m.download.closed
    for _ in range(2):
        assert closed.reason((KIND_MESH, S)) is CloseReason.ACTIVATED
        assert closed.reason((KIND_MESH, X)) is CloseReason.REFUSED
        assert closed.reason((KIND_MESH, T)) is None
        m.power_cycle()
    for k in range(KEEP):
        m.receive(frames(package(9, hw_revision=99), 0x7000 + k)[0])
    m.power_cycle()
    assert closed.reason((KIND_MESH, S)) is None and (KIND_MESH, S) not in closed
    assert closed.reason((KIND_MESH, 0x7000 + KEEP - 1)) is CloseReason.REFUSED


def test_a_closed_session_id_is_heard_again_once_it_is_old() -> None:
    m = meter()
    _update(m, package(2), S)
    for k in range(KEEP):  # refused sessions: each one is remembered as closed
        assert m.receive(frames(package(9, hw_revision=99), 0x7000 + k)[0]) is Receipt.REFUSED
    assert m.receive(frames(package(3), S)[0]) is Receipt.WRITTEN
    assert m.download_session() == S


# -- stray and foreign frames -------------------------------------------------------------
def test_a_stray_frame_does_not_block_the_next_update() -> None:
    m = meter()
    assert m.receive(frames(package(4), X)[5]) is Receipt.WRITTEN  # a late joiner writes it
    m.power_cycle()
    m.advance(7 * 24 * 3600)
    _update(m, package(2), S)  # the stray session had no header: it yields at once
    assert m.boot_state is BootState.CONFIRMED and m.active_version == "2.0.0"


def test_a_stray_frame_never_erases_a_verified_package() -> None:
    m = meter()
    _feed(m, frames(package(2), S))
    assert m.boot_state is BootState.VERIFIED
    verified = _bank(m, "bank_b")
    stray = frames(package(4), X)
    assert _feed(m, stray[3:6]) == [Receipt.DROPPED_SESSION] * 3
    m.power_cycle()
    assert m.receive(stray[7]) is Receipt.DROPPED_SESSION
    assert _bank(m, "bank_b") == verified
    assert m.boot_state is BootState.VERIFIED
    m.action(UPDATE, 1, True, client=MGMT)
    assert m.active_version == "2.0.0"


def test_a_stray_frame_never_erases_a_download_under_way() -> None:
    m = meter()
    stream = frames(package(2), S)
    _feed(m, stream[:10])
    before = _bank(m, "bank_b")
    assert m.receive(frames(package(4), X)[12]) is Receipt.DROPPED_SESSION
    assert _bank(m, "bank_b") == before and m.download_progress() == (10, len(stream))
    _feed(m, stream[10:])
    assert m.boot_state is BootState.VERIFIED


def test_a_session_whose_header_passes_replaces_a_kept_download() -> None:
    m = meter()
    _feed(m, frames(package(2), S)[:10])
    newer = frames(package(3), T)
    assert m.receive(newer[0]) is Receipt.WRITTEN
    assert m.download_session() == T
    _feed(m, newer[1:])
    assert m.boot_state is BootState.VERIFIED
    # the replaced session is over: its frames no longer count
    assert m.receive(frames(package(2), S)[11]) is Receipt.DROPPED_CLOSED


def test_a_replacing_header_held_in_ram_while_it_spans_several_fragments() -> None:
    m = meter()
    _feed(m, frames(package(2), S)[:10])
    small = frames(package(3, fragment_size=32), T, fragment_size=32)  # header: 4 fragments
    before = _bank(m, "bank_b")
    assert _feed(m, small[:3]) == [Receipt.WRITTEN] * 3  # held, nothing written
    assert _bank(m, "bank_b") == before and m.download_session() == S
    assert m.receive(small[3]) is Receipt.WRITTEN
    assert m.download_session() == T
    _feed(m, small[4:])
    assert m.boot_state is BootState.VERIFIED


def test_a_refused_header_of_a_new_session_leaves_the_kept_download() -> None:
    m = meter()
    stream = frames(package(2), S)
    _feed(m, stream[:10])
    foreign = frames(package(3, hw_revision=99), T)
    assert m.receive(foreign[0]) is Receipt.REFUSED
    assert _feed(m, foreign[:4]) == [Receipt.DROPPED_CLOSED] * 4
    assert len(grep(m, "FOTA_ERR 0x8004")) == 1
    assert m.boot_state is BootState.DOWNLOADING
    _feed(m, stream[10:])
    assert m.boot_state is BootState.VERIFIED


def test_a_kept_download_yields_to_any_session_after_the_timeout() -> None:
    m = meter(session_timeout=3600)
    _feed(m, frames(package(2), S)[:10])
    m.advance(3599)
    assert m.receive(frames(package(3), T)[4]) is Receipt.DROPPED_SESSION
    m.advance(2)
    assert m.receive(frames(package(3), T)[4]) is Receipt.WRITTEN
    assert m.download_session() == T


def test_a_fresh_session_after_a_cut_mid_download_goes_through() -> None:
    m = meter()
    stream = frames(package(2), S)
    _feed(m, stream[:12])
    m.flash.cut_after(1)
    m.receive(stream[12])
    m.power_on()
    assert m.download_session() == S
    pair = MeterPair(m, LossyLink(seed=3, loss=0.2))
    d = pair.send(package(2))
    assert d.complete and m.boot_state is BootState.VERIFIED
    assert pair.verify_copy()


# -- refusals are logged once ---------------------------------------------------------------
def test_an_oversize_session_is_refused_once_and_its_frames_dropped() -> None:
    m = meter()
    big = frames(package(2, size=SMALL.bank_size), S)
    ops = m.flash.ops_total
    receipts = _feed(m, big)
    assert receipts[0] is Receipt.REFUSED
    assert set(receipts[1:]) == {Receipt.DROPPED_CLOSED}
    assert len(grep(m, "FOTA_ERR 0x9002")) == 1
    assert m.flash.ops_total - ops < 10  # one audit, one session and one state record
    assert m.boot_state is BootState.FAILED


# -- head-end side ------------------------------------------------------------------------
def test_a_new_rig_on_the_same_meter_is_heard_after_a_rollback() -> None:
    m = meter()
    first = MeterPair(m, LossyLink(seed=1, loss=0.1))
    first.send(package(3, behaviour=1))  # no-heartbeat: it rolls back
    first.activate()
    m.advance(301)
    assert m.boot_state is BootState.REVERTED
    second = MeterPair(m, LossyLink(seed=1, loss=0.1))
    assert second.send(package(4)).complete
    second.activate()
    assert second.heartbeat() and m.active_version == "4.0.0"


def test_deliver_stops_at_the_first_refusal() -> None:
    m = meter()
    stream = frames(package(2, hw_revision=99), S)
    d = deliver(m, stream, LossyLink(seed=0, loss=0.0))
    assert d.refused and not d.complete
    assert d.rounds == 1 and d.frames_sent == len(stream)


class _LosesTheFirstHeader:
    """A link that loses fragment 0 the first time it carries it, and nothing else."""

    def __init__(self, header: bytes) -> None:
        self.header: bytes | None = header

    def transmit(self, batch: list[bytes]) -> list[bytes]:
        out = [f for f in batch if f != self.header]
        if len(out) < len(batch):
            self.header = None
        return out


def test_deliver_resends_everything_to_a_meter_busy_with_another_session() -> None:
    m = meter()
    _feed(m, frames(package(2), S)[:10])
    stream = frames(package(3), T)
    d = deliver(m, stream, _LosesTheFirstHeader(stream[0]))  # type: ignore[arg-type]
    assert d.complete and m.download_session() == T
    assert d.rounds == 2 and d.frames_sent == 2 * len(stream)


# -- class 18 ----------------------------------------------------------------------------
def test_class18_status_resets_when_a_mesh_session_replaces_the_image() -> None:
    m = meter()
    _transfer(m, package(2))
    m.action(IT, 3, 0, client=MGMT)
    assert m.get(IT, 6, client=MGMT) == ImageTransferStatus.VERIFICATION_SUCCESSFUL
    _feed(m, frames(package(3), T)[:1])
    assert m.download_session() == T
    assert m.get(IT, 6, client=MGMT) == ImageTransferStatus.NOT_INITIATED
    assert m.get(IT, 7, client=MGMT) == []


@pytest.mark.parametrize("fragment_size", [16, 64, 256, 1024])
def test_class18_takes_packages_of_any_mesh_fragment_size(fragment_size: int) -> None:
    m = meter()
    pkg = package(2, fragment_size=fragment_size)
    _transfer(m, pkg)
    m.action(IT, 3, 0, client=MGMT)
    m.action(IT, 4, 0, client=MGMT)
    assert m.get(IT, 6, client=MGMT) == ImageTransferStatus.ACTIVATION_SUCCESSFUL
    assert m.active_version == "2.0.0"


def test_class18_block_refusal_names_its_code() -> None:
    m = meter()
    pkg = package(2, hw_revision=99)
    m.action(IT, 1, (b"fw", len(pkg)), client=MGMT)
    with pytest.raises(REFUSED) as exc:
        m.action(IT, 2, (0, pkg[:128]), client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x8004"


def test_class18_activation_of_an_image_that_never_comes_up_reads_failed() -> None:
    m = meter()
    _transfer(m, package(2, behaviour=2))  # crash-on-boot
    m.action(IT, 3, 0, client=MGMT)
    with pytest.raises(REFUSED) as exc:
        m.action(IT, 4, 0, client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x800B"
    assert m.get(IT, 6, client=MGMT) == ImageTransferStatus.ACTIVATION_FAILED
    assert m.active_version == "1.0.0" and m.boot_state is BootState.REVERTED


def test_public_client_sees_the_open_session_through_the_hash_object() -> None:
    m = meter()
    _feed(m, frames(package(2), S))
    assert len(m.get("0.0.96.10.1.255", 2, client=Client.PUBLIC)) == 32
