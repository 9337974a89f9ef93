"""A head-end's session with one meter over DLMS/COSEM: checked requests and the
class 18 image transfer.

:class:`MeterSession` is a :class:`~meteremu.transports.client.TcpClient`
association whose requests raise :class:`MeterRefused` when the meter says
no (a Data-Access-Result other than success, an exception-response, an AARE
that rejects), so a procedure reads as the steps it takes. Socket failures
stay what they are (``OSError``, ``TimeoutError``, ``ConnectionError``) and
a reply that does not decode is an :class:`~meteremu.dlms.errors.ApduError`:
the caller (``meteremu dlms``) tells those apart from a refusal.

:func:`push_image` is the Blue Book's image transfer process on class 18
(0.0.44.0.0.255): read the block size, initiate, read the first block not
transferred (attribute 4) -- a meter that already holds part of the same
image (same identifier and size) resumes there --, send the blocks, check
that none is missing (attribute 3), verify, check the image to activate
(attribute 7), activate, read the firmware identifier. A step the meter
answers ``temporary-failure`` while its status says the step is still
running (2 verification initiated, 5 activation initiated) is waited for by
polling attribute 6, as the Blue Book allows a meter to verify or activate
asynchronously.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..crypto import sha256
from ..device.cosem import BY_OBIS, Client, obis_bytes
from ..device.rules import BootState, ImageTransferStatus
from ..dlms.acse import SourceDiagnostic
from ..dlms.client import ActionResult, ExceptionReceived, GetListResult, GetResult, Result
from ..dlms.xdlms import AccessResult, Conformance, ServiceError, StateError
from ..errors import NEW_IMAGE_FAILED, ErrorCode, MeteremuError, PeerError, by_code
from ..transports.client import TcpClient

__all__ = [
    "BOOT_STATE",
    "FIRMWARE_ID",
    "IMAGE_TRANSFER",
    "INACTIVE_SHA256",
    "MeterRefused",
    "MeterSession",
    "PushReport",
    "diagnostic_name",
    "image_identifier",
    "push_image",
    "result_name",
    "transfer_status_name",
]

IMAGE_TRANSFER = "0.0.44.0.0.255"
FIRMWARE_ID = "1.0.0.2.0.255"
INACTIVE_SHA256 = "0.0.96.10.1.255"
BOOT_STATE = "0.0.96.10.2.255"
AUDIT_LOG = "0.0.96.10.3.255"  # the meter's audit log, management only
POLL_INTERVAL = 0.1  # seconds between reads of the status of an asynchronous step
MAX_ROUNDS = 3  # rounds of re-sending blocks the meter reports missing


def _dashed(name: str) -> str:
    return name.lower().replace("_", "-")


def result_name(result: AccessResult | int) -> str:
    """``read-write-denied (3)``: a Data-Access-Result as the Green Book names it."""
    try:
        return f"{_dashed(AccessResult(result).name)} ({int(result)})"
    except ValueError:
        return f"result {int(result)}"


def diagnostic_name(diagnostic: int) -> str:
    """``authentication failure``: an acse-service-user diagnostic in words."""
    try:
        name = SourceDiagnostic(diagnostic).name.lower()
    except ValueError:
        return f"diagnostic {diagnostic}"
    return name.replace("authentication_mechanism", "mechanism").replace("_", " ")


def _exception_name(r: ExceptionReceived) -> str:
    try:
        state = _dashed(StateError(r.state_error).name)
    except ValueError:
        state = str(r.state_error)
    try:
        service = _dashed(ServiceError(r.service_error).name)
    except ValueError:
        service = str(r.service_error)
    return f"exception-response {state}, {service}"


class MeterRefused(PeerError):
    """The meter answered, and said no: on the error model's peer branch, seen from
    the head-end (the peer is the meter). ``what`` names the request,
    ``dlms_result`` is the Data-Access-Result (None for an AARE or an
    exception-response), ``error`` the FOTA record when the refusal is known to
    be one, ``context`` what was read around it (JSON-ready)."""

    def __init__(self, what: str, reason: str, *, result: int | None = None,
                 error: ErrorCode | None = None, context: dict[str, Any] | None = None,
                 hint: str = "") -> None:
        self.what = what
        self.reason = reason
        self.dlms_result = result
        self.error = error
        self.context = dict(context or {})
        self.hint = hint
        self.detail = reason
        Exception.__init__(self, self.message)

    def __str__(self) -> str:  # the message follows what is added to the refusal
        return self.message

    @property
    def message(self) -> str:
        text = f"{self.what}: {self.reason}" if self.what else self.reason
        if self.context:
            text += "; " + ", ".join(f"{k} {v}" for k, v in self.context.items())
        if self.hint:
            text += f" ({self.hint})"
        return f"{self.error}: {text}" if self.error is not None else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.what, "reason": self.reason, "result": self.dlms_result,
            "fota_code": None if self.error is None else self.error.code,
            "fota_name": None if self.error is None else self.error.name,
            "context": self.context, "message": self.message,
        }


class MeterSession:
    """One association with one meter (a TCP connection, an AARQ, an RLRQ at the end).

    ``client_sap`` 16 (public) or 1 (management, with ``password``);
    ``server_sap`` is the meter's wPort (meter *k* of ``serve --meters N``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 4059, *,
                 client_sap: int = int(Client.PUBLIC), server_sap: int = 1,
                 password: bytes | None = None, timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.client_sap = client_sap
        self.link = TcpClient(host, port, timeout=timeout, client_sap=client_sap,
                              server_sap=server_sap, password=password)
        self.closed = False

    # ---------------------------------------------------------------- the association
    def __enter__(self) -> MeterSession:
        try:
            self.associate()
        except BaseException:
            self.link.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(release=exc[0] is None)

    def associate(self) -> None:
        a = self.link.associate()
        if not a.accepted:
            raise MeterRefused("", f"association refused: {diagnostic_name(a.diagnostic)} "
                               f"(diagnostic {a.diagnostic})")

    @property
    def conformance(self) -> Conformance:
        return self.link.dlms.conformance

    def close(self, release: bool = True) -> None:
        """Release the association (best effort) and close the connection."""
        if self.closed:
            return
        self.closed = True
        try:
            if release and self.link.dlms.associated and not self.link.dlms.busy:
                self.link.release()
        except (OSError, ValueError, MeteremuError):
            pass  # the meter went away first: nothing left to release
        finally:
            self.link.close()

    # ---------------------------------------------------------------- requests
    def _refused(self, what: str, r: Result) -> MeterRefused:
        if isinstance(r, ExceptionReceived):
            return MeterRefused(what, _exception_name(r))
        result = int(getattr(r, "result", AccessResult.OTHER_REASON))
        hint = ""
        if result == AccessResult.READ_WRITE_DENIED and self.client_sap == Client.PUBLIC:
            hint = "the public client 16 may only read; give --password for the management " \
                   "client 1"
        return MeterRefused(what, result_name(result), result=result, hint=hint)

    def try_get(self, obis: str, attribute: int, *, class_id: int | None = None) -> Result:
        """GET; the result as it came (check ``.ok``)."""
        return self.link.get(obis, attribute, class_id=class_id)

    def get(self, obis: str, attribute: int, *, class_id: int | None = None) -> GetResult:
        r = self.try_get(obis, attribute, class_id=class_id)
        if not isinstance(r, GetResult) or not r.ok:
            raise self._refused(f"{obis} attribute {attribute}", r)
        return r

    def get_many(self, items: list[tuple[str, int]]) -> list[Result]:
        """Each of ``items`` (``(obis, attribute)`` of the object table); one
        GET-with-list when multiple references were negotiated."""
        if self.conformance & Conformance.MULTIPLE_REFERENCES and len(items) > 1:
            r = self.link.get_list(items)
            if isinstance(r, GetListResult):
                return list(r.results)
        return [self.try_get(o, a) for o, a in items]

    def action(self, obis: str, method: int, param: Any = None, *,
               class_id: int | None = None) -> ActionResult:
        r = self.link.action(obis, method, param, class_id=class_id)
        if not isinstance(r, ActionResult) or not r.ok:
            raise self._refused(f"{obis} method {method}", r)
        return r

    def try_action(self, obis: str, method: int, param: Any = None, *,
                   class_id: int | None = None) -> Result:
        return self.link.action(obis, method, param, class_id=class_id)

    def explain(self, exc: MeterRefused, step: str,
                local_error: ErrorCode | None = None) -> MeterRefused:
        """``exc`` with what the meter shows about an update step it refused (image
        transfer status, boot state, where this client may read them), and the FOTA
        code when it is known: ``local_error``, what the sender's own check found in
        the package, for a refused verification or activation; 0x800B when an
        activation left the meter back on its previous image (reverted). Otherwise
        an other-reason points at the audit log, which has the code."""
        if self.client_sap != Client.PUBLIC:
            status = self.read_value(IMAGE_TRANSFER, 6)
            if status is not None:
                exc.context["image transfer status"] = transfer_status_name(status)
            state = self.read_value(BOOT_STATE, 2)
            if state is not None:
                exc.context["boot state"] = _state_name(state)
        else:
            state = None
        if exc.dlms_result == AccessResult.OTHER_REASON:
            exc.error = self.last_fota_error()
            if exc.error is None and step in ("verify", "activate") and local_error is not None:
                exc.error = local_error
            elif exc.error is None and step == "activate" and state == BootState.REVERTED.value:
                exc.error = NEW_IMAGE_FAILED
            if exc.error is None:
                exc.hint = "the meter's audit log has the FOTA code"
        exc.what = f"{step}: {exc.what}" if step else exc.what
        return exc

    def last_fota_error(self) -> ErrorCode | None:
        """The code of the newest ``FOTA_ERR`` line of the meter's audit log
        (0.0.96.10.3.255 attribute 2, management client only), None when it
        cannot be read or holds none."""
        if self.client_sap == Client.PUBLIC:
            return None
        lines = self.read_value(AUDIT_LOG, 2)
        for line in reversed(lines or []):
            parts = bytes(line).decode("ascii", "replace").split()
            if len(parts) > 2 and parts[1] == "FOTA_ERR":
                try:
                    return by_code(parts[2])
                except KeyError:
                    return None
        return None

    def read_value(self, obis: str, attribute: int) -> Any:
        """The value of a readable attribute, None when the meter does not give it
        (refused, or gone: a read for context never fails the caller)."""
        if self.closed:
            return None
        try:
            r = self.try_get(obis, attribute)
        except (OSError, MeteremuError):
            return None
        return r.value if isinstance(r, GetResult) and r.ok else None


# ---------------------------------------------------------------------------
# class 18


def image_identifier(package: bytes, version: str) -> bytes:
    """The identifier ``push`` gives an image by default: its version and the
    first 8 hex digits of the package's SHA-256 (``2.0.0-1a2b3c4d``), so the
    same package resumes and another one starts afresh."""
    return f"{version}-{sha256(package)[:4].hex()}".encode("ascii")


@dataclass
class PushReport:
    identifier: bytes
    size: int
    block_size: int = 0
    blocks: int = 0
    resumed_from: int = 0  # the first block the meter was missing after initiate
    sent: int = 0  # block transfers sent (resent ones included)
    verified: bool = False
    sha256_matches: bool | None = None  # 0.0.96.10.1.255 against the package
    activated: bool = False
    firmware: bytes | None = None  # 1.0.0.2.0.255 after activation
    boot_state: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # per phase

    def as_dict(self) -> dict[str, Any]:
        state = None if self.boot_state is None else _state_name(self.boot_state)
        return {
            "identifier": self.identifier.decode("utf-8", "replace"),
            "size": self.size, "block_size": self.block_size, "blocks": self.blocks,
            "resumed_from": self.resumed_from, "sent": self.sent, "verified": self.verified,
            "sha256_matches": self.sha256_matches, "activated": self.activated,
            "firmware": None if self.firmware is None else self.firmware.decode("utf-8",
                                                                                "replace"),
            "boot_state": state, "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        }


def _state_name(value: int) -> str:
    try:
        return _dashed(BootState(value).name)
    except ValueError:
        return str(value)


def transfer_status_name(value: int) -> str:
    try:
        return f"{int(value)} {_dashed(ImageTransferStatus(value).name)}"
    except ValueError:
        return str(value)


Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _silent(phase: str, done: int, total: int) -> None:
    pass


class _Transfer:
    """One run of :func:`push_image`."""

    def __init__(self, s: MeterSession, package: bytes, report: PushReport,
                 progress: Progress, local_error: ErrorCode | None, timeout: float) -> None:
        self.s = s
        self.package = package
        self.r = report
        self.progress = progress
        self.local_error = local_error
        self.timeout = timeout

    def refused(self, exc: MeterRefused, step: str) -> MeterRefused:
        return self.s.explain(exc, step, self.local_error)

    def step(self, step: str, method: int, param: Any, busy: ImageTransferStatus,
             done: tuple[ImageTransferStatus, ...]) -> None:
        """Verify or activate; waits while the meter reports the step running."""
        try:
            self.s.action(IMAGE_TRANSFER, method, param)
            return
        except MeterRefused as exc:
            if exc.dlms_result != AccessResult.TEMPORARY_FAILURE \
                    or self.s.read_value(IMAGE_TRANSFER, 6) != busy:
                raise self.refused(exc, step) from None
            first = exc
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
            status = self.s.read_value(IMAGE_TRANSFER, 6)
            if status == done[0]:
                return
            if status != busy:
                break
        raise self.refused(first, step)

    def run(self, activate: bool) -> PushReport:
        s, r, pkg = self.s, self.r, self.package
        t = time.perf_counter()
        self.progress("initiate", 0, 1)
        try:
            r.block_size = int(s.get(IMAGE_TRANSFER, 2).value)
            if r.block_size <= 0:
                raise MeterRefused(f"{IMAGE_TRANSFER} attribute 2",
                                   f"image block size {r.block_size}")
            r.blocks = -(-len(pkg) // r.block_size)
            s.action(IMAGE_TRANSFER, 1, (r.identifier, len(pkg)))
            r.resumed_from = min(int(s.get(IMAGE_TRANSFER, 4).value), r.blocks)
        except MeterRefused as exc:
            raise self.refused(exc, "initiate") from None
        self.progress("initiate", 1, 1)
        r.seconds["initiate"] = time.perf_counter() - t

        t = time.perf_counter()
        todo = list(range(r.resumed_from, r.blocks))
        done = r.resumed_from
        for _round in range(MAX_ROUNDS):
            self.progress("blocks", done, r.blocks)
            for n in todo:
                block = pkg[n * r.block_size:(n + 1) * r.block_size]
                try:
                    s.action(IMAGE_TRANSFER, 2, (n, block))
                except MeterRefused as exc:
                    exc.context["block"] = f"{n} of {r.blocks}"
                    raise self.refused(exc, "block transfer") from None
                r.sent += 1
                done += 1
                self.progress("blocks", min(done, r.blocks), r.blocks)
            todo = self.missing()
            if not todo:
                break
            done = r.blocks - len(todo)
        else:
            raise MeterRefused("block transfer", f"{len(todo)} blocks still missing after "
                               f"{MAX_ROUNDS} rounds", context={"first missing": todo[0]})
        r.seconds["blocks"] = time.perf_counter() - t

        t = time.perf_counter()
        self.progress("verify", 0, 1)
        self.step("verify", 3, 0, ImageTransferStatus.VERIFICATION_INITIATED,
                  (ImageTransferStatus.VERIFICATION_SUCCESSFUL,))
        r.verified = True
        self.check_image()
        self.progress("verify", 1, 1)
        r.seconds["verify"] = time.perf_counter() - t
        if not activate:
            return r

        t = time.perf_counter()
        self.progress("activate", 0, 1)
        self.step("activate", 4, 0, ImageTransferStatus.ACTIVATION_INITIATED,
                  (ImageTransferStatus.ACTIVATION_SUCCESSFUL,))
        r.activated = True
        r.firmware = s.read_value(FIRMWARE_ID, 2)
        r.boot_state = s.read_value(BOOT_STATE, 2)
        self.progress("activate", 1, 1)
        r.seconds["activate"] = time.perf_counter() - t
        return r

    def missing(self) -> list[int]:
        """Blocks the meter still lacks: none when attribute 4 says all came;
        else those attribute 3 (the bit-string) shows as 0."""
        first = self.s.get(IMAGE_TRANSFER, 4).value
        if first >= self.r.blocks:
            return []
        bits = self.s.read_value(IMAGE_TRANSFER, 3)
        if not isinstance(bits, str) or len(bits) < self.r.blocks:
            return list(range(first, self.r.blocks))
        return [n for n in range(first, self.r.blocks) if bits[n] != "1"]

    def check_image(self) -> None:
        """The image the meter will activate is the one sent: attribute 7 names its
        size and identifier, and 0.0.96.10.1.255 (seed step 5), where the meter has
        it, is the package's SHA-256."""
        info = self.s.read_value(IMAGE_TRANSFER, 7)
        if isinstance(info, list) and info:
            size, ident = info[0][0], info[0][1]
            if (size, ident) != (len(self.package), self.r.identifier):
                raise MeterRefused("verify", f"the meter would activate {ident!r} of {size} "
                                   f"bytes, not {self.r.identifier!r} of {len(self.package)}")
        if obis_bytes(INACTIVE_SHA256) in BY_OBIS:
            digest = self.s.read_value(INACTIVE_SHA256, 2)
            if isinstance(digest, bytes) and digest:
                self.r.sha256_matches = digest == sha256(self.package)
                if not self.r.sha256_matches:
                    raise MeterRefused("verify", f"{INACTIVE_SHA256} is {digest.hex()}, the "
                                       f"package's SHA-256 is {sha256(self.package).hex()}")


def push_image(session: MeterSession, package: bytes, identifier: bytes, *,
               activate: bool = True, progress: Progress | None = None,
               local_error: ErrorCode | None = None, timeout: float = 30.0) -> PushReport:
    """The whole class 18 transfer of ``package`` under ``identifier``; the report,
    or :class:`MeterRefused` at the step the meter refused. ``local_error`` is what
    the sender's own check of the package found (its FOTA record then explains a
    refused verification); ``timeout`` bounds the wait for an asynchronous step."""
    report = PushReport(identifier, len(package))
    return _Transfer(session, package, report, progress or _silent, local_error,
                     timeout).run(activate)
