"""The acknowledgement bus over a real MQTT broker (docs/CAMPAIGN.md,
"Acknowledgements"), with paho-mqtt as the client.

Two sides, each its own connection to the broker, as in the field:

* the **concentrator side** publishes each ack at QoS 1 on
  ``meteremu/<campaign>/<concentrator>/<meter>/status``;
* the **head-end side** subscribes ``meteremu/<campaign>/+/+/status`` (every
  campaign, ``meteremu/+/+/+/status``, when no ``campaign`` is given) and
  queues what arrives for :meth:`MqttBus.poll`. A payload that is not an ack,
  or whose topic names another meter than its body, is dropped and counted in
  :attr:`MqttBus.malformed`: a rogue publisher never stops the head-end.

``role`` picks the sides one bus holds (``both``, the default, for a campaign
that simulates its concentrators in the head-end's process). ``session``
names the head-end's MQTT client ID and makes its session persistent: the
broker keeps the subscription and queues the QoS 1 acks (up to its limits)
while the head-end is away, so a resumed campaign receives them.

Every network wait has a timeout: connecting (TCP, TLS, CONNACK, SUBACK)
takes at most ``timeout`` seconds, a broker that stops answering is found by
the MQTT keepalive, and a lost connection is not retried: the next
``publish``/``poll`` raises :class:`~meteremu.errors.BusError`. Acks lost
with it are hints only; the head-end reconciles by reading the meters.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from ..errors import BusError, UsageError
from .bus import Ack, topic_for

__all__ = ["DEFAULT_PORTS", "ROLES", "MqttBus"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
ROLES = ("both", "concentrator", "head-end")
QOS = 1
# An MQTT packet identifier has 16 bits: the client cannot hold more QoS 1
# publishes awaiting their PUBACK than that (paho refuses the next one).
MAX_PENDING = 60_000
PACE_WAIT = 0.5  # seconds publish waits for the head-end to catch up (role both)


def _level(name: str, what: str) -> str:
    if not name or any(c in name for c in "/+#\0"):
        raise UsageError(f"{what} {name!r} must be a non-empty name without / + #")
    return name


def _tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    """TLS 1.2 or 1.3, the broker checked against ``ca`` (the system's CAs when
    None) and its name, our client certificate presented when given."""
    for what, path in (("ca", ca), ("cert", cert), ("key", key)):
        if path is not None and not os.path.isfile(path):
            raise UsageError(f"mqtts: the {what} file {path!r} does not exist")
    if key is not None and cert is None:
        raise UsageError("mqtts: a client key needs its certificate (cert=)")
    try:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise UsageError(f"mqtts: cannot use the certificate files: {exc}") from None
    return ctx


class _Side:
    """One connection: a paho client, its network thread, and what went wrong."""

    def __init__(self, bus: MqttBus, client_id: str, persistent: bool) -> None:
        self.bus = bus
        self.where = bus.where
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent, protocol=mqtt.MQTTv311,
                                  reconnect_on_failure=False)
        self.client.connect_timeout = bus.timeout  # TCP connect and TLS handshake
        self.client.max_inflight_messages_set(bus.inflight)
        if bus.tls is not None:
            self.client.tls_set_context(bus.tls)
        self.cond = threading.Condition()
        self.connected = False
        self.subscribed = False
        self.failure: str | None = None
        self.unconfirmed = 0  # QoS 1 publishes without their PUBACK yet
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    # -- callbacks, on the network thread; they never raise
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self.cond:
            if rc.is_failure:
                self.failure = f"the broker {self.where} refused the connection: {rc}"
            else:
                self.connected = True
            self.cond.notify_all()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                       props: Any) -> None:
        with self.cond:
            if self.failure is None and not self.bus.closing:
                if self.connected:
                    self.failure = f"lost the connection to the broker {self.where} ({rc})"
                else:
                    self.failure = (f"the broker {self.where} closed the connection before "
                                    f"accepting it ({rc})" + self.bus.tls_hint())
            self.connected = False
            self.cond.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self.cond:
            self.unconfirmed -= 1
            self.bus.confirmed += 1
            self.cond.notify_all()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        with self.cond:
            bad = [rc for rc in rcs if rc.is_failure]
            if bad:
                self.failure = f"the broker {self.where} refused the subscription: {bad[0]}"
            else:
                self.subscribed = True
            self.cond.notify_all()

    # -- the caller's thread
    def raise_if_failed(self) -> None:
        if self.failure is not None:
            raise BusError(f"mqtt: {self.failure}")

    def wait(self, what: str, ready: Any) -> None:
        """Wait for ``ready()`` (under the lock) or a failure, at most the bus's timeout."""
        with self.cond:
            ok = self.cond.wait_for(lambda: ready() or self.failure is not None,
                                    self.bus.timeout)
            self.raise_if_failed()
            if not ok:
                self.failure = f"no {what} from the broker {self.where} within " \
                               f"{self.bus.timeout:g} s"
                self.raise_if_failed()

    def start(self) -> None:
        try:
            self.client.connect(self.bus.host, self.bus.port, keepalive=self.bus.keepalive)
        except ssl.SSLError as exc:
            raise BusError(f"mqtt: TLS with the broker {self.where} failed: "
                           f"{exc.reason or exc}" + self.bus.tls_hint()) from None
        except OSError as exc:
            raise BusError(f"mqtt: cannot connect to the broker {self.where}: "
                           f"{exc.strerror or exc.__class__.__name__}") from None
        self.client.loop_start()
        self.wait("CONNACK", lambda: self.connected)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MqttBus:
    """An :class:`~meteremu.campaign.bus.AckBus` over an MQTT broker.

    ``tls`` (``mqtts://``) checks the broker against ``ca`` and presents the
    client certificate ``cert`` with its ``key``; ``timeout`` bounds every
    wait for the broker (seconds), ``keepalive`` is the MQTT keepalive and
    ``inflight`` how many QoS 1 publishes may await their PUBACK at once on the
    wire, ``pending`` how many in all before :meth:`publish` waits for the
    broker (at most ``timeout``), ``window`` how far the concentrators may
    run ahead of the head-end when one bus holds both (:meth:`_pace`).
    Counters: :attr:`published`, :attr:`confirmed` (PUBACK received),
    :attr:`received` (acks handed to :meth:`poll`'s queue), :attr:`malformed`.
    """

    def __init__(self, host: str, port: int, *, tls: bool = False, ca: str | None = None,
                 cert: str | None = None, key: str | None = None,
                 campaign: str | None = None, role: str = "both", session: str | None = None,
                 timeout: float = 10.0, keepalive: int = 30, inflight: int = 100,
                 pending: int = 10_000, window: int = 500) -> None:
        if role not in ROLES:
            raise UsageError(f"mqtt: unknown role {role!r} (one of {', '.join(ROLES)})")
        if not 0 < port < 65536:
            raise UsageError(f"mqtt: port {port} is not in 1..65535")
        if not timeout > 0 or keepalive < 1 or inflight < 1:
            raise UsageError("mqtt: timeout, keepalive and inflight must be positive")
        if not inflight <= pending <= MAX_PENDING:
            raise UsageError(f"mqtt: pending must be in inflight..{MAX_PENDING}")
        if not tls and (ca or cert or key):
            raise UsageError("mqtt: ca, cert and key need an mqtts:// URL")
        self.host, self.port, self.where = host, port, f"{host}:{port}"
        self.campaign = None if campaign is None else _level(campaign, "campaign")
        self.role = role
        self.timeout, self.keepalive, self.inflight = float(timeout), int(keepalive), int(inflight)
        self.pending = int(pending)
        if window < 1:
            raise UsageError("mqtt: window must be positive")
        self.window = int(window)
        self._written_off = 0  # acks the pacing gave up waiting for (lost, or not ours)
        self.tls = _tls_context(ca, cert, key) if tls else None
        self._has_cert = cert is not None
        self.filter = topic_for(self.campaign or "+", "+", "+")
        self.published = self.confirmed = self.received = self.malformed = 0
        self.closing = False
        self._inbox: deque[Ack] = deque()
        self._pub: _Side | None = None
        self._sub: _Side | None = None
        tag = uuid.uuid4().hex[:12]
        try:
            if role in ("both", "concentrator"):
                self._pub = _Side(self, f"meteremu-concentrators-{tag}", persistent=False)
                self._pub.start()
            if role in ("both", "head-end"):
                sub = _Side(self, session or f"meteremu-head-end-{tag}", session is not None)
                sub.client.user_data_set(sub)
                sub.client.on_message = self._on_message
                self._sub = sub
                sub.start()
                sub.client.subscribe(self.filter, qos=QOS)
                sub.wait("SUBACK", lambda: sub.subscribed)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MqttBus:
        """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` (1883 and 8883 by
        default); ``options`` are the constructor's keywords (``ca``, ``cert``,
        ``key``, ``campaign``, ``session``, ...)."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise UsageError(f"unknown bus URL {url!r}: mqtt://HOST:PORT or mqtts://HOST:PORT")
        if parts.username or parts.password:
            raise UsageError(f"bus URL {url!r}: no user or password in the URL; "
                             "mqtts:// authenticates with a client certificate")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise UsageError(f"bus URL {url!r}: nothing may follow HOST:PORT")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"bus URL {url!r}: the port is not a number in 0..65535") from None
        if not parts.hostname:
            raise UsageError(f"bus URL {url!r} names no host")
        return cls(parts.hostname, DEFAULT_PORTS[parts.scheme] if port is None else port,
                   tls=parts.scheme == "mqtts", **options)

    def tls_hint(self) -> str:
        if self.tls is None:
            return ""
        if not self._has_cert:
            return "; the broker may require a client certificate (cert=, key=)"
        return "; does the broker's CA trust our client certificate?"

    @property
    def tls_version(self) -> str | None:
        """The TLS version the head-end's (else the concentrators') connection uses."""
        side = self._sub or self._pub
        sock = side.client.socket() if side is not None else None
        return sock.version() if isinstance(sock, ssl.SSLSocket) else None

    # -- the head-end's network thread
    def _on_message(self, client: Any, side: _Side, msg: Any) -> None:
        try:
            ack = Ack.from_json(msg.payload)
            ok = ack.topic == msg.topic
        except (UsageError, ValueError):  # ValueError: a topic that is not UTF-8
            ok = False
        with side.cond:
            if ok:
                self._inbox.append(ack)
                self.received += 1
                side.cond.notify_all()
            else:
                self.malformed += 1

    # -- AckBus
    def publish(self, ack: Ack) -> None:
        """Send ``ack`` at QoS 1; returns at once unless ``pending`` acks await
        the broker's PUBACK (:meth:`flush` waits for them all)."""
        side = self._side(self._pub, "publish")
        with side.cond:
            if side.unconfirmed >= self.pending:  # back-pressure: let the broker catch up
                side.cond.wait_for(
                    lambda: side.unconfirmed < self.pending or side.failure is not None,
                    self.timeout)
                side.raise_if_failed()
                if side.unconfirmed >= self.pending:
                    raise BusError(f"mqtt: the broker {self.where} confirmed none of the "
                                   f"{side.unconfirmed} acks waiting within {self.timeout:g} s")
            side.raise_if_failed()
            side.unconfirmed += 1
            self.published += 1
        if self._sub is not None:
            self._pace(self._sub)
        info = side.client.publish(ack.topic, ack.to_json(), qos=QOS)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            with side.cond:
                side.unconfirmed -= 1
                self.published -= 1
                side.raise_if_failed()
            raise BusError(f"mqtt: cannot publish to the broker {self.where}: "
                           f"{mqtt.error_string(info.rc)}")

    def _pace(self, sub: _Side) -> None:
        """Both sides in one process: keep the concentrators at most ``window``
        acks ahead of the head-end. Publishing is cheaper than receiving, and a
        broker queues only so many messages for a subscriber that falls behind
        (mosquitto: 1,000) before it drops them. While acks keep arriving it
        waits; when none came for ``PACE_WAIT`` the missing ones (lost, or
        outside the head-end's campaign) are written off, so pacing never
        stalls for long."""
        def lag() -> int:
            return self.published - self.received - self._written_off

        with sub.cond:
            if lag() <= self.window:
                return
            while True:  # each round either sees acks arrive or ends the wait
                seen = self.received
                if sub.cond.wait_for(lambda: lag() <= self.window // 2
                                     or sub.failure is not None, PACE_WAIT):
                    return
                if self.received == seen:  # nothing for PACE_WAIT: the rest are not coming
                    self._written_off += lag()
                    return

    def poll(self, timeout: float = 0.0) -> list[Ack]:
        """The acks that arrived since the last poll, waiting up to ``timeout``
        seconds for the first; malformed payloads were dropped (and counted)."""
        side = self._side(self._sub, "poll")
        with side.cond:
            if not self._inbox and timeout > 0:
                side.cond.wait_for(lambda: self._inbox or side.failure is not None, timeout)
            out = list(self._inbox)
            self._inbox.clear()
        if not out:
            side.raise_if_failed()
        return out

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the broker confirmed every ack published (PUBACK), at most
        ``timeout`` seconds (the bus's timeout by default)."""
        side = self._side(self._pub, "flush")
        wait = self.timeout if timeout is None else timeout
        with side.cond:
            done = side.cond.wait_for(
                lambda: side.unconfirmed <= 0 or side.failure is not None, wait)
            side.raise_if_failed()
            if not done:
                raise BusError(f"mqtt: the broker {self.where} did not confirm "
                               f"{side.unconfirmed} acks within {wait:g} s")

    def close(self) -> None:
        """Flush what the concentrators published (never raising: what the
        broker did not confirm is lost, as an ack may be), then disconnect."""
        if self._pub is not None and self._pub.connected:
            with contextlib.suppress(BusError):
                self.flush()
        self.closing = True
        for side in (self._pub, self._sub):
            if side is not None:
                side.stop()
        self._pub = self._sub = None

    def _side(self, side: _Side | None, what: str) -> _Side:
        if side is None:
            if self.closing:
                raise UsageError(f"mqtt: {what} on a closed bus")
            raise UsageError(f"mqtt: cannot {what} on a {self.role} bus")
        return side

    def __enter__(self) -> MqttBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
