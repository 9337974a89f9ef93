"""A plain reference model of the meter's update rules, written from SPEC sections
4-6 and the operator manual, not from the meter's code.

It knows packages only by what the rules need of them (size, the header's
verdict, the acceptance verdict, the security counter, the emulation
behaviour) and flash only as sets of received fragments. The model-based test
(``test_meter_model_based.py``) drives it and a real :class:`VirtualMeter`
with the same steps and compares what each says.

Power cuts here fall between two operations (a mains loss that the power-fail
save covers): RAM is lost, flash is not. Cuts inside a flash operation are the
sweep's (``test_sweep.py``), judged by invariants.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

KEEP = 16  # closed sessions remembered (SPEC 6: "the last few")
MAX_BOOTS = 3  # unconfirmed boots of a trial image before it is given up
HEADER = 128


class S(enum.Enum):  # attribute 2 of 0.0.96.10.2.255
    IDLE = 0
    DOWNLOADING = 1
    VERIFIED = 2
    TRIAL = 3
    CONFIRMED = 4
    REVERTED = 5
    FAILED = 6


@dataclass(frozen=True)
class Pkg:
    """What the rules need to know of a package."""

    name: str
    size: int  # bytes: header + image + trailer
    version: str
    counter: int
    header_ok: bool = True  # vendor, hardware revision, size: checked on arrival
    signed_ok: bool = True  # key known and signature good: checked at acceptance
    behaviour: str = "normal"  # normal, no-heartbeat, crash-on-boot
    fragment_size: int = 128

    @property
    def count(self) -> int:
        return -(-self.size // self.fragment_size)

    @property
    def span(self) -> int:
        """Fragments the header spans."""
        return min(self.count, -(-HEADER // self.fragment_size))


@dataclass
class Session:
    kind: str  # "mesh" or "dlms"
    sid: int
    pkg: Pkg  # the package whose geometry the session announced
    frags: dict[int, str] = field(default_factory=dict)  # index -> package it came from
    header_ok: bool = False

    def complete(self) -> bool:
        return len(self.frags) == self.pkg.count


class Model:
    """The meter, as the rules say it behaves."""

    def __init__(self, factory: Pkg, *, bank_size: int, window: float = 300,
                 timeout: float = 24 * 3600) -> None:
        self.bank_size = bank_size
        self.window = window
        self.timeout = timeout
        self.now = 0.0
        self.running = factory
        self.previous: Pkg | None = None  # what a trial falls back to
        self.floor = factory.counter
        self.state = S.IDLE
        self.open: Session | None = None
        self.closed: deque[tuple[str, int]] = deque(maxlen=KEEP)
        # RAM only
        self.progress_at = 0.0
        self.candidate: tuple[tuple[int, str], dict[int, Pkg]] | None = None
        self.trial_deadline: float | None = None
        self.trial_boots = 0

    # -- helpers ---------------------------------------------------------------------
    def _close(self, s: Session) -> None:
        key = (s.kind, s.sid)
        if key not in self.closed:
            self.closed.append(key)

    def _accepts(self, s: Session) -> bool:
        """Acceptance of a complete session: every fragment from one package, that
        package valid, its counter not below the floor."""
        sources = set(s.frags.values())
        if len(sources) != 1:
            return False
        p = s.pkg
        return p.signed_ok and p.counter >= self.floor

    def _refuse_open(self) -> None:
        assert self.open is not None
        self._close(self.open)
        self.open = None
        self.state = S.FAILED

    def _keeps(self) -> bool:
        if self.state is S.VERIFIED:
            return True
        s = self.open
        if s is None or self.now - self.progress_at >= self.timeout:
            return False
        return s.header_ok or s.kind == "dlms"

    def _begin(self, kind: str, sid: int, pkg: Pkg) -> bool:
        """A new session replaces the open one. False: refused (too big)."""
        if pkg.size > self.bank_size:
            self._close(Session(kind, sid, pkg))
            if self.open is None:
                self.state = S.FAILED
            return False
        old = self.open
        if old is not None and (old.kind, old.sid) != (kind, sid) and (
                old.header_ok or old.kind == "dlms"):
            self._close(old)
        self.open = Session(kind, sid, pkg)
        self.progress_at = self.now
        self.candidate = None
        self.state = S.DOWNLOADING
        return True

    def _store(self, index: int, src: Pkg) -> str:
        s = self.open
        assert s is not None
        if index < s.pkg.span and not s.header_ok:
            if not src.header_ok or src.size != s.pkg.size:
                self._refuse_open()
                return "refused"
            s.header_ok = True
        if index in s.frags:
            if s.frags[index] != src.name:
                self._refuse_open()  # a duplicate with other content
                return "refused"
            return "duplicate"
        s.frags[index] = src.name
        self.progress_at = self.now
        if s.complete() and s.kind == "mesh":
            self._accept()
        return "written"

    def _accept(self) -> bool:
        s = self.open
        assert s is not None
        if self._accepts(s):
            self.state = S.VERIFIED
            return True
        self._refuse_open()
        return False

    # -- what a head-end does ----------------------------------------------------------
    def frame(self, sid: int, pkg: Pkg, index: int) -> str:
        """A mesh frame: fragment ``index`` of ``pkg`` in session ``sid``."""
        if self.state is S.TRIAL:
            return "dropped-state"
        s = self.open
        if s is not None and s.kind == "mesh" and s.sid == sid:
            if s.pkg.size != pkg.size or s.pkg.fragment_size != pkg.fragment_size:
                return "dropped-length"  # the session's ID with another geometry
            return self._store(index, pkg)
        if ("mesh", sid) in self.closed:
            return "dropped-closed"
        if self._keeps():
            if index >= pkg.span:
                return "dropped-session"
            key = (sid, pkg.name)
            if self.candidate is None or self.candidate[0] != key:
                self.candidate = (key, {})
            self.candidate[1][index] = pkg
            if len(self.candidate[1]) < pkg.span:
                return "written"  # held in RAM
            self.candidate = None
            if not pkg.header_ok or pkg.size > self.bank_size:
                self._close(Session("mesh", sid, pkg))
                return "refused"
            self._begin("mesh", sid, pkg)
            for i in range(pkg.span):
                self._store(i, pkg)
            return "written"
        if not self._begin("mesh", sid, pkg):
            return "refused"
        return self._store(index, pkg)

    def activate(self) -> str | None:
        """Seed step 6: None on success, else the code of the refusal."""
        s = self.open
        if self.state is S.DOWNLOADING and s is not None and not s.complete():
            return "0x8001"
        # complete, not yet verified: acceptance runs first
        if self.state is S.DOWNLOADING and s is not None and not self._accept():
            return "refused"
        if self.state is not S.VERIFIED or self.open is None:
            return "0x8000"
        s = self.open
        self._close(s)
        self.open = None
        new = s.pkg
        if new.behaviour == "crash-on-boot":
            self.state = S.REVERTED  # a boot loop: back to the image it ran
            return "0x800B"
        self.previous = self.running
        self.running = new
        self.state = S.TRIAL
        self.trial_boots = 1
        self.trial_deadline = self.now + self.window
        return None

    def heartbeat(self) -> bool:
        if self.state is not S.TRIAL or self.running.behaviour == "no-heartbeat":
            return False
        self.state = S.CONFIRMED
        self.floor = max(self.floor, self.running.counter)
        self.trial_deadline = None
        return True

    def _revert(self) -> None:
        assert self.previous is not None
        self.running = self.previous
        self.previous = None
        self.state = S.REVERTED
        self.trial_deadline = None

    def advance(self, seconds: float) -> None:
        self.now += seconds
        if self.trial_deadline is not None and self.now >= self.trial_deadline:
            self._revert()

    def power_cycle(self) -> None:
        """Mains lost between two operations and back: RAM is gone."""
        self.candidate = None
        self.progress_at = self.now
        if self.state is S.TRIAL:
            if self.trial_boots >= MAX_BOOTS:
                self._revert()
            else:
                self.trial_boots += 1
                self.trial_deadline = self.now + self.window
        elif self.open is not None and self.open.complete() and self.state is S.DOWNLOADING:
            self._accept()  # a power-up finds a complete download and checks it

    # -- class 18 ------------------------------------------------------------------------
    def dlms_initiate(self, sid: int, pkg: Pkg) -> str | None:
        if self.state is S.TRIAL:
            return "temporary-failure"
        s = self.open
        if s is not None and s.kind == "dlms" and s.sid == sid and s.pkg.size == pkg.size:
            return None  # the same image again: resume
        if pkg.size > self.bank_size:
            return "0x9002"
        self._begin("dlms", sid, pkg)
        return None

    def dlms_block(self, pkg: Pkg, index: int) -> str | None:
        s = self.open
        if s is None or s.kind != "dlms":
            return "temporary-failure"
        r = self._store(index, pkg)
        return "refused" if r == "refused" else None

    def dlms_verify(self) -> str | None:
        s = self.open
        if s is None or s.kind != "dlms":
            return "temporary-failure"
        if not s.complete():
            return "0x8001"
        return None if self._accept() else "refused"
