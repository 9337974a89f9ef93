"""The device layer: :class:`VirtualMeter`, a sans-I/O smart meter."""

from .battery import Battery
from .clock import DEFAULT_EPOCH, VirtualClock
from .cosem import Client, CosemError, DataAccessResult, ImageTransferStatus
from .layout import Geometry
from .meter import MeterUnavailable, Receipt, VirtualMeter
from .states import BootState, Event, MeterUsageError

__all__ = [
    "DEFAULT_EPOCH",
    "Battery",
    "BootState",
    "Client",
    "CosemError",
    "DataAccessResult",
    "Event",
    "Geometry",
    "ImageTransferStatus",
    "MeterUnavailable",
    "MeterUsageError",
    "Receipt",
    "VirtualClock",
    "VirtualMeter",
]
