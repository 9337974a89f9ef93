"""``meteremu mesh broadcast`` on small fleets: nothing but a package from
``meteremu package``, exit codes, the --json shape, text tables, topology files."""

from __future__ import annotations

import contextlib
import io
import json
import pathlib

import pytest

from meteremu.cli import main
from meteremu.package import attach_signature, build_unsigned
from meteremu.package.builtin import _sign, demo_key
from meteremu.package.config import PackageConfig

CONFIG = {"vendor_id": "0x4D455445", "hw_revision": 3, "version": "2.0.0",
          "security_counter": 2, "fragment_size": 128}
G = "residential_sector_04"


def call(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A key pair, another key, and a package made by the CLI itself."""
    d = tmp_path_factory.mktemp("cli-mesh")
    (d / "fw.bin").write_bytes(bytes(range(256)) * 10)
    (d / "config.json").write_text(json.dumps(CONFIG))
    assert call("keygen", "--out", d / "k.pem", "--pub", d / "pub.pem")[0] == 0
    assert call("keygen", "--out", d / "k2.pem", "--pub", d / "other.pem")[0] == 0
    code, _, err = call("package", d / "fw.bin", "--config", d / "config.json",
                        "-o", d / "fw.pkg", "--key", d / "k.pem")
    assert code == 0, err
    code, _, err = call("package", d / "fw.bin", "--config", d / "config.json",
                        "-o", d / "unsigned.pkg", "--pubkey", d / "pub.pem")
    assert code == 0, err
    return d


def broadcast(work: pathlib.Path, *extra: object, pkg: str = "fw.pkg") -> tuple[int, dict,
                                                                                  str]:
    code, out, err = call("mesh", "broadcast", "--file", work / pkg, "--group", G, "--json",
                          *extra)
    return code, (json.loads(out) if out else {}), err


def test_the_package_alone_is_enough(work: pathlib.Path) -> None:
    code, rep, err = broadcast(work, "--meters", 12, "--seed", 1)
    assert code == 0, err
    assert err == ""
    assert rep["outcome"] == {"complete": 12, "pending": 0, "incomplete": 0, "refused": 0}
    assert rep["boot_states"] == {"verified": 12}
    assert rep["mesh"]["members"] == 12 and rep["group"] == G
    assert set(rep) >= {"package", "config", "session", "fragments", "rounds", "outcome",
                        "failed", "pending", "airtime", "billing", "battery", "hottest",
                        "meters", "wall_s"}
    assert rep["package"]["key_id"] and rep["package"]["version"] == "2.0.0"
    assert rep["airtime"]["peak_window_share"] <= 0.30 + 1e-12
    assert all(r["share"] <= 0.30 + 1e-9 for r in rep["rounds"])
    assert len(rep["meters"]) == 12


def test_same_seed_same_json(work: pathlib.Path) -> None:
    args = ("--meters", 15, "--seed", 3, "--loss", 0.2, "--burst", 3, "--battery-share", 0.4)
    a, b = broadcast(work, *args)[1], broadcast(work, *args)[1]
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b
    c = broadcast(work, "--meters", 15, "--seed", 4, "--loss", 0.2, "--burst", 3,
                  "--battery-share", 0.4)[1]
    c.pop("wall_s")
    assert c != a


def test_refusals_exit_1_with_their_codes(work: pathlib.Path) -> None:
    code, rep, _ = broadcast(work, "--meters", 20, "--other-hw-share", 0.3, "--seed", 2)
    assert code == 1
    assert rep["outcome"]["refused"] == len(rep["failed"]) > 0
    assert {f["code"] for f in rep["failed"]} == {"0x8004"}
    assert all("FOTA_ERR 0x8004" in f["audit"] for f in rep["failed"])
    assert rep["boot_states"]["failed"] == len(rep["failed"])
    assert rep["outcome"]["complete"] + rep["outcome"]["refused"] == 20


def test_a_key_the_meters_do_not_hold_is_a_fleet_of_0x8005(work: pathlib.Path) -> None:
    code, rep, err = broadcast(work, "--meters", 5, "--trusted-key", work / "other.pem")
    assert code == 1
    assert "0x8005" in err and err[-1] == "\n" and err.count("\n") == 1
    assert {f["code"] for f in rep["failed"]} == {"0x8005"}
    assert rep["outcome"]["refused"] == 5


def test_trusted_key_that_signed_it(work: pathlib.Path) -> None:
    code, rep, err = broadcast(work, "--meters", 5, "--trusted-key", work / "pub.pem")
    assert code == 0 and err == "" and rep["outcome"]["complete"] == 5


def test_a_demo_signed_package_needs_no_key(tmp_path: pathlib.Path) -> None:
    from meteremu.crypto import key_id
    from meteremu.keys import public_point

    key = demo_key()
    cfg = PackageConfig.from_dict({**CONFIG, "vendor_id": 0x4D455445})
    unsigned = build_unsigned(bytes(3000), cfg, key_id(public_point(key)))
    (tmp_path / "demo.pkg").write_bytes(attach_signature(unsigned, _sign(key, unsigned)))
    code, rep, err = broadcast(tmp_path, "--meters", 4, pkg="demo.pkg")
    assert code == 0, err
    assert rep["outcome"]["complete"] == 4


def test_topology_saved_then_loaded_gives_the_same_broadcast(work: pathlib.Path,
                                                            tmp_path: pathlib.Path) -> None:
    saved = tmp_path / "mesh.csv"
    code, a, _ = broadcast(work, "--meters", 18, "--seed", 5, "--loss", 0.15,
                           "--save-topology", saved)
    assert code == 0
    assert saved.read_text().startswith("id,parent,quality,power,hw_revision,group,rate_kbps")
    code, b, _ = broadcast(work, "--topology", saved, "--seed", 5)
    assert code == 0
    for key in ("rounds", "outcome", "airtime", "meters", "billing"):
        assert a[key] == b[key]


def test_groups_in_a_topology_file(work: pathlib.Path, tmp_path: pathlib.Path) -> None:
    nodes = [{"id": "R", "parent": "DC", "group": "other"},
             {"id": "A", "parent": "R", "group": G},
             {"id": "B", "parent": "R", "group": G, "power": "battery", "quality": 0.9},
             {"id": "C", "parent": "DC", "group": "other"}]
    (tmp_path / "t.json").write_text(json.dumps({"concentrator": "DC", "nodes": nodes}))
    code, rep, _ = broadcast(work, "--topology", tmp_path / "t.json")
    assert code == 0
    assert [m["id"] for m in rep["meters"]] == ["A", "B"]
    assert rep["mesh"]["relays"] == 1 and rep["battery"]["meters"] == 1
    code, out, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", "nope",
                          "--topology", tmp_path / "t.json")
    assert code == 2 and out == "" and "no meters" in err and "other" in err


def test_text_report(work: pathlib.Path) -> None:
    code, out, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                          "--meters", 10, "--other-hw-share", 0.3, "--plain")
    assert code == 1
    for text in ("rounds", "outcome", "refused meters (audit log)", "FOTA_ERR 0x8004",
                 "boot states:", "airtime: FOTA", "billing:", "hottest radios", "meters",
                 "MTR00000010", "verified", "failed"):
        assert text in out
    assert err == ""  # no progress bar off a terminal


@pytest.mark.parametrize("extra,message", [
    (("--meters", 5, "--topology", "x.json"), "exclude each other"),
    (("--meters", 0), "--meters"),
    (("--cap", 2), "--cap"),
    (("--loss", 1), "--loss"),
    (("--burst", 0.5), "--burst"),
    (("--loss", 0.6, "--spread", 0, "--burst", 1), "--burst"),
    (("--cap", 0.01, "--window", 0.1), "widen the window"),
    (("--meters", 2000, "--fanout", 2, "--depth", 3), "do not fit"),
])
def test_usage_errors_exit_2_with_one_line(work: pathlib.Path, extra: tuple,
                                           message: str) -> None:
    code, out, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G, *extra)
    assert code == 2
    assert message in err and err.count("\n") == 1 and out == ""


def test_a_topology_saved_under_another_suffix_is_refused_before_anything_is_written(
        work: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """--save-topology names the format by its suffix: .json or .csv; a .yaml
    file used to be written as JSON."""
    target = tmp_path / "mesh.yaml"
    code, out, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                          "--meters", 5, "--save-topology", target)
    assert code == 2 and "mesh.yaml" in err and out == "" and err.count("\n") == 1
    assert "--save-topology writes a .json or a .csv" in err
    assert not target.exists()


def test_a_topology_without_groups_says_so(work: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (tmp_path / "nogroup.csv").write_text("id,parent,quality\nM1,DC,0.9\nM2,M1,1\n")
    code, out, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                          "--topology", tmp_path / "nogroup.csv")
    assert code == 2 and out == ""
    assert "gives no meter a group" in err and "'group' column" in err
    (tmp_path / "grouped.csv").write_text("id,parent,group\nM1,DC,north\nM2,M1,\n")
    code, _, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                        "--topology", tmp_path / "grouped.csv")
    assert code == 2 and "(groups: '', north)" in err


def test_every_frame_duplicated_and_held_back_is_a_channel_not_a_usage_error(
        work: pathlib.Path) -> None:
    """--duplicate 1 and --reorder 1 lose nothing (each frame comes twice, late):
    the channel takes them; only --loss and --corrupt stop short of 1."""
    code, rep, err = broadcast(work, "--meters", 6, "--seed", 2, "--duplicate", 1,
                               "--reorder", 1)
    assert code == 0, err
    assert rep["outcome"]["complete"] == 6
    code, _, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                        "--corrupt", 1)
    assert code == 2 and "--corrupt" in err


def test_file_problems(work: pathlib.Path, tmp_path: pathlib.Path) -> None:
    code, _, err = call("mesh", "broadcast", "--file", tmp_path / "none.pkg", "--group", G)
    assert code == 2 and "cannot read package" in err
    (tmp_path / "bad.csv").write_text("id,parent,quality\nM1,DC,2\n")
    code, _, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                        "--topology", tmp_path / "bad.csv")
    assert code == 2 and "row 2" in err and "quality" in err
    code, _, err = call("mesh", "broadcast", "--file", work / "fw.pkg", "--group", G,
                        "--topology", tmp_path / "bad.csv", "--loss", 0.1)
    assert code == 2 and "--loss" in err
    code, _, err = call("mesh", "broadcast", "--file", work / "unsigned.pkg", "--group", G)
    assert code == 2 and "--trusted-key" in err
    (tmp_path / "junk.pkg").write_bytes(b"\x00" * 300)
    code, _, err = call("mesh", "broadcast", "--file", tmp_path / "junk.pkg", "--group", G)
    assert code == 1 and err.startswith("0x8008")


def test_an_unsigned_package_with_a_key_is_a_fleet_of_refusals(work: pathlib.Path) -> None:
    code, rep, _ = broadcast(work, "--meters", 3, "--trusted-key", work / "pub.pem",
                             pkg="unsigned.pkg")
    assert code == 1
    # Its header announces a trailer the frames do not carry: refused at the header.
    assert {f["code"] for f in rep["failed"]} == {"0x8008"}
    assert rep["outcome"]["refused"] == 3
