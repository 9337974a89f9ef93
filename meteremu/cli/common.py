"""What every ``meteremu`` command shares: exit codes, argument types, file helpers.

Exit status, the same for every command (documented once, here and in the
README):

* 0 -- success;
* 1 -- a package failed a check (the one-line error names the code, e.g.
  ``0xE04 signature verification failed: ...``), or a meter refused a
  request (``meteremu dlms``: the request, its DLMS result, and the FOTA
  code first when there is one); for ``mesh broadcast``, some meter of the
  group did not end complete (refused, pending or incomplete: the report
  says which); for ``campaign``, the campaign ended with meters that did
  not take the package, or the policy paused it; for ``demo``, the fleet
  did not end healthy;
* 2 -- usage, configuration or key file errors, argument errors included;
  for ``meteremu dlms`` also a meter that cannot be reached, does not
  answer in time, or closes the connection;
* 130 -- interrupted (Ctrl-C) where a command does not handle it itself
  (``meteremu serve`` does: Ctrl-C and SIGTERM stop it cleanly, exit 0);
* 141 -- the reader of stdout went away (``meteremu inspect x | head``).

Every failure is one line on stderr, never a traceback for bad input.
Numeric options are range-checked against the field they fill
(``--vendor-id`` 32 bits, ...), ASCII digits only. Output files are written
atomically (temporary file, then rename) and only after every check has
passed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..errors import UsageError, short_repr

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "PROG",
    "U16",
    "U32",
    "Parser",
    "number",
    "one_line",
    "passphrase",
    "probability",
    "public_keys",
    "read_file",
    "uint",
    "warn",
    "write_atomic",
]

PROG = "meteremu"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141

U16, U32 = 0xFFFF, 0xFFFFFFFF

# ASCII only: int() and float() also read other scripts' digits ("\u0661" is 1).
_INT = re.compile(r"\s*([+-]?)(?:0[xX]([0-9A-Fa-f]+)|([0-9]+))\s*", re.ASCII)
_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def uint(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: decimal or 0x-prefixed hexadecimal, in ``low..high``."""

    def parse(text: str) -> int:
        m = _INT.fullmatch(text)
        # Longer than any value in range: out of it, and int() stops at 4300 digits.
        digits = (m.group(2) or m.group(3)).lstrip("0") if m else ""
        if m and len(digits) <= len(str(high)):
            value = int(m.group(1) + (digits or "0"), 16 if m.group(2) else 10)
            if low <= value <= high:
                return value
        raise argparse.ArgumentTypeError(
            f"must be an integer {low}..{high} (decimal or 0x hex), not {short_repr(text)}"
        )

    return parse


def probability(text: str) -> float:
    """An argparse ``type`` for ``--loss``: a decimal number, 0 <= p < 1."""
    value = float(text) if _FLOAT.fullmatch(text) else math.nan
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a number in 0..1, below 1 (1 would lose every frame), "
            f"not {short_repr(text)}"
        )
    return value


def number(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type``: a decimal number in ``low..high`` (ASCII digits only)."""

    def parse(text: str) -> float:
        value = float(text) if _FLOAT.fullmatch(text) else math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a number {low:g}..{high:g}, not {short_repr(text)}")
        return value

    return parse


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def read_file(path: str, what: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def passphrase(path: str | None) -> bytes | None:
    """First line of the file, as ``openssl -passin file:`` reads it."""
    if path is None:
        return None
    lines = read_file(path, "passphrase file").splitlines()
    if not lines or not lines[0]:
        raise UsageError(f"passphrase file {path} is empty")
    return lines[0]


def write_atomic(path: str | pathlib.Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename.

    A reader never sees a half-written file, and a failure leaves no file behind.
    """
    target = pathlib.Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def public_keys(paths: Sequence[str] | None) -> list[bytes]:
    from ..keys import load_public_key_file

    return [load_public_key_file(p) for p in paths or ()]


def warn(text: str) -> None:
    print(one_line(f"{PROG}: {text}"), file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse, keeping the CLI's promise for argument errors too: one line, exit 2.

    (argparse itself prints the whole usage, then the error.) Subcommand
    parsers are made of the same class.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, one_line(f"{self.prog}: {message} (see {self.prog} --help)") + "\n")


