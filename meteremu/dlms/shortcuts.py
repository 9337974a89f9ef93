"""The two requests of nearly every association, answered without the general path.

A head-end reads the same attributes again and again, and a class 18 transfer
is a thousand ``image_block_transfer`` actions in a row. :class:`Shortcuts`
(a part of :class:`~.association.Association`) answers both from the request
bytes, in an associated association only:

* **a repeated GET**: an association remembers its last data answer to each
  GET-Request-Normal it decoded (keyed on the request's bytes, the invoke byte
  included; :data:`ANSWERED_MAX` of them). The same bytes again ask the meter
  again, as ever; a value of the same type and equal to the last one gets the
  same response bytes, anything else what the general path would answer;
* **a class 18 block**: ``C3 01 invoke | 0012 | 00002C0000FF | 02 | 01 |
  02 02 06 <number> 09 <length> <block>`` goes to the meter as the general path
  would send it (``(number, block)``), without building the A-XDR tree.

Anything else -- another shape, another length form, trailing bytes, a
service that was not negotiated -- returns :data:`NOT_SHORT` having done
nothing, and the general path decides. Either way the answer is the same bytes
and the same events (``tests/test_dlms_answered.py`` drives an association
with and one without shortcuts through the same steps and compares them).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import xdlms
from .apdu import encode_apdu
from .events import Served
from .values import to_data
from .xdlms import AccessResult

if TYPE_CHECKING:
    from .association import _LongGet, _Negotiated

__all__ = ["ANSWERED_MAX", "NOT_SHORT", "Answered", "CloseConnection", "Shortcuts",
           "result_name", "reusable"]

ANSWERED_MAX = 64  # GET answers an association remembers (then it starts afresh)
#: Python types of a meter value whose equality decides its A-XDR encoding.
_REUSABLE = frozenset({bytes, int, bool, str})
NOT_SHORT: Any = object()  # "not for a shortcut": the general path answers
IMAGE_TRANSFER = bytes((0, 0, 44, 0, 0, 255))
#: ACTION-Request-Normal, class 18, 0.0.44.0.0.255, method 2, with parameters: a
#: structure of 2, double-long-unsigned (the block number), octet-string (the block)
_BLOCK_HEAD = bytes((0, 18)) + IMAGE_TRANSFER + bytes((2, 1, 2, 2, 6))
_U32 = struct.Struct(">I")
_CONFIRMED = 0x40
_RESULT_NAMES = {int(r): r.name.lower().replace("_", "-") for r in AccessResult}


def result_name(result: int) -> str:
    """A result's name in a :class:`~.events.Served` event (``success``,
    ``read-write-denied``...), its number when it has none."""
    return _RESULT_NAMES.get(int(result), str(result))


#: the event of a block the meter took (what the association's own ``_served`` makes)
_BLOCK_TAKEN = Served("action", "0.0.44.0.0.255", 2, result_name(AccessResult.SUCCESS))


@functools.cache  # an invoke byte and a result: a bounded few
def _action_reply(invoke: int, result: int) -> bytes:
    """A block's ACTION-Response-Normal, made once: the same bytes object every
    time, so the connection reuses its wrapped frame too."""
    return bytes((0xC7, 1, invoke, result, 0))


class CloseConnection(Exception):
    """Internal: the connection closes without an answer (``reason`` for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Answered:
    """A GET-Request-Normal answered with data, and its answer."""

    instance: bytes
    attribute: int
    invoke: int
    schema: Any
    value: Any
    reply: bytes
    served: Served


def reusable(value: Any, reply: bytes) -> bool:
    """``reply`` (to a GET of ``value``) may be given again for an equal value: a
    GET-Response-Normal with data (not a result, not a block) of a plain value."""
    return type(value) in _REUSABLE and reply[:2] == b"\xc4\x01" and reply[3] == 0


def image_block(raw: bytes) -> tuple[int, int, bytes] | None:
    """``(invoke, number, block)`` of a class 18 ``image_block_transfer`` in the
    usual shape, else None. Lengths in the short form or ``81``/``82``."""
    if len(raw) < 22 or raw[:2] != b"\xc3\x01" or raw[3:16] != _BLOCK_HEAD or raw[20] != 9:
        return None
    first = raw[21]
    if first < 0x80:
        n, pos = first, 22
    elif first == 0x81 and len(raw) >= 23:
        n, pos = raw[22], 23
    elif first == 0x82 and len(raw) >= 24:
        n, pos = raw[22] << 8 | raw[23], 24
    else:
        return None
    if pos + n != len(raw):
        return None
    return raw[2], _U32.unpack_from(raw, 16)[0], raw[pos:]


class Shortcuts:
    """The shortcuts of an :class:`~.association.Association` (its attributes)."""

    meter: Any
    _n: _Negotiated | None
    _long_get: _LongGet | None
    _answered: dict[bytes, Answered]
    _events: list[Any]

    def _outcome(self, exc: BaseException) -> AccessResult: ...
    def _served(self, service: str, instance: bytes, index: int, result: int) -> None: ...
    def _data_reply(self, invoke: int, data: Any) -> bytes: ...

    def _shortcut(self, raw: bytes) -> Any:
        """The answer to ``raw`` (None: no answer), or :data:`NOT_SHORT`."""
        n = self._n
        assert n is not None
        head = raw[:1]
        if head == b"\xc0":
            again = self._answered.get(raw)
            return NOT_SHORT if again is None else self._get_again(again)
        if head != b"\xc3" or xdlms.ActionRequestNormal not in n.negotiated:
            return NOT_SHORT
        block = image_block(raw)
        if block is None:
            return NOT_SHORT
        invoke, number, value = block
        self._long_get = None
        try:
            self.meter.action(IMAGE_TRANSFER, 2, (number, value), n.access.client)
        except CloseConnection:
            raise
        except Exception as exc:
            result = self._outcome(exc)
            self._served("action", IMAGE_TRANSFER, 2, result)
            return _action_reply(invoke, int(result)) if invoke & _CONFIRMED else None
        self._events.append(_BLOCK_TAKEN)
        return _action_reply(invoke, 0) if invoke & _CONFIRMED else None

    def _remember(self, raw: bytes, answered: Answered) -> None:
        if len(self._answered) >= ANSWERED_MAX:
            self._answered.clear()  # a client cycling invoke ids: start afresh
        self._answered[raw] = answered

    def _get_again(self, a: Answered) -> bytes:
        """A GET-Request-Normal whose bytes were answered before (so it decoded, its
        object and class matched, it had no selective access and GET was
        negotiated): the meter is asked again; an equal value gets the same
        bytes, anything else what the general path would have answered."""
        assert self._n is not None
        self._long_get = None
        try:
            value = self.meter.get(a.instance, a.attribute, self._n.access.client)
            if type(value) is type(a.value) and value == a.value:
                self._events.append(a.served)
                return a.reply
            data = to_data(value, a.schema)
        except CloseConnection:
            raise
        except Exception as exc:
            result = self._outcome(exc)
            self._served("get", a.instance, a.attribute, result)
            return encode_apdu(xdlms.GetResponseNormal(a.invoke, result))
        self._served("get", a.instance, a.attribute, AccessResult.SUCCESS)
        reply = self._data_reply(a.invoke, data)
        if reusable(value, reply):
            a.value, a.reply, a.served = value, reply, self._events[-1]
        return reply
