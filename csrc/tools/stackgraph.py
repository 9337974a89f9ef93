"""Worst-case stack depth from GCC's call-graph dumps.

GCC's ``-fstack-usage -fcallgraph-info=su`` writes, per translation unit (or
per LTO partition when given at an LTO link), a ``.ci`` file: one node per
function with its frame size, one edge per call. The deepest chain from a
root is the sum of the frames along the heaviest path. Every frame must be
static (a dynamic one has no bound), there must be no recursion, and no
indirect call unless the caller is named as one whose indirect call leaves
the stack behind (a bootloader's jump into the image, which starts on the
image's own stack).

Shared by tests/test_ram.py (the host build's verification stack) and
csrc/firmware/size.py (the Cortex-M4 links). Standard library only.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterable, Mapping

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_BYTES = re.compile(r"\\n(\d+) bytes \((static|dynamic[^)]*)\)")

INDIRECT = "__indirect_call"

Frames = dict[str, int]
Calls = dict[str, set[str]]


class StackError(Exception):
    """The call graph has no bound: a dynamic frame, recursion, an indirect call."""


def read_graph(paths: Iterable[pathlib.Path]) -> tuple[Frames, Calls]:
    """Frame sizes and calls from .ci files, keyed by node title ("unit:function")."""
    frames: Frames = {}
    calls: Calls = {}
    for ci in paths:
        text = ci.read_text()
        for title, label in _NODE.findall(text):
            m = _BYTES.search(label)
            if m is None:
                continue  # a declaration of a function defined elsewhere
            if m.group(2) != "static":
                raise StackError(f"{title}: dynamic stack ({m.group(2)})")
            frames[title] = int(m.group(1))
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    return frames, calls


def short(title: str) -> str:
    """The function's name without its unit."""
    return title.rsplit(":", 1)[-1]


def shown(chain: list[str]) -> list[str]:
    """A chain without GCC's clones and LTO's renames (``f.part.0`` right after ``f``)."""
    out: list[str] = []
    for name in chain:
        base = name.split(".", 1)[0]
        if not out or out[-1] != base:
            out.append(base)
    return out


_LTO_PRIV = re.compile(r"\.lto_priv\.\d+$")


def resolver(frames: Frames):
    """Maps a call's target to the node it runs: the title itself, or by name
    (calls across units). An LTO-private copy of a static inline function that
    identical code folding merged into another copy keeps its callers' edges
    but has no node of its own: it runs the other copy's code, so it resolves
    to the copy of that function with the largest frame. Anything else (a
    library function) resolves to itself, without a node."""
    by_name: dict[str, str] = {}
    by_base: dict[str, str] = {}
    for title in frames:
        name = short(title)
        by_name.setdefault(name, title)
        base = _LTO_PRIV.sub("", name)
        if base != name and (base not in by_base or frames[title] > frames[by_base[base]]):
            by_base[base] = title

    def resolve(target: str) -> str:
        if target in frames:
            return target
        name = short(target)
        if name in by_name:
            return by_name[name]
        base = _LTO_PRIV.sub("", name)
        return by_base.get(base, target) if base != name else target

    return resolve


def external_calls(frames: Frames, calls: Calls) -> set[str]:
    """Call targets with no node (library functions), by name."""
    resolve = resolver(frames)
    return {target for targets in calls.values() for target in targets
            if target != INDIRECT and resolve(target) not in frames}


def deepest(frames: Frames, calls: Calls, root: str, through: str | None = None,
            external: Mapping[str, int] | None = None,
            leaves_stack: Iterable[str] = ()) -> tuple[int, list[str]]:
    """The heaviest chain from ``root`` (optionally one passing ``through``).

    ``external``: frames of functions without a node (library code, measured
    elsewhere), counted as leaves; any other call without a node (memcpy on
    the host) is not counted. ``leaves_stack``: functions whose indirect call
    leaves this stack for good.
    """
    external = dict(external or {})
    allowed = set(leaves_stack)
    resolve = resolver(frames)

    def walk(node: str, seen: tuple[str, ...], need: str | None) -> tuple[int, list[str]] | None:
        if node in seen:
            raise StackError(f"recursion: {' -> '.join((*seen, node))}")
        name = short(node)
        if need is not None and name == need:
            need = None
        best: tuple[int, list[str]] | None = None
        for callee in sorted(calls.get(node, ())):  # ties: the first by name, every run
            if callee == INDIRECT:
                if name.split(".", 1)[0] in allowed:
                    continue
                raise StackError(f"indirect call in {name}: the chain cannot be bounded")
            target = resolve(callee)
            if target in frames:
                sub = walk(target, (*seen, node), need)
            elif callee in external and need is None:
                sub = (external[callee], [callee])
            else:
                continue  # a library call with no frame given
            if sub is not None and (best is None or sub[0] > best[0]):
                best = sub
        if best is None:
            return None if need is not None else (frames[node], [name])
        return frames[node] + best[0], [name, *best[1]]

    result = walk(resolve(root), (), through)
    if result is None:
        raise StackError(f"no chain from {root} through {through}")
    return result
