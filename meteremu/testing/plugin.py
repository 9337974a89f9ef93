"""The meteremu pytest plugin: virtual meters as fixtures.

Registered through the ``pytest11`` entry point, so installing meteremu makes
these fixtures available in any test suite (``-p no:meteremu`` turns it off):

``meter_keys``
    A P-256 signing key pair (:class:`~meteremu.testing.KeyPair`) that the
    ``meter`` trusts.
``meter_package``
    A factory: ``meter_package(image=None, **config)`` builds and signs a
    package (``config.json`` fields as keywords: ``version``,
    ``security_counter``, ``behaviour``, ``fragment_size``, ...). Defaults make
    a package the ``meter`` accepts: version 2.0.0, security counter 2.
``meter``
    A ready :class:`~meteremu.device.VirtualMeter` running a signed factory
    image (1.0.0), trusting ``meter_keys``.
``meter_pair``
    A :class:`~meteremu.testing.rig.MeterPair`: a head-end joined to ``meter``
    by an in-memory lossy link (10 % loss, some reordering and duplication,
    seeded): ``send(package)``, ``verify_copy()``, ``activate()``,
    ``heartbeat()``, ``update(package)`` for all four.

Options: ``--meter-link-seed N`` (default 0) and ``--meter-link-loss P``
(default 0.1) set the ``meter_pair`` link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .factory import KeyPair
    from .rig import MeterPair

# meteremu itself is imported inside the fixtures: pytest loads this plugin in
# every run where meteremu is installed, and a run that uses no meter fixture
# must not depend on the compiled core being importable.

__all__ = ["meter", "meter_keys", "meter_package", "meter_pair"]

PackageFactory = Callable[..., bytes]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meteremu", "meteremu virtual meter fixtures")
    group.addoption("--meter-link-seed", type=int, default=0, metavar="N",
                    help="seed of the meter_pair lossy link (default 0)")
    group.addoption("--meter-link-loss", type=float, default=0.1, metavar="P",
                    help="frame loss probability of the meter_pair link (default 0.1)")


@pytest.fixture
def meter_keys() -> KeyPair:
    """The signing key pair the ``meter`` fixture trusts."""
    from .factory import make_keys

    return make_keys(0)


@pytest.fixture
def meter_package(meter_keys: KeyPair) -> PackageFactory:
    """``meter_package(image=None, *, keys=None, **config) -> bytes``: a signed package."""
    from .factory import make_firmware, make_package

    def build(image: bytes | None = None, *, keys: KeyPair | None = None,
              **config: Any) -> bytes:
        if image is None:
            image = make_firmware(4096, seed=2)
        return make_package(image, meter_keys if keys is None else keys, config)

    return build


@pytest.fixture
def meter(meter_keys: KeyPair) -> Iterator[Any]:
    """A virtual meter running a signed factory image 1.0.0."""
    from .factory import make_meter

    m = make_meter(meter_keys)
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def meter_pair(meter: Any, request: pytest.FixtureRequest) -> MeterPair:
    """A head-end and ``meter`` joined by a seeded in-memory lossy link."""
    from ..hes import LossyLink
    from .rig import MeterPair

    seed = request.config.getoption("--meter-link-seed", 0)
    loss = request.config.getoption("--meter-link-loss", 0.1)
    link = LossyLink(seed, loss=loss, reorder=0.05, duplicate=0.02)
    return MeterPair(meter, link)
