"""The Fleet: N live meters in one process, built cheaply and driven together.

See ``docs/FLEET.md``. Building: one template meter per (vendor, hardware
revision, factory package, trusted keys, geometry, meter options) is
provisioned once; every fleet meter is a :class:`~meteremu.device.VirtualMeter`
over a copy-on-write copy of its template's flash (:mod:`.memory`) that
adopts the template's check of the factory package (keyed on every byte,
so a meter whose image differs in one bit gets the full check). Driving:
:meth:`Fleet.broadcast` sends a package's frames in rounds, one C call per
round for every meter (:mod:`.broadcast`); :meth:`activate`,
:meth:`heartbeat` and :meth:`advance` run per meter.
"""

from __future__ import annotations

import functools
import gc
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._lowlevel.image import ImageCache, check_package
from ..crypto import load_public_key
from ..device import Geometry, VirtualMeter
from ..device.layout import Layout
from ..errors import ErrorCode, MeterUnavailable, PackageError, UsageError
from .broadcast import BroadcastResult, run_broadcast
from .memory import PAGE, SlotPool, private_bytes

__all__ = ["Fleet", "MeterSpec"]

BLOCK = 64  # meters per mapping (see .memory)
_T = TypeVar("_T")


def _quiet_gc(fn: Callable[..., _T], *, freeze: bool = False) -> Callable[..., _T]:
    """Run ``fn`` with Python's cyclic garbage collector paused (and restored
    after). A fleet is a large, long-lived object graph that these calls only
    add to; every collection the allocations trigger would walk all of it
    again, so the time grows faster than the fleet.

    ``freeze`` (the build): when ``fn`` returns, move what is alive out of
    the collector's sight (``gc.freeze``) before it runs again. Else the first collection
    after the build walks every object it made -- about 70 a meter, a fifth
    of a second for 10,000 meters -- and every full collection after that
    walks them all again. Frozen objects are still freed when their last
    reference goes; only reference cycles among them wait for
    :meth:`Fleet.close` (or the fleet's end), which hands them back to the
    collector (``gc.unfreeze``). A caller that keeps the collector disabled
    itself is left alone: nothing is frozen then."""

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> _T:
        was = gc.isenabled()
        gc.disable()
        try:
            out = fn(*args, **kwargs)
            if was and freeze:  # (a build that failed leaves no fleet to unfreeze them)
                gc.freeze()
            return out
        finally:
            if was:
                gc.enable()

    return paused


@dataclass(frozen=True)
class MeterSpec:
    """One fleet meter: its serial and, where it differs from the fleet's
    defaults, its identity and factory image."""

    serial: str
    vendor_id: int | None = None
    hw_revision: int | None = None
    factory_package: bytes | None = None


def _points(keys: Iterable[bytes | str]) -> tuple[bytes, ...]:
    return tuple(load_public_key(k.encode() if isinstance(k, str) else bytes(k)) for k in keys)


class _Template:
    """A meter's flash fresh from the factory (provisioned, never powered up) and
    the check of its factory package."""

    def __init__(self, vendor_id: int, hw_revision: int, factory: bytes,
                 points: tuple[bytes, ...], geometry: Geometry, block: int) -> None:
        state = VirtualMeter.factory_state(vendor_id=vendor_id, hw_revision=hw_revision,
                                           trusted_keys=points, factory_package=factory,
                                           geometry=geometry)
        cache = ImageCache()
        try:
            check_package(factory, vendor_id=vendor_id, hw_revision=hw_revision,
                          bank_size=geometry.bank_size, trusted_keys=list(points), cache=cache)
        except PackageError as exc:  # (the template's provisioning refused it already)
            raise UsageError(f"factory package refused: {exc.error}") from None
        self.pool = SlotPool(Layout(geometry), state, block, cache)


class Fleet:
    """N live :class:`~meteremu.device.VirtualMeter` s, by serial, in build order.

    Build with :meth:`build`; ``fleet[serial]`` is a meter, ``len``, ``in`` and
    iteration (serials) work as on a mapping. Every meter is an ordinary
    VirtualMeter: anything done to one (faults, COSEM, power) is its own.
    """

    def __init__(self) -> None:  # use Fleet.build
        self._meters: dict[str, VirtualMeter] = {}
        self._cells: dict[str, int] = {}  # where each meter's flash cells are mapped
        self._pools: list[SlotPool] = []
        # a fleet dropped without close() hands its cycles back all the same
        weakref.finalize(self, gc.unfreeze)

    @classmethod
    @functools.partial(_quiet_gc, freeze=True)
    def build(
        cls,
        meters: int | Sequence[MeterSpec | str],
        *,
        trusted_keys: Iterable[bytes | str],
        factory_package: bytes | None = None,
        vendor_id: int | None = None,
        hw_revision: int | None = None,
        geometry: Geometry | None = None,
        serial_format: str = "MTR{:08d}",
        block: int = BLOCK,
        **options: Any,
    ) -> Fleet:
        """A fleet of ``meters``: a count (serials ``serial_format.format(i)``) or
        specs (a serial alone takes every default). ``trusted_keys``,
        ``factory_package``, ``vendor_id``, ``hw_revision`` and ``geometry`` are
        the defaults of every meter; ``options`` go to every ``VirtualMeter``
        (``clock_start``, ``heartbeat_window``, ``load``, ``battery``, ...).
        ``block``: meters per shared mapping. Raises :class:`UsageError` on a
        spec without identity or factory image, a duplicate serial, or a
        factory package the meter refuses."""
        if isinstance(meters, int):
            if meters < 0:
                raise UsageError(f"a fleet of {meters} meters")
            # serials alone: each as MeterSpec(serial), without making the specs
            try:
                specs: list[MeterSpec | str] = [serial_format.format(i) for i in range(meters)]
            except (IndexError, KeyError, ValueError) as exc:
                raise UsageError(f"serial_format {serial_format!r} does not format a meter's "
                                 f"number: {exc}") from None
        else:
            specs = [MeterSpec(s) if isinstance(s, str) else s for s in meters]
        if block < 1:
            raise UsageError(f"block must be at least 1, not {block}")
        taken = sorted(set(options) & {"serial", "vendor_id", "hw_revision", "trusted_keys",
                                       "factory_package", "geometry", "state"})
        if taken:
            raise UsageError(f"{', '.join(taken)}: the fleet sets these itself (give them "
                             f"as build arguments or in a MeterSpec)")
        points = _points(trusted_keys)
        geometry = geometry or Geometry()
        fleet = cls()
        templates: dict[tuple[int, int, bytes], _Template] = {}
        seen: set[str] = set()
        resolved = []
        whole = None not in (vendor_id, hw_revision, factory_package)
        default_pkg = bytes(factory_package) if factory_package is not None else None
        for spec in specs:
            if type(spec) is str:  # (a serial: every default)
                if not whole:
                    raise UsageError(f"meter {spec}: no vendor_id, hw_revision or "
                                     f"factory_package (give them in its spec or as defaults)")
                if spec in seen:
                    raise UsageError(f"serial {spec} appears twice")
                seen.add(spec)
                resolved.append((spec, vendor_id, hw_revision, default_pkg))
                continue
            vid = spec.vendor_id if spec.vendor_id is not None else vendor_id
            hw = spec.hw_revision if spec.hw_revision is not None else hw_revision
            pkg = spec.factory_package if spec.factory_package is not None else factory_package
            if vid is None or hw is None or pkg is None:
                raise UsageError(f"meter {spec.serial}: no vendor_id, hw_revision or "
                                 f"factory_package (give them in its spec or as defaults)")
            if spec.serial in seen:
                raise UsageError(f"serial {spec.serial} appears twice")
            seen.add(spec.serial)
            resolved.append((spec.serial, vid, hw, bytes(pkg)))
        try:
            for serial, vid, hw, pkg in resolved:
                key = (vid, hw, pkg)
                t = templates.get(key)
                if t is None:
                    t = templates[key] = _Template(vid, hw, pkg, points, geometry,
                                                   min(block, max(len(resolved), 1)))
                    fleet._pools.append(t.pool)
                storage, cells = t.pool.take_slot()
                fleet._meters[serial] = VirtualMeter(
                    serial=serial, vendor_id=vid, hw_revision=hw, trusted_keys=points,
                    factory_package=pkg, geometry=geometry, state=storage, **options)
                fleet._cells[serial] = cells
        except BaseException:
            fleet.close()
            raise
        for pool in fleet._pools:
            pool.seal()
        return fleet

    # ------------------------------------------------------------ mapping
    def __getitem__(self, serial: str) -> VirtualMeter:
        try:
            return self._meters[serial]
        except KeyError:
            raise UsageError(f"no meter {serial!r} in the fleet") from None

    def __contains__(self, serial: object) -> bool:
        return serial in self._meters

    def __iter__(self) -> Iterator[str]:
        return iter(self._meters)

    def __len__(self) -> int:
        return len(self._meters)

    @property
    def serials(self) -> list[str]:
        return list(self._meters)

    def _pick(self, ids: Iterable[str] | None) -> list[tuple[str, VirtualMeter]]:
        """The meters ``ids`` (default all), each once: a serial named twice (it
        would take the call twice) or not in the fleet is a UsageError."""
        if ids is None:
            return list(self._meters.items())
        if isinstance(ids, (str, bytes)):  # (it would be taken letter by letter)
            raise UsageError(f"ids is a list of serials, not one serial: [{ids!r}]")
        picked = []
        seen: set[str] = set()
        for s in ids:
            if s in seen:
                raise UsageError(f"serial {s!r} named twice")
            seen.add(s)
            picked.append((s, self[s]))
        return picked

    # ------------------------------------------------------------ driving
    @_quiet_gc
    def broadcast(
        self,
        frames: Sequence[bytes],
        *,
        loss: float | Mapping[str, float] = 0.0,
        seed: int = 0,
        max_rounds: int = 50,
        ids: Iterable[str] | None = None,
    ) -> BroadcastResult:
        """Broadcast a package's mesh frames (``meteremu.hes.fragment_package``) to
        the meters ``ids`` (default all) in rounds: everything first, then the
        union of what the meters still waiting say they miss, until none waits
        or ``max_rounds``; the frames may come in any order (a round re-sends
        by fragment index), but must be one session's fragments, each once
        and whole, else :class:`UsageError` before anything is sent. Each
        meter hears through its own link
        (:class:`~.links.Link`: ``loss``, one value or one per serial, drawn
        from ``seed``). Each meter ends exactly as ``receive_many`` of the
        frames it heard, round by round, would leave it; no virtual time
        passes. Returns each meter's outcome."""
        picked = self._pick(ids)
        if isinstance(loss, Mapping):
            strangers = sorted(s for s in loss if s not in self._meters)
            if strangers:
                raise UsageError(f"loss names meters not in the fleet: {strangers[:5]}")
        losses = [loss.get(s, 0.0) if isinstance(loss, Mapping) else loss for s, _ in picked]
        return run_broadcast(picked, frames, losses, seed, max_rounds,
                             [self._cells[s] for s, _ in picked])

    @_quiet_gc
    def activate(self, ids: Iterable[str] | None = None
                 ) -> dict[str, ErrorCode | MeterUnavailable | None]:
        """``meter.activate()`` on each meter: None where it swapped to the new
        image, else its error, or the :class:`MeterUnavailable` a power cut on
        the way raised."""
        out: dict[str, ErrorCode | MeterUnavailable | None] = {}
        for serial, m in self._pick(ids):
            try:
                out[serial] = m.activate()
            except MeterUnavailable as exc:
                out[serial] = exc
        return out

    @_quiet_gc
    def heartbeat(self, ids: Iterable[str] | None = None) -> dict[str, bool]:
        """The HES heartbeat to each meter: True where it confirmed the trial image
        (False for a meter that is off or has nothing to confirm)."""
        out: dict[str, bool] = {}
        for serial, m in self._pick(ids):
            try:
                out[serial] = m.heartbeat()
            except MeterUnavailable:
                out[serial] = False
        return out

    @_quiet_gc
    def advance(self, seconds: float, ids: Iterable[str] | None = None) -> None:
        """Let ``seconds`` of virtual time pass on each meter."""
        for _, m in self._pick(ids):
            m.advance(seconds)

    # ------------------------------------------------------------ memory
    def private_bytes(self) -> int | None:
        """Bytes of the meters' flash no longer shared with their template: the
        pages (sectors) meters have written. None without /proc."""
        spans = [span for pool in self._pools for span in pool.spans()]
        return private_bytes(spans)

    @_quiet_gc
    def share_identical(self) -> int | None:
        """Share again what the meters' flash holds alike: each template's
        meters are moved onto a new base, page by page the content most of
        them hold now (after a broadcast: the new image), and keep private
        copies only of the pages where they differ from it (see
        :mod:`.memory`). Every meter reads exactly the bytes it held before;
        a meter that writes a shared page later gets its own copy. Returns
        the bytes still private to single meters, or None where the platform
        cannot move a mapping (only Linux can). Costs one pass over every
        meter's flash: call it after a wave, not per operation."""
        total = 0
        for pool in self._pools:
            pages = pool.share()
            if pages is None:
                return None
            total += pages
        return total * PAGE

    def template_bytes(self) -> int:
        """Bytes of the template files the meters' flash is mapped from (held once,
        whatever the number of meters)."""
        return sum(pool.stride * pool.block for pool in self._pools)

    def close(self) -> None:
        """Drop every meter and the shared mappings (no power-fail save: the
        flash is in memory only and goes with the fleet). What the build froze
        out of the collector's sight is handed back to it."""
        self._meters.clear()
        self._cells.clear()
        for pool in self._pools:
            pool.close()
        self._pools = []
        gc.unfreeze()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
