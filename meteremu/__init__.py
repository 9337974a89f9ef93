"""meteremu: a virtual smart meter for firmware-over-the-air update rehearsal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .device import VirtualMeter

__all__ = ["VirtualMeter", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import meteremu` stays light for tools that only need the version.
    if name == "VirtualMeter":
        from .device import VirtualMeter

        return VirtualMeter
    raise AttributeError(f"module 'meteremu' has no attribute {name!r}")
