"""RAM budget of one meter's C working state (SPEC section 2: 16 KiB, the seed's figure).

Two parts, printed so that the figures show in CI logs:

* the structs a meter holds for its whole life, by ``ffi.sizeof`` (what the
  compiled core really uses): flash model, reassembler, bootloader (its config,
  boot-control record copy, running header and per-bank verification cache),
  the trusted-key table;
* the stack peak of verification: every C source of the core compiled with
  ``-fstack-usage -fcallgraph-info=su`` (GCC), the frames summed along the
  deepest call chain from ``mt_boot_start`` (through ``mt_image_check`` into
  ECDSA verification and SHA-256). The structs verification builds on the
  stack (policy, SHA-256 contexts, header, signature) are in those frames.

The sum must stay within 16 KiB. The stack part is skipped, saying why, when
there is no GCC able to write call-graph info.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from meteremu._lowlevel import ffi

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
BUDGET = 16 * 1024
MAX_KEYS = 4

#: What one meter keeps in RAM for its whole life (count of each).
HELD = {
    "mt_flash": 1,
    "mt_reasm": 1,
    "mt_boot": 1,
    "mt_image_key": MAX_KEYS,  # the trusted-key table mt_boot_config.keys points to
}
#: Built on the stack during verification (in the frames measured below), for the table.
ON_STACK = ("mt_image_policy", "mt_sha256_ctx", "mt_pkg_header", "mt_pkg_signature",
            "mt_p256_pubkey", "mt_image_cache", "mt_boot_record")


def held_bytes() -> int:
    return sum(ffi.sizeof(name) * n for name, n in HELD.items())


def _compiler() -> str | None:
    for cc in ("gcc", "cc"):
        path = shutil.which(cc)
        if path is None:
            continue
        probe = subprocess.run([path, "--version"], capture_output=True, text=True)
        if "gcc" in probe.stdout.lower() or "free software foundation" in probe.stdout.lower():
            return path
    return None


_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_BYTES = re.compile(r"\\n(\d+) bytes \((static|dynamic[^)]*)\)")


def call_graph(out: pathlib.Path, cc: str) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Compile every core source; return frame sizes and calls, keyed by function."""
    sources = [s.strip() for s in (CSRC / "sources.txt").read_text().splitlines()
               if s.strip() and not s.startswith("#")]
    for src in sources:
        subprocess.run(
            [cc, "-std=c99", "-O2", "-I", str(CSRC), "-fstack-usage", "-fcallgraph-info=su",
             "-c", str(CSRC / src), "-o", str(out / (src[:-2] + ".o"))],
            check=True, cwd=out, capture_output=True)
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    for ci in out.glob("*.ci"):
        text = ci.read_text()
        for title, label in _NODE.findall(text):
            m = _BYTES.search(label)
            if m is None:
                continue  # a declaration of a function defined elsewhere
            assert m.group(2) == "static", f"{title}: dynamic stack ({m.group(2)})"
            frames[title] = int(m.group(1))
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    return frames, calls


def deepest(frames: dict[str, int], calls: dict[str, set[str]], root: str,
            through: str | None = None) -> tuple[int, list[str]]:
    """The heaviest chain from ``root`` (optionally one passing ``through``)."""
    by_name: dict[str, str] = {}
    for title in frames:
        by_name.setdefault(title.rsplit(":", 1)[-1], title)

    def resolve(name: str) -> str:
        if name in frames:
            return name
        assert name != "__indirect_call", "indirect call: the chain cannot be bounded"
        return by_name.get(name, name)  # a library call (memcpy, ...) has no node

    def walk(node: str, seen: tuple[str, ...], need: str | None) -> tuple[int, list[str]] | None:
        assert node not in seen, f"recursion: {' -> '.join((*seen, node))}"
        short = node.rsplit(":", 1)[-1]
        if need is not None and short == need:
            need = None
        best: tuple[int, list[str]] | None = None
        for callee in calls.get(node, ()):
            target = resolve(callee)
            if target not in frames:
                continue
            sub = walk(target, (*seen, node), need)
            if sub is not None and (best is None or sub[0] > best[0]):
                best = sub
        if best is None:
            return None if need is not None else (frames[node], [short])
        return frames[node] + best[0], [short, *best[1]]

    result = walk(resolve(root), (), through)
    assert result is not None, f"no chain from {root} through {through}"
    return result


def test_ram_budget(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(name, ffi.sizeof(name), n) for name, n in HELD.items()]
    held = held_bytes()
    with capsys.disabled():
        print("\nper-meter C state (held for the meter's life):")
        for name, size, n in rows:
            print(f"  {name:<18} {size:6d} B x {n} = {size * n:6d} B")
        print(f"  {'total':<18} {held:6d} B")
        print("on the verification stack: " + ", ".join(
            f"{name} {ffi.sizeof(name)} B" for name in ON_STACK))
    assert ffi.sizeof("mt_boot") >= 3 * ffi.sizeof("mt_image_cache")
    assert held < BUDGET

    cc = _compiler()
    if cc is None:
        pytest.skip("no GCC to measure the verification stack (-fcallgraph-info); "
                    f"struct state alone: {held} B")
    frames, calls = call_graph(tmp_path, cc)
    peak, chain = deepest(frames, calls, "mt_boot_start")
    verify, vchain = deepest(frames, calls, "mt_boot_start", through="mt_ecdsa_verify_der")
    assert "mt_image_check" in vchain
    with capsys.disabled():
        print(f"verification stack, deepest chain from mt_boot_start: {peak} B")
        print("  " + " -> ".join(chain))
        print(f"  through ECDSA (DER): {verify} B: " + " -> ".join(vchain))
        print(f"RAM total: {held} B state + {peak} B stack = {held + peak} B "
              f"of {BUDGET} B ({100 * (held + peak) / BUDGET:.0f} %)")
    assert peak >= verify > 0
    assert held + peak <= BUDGET
