"""What ``python -m bench.acks`` stands on, checked without timing anything: the
publisher process and the head-end count every ack, live and from a backlog,
over MQTT and MQTTS, and the in-process peer does too."""

from __future__ import annotations

import pathlib
import sys

import pytest
from mosquittokit import MOSQUITTO, SKIP_REASON, make_certs

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the bench package

bench_acks = pytest.importorskip("bench.acks")


def test_the_peer_counts_every_ack():
    r = bench_acks.in_process(2_500)
    assert (r.received, r.sent) == (2_500, 2_500)


@pytest.mark.skipif(MOSQUITTO is None, reason=SKIP_REASON)
@pytest.mark.parametrize("tls,backlog", [(False, False), (False, True), (True, True)])
def test_the_broker_cases_count_every_ack(tmp_path, tls, backlog):
    certs = make_certs(tmp_path / "certs") if tls else None
    r = bench_acks.through_broker("case", 300, tmp_path / "broker", certs=certs,
                                  limits={"max_queued_messages": 0}, backlog=backlog)
    assert (r.received, r.sent) == (300, 300)
    assert r.seconds > 0 and r.publish_seconds > 0
