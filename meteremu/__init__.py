"""meteremu: a virtual smart meter for firmware-over-the-air update rehearsal."""

from ._version import __version__

__all__ = ["__version__"]
