"""The FOTA error table and the exception hierarchy built on it.

One record per operator error code: what the meter logs (``FOTA_ERR 0x8005 ...``),
what the operator reads in the docs (``docs/ERRORS.md`` is generated from this
table: ``python -m meteremu.errors > docs/ERRORS.md``) and which C core return
codes (``csrc/mt_err.h``) lead to it.

Code families, following the seed's own codes:

* ``0x80xx`` -- package and download acceptance (the seed's 0x8001 incomplete
  image and 0x8005 signature mismatch live here). New acceptance checks take
  the free numbers in the order the meter runs them where the seed left gaps.
* ``0x90xx`` -- resources the meter runs short of (the seed's 0x9002 memory);
  battery reserve and flash wear are resources too.
* ``0xE0x`` -- cryptographic verification (the seed's 0xE04). A missing or
  unreadable signature sits next to a failed one, so ``grep "0xE0"`` finds all.
* ``F.xx`` -- LCD display codes (the seed's F.03): faults the meter can only
  show on its display, because the radio stack may not be running.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

__all__ = [
    "BATTERY_RESERVE",
    "CONFLICTING_FRAGMENT",
    "CRC_MISMATCH",
    "DOWNGRADE",
    "ERRORS",
    "FLASH_FAULT",
    "FRAGMENT_REJECTED",
    "HW_REVISION_MISMATCH",
    "INCOMPLETE_IMAGE",
    "INSUFFICIENT_MEMORY",
    "INVALID_REQUEST",
    "MALFORMED_HEADER",
    "MALFORMED_TRAILER",
    "MISSING_SIGNATURE",
    "MT_ERR",
    "NEW_IMAGE_FAILED",
    "NO_BOOTABLE_IMAGE",
    "SHA256_MISMATCH",
    "SIGNATURE_FAILED",
    "SIGNATURE_MISMATCH",
    "SWAP_FAILURE",
    "VENDOR_MISMATCH",
    "BusError",
    "ConfigError",
    "ErrorCode",
    "KeyFileError",
    "MeteremuError",
    "PackageError",
    "by_code",
    "from_mt_err",
    "markdown_table",
    "short_repr",
]

# The C core's return codes, as csrc/mt_err.h defines them (a test parses the
# header and checks that this mapping and the header agree).
MT_ERR: dict[str, int] = {
    "MT_OK": 0,
    "MT_E_ARG": -1,
    "MT_E_LENGTH": -2,
    "MT_E_ENCODING": -10,
    "MT_E_PUBKEY": -11,
    "MT_E_SIGNATURE": -12,
    "MT_E_FLASH_RANGE": -20,
    "MT_E_FLASH_ALIGN": -21,
    "MT_E_FLASH_ONE": -22,
    "MT_E_FLASH_POWER": -23,
    "MT_E_FLASH_WORN": -24,
    "MT_E_HDR_MAGIC": -30,
    "MT_E_HDR_CRC": -31,
    "MT_E_HDR_FIELD": -32,
    "MT_E_VENDOR": -33,
    "MT_E_HW_REV": -34,
    "MT_E_TOO_BIG": -35,
    "MT_E_TRAILER": -36,
    "MT_E_NO_SIGNATURE": -37,
    "MT_E_INCOMPLETE": -40,
    "MT_E_IMAGE_CRC": -41,
    "MT_E_IMAGE_SHA": -42,
    "MT_E_UNKNOWN_KEY": -43,
    "MT_E_DOWNGRADE": -44,
    "MT_E_FRAME": -50,
    "MT_E_SESSION": -51,
    "MT_E_CONFLICT": -52,
    "MT_E_STATE": -53,
    "MT_E_NO_BOOTABLE": -60,
    "MT_E_SWAP": -61,
}


@dataclass(frozen=True)
class ErrorCode:
    """One row of the error table.

    ``code`` is written exactly as the operator meets it: ``"0x8001"`` in the
    audit log, ``"F.03"`` on the LCD. ``mt_err`` names the C return codes that
    map to this row (empty when only Python raises it).
    """

    code: str
    name: str
    meaning: str
    action: str
    mt_err: tuple[str, ...] = ()

    @property
    def number(self) -> int | None:
        """The numeric code for ``0x`` codes; ``None`` for LCD display codes."""
        return int(self.code, 16) if self.code.startswith("0x") else None

    @property
    def is_display_code(self) -> bool:
        return self.code.startswith("F.")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


ERRORS: tuple[ErrorCode, ...] = (
    # 0x8000: the request itself was wrong (API misuse, operation not valid in
    # the meter's state). Not in the seed; it sits at the bottom of the
    # acceptance family because it stops an update the same way.
    ErrorCode(
        "0x8000",
        "invalid request",
        "The meter refused an operation that is not valid in its current state or "
        "was called with bad parameters (e.g. activate with no verified image).",
        "Check the head-end's update sequence; the meter state is unchanged.",
        ("MT_E_ARG", "MT_E_LENGTH", "MT_E_STATE"),
    ),
    ErrorCode(
        "0x8001",
        "incomplete image",
        "Fragments are missing when validation or activation is asked.",
        "High packet loss in the RF mesh: check for localized interference at the "
        "concentrator level (RF spectrum analyser), then resend the missing fragments.",
        ("MT_E_INCOMPLETE",),
    ),
    # 0x8002/0x8003: integrity checks run right after completeness, so they take
    # the next numbers.
    ErrorCode(
        "0x8002",
        "CRC mismatch",
        "The image CRC-32 in the inactive bank differs from the header's.",
        "Data was corrupted in transit or in flash: restart the download; if it "
        "recurs on one meter, suspect its flash.",
        ("MT_E_IMAGE_CRC",),
    ),
    ErrorCode(
        "0x8003",
        "SHA-256 mismatch",
        "The image SHA-256 in the inactive bank differs from the header's.",
        "Restart the download; compare the package SHA-256 (OBIS 0.0.96.10.1.255) "
        "with the head-end's copy.",
        ("MT_E_IMAGE_SHA",),
    ),
    # 0x8004: the seed's Section B names hardware-revision mismatch as the most
    # common rejection; it takes the free slot below the seed's 0x8005.
    ErrorCode(
        "0x8004",
        "hardware revision mismatch",
        "The package targets another hardware revision than the meter's.",
        "Build the package for this meter's hardware revision; check the target "
        "group of the campaign.",
        ("MT_E_HW_REV",),
    ),
    ErrorCode(
        "0x8005",
        "signature mismatch",
        "The key ID in the header is not among the meter's trusted keys: the HSM "
        "key used for signing does not match the public key stored on the meter.",
        "Verify the certificate chain and that the package was signed with the "
        "production key the meters trust.",
        ("MT_E_UNKNOWN_KEY",),
    ),
    # 0x8006: the number SPEC section 5 suggests for anti-rollback.
    ErrorCode(
        "0x8006",
        "downgrade",
        "The package's security counter is lower than the installed image's "
        "(anti-rollback).",
        "Rebuild the package with a security counter at least the installed one; "
        "a real downgrade needs a new image with a raised counter.",
        ("MT_E_DOWNGRADE",),
    ),
    # 0x8007/0x8008: vendor and header problems, after the seed's codes.
    ErrorCode(
        "0x8007",
        "vendor mismatch",
        "The package's vendor ID differs from the meter's.",
        "The package is for another manufacturer's meters; check the campaign's "
        "target group.",
        ("MT_E_VENDOR",),
    ),
    ErrorCode(
        "0x8008",
        "malformed header",
        "The package header is not a valid meteremu header: wrong magic, format "
        "version or size, header CRC mismatch, or a field out of range.",
        "Rebuild the package with `meteremu package`; if a valid package arrives "
        "malformed, suspect the transport.",
        ("MT_E_HDR_MAGIC", "MT_E_HDR_CRC", "MT_E_HDR_FIELD"),
    ),
    # 0x8009/0x800A: fragment transport; frames are dropped and counted, a
    # conflicting duplicate stops the download.
    ErrorCode(
        "0x8009",
        "fragment rejected",
        "A fragment frame was dropped: bad CRC, wrong session or image, index out "
        "of range or wrong length.",
        "None for a few; many point to a noisy link or a mixed-up campaign.",
        ("MT_E_FRAME", "MT_E_SESSION"),
    ),
    ErrorCode(
        "0x800A",
        "conflicting fragment",
        "A fragment arrived again with different content than the copy already "
        "written; the meter keeps the first and stops the download.",
        "Two packages share a session ID, or the sender is faulty: restart the "
        "download with a fresh session.",
        ("MT_E_CONFLICT",),
    ),
    # 0x800B: the last step of an update; the meter's own rollback already ran.
    ErrorCode(
        "0x800B",
        "new image failed",
        "The activated image did not come up (it crashed at boot until the boot-loop "
        "limit); the meter went back to the image it ran before.",
        "The meter is running its previous image. Test the new image on a bench "
        "meter before sending it again.",
    ),
    ErrorCode(
        "0x9002",
        "insufficient memory",
        "The announced package is larger than the bank, or flash/NVM is full.",
        "Clear the log partition; for a package larger than the bank, split the "
        "payload into modules applied in sequence.",
        ("MT_E_TOO_BIG",),
    ),
    # 0x9003: battery reserve is a resource like memory (Section B: an update
    # that runs past the battery-reserve limit of water or gas meters).
    ErrorCode(
        "0x9003",
        "battery reserve",
        "A battery-powered meter stopped the download because radio time would "
        "take its energy reserve below the limit.",
        "Schedule the meter in a later wave or improve its link (fewer "
        "retransmissions); do not force the update.",
    ),
    # 0x9004: flash that cannot be written is a resource fault on the meter.
    ErrorCode(
        "0x9004",
        "flash fault",
        "A flash program or erase failed: worn-out sector, address outside the "
        "device, a write that needs an erase, or power lost during the operation.",
        "Retry after power-up; if it recurs, the flash is worn and the meter must "
        "be replaced.",
        (
            "MT_E_FLASH_RANGE",
            "MT_E_FLASH_ALIGN",
            "MT_E_FLASH_ONE",
            "MT_E_FLASH_POWER",
            "MT_E_FLASH_WORN",
        ),
    ),
    ErrorCode(
        "0xE04",
        "signature verification failed",
        "The key is trusted but the ECDSA P-256 signature does not verify (also a "
        "malformed DER signature or an invalid key).",
        'grep "0xE04" in the audit log; re-sign the unsigned package with the '
        "production key and re-attach.",
        ("MT_E_ENCODING", "MT_E_PUBKEY", "MT_E_SIGNATURE"),
    ),
    # 0xE05: next to 0xE04, so one grep finds every signature problem.
    ErrorCode(
        "0xE05",
        "missing signature",
        "The trailer carries no signature record: the package was never signed.",
        "Sign the unsigned package (HSM or `openssl dgst -sha256 -sign`) and "
        "attach the signature with `meteremu attach-signature`.",
        ("MT_E_NO_SIGNATURE",),
    ),
    # 0xE06: the trailer holds nothing but the signature and is not covered by
    # it; a damaged trailer means the signature cannot be checked, so it joins
    # the signature family too.
    ErrorCode(
        "0xE06",
        "malformed trailer",
        "The trailer after the image is not a valid run of records and 0xFF "
        "padding (bad length, unknown record type, more than one signature).",
        "Re-attach the signature with `meteremu attach-signature`.",
        ("MT_E_TRAILER",),
    ),
    ErrorCode(
        "F.03",
        "swap failure",
        "LCD fault: the bank swap could not complete (hardware failure during the "
        "bank swap).",
        "Power-cycle the meter manually to trigger the automatic rollback.",
        ("MT_E_SWAP",),
    ),
    # F.04: the one other fault only the display can show.
    ErrorCode(
        "F.04",
        "no bootable image",
        "LCD fault: neither bank nor the golden image validates.",
        "Hard power reset; if the meter has a service-disconnect relay, use the "
        "manual override to force a factory reset to the golden image bank; "
        "otherwise replace the meter.",
        ("MT_E_NO_BOOTABLE",),
    ),
)

_BY_CODE = {e.code: e for e in ERRORS}
_BY_MT_ERR = {MT_ERR[name]: e for e in ERRORS for name in e.mt_err}

# Each record by name, for code that raises or logs one: a mistyped name fails
# at import (and in ruff), where a mistyped "0x80O5" string would fail only
# when that path runs. A test checks that every record has its name here.
INVALID_REQUEST = _BY_CODE["0x8000"]
INCOMPLETE_IMAGE = _BY_CODE["0x8001"]
CRC_MISMATCH = _BY_CODE["0x8002"]
SHA256_MISMATCH = _BY_CODE["0x8003"]
HW_REVISION_MISMATCH = _BY_CODE["0x8004"]
SIGNATURE_MISMATCH = _BY_CODE["0x8005"]
DOWNGRADE = _BY_CODE["0x8006"]
VENDOR_MISMATCH = _BY_CODE["0x8007"]
MALFORMED_HEADER = _BY_CODE["0x8008"]
FRAGMENT_REJECTED = _BY_CODE["0x8009"]
CONFLICTING_FRAGMENT = _BY_CODE["0x800A"]
NEW_IMAGE_FAILED = _BY_CODE["0x800B"]
INSUFFICIENT_MEMORY = _BY_CODE["0x9002"]
BATTERY_RESERVE = _BY_CODE["0x9003"]
FLASH_FAULT = _BY_CODE["0x9004"]
SIGNATURE_FAILED = _BY_CODE["0xE04"]
MISSING_SIGNATURE = _BY_CODE["0xE05"]
MALFORMED_TRAILER = _BY_CODE["0xE06"]
SWAP_FAILURE = _BY_CODE["F.03"]
NO_BOOTABLE_IMAGE = _BY_CODE["F.04"]


def _canonical(code: str | int) -> str:
    if isinstance(code, int):
        return f"0x{code:X}"
    text = code.strip()
    if text[:2].lower() == "0x":
        try:
            return f"0x{int(text, 16):X}"
        except ValueError:
            return text
    return text.upper()


def by_code(code: str | int) -> ErrorCode:
    """Look a record up by its operator code: ``"0xE04"``, ``0xE04`` or ``"F.03"``."""
    try:
        return _BY_CODE[_canonical(code)]
    except KeyError:
        raise KeyError(f"no error code {code!r}") from None


def from_mt_err(rc: int) -> ErrorCode:
    """The record a (negative) C core return code maps to."""
    try:
        return _BY_MT_ERR[rc]
    except KeyError:
        raise KeyError(f"C return code {rc} maps to no error code") from None


class DataAccessResult(enum.IntEnum):
    """Data-Access-Result / Action-Result values (the numbers they share)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    OTHER_REASON = 250


class Close(enum.Enum):
    """The DLMS answer to an error no response may carry: close the association."""

    CONNECTION = "close-connection"


@dataclass(frozen=True)
class AareRejection:
    """The DLMS answer to an association refused: AARE rejected-permanent with
    this acse-service-user diagnostic (13: authentication failure)."""

    diagnostic: int


#: What a DLMS server sends back for an error (:func:`dlms_outcome`).
DlmsOutcome = DataAccessResult | AareRejection | Close


class MeteremuError(Exception):
    """Root of every exception meteremu raises on purpose.

    Four branches, each with one DLMS answer (:func:`dlms_outcome`, for a
    server that must translate any error without guessing): :class:`UsageError`
    (the caller misused the API), :class:`PeerError` (a peer sent or asked
    something the meter will not serve), :class:`DeviceFault` (the device
    failed), :class:`PackageError` (a package or download was refused). ``error``
    is the error-table record when the failure is one (it is in the audit log).
    """

    dlms: DlmsOutcome = Close.CONNECTION
    error: ErrorCode | None = None

    @property
    def result(self) -> DlmsOutcome:
        """What a DLMS server answers (the class's :attr:`dlms`)."""
        return self.dlms


class UsageError(MeteremuError, ValueError):
    """The API was misused: a bad argument, or a call that makes no sense now.
    A bug of the caller's, never something a peer can provoke; a server that
    meets one closes the association."""


class MeterUsageError(UsageError):
    """A call on a meter that its state does not allow (a rules table says no)."""


class ConfigError(UsageError):
    """A configuration value (config.json field, CLI option) is wrong.

    ``field`` names the offending field so a message can point at it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class KeyFileError(UsageError):
    """A key file cannot be used: unreadable, wrong passphrase, wrong curve."""


class BusError(UsageError):
    """The acknowledgement bus cannot carry acks: the broker cannot be reached,
    refused the connection (a client certificate its CA did not sign, ...) or
    went away. Like a DLMS connection that fails, it is the operator's to fix
    (exit status 2); the acks it lost are only hints, the head-end reconciles
    by reading the meters."""


class PeerError(MeteremuError):
    """A peer's request cannot be served as it was sent; ``dlms`` is the answer.
    ``detail`` says why, for logs and messages."""

    dlms: DlmsOutcome = DataAccessResult.OTHER_REASON

    def __init__(self, detail: str = "", error: ErrorCode | None = None) -> None:
        self.detail = detail
        self.error = error
        head = _result_name(self.dlms)
        if error is not None:
            head += f" ({error})"
        super().__init__(f"{head}: {detail}" if detail else head)


def _result_name(outcome: DlmsOutcome) -> str:
    if isinstance(outcome, DataAccessResult):
        return outcome.name.lower().replace("_", "-")
    if isinstance(outcome, AareRejection):
        return f"association rejected (diagnostic {outcome.diagnostic})"
    return outcome.value


class ObjectUndefined(PeerError):
    """No such object, attribute or method."""

    dlms = DataAccessResult.OBJECT_UNDEFINED


class AccessDenied(PeerError):
    """The client's association may not read, write or invoke this."""

    dlms = DataAccessResult.READ_WRITE_DENIED


class TypeUnmatched(PeerError):
    """A value or parameter of the wrong type or shape."""

    dlms = DataAccessResult.TYPE_UNMATCHED


class TemporaryFailure(PeerError):
    """Valid, but not now (an image on trial, transfer disabled, no session)."""

    dlms = DataAccessResult.TEMPORARY_FAILURE


class AuthenticationFailure(PeerError):
    """An association with a wrong password or an unknown client."""

    dlms = AareRejection(13)


class DeviceFault(MeteremuError):
    """The device itself failed: flash, the bootloader, NVM."""

    dlms: DlmsOutcome = DataAccessResult.HARDWARE_FAULT


class MeterUnavailable(DeviceFault):
    """The meter does not answer: powered off, booting (slow boot), or no bootable
    image. A transport turns it into silence: the association is closed."""

    dlms = Close.CONNECTION


class NvmExhausted(DeviceFault):
    """Every sector of a ring failed: nothing can be written until the next power-up."""


class CError:
    """Mixed into the exceptions the binding raises for a C return code: ``err`` is
    the code (csrc/mt_err.h), ``err_name`` its name."""

    err: int
    err_name: str

    def _set_err(self, err: int) -> None:
        self.err = err
        self.err_name = MT_NAMES.get(err, str(err))


class FlashError(CError, DeviceFault):
    """A flash operation failed; ``error`` is 0x9004 (flash fault)."""

    def __init__(self, err: int, detail: str = "") -> None:
        self._set_err(err)
        self.error = _BY_MT_ERR.get(err)
        super().__init__(f"{self.err_name}: {detail}" if detail else self.err_name)


class FlashRangeError(FlashError):
    """Address or length outside the device (or the partition)."""


class FlashAlignError(FlashError):
    """Address or length not a multiple of the write alignment or sector size."""


class FlashOneError(FlashError):
    """A program would have to turn a 0 bit back into 1: NOR needs an erase first."""


class FlashPowerError(FlashError):
    """The power was cut (sticky until power-up)."""


class FlashWornError(FlashError):
    """The sector reached its erase endurance."""


class BootError(CError, DeviceFault):
    """A bootloader operation failed: F.03 (a boot-control record could not be
    written), F.04 (nothing bootable), or 0x8000 (an operation not valid now)."""

    def __init__(self, err: int, detail: str = "") -> None:
        self._set_err(err)
        self.error = from_mt_err(err)
        super().__init__(f"{self.error}: {detail or self.err_name}")


class StateError(CError, MeterUsageError):
    """A C object (bootloader, reassembler) refused an operation its state does not
    allow (``MT_E_STATE``): the caller asked at the wrong time."""

    def __init__(self, err: int, detail: str = "") -> None:
        self._set_err(err)
        self.error = from_mt_err(err)
        super().__init__(f"{self.error}: {detail or self.err_name}")


class PackageError(MeteremuError):
    """A package, a download or an update step was refused; ``error`` is the
    error-table record.

    ``str(exc)`` is the one-line form the meter logs:
    ``0xE04 signature verification failed: <detail>``.
    """

    dlms: DlmsOutcome = DataAccessResult.OTHER_REASON
    error: ErrorCode

    def __init__(self, error: ErrorCode | str | int, detail: str = "") -> None:
        self.error = error if isinstance(error, ErrorCode) else by_code(error)
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.error}: {self.detail}" if self.detail else str(self.error)


class PackageRefused(CError, PackageError):
    """The C core refused a package, fragment or session (``err`` its code)."""

    def __init__(self, err: int, detail: str = "") -> None:
        self._set_err(err)
        super().__init__(from_mt_err(err), detail or self.err_name)


def dlms_outcome(exc: BaseException) -> DlmsOutcome:
    """What a DLMS server answers for ``exc``: a Data-Access-Result, an AARE
    rejection, or closing the association (an error that is not meteremu's is a
    bug: close)."""
    return exc.dlms if isinstance(exc, MeteremuError) else Close.CONNECTION


MT_NAMES: dict[int, str] = {v: k for k, v in MT_ERR.items()}
_FLASH_CLASSES: dict[str, type[FlashError]] = {
    "MT_E_FLASH_RANGE": FlashRangeError,
    "MT_E_FLASH_ALIGN": FlashAlignError,
    "MT_E_FLASH_ONE": FlashOneError,
    "MT_E_FLASH_POWER": FlashPowerError,
    "MT_E_FLASH_WORN": FlashWornError,
}


def _class_for(name: str) -> type[MeteremuError]:
    if name in _FLASH_CLASSES:
        return _FLASH_CLASSES[name]
    if name in ("MT_E_ARG", "MT_E_LENGTH"):
        return UsageError
    if name in ("MT_E_NO_BOOTABLE", "MT_E_SWAP"):
        return BootError
    if name == "MT_E_STATE":
        return StateError
    return PackageRefused  # a package, frame or session refused


#: Every C return code: (the exception class the binding raises, its error record).
C_ERRORS: dict[int, tuple[type[MeteremuError], ErrorCode | None]] = {
    rc: (_class_for(name), _BY_MT_ERR.get(rc)) for name, rc in MT_ERR.items() if rc != 0
}


def c_error(rc: int, detail: str = "") -> MeteremuError:
    """The exception for a nonzero C return code, by :data:`C_ERRORS` (every
    binding raises through here)."""
    cls, _ = C_ERRORS.get(rc, (UsageError, None))
    name = MT_NAMES.get(rc, str(rc))
    if issubclass(cls, CError):
        return cls(rc, detail)  # type: ignore[call-arg]
    return cls(f"{name}: {detail}" if detail else name)


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a one-line message.

    ``repr`` escapes line breaks and unprintable characters, so the result is
    one line; an integer too long to write out (Python refuses to convert one
    of more than 4300 digits to text) is described by its size instead.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # a container holding such an integer, or nested deep
        text = f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """docs/ERRORS.md, generated from :data:`ERRORS`."""
    lines = [
        "# meteremu error codes",
        "",
        "Generated from `meteremu/errors.py` by `python -m meteremu.errors > docs/ERRORS.md`;",
        "edit the table there, not this file (a test checks the two agree).",
        "",
        "The audit log writes one line per failure, e.g. `FOTA_ERR 0xE04 signature "
        "verification failed: ...`,",
        'so `grep "0xE04"` finds every signature failure. `F.xx` codes are shown on '
        "the meter's LCD.",
        "",
        "Image acceptance runs in the C core on the bytes in the inactive bank, and the",
        "first failing check stops it (one audit record, the active bank untouched):",
        "header sanity (0x8008) → vendor (0x8007) → hardware revision (0x8004) → size",
        "against the bank (0x9002) → every fragment present (0x8001) → CRC-32 (0x8002)",
        "→ SHA-256 (0x8003) → key known (0x8005) → trailer and signature (0xE06, 0xE05,",
        "0xE04) → security counter not lower than the installed one (0x8006).",
        "",
        "| code | name | meaning | operator action | C core (`mt_err.h`) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in ERRORS:
        c_codes = ", ".join(f"`{n}`" for n in e.mt_err) or "(raised in Python only)"
        lines.append(
            f"| {e.code} | {_cell(e.name)} | {_cell(e.meaning)} | {_cell(e.action)} "
            f"| {c_codes} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised through the doc test
    sys.stdout.write(markdown_table())
