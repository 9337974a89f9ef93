"""The ack record and the in-process bus (docs/CAMPAIGN.md, "Acknowledgements").

Anything a broker delivers decodes into an :class:`Ack` or raises
:class:`UsageError`, nothing else: arbitrary bytes, arbitrary JSON, and a good
ack with one field replaced by any JSON value. An ack that can be built is one
any broker carries (a name is one clean topic level) and decodes to itself.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.campaign.bus import ACK_STATES, Ack, InProcessBus, open_bus, topic_for
from meteremu.errors import UsageError

GOOD = {"campaign": "c1", "concentrator": "K01", "meter": "M0001", "state": "verified",
        "seq": 3, "at": 1_800_000_000.5, "version": "2.1.0", "code": None}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)

# names as an engine or a rogue may make them: mostly plain, sometimes anything
names = st.text(min_size=1, max_size=12) | st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)


def decodes_or_refuses(payload: bytes | str) -> Ack | None:
    try:
        ack = Ack.from_json(payload)
    except UsageError:
        return None
    assert isinstance(ack, Ack)
    assert Ack.from_json(ack.to_json()) == ack  # what decodes is an ack like any other
    return ack


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_usage_error(data):
    decodes_or_refuses(data)


@given(json_values)
def test_any_json_decodes_or_raises_usage_error(value):
    decodes_or_refuses(json.dumps(value))


@given(st.sampled_from(sorted(GOOD)), json_values)
def test_a_good_ack_with_any_field_replaced(key, value):
    doc = dict(GOOD, **{key: value})
    ack = decodes_or_refuses(json.dumps(doc))
    if ack is not None:
        assert getattr(ack, key) == value


@pytest.mark.parametrize("payload", [
    b"[" * 100_000,                                            # deeper than the stack
    json.dumps(dict(GOOD, at=10**400)).encode(),               # beyond a float
    json.dumps(dict(GOOD, at=float("inf"))).encode(),          # "Infinity"
    json.dumps(dict(GOOD, at=float("nan"))).encode(),
    json.dumps(dict(GOOD, seq=2**63)).encode(),
    json.dumps(dict(GOOD, seq=True)).encode(),
    json.dumps(dict(GOOD, state="exploded")).encode(),
    json.dumps(dict(GOOD, meter="M1/M2")).encode(),            # another meter's topic
    json.dumps(dict(GOOD, meter="M\u0000")).encode(),
    json.dumps(dict(GOOD, concentrator="K\u0085")).encode(),   # a C1 control
    json.dumps(dict(GOOD, campaign="c\ud800")).encode(),       # a lone surrogate
    json.dumps(dict(GOOD, meter="\ufffe")).encode(),           # a noncharacter
    json.dumps(dict(GOOD, meter="M" * 129)).encode(),
    json.dumps({k: v for k, v in GOOD.items() if k != "seq"}).encode(),
    b"\xff\xfe\x00garbage",
    b"",
])
def test_malformed_payloads_are_usage_errors(payload):
    with pytest.raises(UsageError):
        Ack.from_json(payload)


def test_a_good_payload_decodes_to_its_fields():
    ack = Ack.from_json(json.dumps(GOOD))
    assert ack == Ack("c1", "K01", "M0001", "verified", 3, 1_800_000_000.5, "2.1.0")
    assert ack.topic == "meteremu/c1/K01/M0001/status" == topic_for("c1", "K01", "M0001")


@given(names, names, names, st.sampled_from(ACK_STATES), st.integers(0, 2**63 - 1),
       st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**60, 2**60),
       st.none() | st.text(max_size=8), st.none() | st.text(max_size=8))
def test_an_ack_that_can_be_built_round_trips(campaign, conc, meter, state, seq, at, version,
                                             code):
    try:
        ack = Ack(campaign, conc, meter, state, seq, at, version, code)
    except UsageError:
        return
    back = Ack.from_json(ack.to_json())
    assert back == ack
    assert json.loads(ack.to_json()) == dataclasses.asdict(ack)  # every field, none more
    assert back.topic.split("/") == ["meteremu", campaign, conc, meter, "status"]
    assert math.isfinite(back.at)


@pytest.mark.parametrize("field,value", [
    ("meter", "a/b"), ("meter", ""), ("concentrator", "+"), ("campaign", "#"),
    ("meter", "a\nb"), ("seq", -1), ("seq", 1.0), ("at", math.inf), ("at", "now"),
    ("version", 2), ("state", "done"),
])
def test_a_bad_ack_cannot_be_built(field, value):
    with pytest.raises(UsageError):
        Ack(**dict(GOOD, **{field: value}))


# ------------------------------------------------------------------ in-process bus
acks = st.builds(Ack, st.just("c1"), st.sampled_from(["K1", "K2"]),
                 st.sampled_from(["M1", "M2", "M3"]), st.sampled_from(ACK_STATES),
                 st.integers(0, 100), st.floats(0, 1e9))
ops = st.lists(st.one_of(st.tuples(st.just("publish"), acks, st.booleans()),
                         st.tuples(st.just("poll"))), max_size=40)


@given(ops)
@settings(max_examples=200)
def test_in_process_bus_against_a_list(script: list[tuple[Any, ...]]):
    """The bus delivers, in order, exactly the acks its drop rule keeps; a poll
    takes all that arrived since the last one."""
    decisions: list[bool] = []
    bus = InProcessBus(drop=lambda ack: decisions.pop(0))
    model: list[Ack] = []
    published = dropped = 0
    for op in script:
        if op[0] == "publish":
            _, ack, drop = op
            decisions.append(drop)
            bus.publish(ack)
            published += 1
            dropped += drop
            if not drop:
                model.append(ack)
        else:
            assert bus.poll() == model
            model = []
    assert bus.poll() == model
    assert (bus.published, bus.dropped) == (published, dropped)
    bus.close()
    assert bus.poll() == []


def test_in_process_bus_close_discards_what_was_not_polled():
    bus = InProcessBus()
    bus.publish(Ack(**GOOD))
    bus.close()
    assert bus.poll() == []


def test_open_bus_picks_the_transport():
    assert isinstance(open_bus(None), InProcessBus)
    with pytest.raises(UsageError, match="unknown bus URL"):
        open_bus("amqp://127.0.0.1:5672")


def test_open_bus_takes_the_same_options_for_every_transport():
    """A command passes its options alike; the in-process bus drops what only a
    broker uses, and refuses TLS files without a broker."""
    bus = open_bus(None, campaign="c1", session="he", ca=None, cert=None, key=None, drop=None)
    assert isinstance(bus, InProcessBus)
    lossy = open_bus(None, campaign="c1", drop=lambda ack: True)
    lossy.publish(Ack(**GOOD))
    assert lossy.poll() == [] and lossy.dropped == 1
    with pytest.raises(UsageError, match="needs an mqtts:// bus URL"):
        open_bus(None, ca="ca.pem")
    with pytest.raises(UsageError, match="a broker loses acks on its own"):
        open_bus("mqtt://127.0.0.1:1883", drop=lambda ack: True)
