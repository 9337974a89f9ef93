"""The shared test helpers (``meterkit``) build what they say."""

from __future__ import annotations

from meterkit import grep, meter


def test_helpers_build_a_meter_that_runs_the_factory_image() -> None:
    m = meter()
    assert m.active_version == "1.0.0"
    assert grep(m, "FOTA_EVT BOOT version=1.0.0")
