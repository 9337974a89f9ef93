"""The HES <-> meter test rig: a head-end and one virtual meter joined by an
in-memory lossy link.

Downstream, packages travel as mesh fragment frames through a
:class:`~meteremu.hes.LossyLink` (seeded, so every run is the same), each
round's frames handed to the meter in one ``receive_many`` burst by
:func:`~meteremu.hes.deliver` (frame by frame when ``airtime`` moves the
clock between them); the
head-end's reads and commands (seed steps 5 and 6, the heartbeat) go to the
meter's COSEM interface directly, as the DLMS client would.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..crypto import sha256
from ..hes import Delivery, LossyLink, deliver, fragment_package

__all__ = ["HASH_OBIS", "UPDATE_OBIS", "MeterPair"]

HASH_OBIS = "0.0.96.10.1.255"  # seed step 5: SHA-256 of the package in the inactive bank
UPDATE_OBIS = "0.0.96.10.2.255"  # seed step 6: method 1 activate; attribute 2 boot state


class MeterPair:
    """One head-end, one meter, one lossy link.

    ``send`` cuts a package into frames and delivers them round by round until
    the meter has them all; ``read_hash`` / ``verify_copy`` are seed step 5;
    ``activate`` is step 6; ``heartbeat`` confirms the trial image.
    """

    def __init__(self, meter: Any, link: LossyLink, *, max_rounds: int = 50,
                 airtime: float = 0.0) -> None:
        self.meter = meter
        self.link = link
        self.max_rounds = max_rounds
        self.airtime = airtime
        self.last_package: bytes | None = None

    def frames(self, package: bytes, *, session_id: int | None = None,
               fragment_size: int | None = None) -> list[bytes]:
        """The frames of ``package`` for a new session. Unless given, the session ID
        is drawn at random: a meter drops frames of the sessions it closed last
        (SPEC section 6), so a rig made anew on the same meter must not reuse
        the IDs of the rig before it."""
        if session_id is None:
            session_id = secrets.randbits(32)
        return fragment_package(package, session_id=session_id, fragment_size=fragment_size)

    def send(self, package: bytes, *, session_id: int | None = None,
             fragment_size: int | None = None) -> Delivery:
        """Deliver ``package`` over the link; see :func:`meteremu.hes.deliver`."""
        self.last_package = bytes(package)
        return self.send_frames(self.frames(package, session_id=session_id,
                                            fragment_size=fragment_size))

    def send_frames(self, frames: list[bytes]) -> Delivery:
        return deliver(self.meter, frames, self.link, max_rounds=self.max_rounds,
                       airtime=self.airtime)

    def read_hash(self) -> bytes:
        """Attribute 2 of 0.0.96.10.1.255, read as the public client would."""
        from ..device import Client

        return bytes(self.meter.get(HASH_OBIS, 2, client=Client.PUBLIC))

    def verify_copy(self, package: bytes | None = None) -> bool:
        """True when the inactive bank holds a bit-perfect copy of ``package``
        (default: the last one sent)."""
        package = self.last_package if package is None else package
        if package is None:
            raise ValueError("no package sent yet")
        return self.read_hash() == sha256(package)

    def activate(self) -> None:
        """Method 1 of 0.0.96.10.2.255 with ``true``; a refusal raises
        :class:`~meteremu.errors.PackageError` (its ``error`` is the FOTA code)."""
        from ..device import Client

        self.meter.action(UPDATE_OBIS, 1, True, client=Client.MANAGEMENT)

    def heartbeat(self) -> bool:
        return bool(self.meter.heartbeat())

    def boot_state(self) -> Any:
        """Attribute 2 of 0.0.96.10.2.255 as the :class:`~meteremu.device.BootState`."""
        from ..device import BootState, Client

        return BootState(self.meter.get(UPDATE_OBIS, 2, client=Client.MANAGEMENT))

    def update(self, package: bytes) -> Delivery:
        """The whole story: send, check the copy, activate, heartbeat. Raises
        ``AssertionError`` at the first step that does not go as it should."""
        d = self.send(package)
        assert d.complete, f"download incomplete after {d.rounds} rounds"
        assert self.verify_copy(package), "the inactive bank does not hold the package"
        self.activate()
        assert self.heartbeat(), "the new image did not confirm"
        return d
