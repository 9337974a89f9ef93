"""Shared helpers for the campaign tests (a helper module, not a test module)."""

from __future__ import annotations

import functools
import random
from typing import Any

from meteremu.crypto import key_id
from meteremu.device import Geometry
from meteremu.keys import public_point
from meteremu.package.build import attach_signature, build_unsigned
from meteremu.package.builtin import _sign, demo_key
from meteremu.package.config import PackageConfig

VENDOR = 0x4D455445
#: Small banks keep thousands of meters cheap in memory.
GEOMETRY = Geometry(bank_size=16 * 1024, sector_size=1024, align=8, audit_sectors=4)
GEOMETRY_DICT = {"bank_size": 16 * 1024, "sector_size": 1024, "align": 8, "audit_sectors": 4}


@functools.cache
def package(version: str = "2.0.0", behaviour: str = "normal", size: int = 6 * 1024,
            hw_revision: int = 3) -> bytes:
    """A package signed by the demo key (the meters' factory image trusts it)."""
    key = demo_key()
    pt = public_point(key)
    image = random.Random(f"{version}-{behaviour}").randbytes(size)
    cfg = PackageConfig.from_dict({
        "vendor_id": VENDOR, "hw_revision": hw_revision, "version": version,
        "security_counter": int(version.split(".")[0]), "fragment_size": 256,
        "behaviour": behaviour})
    unsigned = build_unsigned(image, cfg, key_id(pt))
    return attach_signature(unsigned, _sign(key, unsigned), [pt])


def truth(field: Any, meter: str, target: str) -> tuple[str, str | None]:
    """What a meter really is, in the database's words: (state, version)."""
    m = field.meter(meter)
    if not m.powered:
        return ("refused" if m.power.lcd in ("F.03", "F.04") else "unreachable", None)
    state = m.boot_state.name.lower()
    if state == "confirmed" and m.active_version == target:
        return "confirmed", m.active_version
    if state == "reverted":
        return "reverted", m.active_version
    if state == "failed":
        return "refused", m.active_version
    return "incomplete", m.active_version
