"""The ``meteremu`` command.

Each subcommand is one ``_add_<name>`` function that declares its arguments
and sets ``handler`` to its ``_run_<name>``; :data:`COMMANDS` lists them in
help order, so a new command is one pair of functions and one line there.

Exit status: 0 success; 1 the package failed a check (the one-line error
names the code, e.g. ``0xE04 signature verification failed: ...``); 2 usage,
configuration or key file errors, argument errors included. Every failure is
one line on stderr, never a traceback for bad input. Numeric options are
range-checked against the field they fill (``--vendor-id`` 32 bits, ...),
ASCII digits only. Output files are written atomically (temporary file, then
rename) and only after every check has passed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pathlib
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from . import __version__
from .errors import (
    ConfigError,
    KeyFileError,
    PackageError,
    UsageError,
    short_repr,
)

__all__ = ["COMMANDS", "main"]

PROG = "meteremu"


# ---------------------------------------------------------------------------
# helpers

U16, U32 = 0xFFFF, 0xFFFFFFFF

# ASCII only: int() and float() also read other scripts' digits ("\u0661" is 1).
_INT = re.compile(r"\s*([+-]?)(?:0[xX]([0-9A-Fa-f]+)|([0-9]+))\s*", re.ASCII)
_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def _uint(low: int, high: int) -> Callable[[str], int]:
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


def _probability(text: str) -> float:
    """An argparse ``type`` for ``--loss``: a decimal number, 0 <= p < 1."""
    value = float(text) if _FLOAT.fullmatch(text) else math.nan
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a number in 0..1, below 1 (1 would lose every frame), "
            f"not {short_repr(text)}"
        )
    return value


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _read(path: str, what: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _passphrase(path: str | None) -> bytes | None:
    """First line of the file, as ``openssl -passin file:`` reads it."""
    if path is None:
        return None
    lines = _read(path, "passphrase file").splitlines()
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


def _public_keys(paths: Sequence[str] | None) -> list[bytes]:
    from .keys import load_public_key_file

    return [load_public_key_file(p) for p in paths or ()]


def _err(text: str) -> None:
    print(one_line(f"{PROG}: {text}"), file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, keeping the CLI's promise for argument errors too: one line, exit 2.

    (argparse itself prints the whole usage, then the error.) Subcommand
    parsers are made of the same class.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, one_line(f"{self.prog}: {message} (see {self.prog} --help)") + "\n")


# ---------------------------------------------------------------------------
# keygen


def _add_keygen(sub: Any) -> None:
    p = sub.add_parser(
        "keygen",
        help="make a P-256 signing key (PEM, as OpenSSL writes it)",
        description="Generate a P-256 (prime256v1) private key, PKCS#8 PEM by default.",
    )
    p.add_argument("--out", required=True, metavar="KEY.pem", help="private key file")
    p.add_argument("--pub", metavar="PUB.pem", help="also write the public key (SPKI PEM)")
    p.add_argument("--sec1", action="store_true",
                   help="write SEC1 'EC PRIVATE KEY' PEM instead of PKCS#8")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help="encrypt the key (PKCS#8) with the first line of FILE")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(handler=_run_keygen)


def _run_keygen(args: argparse.Namespace) -> int:
    from .crypto import key_id
    from .keys import generate_private_key, private_key_pem, public_key_pem, public_point

    for path in (args.out, args.pub):
        if path and os.path.exists(path) and not args.force:
            raise UsageError(f"{path} exists; use --force to overwrite it")
    if args.sec1 and args.passphrase_file:
        raise UsageError("--sec1 cannot be encrypted portably; drop --sec1 to encrypt (PKCS#8)")
    key = generate_private_key()
    pem = private_key_pem(key, _passphrase(args.passphrase_file), pkcs8=not args.sec1)
    write_atomic(args.out, pem, mode=0o600)
    if args.pub:
        write_atomic(args.pub, public_key_pem(key))
    print(f"wrote {args.out}; key ID {key_id(public_point(key)).hex()}")
    return 0


# ---------------------------------------------------------------------------
# package


def _add_package(sub: Any) -> None:
    p = sub.add_parser(
        "package",
        help="wrap a firmware image into a package (signed with --key, else unsigned)",
        description=(
            "Build a package from FIRMWARE and config.json. With --key it is signed. "
            "Without --key the output is the unsigned package -- the exact bytes to sign "
            "(openssl dgst -sha256 -sign KEY -out SIG OUT.pkg) -- and --pubkey is "
            "required, because the signer's key ID is part of the signed header."
        ),
    )
    p.add_argument("firmware", metavar="FIRMWARE", help="the firmware image (binary)")
    p.add_argument("--config", required=True, metavar="config.json",
                   help="vendor_id, hw_revision, version, security_counter, fragment_size, "
                   "optional packet_count, behaviour, trailer_size (docs/FORMAT.md)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.pkg")
    p.add_argument("--key", metavar="KEY.pem", help="sign with this private key")
    p.add_argument("--passphrase-file", metavar="FILE", help="passphrase of an encrypted --key")
    p.add_argument("--pubkey", metavar="PUB.pem",
                   help="signer's public key; required without --key (fills the key ID)")
    p.set_defaults(handler=_run_package)


def _run_package(args: argparse.Namespace) -> int:
    from .crypto import key_id
    from .keys import load_private_key_file, public_point
    from .package import BANK_SIZE_DEFAULT, attach_signature, build_unsigned, load_config, sign

    if args.key is None and args.pubkey is None:
        raise UsageError(
            "package: without --key, --pubkey PUB.pem is required: the signer's key ID "
            "goes into the header, which the signature covers"
        )
    if args.passphrase_file and not args.key:
        raise UsageError("package: --passphrase-file only goes with --key")
    config = load_config(args.config)
    image = _read(args.firmware, "firmware")
    key = load_private_key_file(args.key, _passphrase(args.passphrase_file)) if args.key else None
    point = None if key is None else public_point(key)
    if args.pubkey:
        (pub,) = _public_keys([args.pubkey])
        if point is not None and pub != point:
            raise UsageError(f"package: {args.pubkey} is not the public key of {args.key}")
        point = pub
    assert point is not None  # --key or --pubkey, checked above
    kid = key_id(point)
    unsigned = build_unsigned(image, config, kid)
    out = unsigned if key is None else attach_signature(unsigned, sign(unsigned, key))
    total = len(unsigned) + config.trailer_size
    if total > BANK_SIZE_DEFAULT:
        _err(f"warning: the package takes {total} bytes, more than a default "
             f"{BANK_SIZE_DEFAULT}-byte bank; such meters refuse it (0x9002)")
    write_atomic(args.out, out)
    state = "signed" if key is not None else (
        f"unsigned; sign it with: openssl dgst -sha256 -sign KEY.pem -out SIG {args.out}")
    print(f"wrote {args.out}: {len(out)} bytes, {config.fragment_count(len(image))} fragments "
          f"of {config.fragment_size}, key ID {kid.hex()}, {state}")
    return 0


# ---------------------------------------------------------------------------
# attach-signature


def _add_attach(sub: Any) -> None:
    p = sub.add_parser(
        "attach-signature",
        help="append a signature (DER from openssl, or raw r||s) to an unsigned package",
    )
    p.add_argument("unsigned", metavar="UNSIGNED.pkg")
    p.add_argument("signature", metavar="SIG", help="DER (openssl dgst -sign) or raw 64 bytes")
    p.add_argument("-o", "--out", required=True, metavar="OUT.pkg")
    p.add_argument("--pubkey", action="append", metavar="PUB.pem",
                   help="refuse a signature that does not verify with this key (repeatable)")
    p.set_defaults(handler=_run_attach)


def _run_attach(args: argparse.Namespace) -> int:
    from .package import attach_signature

    unsigned = _read(args.unsigned, "package")
    signature = _read(args.signature, "signature")
    keys = _public_keys(args.pubkey)
    out = attach_signature(unsigned, signature, keys)
    write_atomic(args.out, out)
    checked = "verified" if keys else "not verified (no --pubkey)"
    print(f"wrote {args.out}: {len(out)} bytes, signature {checked}")
    return 0


# ---------------------------------------------------------------------------
# inspect


def _add_inspect(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show every header field, sizes, digests, signature")
    p.add_argument("package", metavar="PKG")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    from .package import describe

    info = describe(_read(args.package, "package"))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for section, values in info.items():
        print(f"{section}:")
        width = max(len(k) for k in values)
        for k, v in values.items():
            print(f"  {k:<{width}}  {'-' if v is None else v}")
    return 0


# ---------------------------------------------------------------------------
# verify


def _add_verify(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="run the meter's acceptance check (C core) on a package",
        description="Exit 0 when a meter with these settings would accept the package; "
        "else exit 1 with one line: the error code, its name and the detail.",
    )
    p.add_argument("package", metavar="PKG")
    p.add_argument("--pubkey", action="append", required=True, metavar="PUB.pem",
                   help="a key the meter trusts (repeatable, up to 4)")
    p.add_argument("--vendor-id", type=_uint(0, U32), metavar="N",
                   help="the meter's vendor ID (32 bits)")
    p.add_argument("--hw-revision", type=_uint(0, U16), metavar="N",
                   help="the meter's hardware revision (16 bits)")
    p.add_argument("--min-security-counter", type=_uint(0, U32), default=0, metavar="N",
                   help="the installed image's security counter (32 bits, default 0)")
    p.add_argument("--bank-size", type=_uint(1, U32), metavar="BYTES",
                   help="bank size, 1..2^32-1 (default 131072, 128 KiB)")
    p.set_defaults(handler=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from .package import BANK_SIZE_DEFAULT, verify

    data = _read(args.package, "package")
    keys = _public_keys(args.pubkey)
    header = verify(
        data,
        keys,
        vendor_id=args.vendor_id,
        hw_revision=args.hw_revision,
        min_security_counter=args.min_security_counter,
        bank_size=BANK_SIZE_DEFAULT if args.bank_size is None else args.bank_size,
    )
    print(f"OK: {args.package} would be accepted (key ID {header['key_id'].hex()}, "
          f"security counter {header['security_counter']})")
    return 0


# ---------------------------------------------------------------------------
# demo


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole update story against one virtual meter, no arguments needed",
        description="Key, image, signed package, fragments over a lossy mesh link, digest "
        "check, activation, heartbeat; then a no-heartbeat image that rolls back on its own. "
        "Exit 0 when both end as they should.",
    )
    p.add_argument("--seed", type=_uint(0, U32), default=0,
                   help="seed of the lossy link, 0..2^32-1 (default 0)")
    p.add_argument("--loss", type=_probability, default=0.1,
                   help="frame loss probability, 0 <= P < 1 (0.1)")
    p.add_argument("--plain", action="store_true", help="plain text, no rich output")
    p.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(seed=args.seed, loss=args.loss, plain=args.plain)


# ---------------------------------------------------------------------------

COMMANDS: tuple[Callable[[Any], None], ...] = (
    _add_keygen,
    _add_package,
    _add_attach,
    _add_inspect,
    _add_verify,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="meteremu: a virtual smart meter for FOTA update rehearsal."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meteremu`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's exit
        return status
    except PackageError as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return 1
    except ConfigError as exc:
        _err(f"{args.command}: {exc}")
        return 2
    except (KeyFileError, UsageError) as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`meteremu inspect x | head`)
        # Point stdout at /dev/null so the interpreter's last flush stays quiet too.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by it


if __name__ == "__main__":
    sys.exit(main())
