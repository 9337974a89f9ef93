"""The ``dlms`` command: a DLMS/COSEM client for meters on the TCP wrapper.

``meteremu dlms [--host H] [--port P] [--wport N] [--client 16|1]
[--password PW] SUBCOMMAND``, the subcommands being:

* ``read OBIS [--attribute N]`` -- one attribute (2 by default), seed step 5
  is ``meteremu dlms read 0.0.96.10.1.255``;
* ``method OBIS [--method N] [--params JSON]`` -- one method (1 by default),
  seed step 6 is ``meteremu dlms --password PW method 0.0.96.10.2.255
  --params '{"activate": true}'`` (the JSON mapping: :mod:`meteremu.hes.params`);
* ``push PKG`` -- a whole class 18 transfer with a progress bar, resuming
  where the meter stopped when it already holds part of the same image;
* ``objects`` -- the association's object list;
* ``status`` -- identity, firmware, boot state, image transfer, energy.

The client is 1 (management, Low Level Security) when a password is given
(``--password`` or ``$METEREMU_PASSWORD``), 16 (public) otherwise. Every
subcommand takes ``--json``: one JSON document on stdout, on refusals too.

Exit status: 0 done; 1 the meter refused (one line on stderr: the request,
the Data-Access-Result, what the meter shows about it, and the FOTA code
when there is one, first, as ``meteremu verify`` prints it); 2 usage or
connection errors (one line on stderr). See docs/DLMS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from ..errors import UsageError, short_repr
from .common import EXIT_OK, EXIT_REFUSED, U16, number, one_line, read_file, uint

__all__ = ["COMMANDS", "PASSWORD_ENV"]

PASSWORD_ENV = "METEREMU_PASSWORD"
CLASS_NAMES = {1: "Data", 3: "Register", 8: "Clock", 15: "Association LN",
               18: "Image transfer"}
_MODES = {0: "-", 1: "R", 2: "W", 3: "RW"}
_TRIAL = 3  # boot state: the new image runs on trial
_TRIAL_HINT = ("on trial: the next management association confirms it within the heartbeat "
               "window (meteremu dlms --password PW status)")


# ---------------------------------------------------------------------------
# arguments


def _obis(text: str) -> str:
    from ..device.cosem import obis_bytes, obis_str

    try:
        return obis_str(obis_bytes(text))
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"not an OBIS code: {short_repr(text)} (six dot-separated numbers 0..255, "
            "like 0.0.96.10.1.255)") from None


def _connection(p: argparse.ArgumentParser, *, here: bool) -> None:
    """The connection options; on the subcommands too (``here`` False: they
    override the group's only when given)."""
    d = (lambda v: v) if here else (lambda v: argparse.SUPPRESS)
    g = p.add_argument_group("connection")
    g.add_argument("--host", default=d("127.0.0.1"), help="the meter's address (127.0.0.1)")
    g.add_argument("--port", type=uint(1, U16), default=d(4059),
                   help="TCP port (4059, the DLMS/COSEM port)")
    g.add_argument("--wport", type=uint(1, 0x3FFF), default=d(1), metavar="N",
                   help="the meter's wPort: meter N of `serve --meters` (1)")
    g.add_argument("--client", type=uint(1, 0x7F), default=d(None), metavar="SAP",
                   help="client SAP: 16 public, 1 management (default: 1 with a password, "
                   "else 16)")
    g.add_argument("--password", default=d(None), metavar="PW",
                   help=f"the management client's LLS password (or ${PASSWORD_ENV})")
    g.add_argument("--timeout", type=number(0.1, 3600), default=d(10.0), metavar="S",
                   help="seconds to wait for each answer (10)")


def _subcommand(dsub: Any, name: str, **kw: Any) -> argparse.ArgumentParser:
    p = dsub.add_parser(name, **kw)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    _connection(p, here=False)
    return p


def _add_dlms(sub: Any) -> None:
    p = sub.add_parser(
        "dlms",
        help="a DLMS/COSEM client: read, method, push (class 18), objects, status",
        description="Talk to a meter over the DLMS/COSEM TCP wrapper (meteremu serve, or any "
        "meter): client 16 public, client 1 management with the LLS password. Exit 0 done, 1 "
        "the meter refused, 2 usage or connection errors. See docs/DLMS.md.",
    )
    _connection(p, here=True)
    dsub = p.add_subparsers(dest="dlms_command", metavar="SUBCOMMAND", required=True)

    r = _subcommand(dsub, "read", help="read one attribute (seed step 5: 0.0.96.10.1.255)",
                    description="Read attribute N (2) of an object.")
    r.add_argument("obis", type=_obis, metavar="OBIS")
    r.add_argument("--attribute", type=uint(1, 127), default=2, metavar="N",
                   help="attribute index (2, the value)")
    r.add_argument("--class-id", type=uint(0, U16), metavar="C",
                   help="class of an object outside the meteremu object table (else looked "
                   "up in the meter's object list)")
    r.set_defaults(handler=_run, action=_read)

    m = _subcommand(dsub, "method", help="invoke a method (seed step 6: activate)",
                    description="Invoke method N (1) of an object with a JSON parameter "
                    "typed by the object table: --params '{\"activate\": true}' or a plain "
                    "JSON value; a structure is a JSON array; strings are UTF-8 bytes, "
                    "\"hex:...\" raw bytes. See docs/DLMS.md.")
    m.add_argument("obis", type=_obis, metavar="OBIS")
    m.add_argument("--method", type=uint(1, 127), default=1, metavar="N",
                   help="method index (1)")
    m.add_argument("--params", metavar="JSON",
                   help="the parameter as JSON (default: integer 0 where the method takes "
                   "an integer)")
    m.add_argument("--class-id", type=uint(0, U16), metavar="C",
                   help="class of an object outside the meteremu object table")
    m.set_defaults(handler=_run, action=_method)

    u = _subcommand(dsub, "push", help="a whole class 18 image transfer, then activate",
                    description="Transfer a package by class 18 (0.0.44.0.0.255): initiate, "
                    "blocks, verify, activate. A meter that holds part of the same image "
                    "(same identifier and size) resumes from its first missing block "
                    "(attribute 4). Needs the management client (--password).")
    u.add_argument("package", metavar="PKG", help="the signed package (meteremu package)")
    u.add_argument("--identifier", metavar="ID",
                   help="image identifier (default: VERSION-<first 8 hex of its SHA-256>)")
    u.add_argument("--no-activate", action="store_true",
                   help="stop after a successful verification")
    u.add_argument("--force", action="store_true",
                   help="send a package that fails the local check too (to see the meter "
                   "refuse it)")
    u.add_argument("--plain", action="store_true", help="no progress bar")
    u.set_defaults(handler=_run, action=_push)

    o = _subcommand(dsub, "objects", help="the association's object list (0.0.40.0.0.255)",
                    description="List the objects the association shows, with this client's "
                    "access rights.")
    o.set_defaults(handler=_run, action=_objects)

    s = _subcommand(dsub, "status", help="identity, firmware, boot state, transfer, energy",
                    description="One read of what a head-end looks at: identity, firmware, "
                    "boot state, image transfer status, energy, clock. A management "
                    "association is also the heartbeat: it confirms an image on trial.")
    s.set_defaults(handler=_run, action=_status)


# ---------------------------------------------------------------------------
# running


def _password(args: argparse.Namespace) -> bytes | None:
    pw = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
    if pw is None:
        return None
    if not pw:
        raise UsageError("dlms: the password is empty")
    return pw.encode("utf-8")


def _session(args: argparse.Namespace) -> Any:
    from ..hes.session import MeterSession

    password = _password(args)
    client = args.client if args.client is not None else (1 if password else 16)
    if client != 16 and password is None:
        raise UsageError(f"dlms: client {client} needs --password (or ${PASSWORD_ENV})")
    return MeterSession(args.host, args.port, client_sap=client, server_sap=args.wport,
                        password=None if client == 16 else password, timeout=args.timeout)


def _emit(args: argparse.Namespace, doc: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for line in lines:
            print(line)


def _run(args: argparse.Namespace) -> int:
    """Connect, associate, run the subcommand; refusals exit 1, the link's failures 2."""
    from ..dlms.errors import ApduError
    from ..hes.session import MeterRefused

    where = f"{args.host}:{args.port}"
    action: Callable[[argparse.Namespace, Any], int] = args.action
    try:
        session = _session(args)
    except OSError as exc:
        raise UsageError(f"dlms: cannot connect to {where}: "
                         f"{exc.strerror or exc.__class__.__name__}") from None
    try:
        with session:
            return action(args, session)
    except MeterRefused as exc:
        if args.json:
            print(json.dumps({"ok": False, "refused": exc.as_dict()}, indent=2,
                             ensure_ascii=False))
        text = exc.message
        print(one_line(text if exc.error is not None else f"meteremu dlms: {text}"),
              file=sys.stderr)
        return EXIT_REFUSED
    except TimeoutError:  # socket.timeout too
        raise UsageError(f"dlms: no answer from {where} within {args.timeout:g} s") from None
    except ConnectionError:
        raise UsageError(f"dlms: {where} closed the connection") from None
    except OSError as exc:
        raise UsageError(f"dlms: {where}: {exc.strerror or exc}") from None
    except ApduError as exc:
        raise UsageError(f"dlms: {where} answered something that is not DLMS: {exc}") from None


# ---------------------------------------------------------------------------
# values, for people and for scripts


def _named(obis: str, attribute: int, value: Any) -> str | None:
    """The name of an enum value the meteremu objects define."""
    from ..device.rules import BootState
    from ..hes.session import BOOT_STATE, IMAGE_TRANSFER, transfer_status_name

    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if (obis, attribute) == (BOOT_STATE, 2):
        try:
            return BootState(value).name.lower()
        except ValueError:
            return None
    if (obis, attribute) == (IMAGE_TRANSFER, 6):
        return transfer_status_name(value).split(" ", 1)[-1]
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _text(value: Any) -> str:
    """A value as a person reads it: printable ASCII bytes as text, other bytes in hex."""
    if isinstance(value, bytes):
        if not value:
            return "(empty)"
        if value.isascii() and value.decode("ascii").isprintable():
            return value.decode("ascii")
        return value.hex()
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        inner = ", ".join(_text(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if value is None:
        return "null"
    return str(value)


def _describe(obis: str, attribute: int, r: Any) -> dict[str, Any]:
    """One GET result as JSON."""
    from ..device.cosem import BY_OBIS, obis_bytes
    from ..hes.session import result_name

    doc: dict[str, Any] = {"obis": obis, "attribute": attribute}
    obj = BY_OBIS.get(obis_bytes(obis))
    if obj is not None and attribute in obj.attributes:
        doc["name"] = obj.attributes[attribute].handler
    if not getattr(r, "ok", False):
        result = getattr(r, "result", None)
        doc["error"] = result_name(result) if result is not None else "exception-response"
        return doc
    doc["type"] = r.data.type.name.lower().replace("_", "-")
    doc["value"] = _jsonable(r.value)
    if isinstance(r.value, bytes):
        text = _text(r.value)
        doc["text"] = text if text != r.value.hex() else None
    name = _named(obis, attribute, r.value)
    if name is not None:
        doc["meaning"] = name
    return doc


def _human(obis: str, attribute: int, r: Any) -> str:
    from ..hes.session import result_name

    if not getattr(r, "ok", False):
        result = getattr(r, "result", None)
        return "n/a: " + (result_name(result) if result is not None else "exception-response")
    name = _named(obis, attribute, r.value)
    return _text(r.value) + (f" ({name})" if name else "")


# ---------------------------------------------------------------------------
# subcommands


def _class_of(args: argparse.Namespace, s: Any) -> int | None:
    """The object's class: the object table's, ``--class-id``, or the meter's object list."""
    from ..device.cosem import BY_OBIS, obis_bytes
    from ..hes.session import MeterRefused

    if args.class_id is not None:
        return int(args.class_id)
    if obis_bytes(args.obis) in BY_OBIS:
        return None  # the client knows it
    for entry in s.get("0.0.40.0.0.255", 2).value:
        if entry[2] == obis_bytes(args.obis):
            return int(entry[0])
    raise MeterRefused(args.obis, "not in the meter's object list (give --class-id to ask "
                       "anyway)")


def _read(args: argparse.Namespace, s: Any) -> int:
    class_id = _class_of(args, s)
    r = s.get(args.obis, args.attribute, class_id=class_id)
    doc = {"ok": True, **_describe(args.obis, args.attribute, r)}
    _emit(args, doc, [_human(args.obis, args.attribute, r)])
    return EXIT_OK


def _method(args: argparse.Namespace, s: Any) -> int:
    from ..device.cosem import BY_OBIS, obis_bytes
    from ..dlms.values import method_schema
    from ..hes.params import data_from_json, default_parameter, parse_json
    from ..hes.session import BOOT_STATE, FIRMWARE_ID, IMAGE_TRANSFER, MeterRefused

    obj = BY_OBIS.get(obis_bytes(args.obis))
    schema = None
    if obj is not None and args.class_id in (None, obj.class_id):
        if args.method not in obj.methods:
            raise UsageError(f"dlms: {args.obis} has no method {args.method} "
                             f"(methods: {', '.join(map(str, sorted(obj.methods))) or 'none'})")
        schema = method_schema(obj, args.method)
    if args.params is not None:
        param = data_from_json(parse_json(args.params), schema)
    else:
        param = default_parameter(schema)
        if param is None and schema is not None:
            raise UsageError(f"dlms: method {args.method} of {args.obis} needs --params "
                             f"(a JSON value, e.g. {_example(schema)})")
    class_id = _class_of(args, s)
    activation = (args.obis, args.method) in ((BOOT_STATE, 1), (IMAGE_TRANSFER, 4))
    try:
        s.action(args.obis, args.method, param, class_id=class_id)
    except MeterRefused as exc:
        if activation or args.obis == IMAGE_TRANSFER:
            raise s.explain(exc, "activate" if activation else "") from None
        raise
    doc: dict[str, Any] = {"ok": True, "obis": args.obis, "method": args.method,
                           "result": "success"}
    lines = [f"{args.obis} method {args.method}: success"]
    if activation:
        firmware, state = s.read_value(FIRMWARE_ID, 2), s.read_value(BOOT_STATE, 2)
        doc["firmware"] = None if firmware is None else _text(firmware)
        doc["boot_state"] = _named(BOOT_STATE, 2, state)
        if firmware is not None:
            lines.append(f"firmware {_text(firmware)}"
                         + (f", boot state {doc['boot_state']}" if state is not None else ""))
        if state == _TRIAL:
            lines.append(_TRIAL_HINT)
    _emit(args, doc, lines)
    return EXIT_OK


def _example(schema: Any) -> str:
    from ..dlms.axdr import DataType

    t = getattr(schema, "value", None)
    return {DataType.BOOLEAN: "true", DataType.OCTET_STRING: '"text" or "hex:0a0b"'}.get(
        t, "[...]" if t is None else "0")


def _objects(args: argparse.Namespace, s: Any) -> int:
    from ..device.cosem import obis_str

    entries = s.get("0.0.40.0.0.255", 2).value
    doc_objects = []
    lines = []
    for class_id, version, ln, (attrs, methods) in entries:
        obis = obis_str(ln)
        doc_objects.append({
            "obis": obis, "class_id": class_id, "class": CLASS_NAMES.get(class_id),
            "version": version,
            "attributes": {str(a[0]): _MODES.get(a[1], str(a[1])) for a in attrs},
            "methods": {str(m[0]): bool(m[1]) for m in methods},
        })
        attr_text = " ".join(f"{a[0]}:{_MODES.get(a[1], a[1])}" for a in attrs)
        meth_text = " ".join(str(m[0]) for m in methods if m[1])
        lines.append(f"{obis:<17} {class_id:>3} {CLASS_NAMES.get(class_id, ''):<15} "
                     f"v{version}  attributes {attr_text}"
                     + (f"  methods {meth_text}" if meth_text else ""))
    head = f"{'OBIS':<17} {'cls':>3} {'class':<15} ver access (client {s.client_sap})"
    _emit(args, {"ok": True, "client": s.client_sap, "objects": doc_objects},
          [head, *lines])
    return EXIT_OK


STATUS = (  # (label, obis, attribute)
    ("logical device name", "0.0.42.0.0.255", 2),
    ("serial", "0.0.96.1.0.255", 2),
    ("firmware", "1.0.0.2.0.255", 2),
    ("boot state", "0.0.96.10.2.255", 2),
    ("image transfer status", "0.0.44.0.0.255", 6),
    ("first missing block", "0.0.44.0.0.255", 4),
    ("inactive package SHA-256", "0.0.96.10.1.255", 2),
    ("energy", "1.0.1.8.0.255", 2),
    ("energy scaler/unit", "1.0.1.8.0.255", 3),
    ("clock", "0.0.1.0.0.255", 2),
)


def _status(args: argparse.Namespace, s: Any) -> int:
    results = s.get_many([(o, a) for _, o, a in STATUS])
    doc: dict[str, Any] = {"ok": True, "client": s.client_sap}
    lines = []
    width = max(len(label) for label, _, _ in STATUS)
    for (label, obis, attr), r in zip(STATUS, results, strict=True):
        d = _describe(obis, attr, r)
        doc[label.lower().replace(" ", "_").replace("/", "_").replace("-", "")] = d
        text = _human(obis, attr, r)
        if label == "energy" and getattr(r, "ok", False):
            text = f"{r.value} Wh"
        if label == "energy scaler/unit":
            continue
        lines.append(f"{label:<{width}}  {text}")
    _emit(args, doc, lines)
    return EXIT_OK


def _push(args: argparse.Namespace, s: Any) -> int:
    from ..errors import MISSING_SIGNATURE, PackageError
    from ..hes.session import push_image
    from ..package import parse_package

    pkg = read_file(args.package, "package")
    local: PackageError | None = None
    version = "image"
    try:
        parsed = parse_package(pkg)
        version = str(parsed.version)
        local = _integrity(parsed)
        if local is None and not parsed.signed:
            local = PackageError(MISSING_SIGNATURE, "unsigned package: attach a signature "
                                 "first")
    except PackageError as exc:
        local = exc
    if local is not None and not args.force:
        raise PackageError(local.error or MISSING_SIGNATURE,
                           f"{local.detail} (not sent; --force sends it anyway)")
    identifier = (args.identifier.encode("utf-8") if args.identifier
                  else _default_identifier(pkg, version))
    with _Bar(args) as bar:
        report = push_image(s, pkg, identifier, activate=not args.no_activate,
                            progress=bar.update, local_error=None if local is None
                            else local.error, timeout=max(args.timeout, 30.0))
    lines = [f"{args.package}: {report.size} bytes as {report.blocks} blocks of "
             f"{report.block_size}, identifier {identifier.decode('utf-8', 'replace')}"]
    if report.resumed_from:
        lines.append(f"resumed at block {report.resumed_from} (the meter had the first "
                     f"{report.resumed_from})")
    lines.append(f"sent {report.sent} blocks in {report.seconds.get('blocks', 0):.2f} s")
    lines.append("verified" + (" (0.0.96.10.1.255 = the package's SHA-256)"
                               if report.sha256_matches else ""))
    if report.activated:
        state = "" if report.boot_state is None else \
            f", boot state {_named('0.0.96.10.2.255', 2, report.boot_state)}"
        firmware = "(not readable)" if report.firmware is None else _text(report.firmware)
        lines.append(f"activated: firmware {firmware}{state}")
        if report.boot_state == _TRIAL:
            lines.append(_TRIAL_HINT)
    _emit(args, {"ok": True, **report.as_dict()}, lines)
    return EXIT_OK


def _integrity(parsed: Any) -> Any:
    """What the meter's acceptance would find in the package's own bytes (CRC-32 and
    SHA-256 of the image against the header), before anything is sent."""
    from ..crypto import crc32, sha256
    from ..errors import CRC_MISMATCH, SHA256_MISMATCH, PackageError

    if crc32(parsed.image) != parsed.header["image_crc32"]:
        return PackageError(CRC_MISMATCH, "the image's CRC-32 differs from the header's")
    if sha256(parsed.image) != parsed.header["image_sha256"]:
        return PackageError(SHA256_MISMATCH, "the image's SHA-256 differs from the header's")
    return None


def _default_identifier(pkg: bytes, version: str) -> bytes:
    from ..hes.session import image_identifier

    return image_identifier(pkg, version)


class _Bar:
    """The push progress: a rich bar on a terminal (stderr), nothing otherwise."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.on = not (args.json or args.plain) and sys.stderr.isatty()
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        if self.on:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False)
            self.progress.__enter__()
        return self

    def update(self, phase: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


COMMANDS = (_add_dlms,)
