"""Topologies: generated trees keep their fan-out, depth and battery leaves and
are deterministic; files load, round-trip and fail with one clear message."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.mesh import Node, Topology, TopologyError, rate_for_quality


@given(st.integers(1, 300), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32 - 1),
       st.floats(0, 0.5))
@settings(max_examples=60)
def test_generated_tree_keeps_its_shape(meters: int, fanout: int, depth: int, seed: int,
                                        battery: float) -> None:
    try:
        topo = Topology.generate(meters, seed=seed, fanout=fanout, depth=depth,
                                 battery_share=battery)
    except TopologyError as exc:
        assert "fit" in str(exc) or "full" in str(exc)
        return
    assert len(topo) == meters
    assert topo.max_depth <= depth
    assert all(len(kids) <= fanout for kids in topo.children.values())
    for n in topo:
        if n.battery:
            assert topo.children[n.id] == []  # battery meters never relay
        assert 50 <= n.rate_kbps <= 200
        assert 0.1 <= n.quality <= 1.0


def test_generation_is_deterministic_and_adding_a_meter_changes_no_other() -> None:
    a = Topology.generate(200, seed=5, loss=0.1, battery_share=0.3)
    b = Topology.generate(200, seed=5, loss=0.1, battery_share=0.3)
    c = Topology.generate(201, seed=5, loss=0.1, battery_share=0.3)
    assert a.rows() == b.rows()
    grown = {r["id"]: r for r in c.rows()}
    assert all(grown[r["id"]] == r for r in a.rows())  # each meter draws from its own stream
    assert len(grown) == 201
    assert Topology.generate(200, seed=6).rows() != a.rows()


def test_generation_parameters() -> None:
    topo = Topology.generate(50, seed=1, loss=0.2, spread=0.0, other_hw_share=0.5,
                             hw_revision=7, group="g1", rate_kbps=150)
    assert {n.quality for n in topo} == {0.8}
    assert {n.rate_kbps for n in topo} == {150}
    assert {n.hw_revision for n in topo} == {7, 8}
    assert topo.groups() == {"g1": 50}
    with pytest.raises(TopologyError, match="do not fit"):
        Topology.generate(100, fanout=2, depth=3)


def test_rate_follows_quality() -> None:
    assert [rate_for_quality(q) for q in (1.0, 0.92, 0.85, 0.5)] == [200, 150, 100, 50]


def test_paths_depths_and_groups() -> None:
    topo = Topology([Node("A", "DC"), Node("B", "A", group="x"), Node("C", "B", group="x"),
                     Node("D", "DC", group="y")], concentrator="DC")
    assert topo.path("C") == ["C", "B", "A"]
    assert topo.depth["C"] == 3
    assert topo.group("x") == ["B", "C"]
    assert topo.relays() == ["A", "B"]


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_files_round_trip(tmp_path, kind: str) -> None:
    topo = Topology.generate(40, seed=3, battery_share=0.3, other_hw_share=0.2)
    path = tmp_path / f"t.{kind}"
    path.write_text(topo.dumps(kind))
    back = Topology.load(path)
    assert back.rows() == topo.rows()
    assert back.concentrator == topo.concentrator


def test_csv_with_a_root_row_and_defaults() -> None:
    text = ("id,parent,quality,power,hw_revision,group\n"
            "DC9,,,,,\n"
            "M1,DC9,0.9,battery,3,g\n"
            "M2,M1,,,,g\n")
    topo = Topology.loads(text, "csv")
    assert topo.concentrator == "DC9"
    assert topo["M1"].battery and topo["M1"].rate_kbps == 150
    assert topo["M2"].quality == 1.0 and topo["M2"].hw_revision == 3


def test_json_list_with_implicit_concentrator() -> None:
    topo = Topology.loads(json.dumps([{"id": "M1", "parent": "DC"},
                                      {"id": "M2", "parent": "M1", "rate_kbps": 50}]))
    assert topo.concentrator == "DC"
    assert topo["M2"].rate_kbps == 50


@pytest.mark.parametrize("nodes,message", [
    ([{"id": "M1", "parent": "DC"}, {"id": "M1", "parent": "DC"}], "twice"),
    ([{"id": "M1", "parent": "M2"}, {"id": "M2", "parent": "M1"},
      {"id": "M3", "parent": "DC"}], "cycle"),
    ([{"id": "M1", "parent": "DC"}, {"id": "M2", "parent": "X"}], "found 2"),
    ([{"id": "M1", "parent": "M2"}, {"id": "M2", "parent": "M1"}], "form a cycle"),
    ([{"id": "M1", "parent": "DC", "quality": 1.5}], "quality"),
    ([{"id": "M1", "parent": "DC", "quality": "good"}], "quality"),
    ([{"id": "M1", "parent": "DC", "rate_kbps": 250}], "rate_kbps"),
    ([{"id": "M1", "parent": "DC", "power": "solar"}], "power"),
    ([{"id": "M1", "parent": "DC", "hw_revision": 70000}], "hw_revision"),
    ([{"id": "M1", "parent": "DC", "hw_revision": True}], "hw_revision"),
    ([{"parent": "DC"}], "'id'"),
    ([{"id": "A"}, {"id": "B"}, {"id": "M1", "parent": "A"}], "without a parent"),
    ([], "no meters"),
    ([17], "not an object"),
])
def test_bad_files_are_one_usage_error(nodes: list, message: str) -> None:
    with pytest.raises(TopologyError, match=message) as info:
        Topology.loads(json.dumps(nodes))
    assert "\n" not in str(info.value)


def test_unreadable_or_malformed_files(tmp_path) -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        Topology.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(TopologyError, match="not valid JSON"):
        Topology.load(tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"nodes": 3}')
    with pytest.raises(TopologyError, match="list of nodes"):
        Topology.load(tmp_path / "obj.json")
