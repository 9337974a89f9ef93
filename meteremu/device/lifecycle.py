"""The update's life cycle: the boot state and the class 18 status, moved only
through the tables of :mod:`.rules`.

A change of the boot state is an event (:class:`~.events.StateChanged`) and
a metrology snapshot (the state is persisted with the energy, so a power-up
finds it); the class 18 status lives in RAM, as a meter's would.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import MeterUsageError
from .events import StateChanged
from .rules import (
    BOOT,
    IMAGE_TRANSFER,
    BootState,
    Event,
    ImageTransferEvent,
    ImageTransferStatus,
    Refusal,
    step,
)

__all__ = ["Lifecycle"]


class Lifecycle:
    """The boot state and the image-transfer status of one meter."""

    def __init__(self, emit: Callable[..., object], persist: Callable[[], None]) -> None:
        self._emit = emit
        self._persist = persist
        self.state = BootState.IDLE
        self.transfer = ImageTransferStatus.NOT_INITIATED

    def apply(self, event: Event) -> None:
        """The life-cycle ``event`` happened: the state moves by :data:`BOOT`
        (a change is persisted); a pair the table lacks is a bug of the caller."""
        new = BOOT.get((self.state, event))  # (at every activation and heartbeat: no call)
        if new is None:
            new = step(BOOT, self.state, event)  # a pair the table lacks: its error
        if isinstance(new, Refusal):
            raise MeterUsageError(f"{event.value} refused in {self.state.name.lower()}: "
                                  f"{new.reason}")
        assert isinstance(new, BootState)
        if new is not self.state:
            old, self.state = self.state, new
            self._emit(StateChanged, old=old, new=new)
            self._persist()

    def refusal(self, request: Event) -> Refusal | None:
        """What :data:`BOOT` says of a peer's ``request`` now: None when allowed."""
        r = BOOT.get((self.state, request))  # (asked per frame and block: no call for it)
        if r is None:
            r = step(BOOT, self.state, request)  # a pair the table lacks: its error
        return r if isinstance(r, Refusal) else None

    def restore(self, state: BootState) -> None:
        """Power-up: the state :func:`.rules.restored_state` rebuilt from flash."""
        if state is not self.state:
            old, self.state = self.state, state
            self._emit(StateChanged, old=old, new=state)
            self._persist()

    def transfer_step(self, event: ImageTransferEvent) -> Refusal | None:
        """Class 18 attribute 6 moves by :data:`IMAGE_TRANSFER`; a refusal of a
        request (activate before verified) is returned, nothing changes."""
        new = IMAGE_TRANSFER.get((self.transfer, event))  # (per block: no call for it)
        if new is None:
            new = step(IMAGE_TRANSFER, self.transfer, event)  # a pair the table lacks: its error
        if isinstance(new, Refusal):
            return new
        assert isinstance(new, ImageTransferStatus)
        self.transfer = new
        return None
