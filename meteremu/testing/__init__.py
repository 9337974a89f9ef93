"""meteremu inside other test suites.

* :mod:`meteremu.testing.plugin` -- the pytest plugin (registered through the
  ``pytest11`` entry point, so installing meteremu is enough): fixtures
  ``meter_keys``, ``meter_package``, ``meter`` and ``meter_pair``.
* :mod:`meteremu.testing.strategies` -- hypothesis strategies: ``packages()``,
  ``hostile_packages()``, ``fragment_streams()`` (needs hypothesis).
* the builders below, for code that wants the same things without pytest.
"""

from __future__ import annotations

from .factory import (
    HW_REVISION,
    VENDOR_ID,
    KeyPair,
    make_firmware,
    make_keys,
    make_meter,
    make_package,
)

__all__ = [
    "HW_REVISION",
    "VENDOR_ID",
    "KeyPair",
    "make_firmware",
    "make_keys",
    "make_meter",
    "make_package",
]
