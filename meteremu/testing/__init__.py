"""meteremu inside other test suites.

* :mod:`meteremu.testing.plugin` -- the pytest plugin (registered through the
  ``pytest11`` entry point, so installing meteremu is enough): fixtures
  ``meter_keys``, ``meter_package``, ``meter`` and ``meter_pair``.
* :mod:`meteremu.testing.strategies` -- hypothesis strategies: ``packages()``,
  ``hostile_packages()``, ``fragment_streams()`` (needs hypothesis).
* the builders of :mod:`meteremu.testing.factory` (re-exported here), for code
  that wants the same things without pytest.
"""

from __future__ import annotations

from . import factory as _factory
from .factory import *  # noqa: F403 -- the builders, exactly factory's public names

__all__ = list(_factory.__all__)
