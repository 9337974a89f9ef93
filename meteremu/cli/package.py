"""The package commands: ``keygen``, ``package``, ``attach-signature``, ``inspect``, ``verify``.

Each subcommand is one ``_add_<name>`` function that declares its arguments
and sets ``handler`` to its ``_run_<name>``; :data:`COMMANDS` lists them in
help order. Exit codes and shared helpers: :mod:`.common`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..errors import UsageError
from .common import U16, U32, passphrase, public_keys, read_file, uint, warn, write_atomic

__all__ = ["COMMANDS"]


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
    from ..crypto import key_id
    from ..keys import generate_private_key, private_key_pem, public_key_pem, public_point

    for path in (args.out, args.pub):
        if path and os.path.exists(path) and not args.force:
            raise UsageError(f"{path} exists; use --force to overwrite it")
    if args.sec1 and args.passphrase_file:
        raise UsageError("--sec1 cannot be encrypted portably; drop --sec1 to encrypt (PKCS#8)")
    key = generate_private_key()
    pem = private_key_pem(key, passphrase(args.passphrase_file), pkcs8=not args.sec1)
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
    from ..crypto import key_id
    from ..keys import load_private_key_file, public_point
    from ..package import BANK_SIZE_DEFAULT, attach_signature, build_unsigned, load_config, sign

    if args.key is None and args.pubkey is None:
        raise UsageError(
            "package: without --key, --pubkey PUB.pem is required: the signer's key ID "
            "goes into the header, which the signature covers"
        )
    if args.passphrase_file and not args.key:
        raise UsageError("package: --passphrase-file only goes with --key")
    config = load_config(args.config)
    image = read_file(args.firmware, "firmware")
    key = load_private_key_file(args.key, passphrase(args.passphrase_file)) if args.key else None
    point = None if key is None else public_point(key)
    if args.pubkey:
        (pub,) = public_keys([args.pubkey])
        if point is not None and pub != point:
            raise UsageError(f"package: {args.pubkey} is not the public key of {args.key}")
        point = pub
    assert point is not None  # --key or --pubkey, checked above
    kid = key_id(point)
    unsigned = build_unsigned(image, config, kid)
    out = unsigned if key is None else attach_signature(unsigned, sign(unsigned, key))
    total = len(unsigned) + config.trailer_size
    if total > BANK_SIZE_DEFAULT:
        warn(f"warning: the package takes {total} bytes, more than a default "
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
    from ..package import attach_signature

    unsigned = read_file(args.unsigned, "package")
    signature = read_file(args.signature, "signature")
    keys = public_keys(args.pubkey)
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
    from ..package import describe

    info = describe(read_file(args.package, "package"))
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
    p.add_argument("--vendor-id", type=uint(0, U32), metavar="N",
                   help="the meter's vendor ID (32 bits)")
    p.add_argument("--hw-revision", type=uint(0, U16), metavar="N",
                   help="the meter's hardware revision (16 bits)")
    p.add_argument("--min-security-counter", type=uint(0, U32), default=0, metavar="N",
                   help="the installed image's security counter (32 bits, default 0)")
    p.add_argument("--bank-size", type=uint(1, U32), metavar="BYTES",
                   help="bank size, 1..2^32-1 (default 131072, 128 KiB)")
    p.set_defaults(handler=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from ..package import BANK_SIZE_DEFAULT, verify

    data = read_file(args.package, "package")
    keys = public_keys(args.pubkey)
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


COMMANDS = (_add_keygen, _add_package, _add_attach, _add_inspect, _add_verify)
