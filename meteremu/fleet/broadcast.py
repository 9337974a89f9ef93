"""Broadcast rounds over a fleet: one call into the C core per round.

Round 1 sends every fragment; each later round re-sends the union of what the
meters still waited for miss. For a round, ``mt_fleet_round`` (C) draws
every meter's link for every frame and feeds each heard frame to the meter's
reassembler while the meter's run lasts (the rule of ``Reassembler.frames``:
it stops at a frame the meter would refuse, a header fragment still to
check, a failed write, the frame that completes the download). Python then
settles each meter (``VirtualMeter.settle_counts``: its receipt counters;
``settle_stop``: the frame its run stopped at, the per-frame way), and the
meters that may go on in the C core get the rest of the round in one more
call (``mt_fleet_replay``: no draws, the round's heard bits), until no run
stops; a meter the C core may not feed (battery-powered, off, in a trial,
...) takes the rest of what it heard through ``receive_many``. Each meter
ends the round in one call, ``Download.settle_round``: the counts of its
last run, the burst's progress event when it heard anything (as
``settle_end``), and its status and the next round's target, read there
once. So each meter ends exactly as ``receive_many`` of the frames it heard
would leave it.

After the round, a meter is ``complete`` (it holds every fragment of the
session), ``refused`` (it closed the session as refused: its last refusal's
code is kept) or ``missing`` (its missing fragments join the next round).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._lowlevel.fleet import BEFORE, RAN, RoundRunner, loss_threshold
from .._lowlevel.image import ImageCache, check_package
from .._lowlevel.reasm import decode_frame
from ..device import VirtualMeter
from ..device.download import KIND_MESH
from ..device.sessions import CloseReason
from ..errors import PackageError, UsageError
from .links import link_seed
from .memory import populate

__all__ = ["BroadcastResult", "MeterOutcome", "run_broadcast"]


@dataclass(frozen=True)
class MeterOutcome:
    """How the broadcast ended for one meter: ``kind`` ``complete`` (it holds the
    session, or activated it before), ``missing`` (``missing`` fragments still
    to come) or ``refused`` (it closed the session and takes none of its
    frames; ``code``: the operator code of the refusal that closed it, None
    when it was replaced by a newer session), and the round it became final in."""

    kind: str
    missing: int = 0
    code: str | None = None
    round: int | None = None


@dataclass
class BroadcastResult:
    """Per round the fragments sent; per meter its outcome; CPU split."""

    session: int
    fragments: int
    sent: list[int] = field(default_factory=list)
    outcomes: dict[str, MeterOutcome] = field(default_factory=dict)
    seconds_c: float = 0.0  # wall time inside the round calls into C
    seconds_settle: float = 0.0  # settling meters and their status, Python

    @property
    def rounds(self) -> int:
        return len(self.sent)

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.kind == kind)


def _session(frames: Sequence[bytes]) -> tuple[int, list[bytes], bytes]:
    """The session ID of a broadcast's frames, its frames in fragment order (as
    ``bytes``) and the package they carry. The frames may come in any order,
    but must be one session's fragments, each once, each a whole frame of
    the right length: a round re-sends the fragments the meters miss by
    their index. Raises :class:`UsageError` naming the first frame that is
    not, before anything is sent."""
    if not frames:
        raise UsageError("nothing to broadcast: no frames")
    ordered: list[bytes | None] = []
    payloads: list[bytes] = []
    first = None
    for k, data in enumerate(frames):
        try:
            f = decode_frame(data)
        except (PackageError, TypeError, ValueError) as exc:
            raise UsageError(f"frame {k} is not a mesh fragment frame ({exc})") from None
        key = (f.session_id, f.package_size, f.fragment_size, f.fragment_count)
        if first is None:
            first = key
            ordered = [None] * f.fragment_count
            payloads = [b""] * f.fragment_count
            if len(frames) != f.fragment_count:
                raise UsageError(f"{len(frames)} frames for a session of {f.fragment_count}")
        elif key != first:
            raise UsageError(f"frame {k} is of another session than frame 0 (session, sizes "
                             f"and count {key} against {first})")
        i = f.fragment_index
        if i >= f.fragment_count:
            raise UsageError(f"frame {k}: fragment {i} of a session of {f.fragment_count}")
        want = min(f.fragment_size, f.package_size - i * f.fragment_size)
        if len(f.payload) != want:
            raise UsageError(f"frame {k}: fragment {i} carries {len(f.payload)} bytes, not {want}")
        if ordered[i] is not None:
            raise UsageError(f"frame {k}: fragment {i} a second time")
        ordered[i] = bytes(data)
        payloads[i] = f.payload
    assert first is not None
    return first[0], [f for f in ordered if f is not None], b"".join(payloads)


def _adopt_checks(meters: Sequence[VirtualMeter], pkg: bytes, session: int,
                  cells: Sequence[int | None]) -> dict[int, tuple[int, int]]:
    """Check the broadcast package once per meter policy (identity, bank size,
    trusted keys) and let each meter's download bank adopt the passed check
    (``VirtualMeter.adopt_download_check``): a meter whose bank ends holding
    these very bytes accepts them with one pass over the image and no ECDSA;
    the check is keyed on every byte it reads, so a meter whose bytes differ
    in any bit gets the full check and the same verdict as on its own. A
    package that fails the check is adopted by none (each meter finds out
    itself).

    Returns, for each meter that adopts the check and will take the session
    (on, the session not closed, not yet complete there), the span of its
    download bank the package covers, in memory (``cells[i]``: where meter
    ``i``'s flash is): the rounds have those pages made the meter's own
    (:func:`.memory.populate`) just before the meter's first frame goes in
    -- the pages its download writes anyway, copied in one call instead of
    one fault each, not faulted twice for the bank's blank check before the
    first write, and still in cache for that check. No byte changes."""
    spans: dict[int, tuple[int, int]] = {}
    passed: dict[tuple[int, int, int, tuple[bytes, ...]], ImageCache | None] = {}
    for i, m in enumerate(meters):
        policy = m.boot.check_policy()
        if policy not in passed:
            cache: ImageCache | None = ImageCache()
            vendor_id, hw_revision, bank_size, keys = policy
            try:
                check_package(pkg, vendor_id=vendor_id, hw_revision=hw_revision,
                              bank_size=bank_size, trusted_keys=list(keys), cache=cache)
            except (PackageError, ValueError):
                cache = None
            passed[policy] = cache
        cache = passed[policy]
        if cache is not None:
            m.adopt_download_check(cache)
            at = cells[i]
            bank = m.boot.inactive()
            if at is not None and bank is not None and _will_write(m, session):
                spans[i] = (at + m.boot.region(bank).offset, len(pkg))
    return spans


def _will_write(m: VirtualMeter, session: int) -> bool:
    """Whether the session's frames may still write the meter's download bank."""
    if not m.power.running or (KIND_MESH, session) in m.download.closed:
        return False
    dl = m.download.open()
    return dl is None or dl.tag != KIND_MESH or dl.session_id != session or not dl.complete


def _round(runner: RoundRunner, meters: Sequence[VirtualMeter], sent: list[bytes],
           spans: dict[int, tuple[int, int]], session: int,
           targets: list[Any], status: list[tuple[str, int]]) -> float:
    """One round to every meter (see the module's docstring); returns the seconds
    spent in the C calls. ``targets``: each meter's ``batch_target()`` as the
    round starts; the round leaves there the next round's, and in ``status``
    each meter's ``Download.outcome`` after it (a meter's ``settle_round`` answers both
    as it ends its round). ``spans``: download banks to populate before their
    meter's first frame (see ``_adopt_checks``), taken out once done."""
    clock = time.perf_counter
    n = len(meters)
    for i in [i for i in spans if targets[i] is not None]:  # the C run writes first
        populate(*spans.pop(i))
    t0 = clock()
    res = runner.run(targets, sent)
    in_c = clock() - t0
    code, stop, written, duplicates = res.code, res.stop, res.written, res.duplicates
    stopped: list[int] = []  # meters whose run stopped: the per-frame way, then on
    for i, m in enumerate(meters):
        if targets[i] is None:
            # not fed by the C core: its first heard frame the per-frame way (it
            # may open the session), as if its run stopped before that frame
            first = res.first_heard(i)
            if first is not None:
                code[i], stop[i] = BEFORE, first
                stopped.append(i)
                continue
        elif code[i] != RAN:
            stopped.append(i)
            continue
        w, d = written[i], duplicates[i]
        # its round is over: counts, the burst's end, the next target, the status
        targets[i], status[i] = m.settle_round(w, d, bool(w or d), session)
    if not stopped:
        return in_c
    ended = stopped  # these end their round once every replay is over
    heard_any = [False] * n
    for i in stopped:
        heard_any[i] = True
    while True:
        again: list[Any] = [None] * n
        starts = [0] * n
        going: list[int] = []
        for i in stopped:
            m = meters[i]
            if written[i] or duplicates[i]:
                m.settle_counts(written[i], duplicates[i])
            if code[i] == RAN:
                continue
            at = stop[i]
            if i in spans:
                populate(*spans.pop(i))
            m.settle_stop(targets[i], sent[at], code[i])
            nxt = m.batch_target()
            if nxt is None:  # the rest of its round the way receive_many takes it
                rest = [sent[k] for k in res.heard_by(i) if k > at]
                if rest:
                    m.receive_many(rest)  # ends the burst itself
                    heard_any[i] = False
            else:
                again[i] = nxt
                starts[i] = at + 1
                going.append(i)
        if not going:
            break
        for i in going:
            targets[i] = again[i]
        t0 = clock()
        res = runner.replay(again, starts)
        in_c += clock() - t0
        code, stop, written, duplicates = res.code, res.stop, res.written, res.duplicates
        stopped = going
    for i in ended:
        targets[i], status[i] = meters[i].settle_round(0, 0, heard_any[i], session)
    return in_c


def run_broadcast(picked: Sequence[tuple[str, VirtualMeter]], frames: Sequence[bytes],
                  losses: Sequence[float], seed: int, max_rounds: int,
                  cells: Sequence[int | None] | None = None) -> BroadcastResult:
    """The broadcast (see the module's docstring); ``cells``: where each meter's
    flash cells are mapped, when it is a fleet's (see ``_adopt_checks``)."""
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
        raise UsageError(f"max_rounds must be a whole number of at least 1, not {max_rounds!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"seed must be a whole number, not {seed!r}")
    session, frames, pkg = _session(frames)
    count = len(frames)
    try:
        thresholds = [loss_threshold(p) for p in losses]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    meters = [m for _, m in picked]
    # every round re-sends these very frames: the runner may vouch for what it wrote
    sectors = max((m.layout["bank_a"].size // m.geometry.sector_size for m in meters),
                  default=0)
    runner = RoundRunner([link_seed(seed, s) for s, _ in picked], thresholds, vouch=count,
                         bank_sectors=sectors)
    spans = _adopt_checks(meters, pkg, session,
                          cells if cells is not None else [None] * len(meters))
    result = BroadcastResult(session, count)
    everything = (1 << count) - 1
    todo = list(range(count))
    final: dict[int, tuple[str, int]] = {}
    clock = time.perf_counter
    targets = [m.batch_target() for m in meters]
    status: list[tuple[str, int]] = [("missing", -1)] * len(meters)
    for rnd in range(1, max_rounds + 1):
        sent = [frames[i] for i in todo]
        result.sent.append(len(sent))
        t0 = clock()
        seconds_c = _round(runner, meters, sent, spans, session, targets, status)
        t1 = clock()
        union = 0
        for i, (kind, missing) in enumerate(status):
            if i in final:
                continue
            if kind == "missing":
                union |= everything if missing < 0 else missing
            else:
                final[i] = (kind, rnd)
        result.seconds_c += seconds_c
        result.seconds_settle += clock() - t1 + (t1 - t0 - seconds_c)
        if not union:
            break
        todo = [k for k in range(count) if union >> k & 1]
    for i, (serial, m) in enumerate(picked):
        kind, missing = m.download.outcome(session)
        code_ = None  # the refusal's own: not one of a session closed another way
        if kind == "refused" and m.last_refusal is not None and (
                m.download.closed.reason((KIND_MESH, session)) is CloseReason.REFUSED):
            code_ = m.last_refusal.code
        n_missing = count if missing < 0 else missing.bit_count()
        result.outcomes[serial] = MeterOutcome(kind, n_missing, code_,
                                               final[i][1] if i in final else None)
    return result
