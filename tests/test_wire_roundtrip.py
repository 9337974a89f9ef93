"""parse(build(x)) == x for every definition in meteremu.wire, and a list of
them: a layout added to wire/ without a round trip here fails
test_every_definition_has_a_round_trip."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_package_format import headers, signature_records

import meteremu.wire
from meteremu.wire import nvm, package, progress

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)


def _definitions() -> dict[str, construct.Construct]:
    """Every construct definition a wire module exports, by 'module.Name'."""
    out = {}
    for info in pkgutil.iter_modules(meteremu.wire.__path__):
        module = importlib.import_module(f"meteremu.wire.{info.name}")
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, construct.Construct):
                out[f"{info.name}.{name}"] = value
    return out


def _unexported() -> list[str]:
    """Definitions at module level that are public but not in ``__all__``."""
    out = []
    for info in pkgutil.iter_modules(meteremu.wire.__path__):
        module = importlib.import_module(f"meteremu.wire.{info.name}")
        for name, value in vars(module).items():
            if (isinstance(value, construct.Construct) and not name.startswith("_")
                    and getattr(construct, name, None) is not value
                    and name not in getattr(module, "__all__", ())):
                out.append(f"{info.name}.{name}")
    return out


# ---------------------------------------------------------------- values to build

def _header_body(h: dict) -> dict:
    return dict(h, reserved=bytes(40))


def _package(draw: st.DrawFn, signed: bool) -> dict:
    h = draw(headers())
    image = draw(st.binary(min_size=1, max_size=300))
    trailer = draw(st.integers(75, 200)) if signed else 0
    h = dict(h, image_size=len(image), trailer_size=trailer,
             fragment_count=package.fragment_count(128 + len(image) + trailer,
                                                   h["fragment_size"]))
    if not signed:
        return {"header": h, "image": image}
    record = draw(signature_records)
    padding = trailer - 3 - len(record["value"])
    return {"header": h, "image": image, "trailer": {"records": [record], "padding": padding}}


frame_fields = st.fixed_dictionaries({
    "session_id": u32, "package_size": u32, "fragment_size": u16, "fragment_index": u16,
    "fragment_count": u16, "payload": st.binary(max_size=300)})

boot_fields = st.fixed_dictionaries({
    "sequence": u32, "active": st.integers(0, 2), "state": st.integers(0, 2), "attempts": u8,
    "previous": st.integers(0, 2), "counter": u32, "outcome": st.integers(0, 2)})

progress_fields = st.fixed_dictionaries({
    "magic": st.sampled_from([progress.PROGRESS_MAGIC, progress.PROGRESS_CLOSED]),
    "session_id": u32, "package_size": u32, "fragment_size": u32,
    "fragment_count": st.integers(0, 2000), "bank_off": u32, "tag": u32})

metrology_fields = st.fixed_dictionaries({
    "boot_state": u8, "seq": u32, "energy_uwh": u64, "clock": u64, "battery_mj": u32})
audit_fields = st.fixed_dictionaries({
    "length": u8, "seq": u32,
    "text": st.binary(min_size=nvm.AUDIT_TEXT_MAX, max_size=nvm.AUDIT_TEXT_MAX)})
session_fields = st.fixed_dictionaries({
    "kind": u8, "seq": u32, "session_id": u32, "reason": u8, "clock": u64})


def _with_bitmap(rec: dict) -> st.SearchStrategy[dict]:
    n = (rec["fragment_count"] + 7) // 8
    return st.binary(min_size=n, max_size=n).map(lambda b: {"record": rec, "bitmap": b})


def _floor_body(floor: int) -> dict:
    return {"floor": floor}


#: What to build, per definition. Constants, checksums and derived fields are
#: the definition's to fill in, so the strategies leave them out.
ROUND_TRIPS: dict[str, st.SearchStrategy[Any]] = {
    "package.Flags": st.fixed_dictionaries(
        {"reserved": st.just(0), "behaviour": st.sampled_from(list(package.BEHAVIOURS))}),
    "package.HeaderBody": headers().map(_header_body),
    "package.Header": headers(),
    "package.SignatureRecord": signature_records,
    "package.Trailer": st.builds(lambda r, p: {"records": r, "padding": p},
                                 st.lists(signature_records, max_size=1), st.integers(0, 200)),
    "package.UnsignedPackage": st.composite(lambda draw: _package(draw, False))(),
    "package.Package": st.composite(lambda draw: _package(draw, True))(),
    "frames.FrameBody": frame_fields,
    "frames.Frame": frame_fields,
    "boot.BootControlBody": boot_fields.map(lambda f: dict(f, reserved=bytes(11))),
    "boot.BootControlRecord": boot_fields,
    "boot.FloorSlotBody": u32.map(_floor_body),
    "boot.FloorSlot": u32.map(_floor_body),
    "progress.ProgressBody": progress_fields,
    "progress.ProgressRecord": progress_fields,
    "progress.Progress": progress_fields.flatmap(_with_bitmap),
    "nvm.MetrologyBody": metrology_fields,
    "nvm.MetrologyRecord": metrology_fields,
    "nvm.AuditBody": audit_fields,
    "nvm.AuditRecord": audit_fields,
    "nvm.SessionBody": session_fields,
    "nvm.SessionRecord": session_fields,
    "storage.StateFileHead": st.fixed_dictionaries({
        "flash_size": u32, "sector_size": u32, "align": u32, "bank_size": u32,
        "metrology_sectors": u32, "audit_sectors": u32}),
}

DEFINITIONS = _definitions()


def test_every_definition_has_a_round_trip() -> None:
    assert sorted(ROUND_TRIPS) == sorted(DEFINITIONS), (
        "a definition in meteremu/wire/ without a round trip here (or one removed)")


def test_every_definition_is_exported() -> None:
    assert _unexported() == [], "public definitions missing from their module's __all__"


def test_the_list_covers_every_family() -> None:
    modules = {name.split(".")[0] for name in DEFINITIONS}
    assert modules == {"package", "frames", "boot", "progress", "nvm", "storage"}


def _holds(parsed: Any, given_: Any) -> bool:
    """Every value given to build is what parse gives back (recursively)."""
    if isinstance(given_, Mapping):
        return all(_holds(parsed[k], v) for k, v in given_.items())
    if isinstance(given_, list):
        return len(parsed) == len(given_) and all(map(_holds, parsed, given_))
    return parsed == given_


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_parse_build_round_trip(name: str, data: st.DataObject) -> None:
    definition = DEFINITIONS[name]
    value = data.draw(ROUND_TRIPS[name])
    raw = definition.build(value)
    parsed = definition.parse(raw)
    assert _holds(parsed, value)
    assert definition.build(parsed) == raw
