"""The device layer: :class:`VirtualMeter`, a sans-I/O smart meter.

Its rules are data (:mod:`.rules`), what it reports comes out as events
(:mod:`.events`), and its errors are the project's one error model
(:mod:`meteremu.errors`).
"""

from ..errors import MeterUnavailable, MeterUsageError
from . import events
from .battery import Battery
from .clock import DEFAULT_EPOCH, VirtualClock
from .cosem import Client
from .layout import Geometry
from .meter import VirtualMeter
from .receipts import Receipt
from .rules import BootState, ImageTransferStatus

__all__ = [
    "DEFAULT_EPOCH",
    "Battery",
    "BootState",
    "Client",
    "Geometry",
    "ImageTransferStatus",
    "MeterUnavailable",
    "MeterUsageError",
    "Receipt",
    "VirtualClock",
    "VirtualMeter",
    "events",
]
