"""The association's shortcuts (``meteremu/dlms/shortcuts.py``: a repeated GET
answered from memory, a class 18 block straight to the meter) against the
general path, which decodes and encodes every request afresh
(``shortcuts=False``): model-based twins.

Two associations, each over its own scripted meter, get the same steps --
the meter's value or outcome changing (to an equal value of another type, to
another value, to an error, to something the schema refuses), the same and
other GET bytes, GET-Request-Next, class 18 blocks in every shape and
malformed variants of them, garbage, a release -- and must give the same
bytes, the same events and the same state after every one, and their meters
must have been asked the same things."""

from __future__ import annotations

import datetime as dt

from hypothesis import event, given, settings
from hypothesis import strategies as st

from meteremu.device.cosem import Client
from meteremu.dlms import xdlms
from meteremu.dlms.apdu import encode_apdu
from meteremu.dlms.association import Association
from meteremu.dlms.client import DlmsClient
from meteremu.dlms.security import SecurityPolicy
from meteremu.dlms.wrapper import HEADER_SIZE, wrap
from meteremu.errors import AccessDenied, MeterUnavailable, ObjectUndefined, TemporaryFailure

H = bytes.fromhex
#: (class, OBIS, attribute) the steps read: the octet-string, integer, date-time,
#: enum, boolean and structure kinds of the table, and an object of another class
TARGETS = [
    (1, H("0100000200FF"), 2), (3, H("0100010800FF"), 2), (8, H("0000010000FF"), 2),
    (1, H("0000600A02FF"), 2), (18, H("00002C0000FF"), 5), (3, H("0100010800FF"), 3),
    (1, H("0100010800FF"), 2), (1, H("0100000200FF"), 1),
]
DEFAULTS = [b"1.0.0", 5, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), 1, True, (0, 30),
            5, H("0100000200FF")]  # (the wrong-class read shares the energy's value)
INVOKES = [0xC1, 0x81, 0x41, 0x00, 0xFF]

anything = st.one_of(
    st.binary(max_size=80), st.integers(-1, 2**64), st.booleans(), st.text(max_size=5),
    st.sampled_from([0, 1, True, False, 1.0, b"1.0.0", "1.0.0", 5]),
    st.tuples(st.integers(-1, 300), st.integers(0, 255)), st.none(),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1),
                 timezones=st.just(dt.timezone.utc)),
    st.sampled_from([AccessDenied("no"), TemporaryFailure("busy"), ObjectUndefined("gone"),
                     MeterUnavailable("off"), RuntimeError("a bug")]),
)
#: what the meter gives for each target: mostly what its schema takes, sometimes anything
fitting = [st.binary(max_size=80), st.sampled_from([0, 1, 5, 2**40]), anything,
           st.sampled_from([0, 1, 2, True]), st.booleans(), st.just((0, 30)),
           st.sampled_from([0, 1, 5, 2**40]), st.binary(min_size=6, max_size=6)]
values = st.integers(0, len(TARGETS) - 1).flatmap(
    lambda i: st.tuples(st.just("value"), st.just(i), fitting[i] | fitting[i] | anything))
steps = st.lists(st.one_of(
    values,
    *[st.tuples(st.just("get"), st.integers(0, len(TARGETS) - 1),
                st.sampled_from(INVOKES[:2]))] * 4,
    st.tuples(st.just("next"), st.sampled_from(INVOKES), st.integers(0, 3)),
    st.tuples(st.just("raw"), st.binary(max_size=16)),
), min_size=8, max_size=60).flatmap(lambda body: st.lists(st.just(("release",)), max_size=1).map(
    lambda end: body + end))  # a release, if any, at the end


class ScriptedMeter:
    """Gives what the steps set: a value, or an exception to raise."""

    available = True

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.outcome: Exception | None = None  # what an action raises
        self.values: dict[tuple[bytes, int], object] = {
            (obis, attr): v for (_, obis, attr), v in zip(TARGETS, DEFAULTS, strict=True)}

    def get(self, obis: bytes, attr: int, client: Client) -> object:
        v = self.values[(obis, attr)]
        if isinstance(v, Exception):
            raise v
        return v

    def set(self, *args: object) -> None: ...

    def action(self, obis: bytes, method: int, param: object, client: Client) -> None:
        self.calls.append((obis, method, _typed(param), client))
        if self.outcome is not None:
            raise self.outcome

    def heartbeat(self) -> bool:
        return False


def _typed(v: object) -> object:
    """``v`` with the type of every part (so 1 and True, lists and tuples differ)."""
    if isinstance(v, tuple | list):
        return (type(v), tuple(_typed(x) for x in v))
    return (type(v), v)


def _get(invoke: int, target: int) -> bytes:
    cid, obis, attr = TARGETS[target]
    return encode_apdu(xdlms.GetRequestNormal(invoke, xdlms.AttributeDescriptor(cid, obis,
                                                                                attr)))


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([16, 1]), st.sampled_from([24, 60, 0xFFFF]))
def test_a_repeated_get_answers_as_the_general_path(steps, client, pdu):
    pair = []
    for reuse in (True, False):
        meter = ScriptedMeter()
        a = Association(meter, client_sap=client, meter_address=1,
                        policy=SecurityPolicy.default(b"pw"), shortcuts=reuse)
        aarq = DlmsClient(client_sap=client, password=b"pw" if client == 1 else None,
                          max_receive_pdu=pdu).associate()[HEADER_SIZE:]
        assert a.receive(aarq)[:1] == b"\x61"
        pair.append((a, meter))
    for step in steps:
        kind = step[0]
        if kind == "value":
            _, obis, attr = TARGETS[step[1]]
            for _, meter in pair:
                meter.values[(obis, attr)] = step[2]
            continue
        if kind == "get":
            raw = _get(step[2], step[1])
        elif kind == "next":
            raw = encode_apdu(xdlms.GetRequestNext(step[1], step[2]))
        elif kind == "raw":
            raw = step[1]
        else:
            raw = H("6200")
        (fast, _), (general, _) = pair
        event("answered from memory" if raw in fast._answered else "decoded")
        assert fast.receive(raw) == general.receive(raw), step
        assert fast.drain_events() == general.drain_events(), step
        assert (fast.state, fast.closing) == (general.state, general.closing)


def test_a_repeated_get_is_answered_from_memory_while_the_meter_says_the_same():
    meter = ScriptedMeter()
    a = Association(meter, client_sap=16, meter_address=1,
                    policy=SecurityPolicy.default(b"pw"))
    assert a.receive(DlmsClient().associate()[HEADER_SIZE:])[:1] == b"\x61"
    energy = (3, H("0100010800FF"), 2)
    get = _get(0xC1, TARGETS.index(energy))
    meter.values[energy[1:]] = 1
    first = a.receive(get)
    assert first == H("C401C1 00 15 0000000000000001")
    assert get in a._answered  # remembered ...
    assert a.receive(get) == first  # ... and given again while the meter says the same
    meter.values[energy[1:]] = 2
    assert a.receive(get) == H("C401C1 00 15 0000000000000002")
    meter.values[energy[1:]] = 1
    assert a.receive(get) == first
    meter.values[energy[1:]] = True  # == 1, but a bool the long64-unsigned refuses: a bug,
    assert a.receive(get) is None  # so the connection closes, as on the general path
    assert a.closing is not None


# ---------------------------------------------------------------- class 18 blocks

IMAGE = H("00002C0000FF")


def _length(n: int, form: str) -> bytes:
    if form == "short" and n < 0x80:
        return bytes((n,))
    if form == "81" and n < 0x100:
        return bytes((0x81, n))
    if form == "83":
        return b"\x83" + n.to_bytes(3, "big")
    return b"\x82" + n.to_bytes(2, "big")


@st.composite
def block_requests(draw) -> bytes:
    """An image_block_transfer, the usual shape or one thing off."""
    invoke = draw(st.sampled_from(INVOKES))
    cid = draw(st.sampled_from([18, 18, 18, 1]))
    obis = draw(st.sampled_from([IMAGE, IMAGE, IMAGE, H("0100000200FF")]))
    method = draw(st.sampled_from([2, 2, 2, 1, 3]))
    number = draw(st.sampled_from([0, 1, 1023, 2**32 - 1]) | st.integers(0, 2**32 - 1))
    block = draw(st.binary(max_size=300))
    form = draw(st.sampled_from(["short", "81", "82", "83"]))
    number_tag = draw(st.sampled_from([6, 6, 6, 5, 18]))
    string_tag = draw(st.sampled_from([9, 9, 9, 10]))
    raw = (bytes((0xC3, 1, invoke)) + cid.to_bytes(2, "big") + obis + bytes((method, 1, 2, 2))
           + bytes((number_tag,)) + number.to_bytes(4, "big") + bytes((string_tag,))
           + _length(len(block), form) + block)
    cut = draw(st.sampled_from([None, None, None, "short", "long"]))
    if cut == "short":
        raw = raw[:draw(st.integers(0, len(raw) - 1))]
    elif cut == "long":
        raw += draw(st.binary(min_size=1, max_size=3))
    return raw


outcomes = st.sampled_from([None, None, TemporaryFailure("no transfer"), AccessDenied("no"),
                            MeterUnavailable("off"), RuntimeError("a bug")])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(block_requests(), block_requests(), outcomes,
                          st.binary(max_size=20)), min_size=5, max_size=40),
       st.sampled_from([16, 1]), st.booleans())
def test_a_class_18_block_gets_what_the_general_path_gives(steps, client, action):
    conformance = xdlms.Conformance.GET | (xdlms.Conformance.ACTION if action else 0)
    pair = []
    for shortcuts in (True, False):
        meter = ScriptedMeter()
        a = Association(meter, client_sap=client, meter_address=1,
                        policy=SecurityPolicy.default(b"pw"), shortcuts=shortcuts)
        aarq = DlmsClient(client_sap=client, password=b"pw" if client == 1 else None,
                          conformance=conformance).associate()[HEADER_SIZE:]
        assert a.receive(aarq)[:1] == b"\x61"
        pair.append((a, meter))
    (fast, fm), (general, gm) = pair
    for step in steps:
        if step is None or isinstance(step, Exception):
            fm.outcome = gm.outcome = step
            continue
        assert fast.receive(step) == general.receive(step), step.hex()
        assert fast.drain_events() == general.drain_events(), step.hex()
        assert (fast.state, fast.closing) == (general.state, general.closing)
        assert fm.calls == gm.calls


def test_a_usual_block_goes_straight_to_the_meter():
    from meteremu.dlms.shortcuts import image_block

    raw = H("C301C1 0012 00002C0000FF 02 01 0202 06 00000007 09 8180") + bytes(128)
    assert image_block(raw) == (0xC1, 7, bytes(128))
    assert image_block(raw[:-1]) is None and image_block(raw + b"\x00") is None
    assert image_block(H("C301C1 0012 00002C0000FF 02 01 0202 06 00000001 09 03 AABBCC")) \
        == (0xC1, 1, H("AABBCC"))


def test_a_whole_transfer_to_a_real_meter_is_the_same_with_and_without_shortcuts():
    """Two meters from the same factory state, one transfer each -- blocks in order,
    a duplicate, a block out of range, one of the wrong length, an unconfirmed one,
    the short last block -- through associations with and without shortcuts: the
    same answers, the same events and, at the end, the same flash."""
    from meteremu.testing.dlms import DlmsLink
    from meteremu.testing.factory import make_firmware, make_keys, make_meter, make_package

    keys = make_keys(0)
    package = make_package(make_firmware(3000, seed=4), keys, version="2.0.0")
    count = -(-len(package) // 128)

    def block(n: int, data: bytes, invoke: int = 0xC1) -> bytes:
        head = H("C301") + bytes((invoke,)) + H("0012 00002C0000FF 02 01 0202 06")
        length = bytes((len(data),)) if len(data) < 0x80 else bytes((0x81, len(data)))
        return head + n.to_bytes(4, "big") + b"\x09" + length + data

    steps = [block(n, package[n * 128:(n + 1) * 128]) for n in range(count)]
    steps[3:3] = [steps[2], block(count + 5, bytes(128)), block(4, bytes(100)),
                  block(5, package[5 * 128:6 * 128], invoke=0x81)]
    runs = []
    for shortcuts in (True, False):
        meter = make_meter(keys)
        try:
            link = DlmsLink(meter, client_sap=1, password=b"secret")
            assert link.associate().accepted
            link.server.association.shortcuts = shortcuts
            assert link.action("0.0.44.0.0.255", 1, (b"fw", len(package))).ok
            replies = [link.send_raw(wrap(1, 1, raw)) for raw in steps]
            assert link.action("0.0.44.0.0.255", 3, 0).ok  # verify: the image is whole
            runs.append((replies, link.events, meter.flash.dump()))
        finally:
            meter.close()
    assert runs[0] == runs[1]
    replies = runs[0][0]
    assert replies[0][8:] == H("C701C1 00 00") and replies[6] == b""  # unconfirmed: silent
    assert replies[4][8:] != H("C701C1 00 00")  # out of range: refused
