"""meteremu.testing as a third party uses it: the pytest plugin found through its
entry point, the fixtures, and the hypothesis strategies against a real meter."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from meterkit import MGMT, REFUSED

from meteremu.device import BootState
from meteremu.hes import deliver
from meteremu.testing import make_keys, make_meter
from meteremu.testing.rig import MeterPair
from meteremu.testing.strategies import (
    HOSTILE_KINDS,
    FragmentStream,
    HostilePackage,
    fragment_streams,
    hostile_packages,
    packages,
)

pytest_plugins = ["pytester"]

THIRD_PARTY = '''
import hashlib

from meteremu.device import BootState


def test_fixtures_are_there(meter_keys, meter_package, meter):
    assert meter.active_version == "1.0.0"
    pkg = meter_package(version="3.1.4", security_counter=5)
    assert pkg[76:84] == meter_keys.key_id


def test_update_over_the_lossy_link(meter_pair, meter_package):
    pkg = meter_package(b"\\x5a" * 3000, version="2.0.0")
    d = meter_pair.send(pkg)
    assert d.complete
    assert meter_pair.read_hash() == hashlib.sha256(pkg).digest()
    meter_pair.activate()
    assert meter_pair.meter.active_version == "2.0.0"
    assert meter_pair.heartbeat()
    assert meter_pair.boot_state() is BootState.CONFIRMED


def test_a_failing_check_fails(meter):
    assert meter.active_version == "9.9.9"
'''


def test_plugin_is_found_through_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_third_party=THIRD_PARTY)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_a_failing_check_fails*"])


def test_link_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_opts='''
def test_link(meter_pair):
    assert meter_pair.link.seed == 42 and meter_pair.link.loss == 0.5
''')
    pytester.runpytest("--meter-link-seed", "42", "--meter-link-loss", "0.5").assert_outcomes(
        passed=1)


def test_fixtures_in_process(meter_pair: MeterPair, meter_package) -> None:  # type: ignore[no-untyped-def]
    pkg = meter_package(behaviour="no-heartbeat", version="2.5.0")
    meter_pair.send(pkg)
    assert meter_pair.verify_copy()
    meter_pair.activate()
    assert not meter_pair.heartbeat()
    meter_pair.meter.advance(301)
    assert meter_pair.boot_state() is BootState.REVERTED
    assert meter_pair.meter.active_version == "1.0.0"


def test_update_runs_the_whole_story(meter_pair: MeterPair, meter_package) -> None:  # type: ignore[no-untyped-def]
    d = meter_pair.update(meter_package())
    assert d.complete and meter_pair.meter.boot_state is BootState.CONFIRMED


_FAST = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_FAST
@given(packages())
def test_valid_packages_are_accepted_and_confirm(pkg: bytes) -> None:
    pair = MeterPair(make_meter(make_keys()), _perfect())
    d = pair.send(pkg)
    assert d.complete and pair.verify_copy(pkg)
    pair.activate()
    assert pair.heartbeat()
    assert pair.meter.boot_state is BootState.CONFIRMED


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_packages())
def test_hostile_packages_are_refused_with_their_code(h: HostilePackage) -> None:
    assert_refused_with_its_code(h)


def assert_refused_with_its_code(h: HostilePackage) -> None:
    m = make_meter(make_keys())
    deliver(m, h.frames())
    if h.kind == "truncated":  # the tail never comes: the meter says so when asked
        assert m.boot_state is BootState.DOWNLOADING
        with pytest.raises(REFUSED) as err:
            m.action("0.0.96.10.2.255", 1, True, client=MGMT)
        assert err.value.error is not None and err.value.error.code == h.code
    errors = [line for line in m.audit_log if "FOTA_ERR" in line]
    assert errors and f"FOTA_ERR {h.code} " in errors[0], (h.kind, errors)
    assert m.boot_state is not BootState.VERIFIED
    assert m.active_version == "1.0.0"


#: find() settings that take the first example found (no shrinking: slow here,
#: as every example is a signed package, and not needed to prove reachability).
_FIRST_FOUND = settings(max_examples=2000, deadline=None, database=None,
                        phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # an oversized package
@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
def test_every_hostile_kind_can_be_drawn(kind: str) -> None:
    # hostile_packages() as a user calls it (no kinds=) reaches this kind, and
    # what it draws for it is refused with the kind's code
    h = find(hostile_packages(), lambda h: h.kind == kind, settings=_FIRST_FOUND)
    assert h.kind == kind and h.code == HOSTILE_KINDS[kind]
    assert_refused_with_its_code(h)
    # and kinds= narrows the strategy to it
    assert find(hostile_packages(kinds=[kind]), lambda h: True,
                settings=_FIRST_FOUND).kind == kind


@_FAST
@given(fragment_streams())
def test_any_stream_leaves_exactly_its_missing_fragments(fs: FragmentStream) -> None:
    m = make_meter(make_keys())
    for frame in fs.stream:
        m.receive(frame)
    assert m.counters["dropped-frame"] == fs.corrupted
    if fs.complete:
        assert m.boot_state is BootState.VERIFIED
    elif m.download_progress() != (0, 0):
        assert set(m.missing_fragments()) == fs.missing
    for i in sorted(fs.missing):  # the retransmission round
        m.receive(fs.frames[i])
    assert m.boot_state is BootState.VERIFIED
    assert m.get("0.0.96.10.1.255", 2, client=MGMT) == hashlib.sha256(fs.package).digest()


def _perfect():  # type: ignore[no-untyped-def]
    from meteremu.hes import LossyLink

    return LossyLink(0, loss=0.0)
