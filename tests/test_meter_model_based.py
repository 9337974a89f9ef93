"""The real meter beside the reference model of ``meter_model``, step by step.

Hypothesis drives both with the same histories: several head-ends whose
session IDs collide and come back late, frames of packages good and bad
(refused header, untrusted key, a lower counter, two packages of one size
under one session ID), stray single frames, class 18 transfers, activations,
heartbeats, time passing and power cycles. After every step the two must
agree on the boot state, the running version, the anti-rollback counter, the
open session and its progress -- and on what each frame's receipt says.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from meter_model import Model, Pkg
from meterkit import MGMT, REFUSED, SMALL, frames, meter, package

from meteremu.crypto import crc32
from meteremu.device import BootState

UPDATE = "0.0.96.10.2.255"
IT = "0.0.44.0.0.255"
TIMEOUT = 6 * 3600


def _pkg(name: str, version: int, image: int, *, counter: int | None = None,
         behaviour: int = 0, **model: object) -> tuple[Pkg, bytes]:
    fields = {k: v for k, v in model.items() if k in ("hw_revision",)}
    raw = package(version, size=image, counter=counter, behaviour=behaviour,
                  signer=1 if model.get("signed_ok") is False else 0, **fields)
    names = {0: "normal", 1: "no-heartbeat", 2: "crash-on-boot"}
    spec = Pkg(name, len(raw), f"{version}.0.0", version if counter is None else counter,
               header_ok=bool(model.get("header_ok", True)),
               signed_ok=bool(model.get("signed_ok", True)), behaviour=names[behaviour])
    return spec, raw


PACKAGES = dict((p.name, (p, raw)) for p, raw in (
    _pkg("v2", 2, 3000),
    _pkg("v3", 3, 3000),  # the same size as v2: one session ID, two contents
    _pkg("v4-no-heartbeat", 4, 2800, behaviour=1),
    _pkg("v5-crash", 5, 2600, behaviour=2),
    _pkg("v6-other-hw", 6, 2400, hw_revision=99, header_ok=False),
    _pkg("v7-untrusted", 7, 2200, signed_ok=False),
    _pkg("v8-low-counter", 8, 2000, counter=1),
    _pkg("v9-too-big", 9, SMALL.bank_size),
))
FACTORY = Pkg("factory", len(package(1)), "1.0.0", 1)
SESSIONS = [0x1001, 0x1002, 0x1003, 0x2001, 0x2002]  # two head-ends, few IDs: they collide
STREAMS = {(name, sid): frames(raw, sid) for name, (_, raw) in PACKAGES.items()
           for sid in SESSIONS}
NAMES = sorted(PACKAGES)


class Twins(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = meter(session_timeout=TIMEOUT)
        self.model = Model(FACTORY, bank_size=SMALL.bank_size, timeout=TIMEOUT)

    # -- frames -----------------------------------------------------------------------
    @rule(name=st.sampled_from(NAMES), sid=st.sampled_from(SESSIONS),
          seed=st.integers(0, 2**16), loss=st.sampled_from([0.0, 0.3, 0.8]),
          shuffle=st.booleans())
    def broadcast(self, name: str, sid: int, seed: int, loss: float, shuffle: bool) -> None:
        spec, _ = PACKAGES[name]
        stream = STREAMS[(name, sid)]
        rnd = random.Random(seed)
        order = [i for i in range(len(stream)) if rnd.random() >= loss]
        if shuffle:
            rnd.shuffle(order)
        got = self.m.receive_many([stream[i] for i in order])
        for i, r in zip(order, got, strict=True):
            want = self.model.frame(sid, spec, i)
            assert r.value == want, f"fragment {i} of {name} in {sid:#x}: {r.value} != {want}"

    @rule(name=st.sampled_from(NAMES), sid=st.sampled_from([*SESSIONS, 0xBAD]),
          index=st.integers(0, 30))
    def stray(self, name: str, sid: int, index: int) -> None:
        spec, raw = PACKAGES[name]
        stream = STREAMS.get((name, sid)) or frames(raw, sid)
        i = index % len(stream)
        r = self.m.receive(stream[i])
        assert r.value == self.model.frame(sid, spec, i)

    # -- class 18 -----------------------------------------------------------------------
    @rule(name=st.sampled_from(NAMES), ident=st.sampled_from([b"fw-a", b"fw-b"]),
          upto=st.sampled_from([1, 5, 1000]), verify=st.booleans())
    def dlms(self, name: str, ident: bytes, upto: int, verify: bool) -> None:
        spec, raw = PACKAGES[name]
        sid = crc32(ident)
        want = self.model.dlms_initiate(sid, spec)
        try:
            self.m.action(IT, 1, (ident, len(raw)), client=MGMT)
            got = None
        except REFUSED as exc:
            got = exc.error.code if exc.error is not None else exc.result.name.lower().replace(
                "_", "-")
        assert got == want
        if got is not None:
            return
        block = self.m.get(IT, 2, client=MGMT)
        for i in range(min(upto, spec.count)):
            want = self.model.dlms_block(spec, i)
            try:
                self.m.action(IT, 2, (i, raw[i * block : (i + 1) * block]), client=MGMT)
                got = None
            except REFUSED:
                got = "refused" if self.model.open is None else "temporary-failure"
            assert got == want, f"block {i}: {got} != {want}"
            if got is not None:
                return
        if verify:
            want = self.model.dlms_verify()
            try:
                self.m.action(IT, 3, 0, client=MGMT)
                got = None
            except REFUSED as exc:
                got = (exc.error.code if exc.error is not None and exc.error.code == "0x8001"
                       else "refused" if exc.error is not None else "temporary-failure")
            assert got == want

    # -- the update's end ------------------------------------------------------------------
    @rule()
    def activate(self) -> None:
        want = self.model.activate()
        try:
            self.m.action(UPDATE, 1, True, client=MGMT)
            got = None
        except REFUSED as exc:
            code = exc.error.code if exc.error is not None else None
            got = code if code in ("0x8000", "0x8001", "0x800B") else "refused"
        assert got == want

    @rule()
    def heartbeat(self) -> None:
        assert self.m.heartbeat() == self.model.heartbeat()

    @rule(seconds=st.sampled_from([1, 120, 299, 301, 3600, TIMEOUT]))
    def advance(self, seconds: int) -> None:
        self.m.advance(seconds)
        self.model.advance(seconds)

    @precondition(lambda self: self.m.powered)
    @rule()
    def power_cycle(self) -> None:
        self.m.power_cycle()
        self.model.power_cycle()

    # -- agreement ----------------------------------------------------------------------
    @invariant()
    def agree(self) -> None:
        m, model = self.m, self.model
        assert m.boot_state is BootState(model.state.value), (m.boot_state, model.state)
        assert m.active_version == model.running.version
        assert m.anti_rollback_floor == model.floor
        s = model.open
        assert m.download_session() == (None if s is None else s.sid)
        if s is not None:
            assert m.download_progress() == (len(s.frags), s.pkg.count)


Twins.TestCase.settings = settings(
    max_examples=300, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_meter_follows_the_rules = Twins.TestCase
