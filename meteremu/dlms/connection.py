"""One server connection over the TCP wrapper (IEC 62056-47), sans-I/O.

``receive_data(bytes)`` takes whatever the socket delivered (any chunking),
cuts it into wrapper frames, hands each APDU to the connection's
:class:`~.association.Association` and queues the replies, ports swapped;
``data_to_send()`` hands them over. No socket, no clock: a transport
(``meteremu.transports``) or a test drives it.

Addressing: the first frame fixes the connection's two ends -- its source
wPort is the client SAP (16 public, 1 management), its destination wPort the
server logical device, i.e. which meter (``meters[wPort]``; a single meter is
at wPort 1, the management logical device). One association per connection:
a later frame with other ports, a frame for no meter, a wrong wrapper version
-- the wrapper cannot answer those -- close the connection. A frame longer
than the server's max receive PDU gets an exception-response (pdu-too-long)
and the connection closes without reading its body. Whatever the bytes, the
connection answers or closes; it never raises, and a meter sees only
requests that decoded.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import MeterUsageError
from .apdu import encode_apdu
from .association import DEFAULT_MAX_RECEIVE_PDU, Association, MeterLike
from .errors import ApduError
from .events import ConnectionClosed, Event
from .security import SecurityPolicy
from .wrapper import (
    HEADER_SIZE,
    HEADER_STRUCT,
    WRAPPER_VERSION,
    Frame,
    FrameTooLong,
    WrapperReader,
    wrap,
)
from .xdlms import ExceptionResponse, ServiceError, StateError

__all__ = ["ServerConnection"]


class ServerConnection:
    """The server end of one TCP wrapper connection."""

    def __init__(self, meters: Mapping[int, MeterLike], policy: SecurityPolicy, *,
                 max_receive_pdu: int = DEFAULT_MAX_RECEIVE_PDU) -> None:
        if not 256 <= max_receive_pdu <= 0xFFFF:
            raise MeterUsageError("server max receive PDU is 256..65535 (SPEC section 7)")
        self.meters = meters
        self.policy = policy
        self.max_receive_pdu = max_receive_pdu
        self.association: Association | None = None
        self.ports: tuple[int, int] | None = None  # (client SAP, meter wPort)
        self._client = self._meter = -1  # the two ports, once fixed
        self._head = b""  # a request frame's first 6 bytes: version, client, meter
        self._whole = True  # no partial frame held: a read may be exactly one frame
        self.closing: str | None = None  # why the connection ends; None while it lasts
        self.frames = 0  # whole frames received (a transport's idle timer counts these)
        self._reader = WrapperReader(max_receive_pdu)
        self._out: list[bytes] = []  # whole frames to send
        self._wrapped = (b"", b"")  # the last reply and its frame (a repeated GET's, a block's)
        self._events: list[Event] = []

    @property
    def buffered(self) -> int:
        """Bytes received and not yet a whole frame (at most one frame's worth)."""
        return self._reader.pending

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)  # one frame: that very object, no copy
        self._out.clear()
        return out

    def close(self, reason: str) -> list[Event]:
        """The transport ends the connection (peer gone, idle timeout, shutdown)."""
        self._close(reason)
        return self._drain()

    def _close(self, reason: str) -> None:
        if self.closing is not None:
            return
        self.closing = reason
        if self.association is not None:
            self.association.close(reason)
        else:
            self._events.append(ConnectionClosed(reason))

    def _drain(self) -> list[Event]:
        if self.association is not None:
            if not self._events:
                return self.association.drain_events()
            self._events += self.association.drain_events()
        out, self._events = self._events, []
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        """Bytes from the peer; the events they caused. Replies wait in
        :meth:`data_to_send`; close the transport once :attr:`closing` is set and
        they are written."""
        if self.closing is not None:
            return []
        n = len(data)
        if self._whole and n >= HEADER_SIZE and data[:6] == self._head \
                and n - HEADER_SIZE == (data[6] << 8 | data[7]) <= self.max_receive_pdu:
            # the usual case: the next request of the association, exactly one whole
            # frame with this connection's version and ports
            self.frames += 1
            a = self.association
            assert a is not None
            reply = a.receive(bytes(data[HEADER_SIZE:]))
            if reply is not None:
                last, frame = self._wrapped
                if reply is not last:  # a repeated GET's and a block's answer: the same bytes
                    frame = wrap(self._meter, self._client, reply)
                    self._wrapped = (reply, frame)
                self._out.append(frame)
            if a.closing is not None:
                self._close(a.closing)
            return self._drain()
        if self._whole and n >= HEADER_SIZE:
            # one whole, well-formed frame (anything else, errors included, takes the
            # reader's path below)
            version, source, destination, length = HEADER_STRUCT.unpack_from(data)
            if version == WRAPPER_VERSION and length == n - HEADER_SIZE \
                    and length <= self.max_receive_pdu:
                self.frames += 1
                self._frame(Frame(source, destination, bytes(data[HEADER_SIZE:])))
                return self._drain()
        self._reader.feed(data)
        while self.closing is None:
            try:
                frame = self._reader.next_frame()
            except FrameTooLong as exc:
                self._out.append(wrap(exc.destination, exc.source, encode_apdu(
                    ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.PDU_TOO_LONG))))
                self._close(str(exc))
                break
            except ApduError as exc:
                self._close(str(exc))
                break
            if frame is None:
                break
            self.frames += 1
            self._frame(frame)
        self._whole = not self._reader.pending
        return self._drain()

    def _frame(self, frame: Frame) -> None:
        ports = (frame.source, frame.destination)
        if self.ports is None:
            meter = self.meters.get(frame.destination)
            if meter is None:
                self._close(f"no meter at wPort {frame.destination}")
                return
            self.ports = ports
            self._client, self._meter = ports
            self._head = HEADER_STRUCT.pack(WRAPPER_VERSION, *ports, 0)[:6]
            self.association = Association(meter, client_sap=frame.source,
                                           meter_address=frame.destination, policy=self.policy,
                                           max_receive_pdu=self.max_receive_pdu)
        elif ports != self.ports:
            self._close(f"wPorts {ports} on a connection of {self.ports}: one association "
                        "per connection")
            return
        assert self.association is not None
        reply = self.association.receive(frame.apdu)
        if reply is not None:
            self._out.append(wrap(frame.destination, frame.source, reply))
        if self.association.closing is not None:
            self._close(self.association.closing)
