"""Acknowledgements: what a meter says about an update, on its way from the
concentrator to the head-end (docs/CAMPAIGN.md, "Acknowledgements").

An :class:`Ack` is one status report of one meter. A bus carries acks; it may
lose, delay or repeat them (an MQTT broker under load does all three), so the
head-end treats an ack as a hint, never as the truth: before it records a
failure it reads the meter (:mod:`meteremu.campaign` reconciles). ``seq``
grows per meter, so a repeated or reordered ack is recognised and ignored.

:func:`open_bus` picks the transport from a URL: ``None`` is the in-process
bus (nothing to install), ``mqtt://HOST:PORT`` and ``mqtts://HOST:PORT`` a
real broker.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import UsageError, short_repr

__all__ = ["ACK_STATES", "Ack", "AckBus", "InProcessBus", "open_bus", "topic_for"]

#: What a meter can say, in the order an update goes through them.
ACK_STATES = ("downloaded", "verified", "activated", "confirmed", "reverted", "refused")


@dataclass(frozen=True, slots=True)
class Ack:
    """One meter's status. ``code`` is its FOTA_ERR code (``"0x8004"``) when it
    refused or reverted with one; ``at`` the meter's virtual time (seconds
    since the Unix epoch); ``seq`` grows by one per ack of a meter."""

    campaign: str
    concentrator: str
    meter: str
    state: str
    seq: int
    at: float
    version: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        # Checked here, not only when decoding: an ack built with a meter ID
        # such as "a/b" would be published on another meter's topic.
        for key in ("campaign", "concentrator", "meter"):
            _check_name(key, getattr(self, key))
        if self.state not in ACK_STATES:
            raise UsageError(f"unknown ack state {self.state!r} (one of {', '.join(ACK_STATES)})")
        _check_int("seq", self.seq)
        _check_number("at", self.at)
        for key in ("version", "code"):
            v = getattr(self, key)
            if v is not None and not isinstance(v, str):
                raise UsageError(f"ack field {key!r} must be a string or null")

    def to_json(self) -> bytes:
        # the fields by hand: asdict() deep-copies, three times the cost of the dump
        return _dumps({"at": self.at, "campaign": self.campaign, "code": self.code,
                       "concentrator": self.concentrator, "meter": self.meter,
                       "seq": self.seq, "state": self.state, "version": self.version}).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Ack:
        """Decode a payload; anything malformed is a :class:`UsageError` (a bus
        drops it and counts it, it never stops the head-end)."""
        try:
            obj: Any = json.loads(data)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            # RecursionError: "[[[[..." nested deeper than the interpreter's stack
            raise UsageError(f"ack payload is not JSON: {short_repr(str(exc), 80)}") from None
        if not isinstance(obj, dict):
            raise UsageError("ack payload is not a JSON object")
        missing = [k for k in ("campaign", "concentrator", "meter", "state", "seq", "at")
                   if k not in obj]
        if missing:
            raise UsageError(f"ack payload lacks {missing[0]!r}")
        at = obj["at"]
        _check_number("at", at)
        return cls(
            campaign=obj["campaign"],
            concentrator=obj["concentrator"],
            meter=obj["meter"],
            state=obj["state"],
            seq=obj["seq"],
            at=float(at),
            version=obj.get("version"),
            code=obj.get("code"),
        )

    @property
    def topic(self) -> str:
        return topic_for(self.campaign, self.concentrator, self.meter)


#: The longest campaign, concentrator or meter name (in characters).
NAME_MAX = 128


# What a name may not hold: the topic separators and wildcards, C0 and C1
# controls, surrogates and the Unicode noncharacters (U+FDD0..U+FDEF and the
# last two code points of every plane).
_NOT_IN_NAME = re.compile(
    "[/+#\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000))
    + "]")


def _check_name(key: str, v: object) -> None:
    """A name is one MQTT topic level any broker accepts: not empty, no ``/ + #``,
    no control characters, surrogates or Unicode noncharacters (MQTT forbids
    them in topics; mosquitto drops a client that sends one)."""
    if not isinstance(v, str) or not 0 < len(v) <= NAME_MAX:
        raise UsageError(f"ack field {key!r} must be a name of 1 to {NAME_MAX} characters")
    bad = _NOT_IN_NAME.search(v)
    if bad is not None:
        raise UsageError(f"ack field {key!r} must not hold {bad.group()!r} ({short_repr(v)})")


def _check_int(key: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**63:
        raise UsageError(f"ack field {key!r} must be an integer in 0..2^63-1")


def _check_number(key: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UsageError(f"ack field {key!r} must be a number")
    try:
        finite = math.isfinite(v)
    except OverflowError:  # an integer beyond a float's range
        finite = False
    if not finite:
        raise UsageError(f"ack field {key!r} must be a finite number of seconds")


_dumps = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def topic_for(campaign: str, concentrator: str, meter: str) -> str:
    """``meteremu/<campaign>/<concentrator>/<meter>/status`` (docs/CAMPAIGN.md)."""
    return f"meteremu/{campaign}/{concentrator}/{meter}/status"


class AckBus(Protocol):
    """Carries acks from concentrators to the head-end.

    ``publish`` may lose an ack (the head-end must not care); ``poll`` returns
    the acks that have arrived since the last poll, waiting up to ``timeout``
    seconds of wall time for the first one.
    """

    def publish(self, ack: Ack) -> None: ...

    def poll(self, timeout: float = 0.0) -> list[Ack]: ...

    def close(self) -> None: ...


class InProcessBus:
    """The default bus: a queue in the head-end's own process. It loses
    nothing unless told to: ``drop`` is a callable that says, per ack, whether
    this one is lost (tests and ``--ack-loss`` use it to rehearse a broker that
    drops under load)."""

    def __init__(self, drop: Any = None) -> None:
        self._q: deque[bytes] = deque()
        self._drop = drop
        self.published = 0
        self.dropped = 0

    def publish(self, ack: Ack) -> None:
        self.published += 1
        if self._drop is not None and self._drop(ack):
            self.dropped += 1
            return
        self._q.append(ack.to_json())  # the wire form, as a broker would carry it

    def poll(self, timeout: float = 0.0) -> list[Ack]:
        out = [Ack.from_json(p) for p in self._q]
        self._q.clear()
        return out

    def close(self) -> None:
        self._q.clear()


#: Options that mean something to a broker only; the in-process bus ignores
#: them when they are None or naming (so a caller can pass its options alike).
_BROKER_NAMING = ("campaign", "session")
_BROKER_TLS = ("ca", "cert", "key")


def open_bus(url: str | None, **options: Any) -> AckBus:
    """The bus for ``url``: ``None`` the in-process one; ``mqtt://HOST:PORT`` or
    ``mqtts://HOST:PORT`` a broker (see :mod:`meteremu.campaign.mqtt`).

    One call for every transport: ``campaign`` and ``session`` (what the
    head-end subscribes to, its broker session) mean nothing in process and are
    dropped there, as are ``ca``/``cert``/``key`` and ``drop`` left at None. A
    TLS file without a broker URL, or ``drop`` with one (a broker loses acks on
    its own), is a :class:`UsageError`."""
    given = {k: v for k, v in options.items() if v is not None}
    if url is None:
        tls = [k for k in _BROKER_TLS if k in given]
        if tls:
            raise UsageError(f"{tls[0]}= (--mqtt-{tls[0]}) needs an mqtts:// bus URL (--mqtt)")
        return InProcessBus(**{k: v for k, v in given.items() if k not in _BROKER_NAMING})
    if url.startswith(("mqtt://", "mqtts://")):
        from .mqtt import MqttBus  # the broker client is only imported when asked for

        if "drop" in given:
            raise UsageError("drop= is for the in-process bus: a broker loses acks on its own")
        return MqttBus.from_url(url, **given)
    raise UsageError(f"unknown bus URL {url!r}: mqtt://HOST:PORT or mqtts://HOST:PORT")
