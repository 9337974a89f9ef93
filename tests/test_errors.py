"""The error table: complete against csrc/mt_err.h, faithful to the seed, and documented."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from meteremu import errors
from meteremu.errors import ERRORS, MT_ERR, MeteremuError, PackageError, by_code, from_mt_err

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _header_enum() -> dict[str, int]:
    text = (ROOT / "csrc" / "mt_err.h").read_text()
    body = text[text.index("enum mt_err") :]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return {m[1]: int(m[2]) for m in re.finditer(r"\b(MT_\w+)\s*=\s*(-?\d+)", body)}


def test_mt_err_mirror_matches_header() -> None:
    assert _header_enum() == MT_ERR


def test_every_c_error_maps_to_exactly_one_code() -> None:
    named = [name for e in ERRORS for name in e.mt_err]
    assert len(named) == len(set(named)), "an mt_err value maps to two codes"
    for name, value in _header_enum().items():
        if value == 0:
            continue
        assert name in named, f"{name} maps to no error code"
        assert name in from_mt_err(value).mt_err


def test_table_names_only_known_c_codes() -> None:
    for e in ERRORS:
        for name in e.mt_err:
            assert name in MT_ERR and MT_ERR[name] < 0, (e.code, name)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("0x8001", "incomplete image"),
        ("0x8005", "signature mismatch"),
        ("0x9002", "insufficient memory"),
        ("0xE04", "signature verification failed"),
        ("F.03", "swap failure"),
        ("0x8006", "downgrade"),
    ],
)
def test_seed_and_spec_codes(code: str, name: str) -> None:
    assert by_code(code).name == name


def test_checks_the_spec_asks_for_have_codes() -> None:
    names = {e.name for e in ERRORS}
    for wanted in (
        "CRC mismatch",
        "SHA-256 mismatch",
        "hardware revision mismatch",
        "vendor mismatch",
        "malformed header",
        "malformed trailer",
        "missing signature",
        "battery reserve",
    ):
        assert wanted in names


def test_seed_mapping_of_c_codes() -> None:
    assert from_mt_err(MT_ERR["MT_E_INCOMPLETE"]).code == "0x8001"
    assert from_mt_err(MT_ERR["MT_E_UNKNOWN_KEY"]).code == "0x8005"
    assert from_mt_err(MT_ERR["MT_E_TOO_BIG"]).code == "0x9002"
    assert from_mt_err(MT_ERR["MT_E_SIGNATURE"]).code == "0xE04"
    assert from_mt_err(MT_ERR["MT_E_SWAP"]).code == "F.03"


def test_codes_unique_and_well_formed() -> None:
    codes = [e.code for e in ERRORS]
    assert len(codes) == len(set(codes))
    for e in ERRORS:
        assert re.fullmatch(r"0x[0-9A-F]+|F\.\d\d", e.code), e.code
        assert e.name and e.meaning and e.action
        assert by_code(e.code) is e
        if e.is_display_code:
            assert e.number is None
        else:
            assert e.number is not None and by_code(e.number) is e


def test_lookup_forms() -> None:
    assert by_code("0xe04") is by_code(0xE04) is by_code(" 0xE04 ")
    assert by_code("f.03").code == "F.03"
    with pytest.raises(KeyError):
        by_code("0x1234")
    with pytest.raises(KeyError):
        from_mt_err(-999)


def test_package_error_message_and_hierarchy() -> None:
    exc = PackageError("0xE04", "bad signature")
    assert str(exc) == "0xE04 signature verification failed: bad signature"
    assert exc.error is by_code("0xE04")
    assert str(PackageError(by_code("F.03"))) == "F.03 swap failure"
    crc = errors.c_error(MT_ERR["MT_E_IMAGE_CRC"])
    assert isinstance(crc, PackageError) and crc.error is not None
    assert crc.error.name == "CRC mismatch"
    assert isinstance(exc, MeteremuError)
    assert issubclass(errors.ConfigError, errors.UsageError)
    assert issubclass(errors.KeyFileError, errors.UsageError)


# ---------------------------------------------------------------- the error model
BRANCHES = (errors.UsageError, errors.PeerError, errors.DeviceFault, errors.PackageError)


def _classes(root: type) -> list[type]:
    out = [root]
    for sub in root.__subclasses__():
        out += _classes(sub)
    return out


def test_every_exception_sits_on_exactly_one_branch() -> None:
    for cls in _classes(MeteremuError):
        if cls is MeteremuError or cls in BRANCHES:
            continue
        on = [b for b in BRANCHES if issubclass(cls, b)]
        assert len(on) == 1, (cls, on)
    assert issubclass(errors.UsageError, ValueError)


def test_every_branch_has_one_dlms_answer() -> None:
    R = errors.DataAccessResult
    assert errors.dlms_outcome(errors.UsageError("x")) is errors.Close.CONNECTION
    assert errors.dlms_outcome(errors.ObjectUndefined("x")) is R.OBJECT_UNDEFINED
    assert errors.dlms_outcome(errors.AccessDenied("x")) is R.READ_WRITE_DENIED
    assert errors.dlms_outcome(errors.TypeUnmatched("x")) is R.TYPE_UNMATCHED
    assert errors.dlms_outcome(errors.TemporaryFailure("x")) is R.TEMPORARY_FAILURE
    assert errors.dlms_outcome(errors.AuthenticationFailure("x")) == errors.AareRejection(13)
    assert errors.dlms_outcome(PackageError("0x8005")) is R.OTHER_REASON
    assert errors.dlms_outcome(errors.FlashWornError(MT_ERR["MT_E_FLASH_WORN"])) \
        is R.HARDWARE_FAULT
    assert errors.dlms_outcome(errors.MeterUnavailable("off")) is errors.Close.CONNECTION
    assert errors.dlms_outcome(RuntimeError("a bug")) is errors.Close.CONNECTION
    for cls in _classes(MeteremuError):
        assert isinstance(cls.dlms, R | errors.AareRejection | errors.Close), cls


def test_every_c_code_has_one_class_and_its_record() -> None:
    for name, rc in MT_ERR.items():
        if rc == 0:
            continue
        cls, record = errors.C_ERRORS[rc]
        exc = errors.c_error(rc, "detail")
        assert type(exc) is cls, name
        if isinstance(exc, errors.CError):
            assert exc.err == rc and exc.err_name == name
        assert exc.error is record or cls is errors.UsageError, name
        assert "detail" in str(exc)
    assert errors.C_ERRORS[MT_ERR["MT_E_FLASH_POWER"]][0] is errors.FlashPowerError
    assert errors.C_ERRORS[MT_ERR["MT_E_SWAP"]][0] is errors.BootError
    assert errors.C_ERRORS[MT_ERR["MT_E_SIGNATURE"]][0] is errors.PackageRefused


def test_committed_doc_is_generated_from_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meteremu.errors"], capture_output=True, check=True, cwd=ROOT
    ).stdout.decode()
    assert out == errors.markdown_table()
    assert (ROOT / "docs" / "ERRORS.md").read_text() == out, (
        "docs/ERRORS.md is stale: python -m meteremu.errors > docs/ERRORS.md"
    )


def test_every_record_has_exactly_one_name() -> None:
    named = {
        name: value for name, value in vars(errors).items()
        if name.isupper() and isinstance(value, errors.ErrorCode)
    }
    assert sorted(named.values(), key=ERRORS.index) == list(ERRORS)
    assert set(named) <= set(errors.__all__)
    assert errors.BATTERY_RESERVE.code == "0x9003"
    assert errors.SWAP_FAILURE is by_code("F.03")
