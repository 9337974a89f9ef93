"""Test-suite settings shared by every test module."""

from __future__ import annotations

from hypothesis import settings

# Timing is never asserted in this suite; on a loaded machine a per-example
# deadline would only turn slowness into failures.
settings.register_profile("meteremu", deadline=None)
settings.load_profile("meteremu")
