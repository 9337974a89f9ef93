"""A meter's COSEM dispatch remembers the handler of each access the tables
allow (``CosemServer._readers``/``_writers``/``_methods``): the twin here is the
same meter with that memory wiped before every request, so every request takes
the lookup and the access rights afresh. Driven by hypothesis through random
requests, the power going off and on between them -- every object and some
that do not exist, attributes and methods in and out of range, both clients
as ``Client``, as ints and unknown SAPs, OBIS as bytes and as text -- both
answer alike (value, or error type and message) and end in the same state."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meterkit import MGMT, PUBLIC, meter

from meteremu.device.cosem import BY_OBIS, obis_str

OBIS = [*BY_OBIS, bytes((1, 2, 3, 4, 5, 6))]
CLIENTS = [MGMT, PUBLIC, 1, 16, 7]
VALUES = [None, 0, 1, True, b"", b"x" * 4, (0, b"\x00" * 128), (1, 2),
          dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), {"activate": True}]

#: every attribute and method the tables name, and any other number
TABLED = sorted({(kind, ln, n) for ln, o in BY_OBIS.items()
                 for kind, ns in (("get", o.attributes), ("set", o.attributes),
                                  ("action", o.methods)) for n in ns})
target = st.one_of(st.sampled_from(TABLED),
                   st.tuples(st.sampled_from(["get", "set", "action"]), st.sampled_from(OBIS),
                             st.integers(0, 12)))


@st.composite
def requests(draw):
    """Requests over a few targets, so the same one comes back as another client."""
    targets = draw(st.lists(target, min_size=1, max_size=4))
    return draw(st.lists(st.one_of(
        st.tuples(st.sampled_from(targets), st.booleans(),  # the OBIS as bytes, or as text
                  st.sampled_from(CLIENTS), st.sampled_from(VALUES)),
        st.sampled_from(["power_off", "power_on"])), min_size=1, max_size=40))


def answer(m, kind, obis, n, client, value):
    try:
        if kind == "get":
            out = m.get(obis, n, client)
        elif kind == "set":
            out = m.set(obis, n, value, client)
        else:
            out = m.action(obis, n, value, client)
    except Exception as exc:  # the refusal is the answer
        return type(exc).__name__, str(exc)
    return "ok", repr(out)


def wipe(m):
    for memo in (m.cosem._readers, m.cosem._writers, m.cosem._methods):
        memo.clear()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_remembered_dispatch_answers_as_a_fresh_lookup(steps):
    fast, twin = meter(), meter()
    try:
        for step in steps:
            if isinstance(step, str):  # power off or on, both alike
                getattr(fast, step)()
                getattr(twin, step)()
                continue
            (kind, obis, n), as_text, client, value = step
            o = obis_str(obis) if as_text and len(obis) == 6 else obis
            wipe(twin)
            assert answer(fast, kind, o, n, client, value) == \
                answer(twin, kind, o, n, client, value)
        assert fast.audit_log == twin.audit_log
        assert fast.boot_state == twin.boot_state
        assert fast.flash.dump() == twin.flash.dump()
    finally:
        fast.close()
        twin.close()


def test_a_refused_access_is_refused_every_time_and_not_remembered():
    m = meter()
    try:
        fw = bytes((0, 0, 96, 10, 2, 255))
        for _ in range(3):  # a management read first, then the public client's write
            m.get(fw, 2, MGMT)
            assert answer(m, "set", fw, 2, PUBLIC, b"x")[0] == "AccessDenied"
        assert all(key[2] is not PUBLIC for key in m.cosem._writers)
    finally:
        m.close()
