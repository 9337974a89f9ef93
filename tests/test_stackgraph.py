"""The stack-depth walk shared by tests/test_ram.py and csrc/firmware/size.py, on made-up graphs."""

from __future__ import annotations

import pathlib
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SG = runpy.run_path(str(ROOT / "csrc" / "tools" / "stackgraph.py"))


def node(title: str, size: int, kind: str = "static") -> str:
    return f'node: {{ title: "{title}" label: "{title}\\nf.c:1:1\\n{size} bytes ({kind})" }}'


def edge(src: str, dst: str) -> str:
    return f'edge: {{ sourcename: "{src}" targetname: "{dst}" label: "f.c:2:3" }}'


def graph(tmp_path: pathlib.Path, *lines: str) -> tuple[dict, dict]:
    ci = tmp_path / "g.ci"
    ci.write_text("graph: { title: \"g\"\n" + "\n".join(lines) + "\n}\n")
    return SG["read_graph"]([ci])


def test_heaviest_chain_and_through(tmp_path: pathlib.Path) -> None:
    frames, calls = graph(
        tmp_path, node("u:root", 10), node("u:a", 100), node("u:b", 40), node("u:c", 5),
        edge("u:root", "u:a"), edge("u:root", "u:b"), edge("u:b", "u:c"), edge("u:a", "memcpy"))
    assert SG["deepest"](frames, calls, "root") == (110, ["root", "a"])
    assert SG["deepest"](frames, calls, "root", through="c") == (55, ["root", "b", "c"])
    # a library leaf counts when its frame is given
    assert SG["deepest"](frames, calls, "root", external={"memcpy": 16}) == (
        126, ["root", "a", "memcpy"])
    assert SG["external_calls"](frames, calls) == {"memcpy"}


def test_lto_copy_merged_by_icf_resolves_to_a_copy(tmp_path: pathlib.Path) -> None:
    # f.lto_priv.1 was folded into f.lto_priv.0: edges name it, no node does
    frames, calls = graph(
        tmp_path, node("t:root", 8), node("t:f.lto_priv.0", 64), node("t:g", 1),
        edge("t:root", "t:f.lto_priv.1"), edge("t:g", "t:f.lto_priv.0"))
    assert SG["deepest"](frames, calls, "root") == (72, ["root", "f.lto_priv.0"])
    assert SG["external_calls"](frames, calls) == set()
    assert SG["shown"](["root", "f.lto_priv.0", "f"]) == ["root", "f"]


def test_unbounded_graphs_are_refused(tmp_path: pathlib.Path) -> None:
    frames, calls = graph(tmp_path, node("u:r", 1), node("u:s", 1), edge("u:r", "u:s"),
                          edge("u:s", "u:r"))
    with pytest.raises(SG["StackError"], match="recursion"):
        SG["deepest"](frames, calls, "r")
    frames, calls = graph(tmp_path, node("u:r", 1), node("u:jump", 4), edge("u:r", "u:jump"),
                          edge("u:jump", "__indirect_call"))
    with pytest.raises(SG["StackError"], match="indirect call in jump"):
        SG["deepest"](frames, calls, "r")
    # a jump that leaves this stack for good (the bootloader's into the image)
    assert SG["deepest"](frames, calls, "r", leaves_stack=["jump"]) == (5, ["r", "jump"])
    with pytest.raises(SG["StackError"], match="dynamic"):
        graph(tmp_path, node("u:alloca", 8, "dynamic,bounded"))
