"""The MQTT ack bus against a real mosquitto (tests/mosquittokit.py): acks round
trip over plain MQTT and over MQTTS with client certificates; a client the
broker's CA did not sign is refused with a clear error; a rogue publisher's
payloads are dropped and counted and the bus carries on; a lost broker is a
BusError, never a hang; and a broker at its limits loses acks -- which is why
the head-end reconciles by reading the meters instead of trusting acks."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mosquittokit import MOSQUITTO, SKIP_REASON, Broker, Certs, free_port, make_certs

from meteremu.campaign.bus import ACK_STATES, Ack, open_bus
from meteremu.campaign.mqtt import MAX_PENDING, MqttBus
from meteremu.errors import BusError, UsageError

broker_needed = pytest.mark.skipif(MOSQUITTO is None, reason=SKIP_REASON)
WAIT = 30.0  # seconds a test waits for acks before it fails (no figure is asserted on time)


def fleet(campaign: str, n: int, concentrators: int = 4) -> list[Ack]:
    return [Ack(campaign, f"K{i % concentrators}", f"M{i:05d}", ACK_STATES[i % 6], i, 1e9 + i,
                "2.0.0", "0x8004" if ACK_STATES[i % 6] == "refused" else None)
            for i in range(n)]


def collect(bus: MqttBus, n: int) -> list[Ack]:
    """Poll until ``n`` acks arrived (or WAIT seconds without a new one)."""
    got: list[Ack] = []
    while len(got) < n:
        more = bus.poll(timeout=WAIT)
        if not more:
            break
        got += more
    return got


def drain(bus: MqttBus, quiet: float = 1.0) -> list[Ack]:
    """Everything that arrives until the bus stays quiet for ``quiet`` seconds."""
    got = bus.poll(timeout=WAIT)
    while more := bus.poll(timeout=quiet):
        got += more
    return got


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip(SKIP_REASON)
    with Broker(tmp_path_factory.mktemp("plain")) as broker:
        yield broker


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip(SKIP_REASON)
    with Broker(tmp_path_factory.mktemp("tls"), certs=certs) as broker:
        yield broker


def client_files(certs: Certs, rogue: bool = False) -> dict[str, str]:
    cert, key = (certs.rogue_cert, certs.rogue_key) if rogue else (certs.client_cert,
                                                                  certs.client_key)
    return {"ca": str(certs.ca), "cert": str(cert), "key": str(key)}


# ------------------------------------------------------------------ round trips
def round_trip(bus: MqttBus, acks: list[Ack]) -> None:
    for ack in acks:
        bus.publish(ack)
    bus.flush()
    got = collect(bus, len(acks))
    assert sorted(got, key=lambda a: a.seq) == acks
    for meter in {a.meter for a in acks}:  # one publisher: each meter's acks in order
        assert [a for a in got if a.meter == meter] == [a for a in acks if a.meter == meter]
    assert (bus.published, bus.confirmed, bus.received, bus.malformed) == (len(acks),) * 3 + (0,)


@broker_needed
def test_acks_round_trip_through_plain_mqtt(plain):
    # the options a command passes alike to every transport, unset ones None
    with open_bus(plain.url, campaign="plain1", ca=None, cert=None, key=None, drop=None) as bus:
        assert isinstance(bus, MqttBus) and bus.tls_version is None
        round_trip(bus, fleet("plain1", 600))


@broker_needed
def test_acks_round_trip_through_mqtts_with_client_certificates(tls, certs):
    with open_bus(tls.url, campaign="tls1", **client_files(certs)) as bus:
        assert bus.tls_version in ("TLSv1.2", "TLSv1.3")
        round_trip(bus, fleet("tls1", 300))
    assert "head-end client" in tls.log()  # the broker took our certificate as the identity


@broker_needed
def test_concentrators_and_head_end_apart_and_one_campaign_only(plain):
    with MqttBus.from_url(plain.url, role="head-end", campaign="mine") as head_end, \
            MqttBus.from_url(plain.url, role="concentrator") as concentrators:
        for ack in fleet("other", 50) + fleet("mine", 20):
            concentrators.publish(ack)
        concentrators.flush()
        assert collect(head_end, 20) == fleet("mine", 20)
        assert head_end.poll(timeout=0.5) == []  # the other campaign's acks are not ours
        with pytest.raises(UsageError, match="cannot poll on a concentrator bus"):
            concentrators.poll()
        with pytest.raises(UsageError, match="cannot publish on a head-end bus"):
            head_end.publish(fleet("mine", 1)[0])


@broker_needed
def test_one_bus_for_both_sides_keeps_within_the_brokers_queue(plain):
    """A campaign simulating its concentrators in the head-end's process sends
    bursts: publish keeps at most ``window`` acks ahead of what the head-end
    received, so mosquitto (at its default 1,000 queued per client) has no
    reason to drop any."""
    acks = fleet("burst2", 5_000)
    with open_bus(plain.url, campaign="burst2") as bus:
        for ack in acks:
            bus.publish(ack)
        assert len(collect(bus, len(acks))) == len(acks)


@broker_needed
def test_pacing_writes_off_acks_the_head_end_never_sees(plain):
    """Acks outside the head-end's campaign never come back: publish waits a
    little for them, then carries on."""
    with open_bus(plain.url, campaign="mine2", window=50) as bus:
        for ack in fleet("theirs2", 200) + fleet("mine2", 10):
            bus.publish(ack)
        assert collect(bus, 10) == fleet("mine2", 10)


@broker_needed
def test_a_head_end_session_keeps_the_acks_sent_while_it_was_away(plain):
    """``session``: a head-end killed between ``run`` and ``resume`` gets, when
    it is back, what the concentrators sent meanwhile (within the broker's
    limits: 1,000 queued by default)."""
    sent = fleet("away1", 300)
    MqttBus.from_url(plain.url, role="head-end", campaign="away1", session="he-away1").close()
    with MqttBus.from_url(plain.url, role="concentrator") as concentrators:
        for ack in sent:
            concentrators.publish(ack)
    with MqttBus.from_url(plain.url, role="head-end", campaign="away1",
                          session="he-away1") as head_end:
        assert collect(head_end, len(sent)) == sent
    with MqttBus.from_url(plain.url, role="head-end", campaign="away1") as fresh:
        assert fresh.poll(timeout=0.5) == []  # no session: nothing kept for it


# ------------------------------------------------------------------ TLS refusals
@broker_needed
def test_a_client_certificate_the_broker_does_not_trust_is_refused(tls, certs):
    with pytest.raises(BusError, match="trust our client certificate"):
        MqttBus.from_url(tls.url, **client_files(certs, rogue=True), timeout=WAIT)


@broker_needed
def test_no_client_certificate_is_refused(tls, certs):
    with pytest.raises(BusError, match="may require a client certificate"):
        MqttBus.from_url(tls.url, ca=str(certs.ca), timeout=WAIT)


@broker_needed
def test_a_broker_our_ca_did_not_sign_is_refused(tls, certs):
    files = client_files(certs) | {"ca": str(certs.rogue_cert)}  # not the broker's CA
    with pytest.raises(BusError, match=r"TLS with the broker .* failed: CERTIFICATE_VERIFY"):
        MqttBus.from_url(tls.url, **files, timeout=WAIT)


@broker_needed
def test_plain_mqtt_to_a_tls_port_is_a_clear_error(tls):
    with pytest.raises(BusError, match="mqtt: "):
        MqttBus.from_url(tls.url.replace("mqtts", "mqtt"), timeout=2.0)


# ------------------------------------------------------------------ rogue payloads
@broker_needed
def test_malformed_payloads_are_dropped_counted_and_do_not_stop_the_bus(plain):
    good = fleet("rogue1", 30)
    mismatched = Ack("rogue1", "K0", "M99999", "confirmed", 1, 1.0)
    rogue_payloads = [
        (good[0].topic, b"not json"),
        (good[0].topic, b"\xff\xfe\x00"),
        (good[0].topic, b"[" * 50_000),
        (good[0].topic, b'{"campaign": "rogue1"}'),
        (good[0].topic, b""),
        (good[1].topic, mismatched.to_json()),  # a body that names another meter
    ]
    with open_bus(plain.url, campaign="rogue1") as bus:
        rogue = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        rogue.connect("127.0.0.1", plain.port)
        rogue.loop_start()
        try:
            for ack in good[:10]:
                bus.publish(ack)
            for topic, payload in rogue_payloads:
                rogue.publish(topic, payload, qos=1).wait_for_publish(WAIT)
            for ack in good[10:]:
                bus.publish(ack)
            got = collect(bus, len(good))
        finally:
            rogue.disconnect()
            rogue.loop_stop()
        assert sorted(got, key=lambda a: a.seq) == good
        assert bus.malformed == len(rogue_payloads)
        bus.publish(mismatched)  # and the bus carries on
        assert collect(bus, 1) == [mismatched]
        # a topic that is not UTF-8 (mosquitto refuses one; another broker may not)
        odd = mqtt.MQTTMessage(topic=b"meteremu/rogue1/K0/\xff/status")
        odd.payload = mismatched.to_json()
        bus._on_message(None, bus._sub, odd)  # type: ignore[arg-type]
        assert bus.malformed == len(rogue_payloads) + 1


# ------------------------------------------------------------------ lost broker
@broker_needed
def test_losing_the_broker_is_a_bus_error_not_a_hang(tmp_path):
    broker = Broker(tmp_path / "gone")
    bus = MqttBus.from_url(broker.url, campaign="gone", timeout=5.0, keepalive=5)
    try:
        bus.publish(fleet("gone", 1)[0])
        assert len(collect(bus, 1)) == 1
        broker.stop()
        with pytest.raises(BusError, match="lost the connection to the broker"):
            for _ in range(int(WAIT / 0.2)):
                bus.poll(timeout=0.2)
        with pytest.raises(BusError, match="lost the connection to the broker"):
            for ack in fleet("gone", 100):  # paho may queue the first before it notices
                bus.publish(ack)
    finally:
        bus.close()  # never raises
        broker.stop()


@broker_needed
def test_a_broker_that_stops_confirming_stops_publish_with_an_error(tmp_path):
    """Back-pressure: at ``pending`` unconfirmed acks publish waits for the
    broker, at most ``timeout``, then says so (a frozen broker: SIGSTOP)."""
    with Broker(tmp_path / "frozen") as broker:
        assert broker.proc is not None
        bus = MqttBus.from_url(broker.url, role="concentrator", inflight=5, pending=5,
                               timeout=1.0, keepalive=60)
        try:
            os.kill(broker.proc.pid, signal.SIGSTOP)
            try:
                for ack in fleet("frozen", 5):
                    bus.publish(ack)
                with pytest.raises(BusError, match="confirmed none of the 5 acks waiting"):
                    bus.publish(fleet("frozen", 6)[5])
                with pytest.raises(BusError, match="did not confirm 5 acks"):
                    bus.flush(timeout=0.2)
            finally:
                os.kill(broker.proc.pid, signal.SIGCONT)
            bus.flush(WAIT)  # the broker back: everything confirmed
            assert bus.confirmed == bus.published == 5
        finally:
            bus.close()


@broker_needed
@pytest.mark.slow
def test_more_acks_than_packet_identifiers(plain):
    """70,000 acks in one burst: more than MQTT's 65,535 packet identifiers, so
    publish must hold back until the broker confirms (a client that did not
    stopped at the 65,536th with "message queue full")."""
    acks = fleet("burst1", 70_000)
    with open_bus(plain.url, campaign="burst1", pending=MAX_PENDING) as bus:  # mosquitto defaults
        for ack in acks:
            bus.publish(ack)
        got = collect(bus, len(acks))
        assert len(got) == len(acks) and bus.malformed == 0


def test_no_broker_listening_is_a_bus_error():
    with pytest.raises(BusError, match=r"cannot connect to the broker .*refused"):
        MqttBus.from_url(f"mqtt://127.0.0.1:{free_port()}", timeout=5.0)


def test_a_broker_that_never_answers_times_out():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []
        t = threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True)
        t.start()
        try:
            with pytest.raises(BusError, match=r"no CONNACK from the broker .* within 0.5 s"):
                MqttBus.from_url(f"mqtt://127.0.0.1:{server.getsockname()[1]}", timeout=0.5)
        finally:
            t.join(WAIT)
            for s in held:
                s.close()


# ------------------------------------------------------------------ a broker that drops
@broker_needed
def test_a_broker_at_its_limits_loses_acks(tmp_path):
    """The head-end's persistent session is away while the concentrators send:
    mosquitto keeps at most max_queued_messages for it and drops the rest. A
    head-end that trusted acks would see most of the fleet as never updated."""
    limits = {"max_queued_messages": 10, "max_inflight_messages": 1}
    sent = fleet("drop1", 500)
    with Broker(tmp_path / "drop", limits=limits) as broker:
        MqttBus.from_url(broker.url, role="head-end", campaign="drop1",
                         session="meteremu-he-drop1").close()  # subscribed, then away
        with MqttBus.from_url(broker.url, role="concentrator") as concentrators:
            for ack in sent:
                concentrators.publish(ack)
            concentrators.flush(WAIT)  # the broker has every one of them
            assert concentrators.confirmed == len(sent)
        with MqttBus.from_url(broker.url, role="head-end", campaign="drop1",
                              session="meteremu-he-drop1") as head_end:
            got = drain(head_end)
        assert got == sent[:10]  # the queue kept the first ten; the other 490 are lost
        assert "Outgoing messages are being dropped for client meteremu-he-drop1" in broker.log()
        never_heard = {a.meter for a in sent} - {a.meter for a in got}
        assert len(never_heard) == 490  # meters whose update a head-end must check by reading


@broker_needed
def test_a_slow_subscriber_under_load_loses_acks(tmp_path):
    """A QoS 1 subscriber that stops reading (a head-end stuck in a long step)
    while the concentrators publish: the broker sends one in flight, queues
    ten, drops the rest; the subscriber, reading again, gets no more than
    those."""
    limits = {"max_queued_messages": 10, "max_inflight_messages": 1}
    sent = fleet("slow1", 400)
    with Broker(tmp_path / "slow", limits=limits) as broker:
        slow = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="slow-head-end")
        received: list[bytes] = []
        subscribed: list[object] = []
        slow.on_message = lambda c, u, m: received.append(m.payload)
        slow.on_subscribe = lambda *a: subscribed.append(a)
        slow.connect("127.0.0.1", broker.port, keepalive=60)
        slow.subscribe("meteremu/slow1/+/+/status", qos=1)
        for _ in range(int(WAIT / 0.1)):  # our own loop: it stops when we stop calling it
            if subscribed:
                break
            slow.loop(0.1)
        assert subscribed
        with MqttBus.from_url(broker.url, role="concentrator") as concentrators:
            for ack in sent:
                concentrators.publish(ack)
            concentrators.flush(WAIT)
        quiet = 0
        while quiet < 10:  # read again until nothing comes for a second
            before = len(received)
            slow.loop(0.1)
            quiet = quiet + 1 if len(received) == before else 0
        slow.disconnect()
        assert 0 < len(received) <= 11  # one in flight, ten queued, 389 or more lost
        assert [Ack.from_json(p) for p in received] == sent[:len(received)]
        assert "Outgoing messages are being dropped for client slow-head-end" in broker.log()


# ------------------------------------------------------------------ any name a bus accepts
@pytest.fixture(scope="module")
def any_bus(plain: Broker) -> Iterator[MqttBus]:
    with open_bus(plain.url) as bus:
        yield bus


@broker_needed
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10),
       st.sampled_from(ACK_STATES), st.none() | st.text(max_size=10))
def test_any_ack_that_can_be_built_crosses_the_broker(any_bus, campaign, meter, state, version):
    """Ack's name rule is enough for mosquitto: what can be built is carried
    on its own topic and comes back equal (a control character or a surrogate
    would make the broker drop the publisher)."""
    try:
        ack = Ack(campaign, "K1", meter, state, 7, 1.5, version)
    except UsageError:
        return
    any_bus.publish(ack)
    assert collect(any_bus, 1) == [ack]
    assert any_bus.malformed == 0


# ------------------------------------------------------------------ bad URLs and options
@pytest.mark.parametrize("url,match", [
    ("mqtt://127.0.0.1:99999", "port"),
    ("mqtt://127.0.0.1:0", "port 0 is not in"),
    ("mqtt://user:pw@127.0.0.1:1883", "no user or password"),
    ("mqtt://127.0.0.1:1883/topic", "nothing may follow"),
    ("mqtt://127.0.0.1:1883?ca=x", "nothing may follow"),
    ("mqtt://:1883", "names no host"),
    ("http://127.0.0.1:1883", "unknown bus URL"),
])
def test_bad_urls_are_usage_errors(url, match):
    with pytest.raises(UsageError, match=match):
        MqttBus.from_url(url)


@pytest.mark.parametrize("options,match", [
    ({"ca": "ca.pem"}, "need an mqtts:// URL"),
    ({"role": "observer"}, "unknown role"),
    ({"campaign": "a/b"}, "campaign"),
    ({"timeout": 0}, "must be positive"),
    ({"pending": 70_000}, "pending must be in"),
    ({"window": 0}, "window must be positive"),
])
def test_bad_options_are_usage_errors(options, match):
    with pytest.raises(UsageError, match=match):
        open_bus("mqtt://127.0.0.1:1883", **options)


def test_missing_certificate_files_are_usage_errors(tmp_path: pathlib.Path):
    with pytest.raises(UsageError, match=r"the ca file .* does not exist"):
        open_bus("mqtts://127.0.0.1:8883", ca=str(tmp_path / "nope.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(UsageError, match="cannot use the certificate files"):
        open_bus("mqtts://127.0.0.1:8883", cert=str(tmp_path / "junk.pem"))
    with pytest.raises(UsageError, match="needs its certificate"):
        open_bus("mqtts://127.0.0.1:8883", key=str(tmp_path / "junk.pem"))
