#!/usr/bin/env python3
"""Flash, RAM and worst stack of the Cortex-M4 firmware links, against the meter's budgets.

Reads what ``make -C csrc firmware`` leaves in build/fw-<profile>/: for each
program (boot: the bootloader alone; core: the whole core, reassembly
included) the ELF, and GCC's stack and call-graph dumps of the linked code
(``-fstack-usage -fcallgraph-info=su`` at the LTO link, one partition: the
frames of the code as linked, after inlining).

  flash = text + data (code, constants, the initial values of .data)
  RAM   = data + bss (the program's state) + the worst stack

The worst stack is the heaviest call chain from Reset_Handler (the same walk
as tests/test_ram.py: csrc/tools/stackgraph.py) plus what the chain calls in
newlib (memcpy, memset, ...: leaf functions whose prologue the disassembly
shows) plus one exception entry (8 words: a fault taken at the deepest
point). The jump into the image (fw_jump) leaves this stack: the image starts
on its own. The link reserves fw_stack_size for the stack (meter.ld); the
worst case must fit it.

Budgets (the small profile; the fast one is reported, not judged):
  boot  flash <= 16 KiB, RAM <= 8 KiB
  core  flash <= 24 KiB, RAM <= 8 KiB

Usage: python3 csrc/firmware/size.py [--check] [--markdown] BUILD_DIR...
--check exits 1 when a budget or the stack reserve is exceeded; --markdown
prints the table as docs/FIRMWARE.md shows it. Standard library only.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass

HERE = pathlib.Path(__file__).resolve().parent
STACKGRAPH = runpy.run_path(str(HERE.parent / "tools" / "stackgraph.py"))

KIB = 1024
#: (profile, program) -> (flash budget, RAM budget), bytes
BUDGETS = {
    ("small", "boot"): (16 * KIB, 8 * KIB),
    ("small", "core"): (24 * KIB, 8 * KIB),
}
PROGRAMS = ("boot", "core")
ROOT = "Reset_Handler"
LEAVES_STACK = ("fw_jump",)
EXCEPTION_FRAME = 32  # r0-r3, r12, lr, pc, xPSR pushed on exception entry (no FPU)


@dataclass
class Link:
    profile: str
    program: str
    text: int
    data: int
    bss: int
    stack: int            # worst chain + library leaves + exception entry
    chain: list[str]
    reserve: int          # fw_stack_size

    @property
    def flash(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss + self.stack

    def budgets(self) -> tuple[int, int] | None:
        return BUDGETS.get((self.profile, self.program))

    def failures(self) -> list[str]:
        out = []
        budget = self.budgets()
        if budget is not None:
            if self.flash > budget[0]:
                out.append(f"flash {self.flash} B > {budget[0]} B")
            if self.ram > budget[1]:
                out.append(f"RAM {self.ram} B > {budget[1]} B")
        if self.stack > self.reserve:
            out.append(f"stack {self.stack} B > the {self.reserve} B meter.ld reserves")
        return out


def tool(prefix: str, name: str, *args: str) -> str:
    return subprocess.run([prefix + name, *args], check=True, capture_output=True,
                          text=True).stdout


def berkeley(prefix: str, elf: pathlib.Path) -> tuple[int, int, int]:
    line = tool(prefix, "size", str(elf)).splitlines()[1].split()
    return int(line[0]), int(line[1]), int(line[2])


def symbol(prefix: str, elf: pathlib.Path, name: str) -> int:
    for line in tool(prefix, "nm", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise SystemExit(f"{elf}: no symbol {name}")


_FUNC = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_PUSH = re.compile(r"\b(?:push(?:\.w)?|stmdb(?:\.w)?\s+sp!,)\s*\{([^}]*)\}")
_SUB_SP = re.compile(r"\bsub(?:\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)")
_CALL = re.compile(r"\bbl\s")


def library_frames(prefix: str, elf: pathlib.Path, names: set[str]) -> dict[str, int]:
    """Stack use of library functions from their prologues (push, sub sp)."""
    bodies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in tool(prefix, "objdump", "-d", "--no-show-raw-insn", str(elf)).splitlines():
        m = _FUNC.match(line)
        if m:
            current = bodies.setdefault(m.group(1), []) if m.group(1) in names else None
        elif current is not None and line.strip():
            current.append(line)
    frames = {}
    for name, body in bodies.items():
        if any(_CALL.search(insn) for insn in body):
            raise SystemExit(f"{elf}: library function {name} calls further; not a leaf")
        size = 0
        for insn in body[:8]:
            push = _PUSH.search(insn)
            if push:
                size += 4 * len([r for r in push.group(1).split(",") if r.strip()])
            sub = _SUB_SP.search(insn)
            if sub:
                size += int(sub.group(1))
        frames[name] = size
    return frames


def measure(build: pathlib.Path, program: str, prefix: str) -> Link:
    elf = build / f"{program}.elf"
    if not elf.is_file():
        raise SystemExit(f"{elf} is missing: make -C csrc firmware")
    text, data, bss = berkeley(prefix, elf)
    frames, calls = STACKGRAPH["read_graph"](sorted(build.glob(f"{program}.*.ci")))
    if not frames:
        raise SystemExit(f"{build}: no call-graph dump for {program}")
    library = STACKGRAPH["external_calls"](frames, calls)
    external = library_frames(prefix, elf, library)
    missing = library - set(external)
    if missing:
        raise SystemExit(f"{elf}: no code for {sorted(missing)}")
    depth, chain = STACKGRAPH["deepest"](frames, calls, ROOT, external=external,
                                         leaves_stack=LEAVES_STACK)
    profile = build.name.removeprefix("fw-")
    return Link(profile, program, text, data, bss, depth + EXCEPTION_FRAME,
                STACKGRAPH["shown"](chain), symbol(prefix, elf, "fw_stack_size"))


def _n(v: int) -> str:
    return f"{v:,}"


def _budget(link: Link, index: int) -> str:
    b = link.budgets()
    return "-" if b is None else _n(b[index])


def _verdict(link: Link) -> str:
    if link.failures():
        return "FAIL"
    return "pass" if link.budgets() is not None else "info"


def table(links: list[Link]) -> str:
    head = ("profile", "program", "text", "data", "bss", "flash", "budget", "stack",
            "RAM", "budget", "result")
    rows = [(lk.profile, lk.program, _n(lk.text), _n(lk.data), _n(lk.bss), _n(lk.flash),
             _budget(lk, 0), _n(lk.stack), _n(lk.ram), _budget(lk, 1), _verdict(lk))
            for lk in links]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    lines.append("")
    for lk in links:
        lines.append(f"{lk.profile} {lk.program}: stack {lk.stack} B of {lk.reserve} B "
                     f"reserved (incl. {EXCEPTION_FRAME} B exception entry): "
                     + " -> ".join(lk.chain))
    return "\n".join(lines)


def markdown(links: list[Link]) -> str:
    lines = ["| profile | program | text | data | bss | flash (budget) | stack | "
             "RAM: data + bss + stack (budget) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for lk in links:
        b = lk.budgets()
        fb = f" ({_n(b[0])})" if b else ""
        rb = f" ({_n(b[1])})" if b else ""
        lines.append(f"| {lk.profile} | {lk.program} | {_n(lk.text)} | {_n(lk.data)} | "
                     f"{_n(lk.bss)} | **{_n(lk.flash)}**{fb} | {_n(lk.stack)} | "
                     f"**{_n(lk.ram)}**{rb} |")
    lines.append("")
    for lk in links:
        lines.append(f"- {lk.profile} {lk.program}, deepest stack: "
                     + " → ".join(f"`{name}`" for name in lk.chain))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", type=pathlib.Path, help="build/fw-<profile> directories")
    ap.add_argument("--check", action="store_true", help="exit 1 above a budget")
    ap.add_argument("--markdown", action="store_true", help="print the docs table")
    ap.add_argument("--prefix", default="arm-none-eabi-", help="binutils prefix")
    args = ap.parse_args(argv)
    links = [measure(build, program, args.prefix)
             for build in args.builds for program in PROGRAMS]
    if args.markdown:
        print(markdown(links))
    else:
        version = tool(args.prefix, "gcc", "--version").splitlines()[0]
        print(f"Cortex-M4 links ({version}; -Os, LTO, --gc-sections, newlib-nano); "
              "the seed's meter: 128 KiB flash, 16 KiB RAM")
        print(table(links))
    failed = [f"{lk.profile} {lk.program}: {why}" for lk in links for why in lk.failures()]
    for line in failed:
        print("over budget: " + line, file=sys.stderr)
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
