"""Bad input to the CLI ends in exit 2 and one line on stderr, never a traceback.

The promise (``meteremu/cli.py``, docs/FORMAT.md): 0 success, 1 the package
failed a check, 2 usage, config or key-file errors, each with a one-line
message. These tests hold every ``config.json`` field and every numeric
option to it, with named cases for the ones that once broke it and a
hypothesis property that feeds arbitrary JSON into each field.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meteremu.cli import main
from meteremu.errors import ConfigError
from meteremu.package import PackageConfig, Version, verify
from meteremu.wire.package import BEHAVIOURS

CONFIG = {
    "vendor_id": 1296389189,
    "hw_revision": 3,
    "version": "2.1.0+318",
    "security_counter": 12,
    "fragment_size": 128,
}
FIELDS = (*PackageConfig.REQUIRED, *PackageConfig.OPTIONAL)
ARABIC_ONE = "\u0661"  # ARABIC-INDIC DIGIT ONE: str.isdigit() and int() take it as 1


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A key pair, a firmware image and a signed package built from CONFIG."""
    d = tmp_path_factory.mktemp("cli-errors")
    (d / "fw.bin").write_bytes(bytes(range(256)) * 12)
    (d / "config.json").write_text(json.dumps(CONFIG))
    assert call("keygen", "--out", d / "k.pem", "--pub", d / "pub.pem")[0] == 0
    code, _, err = call("package", d / "fw.bin", "--config", d / "config.json",
                        "-o", d / "fw.pkg", "--key", d / "k.pem")
    assert code == 0, err
    return d


def call(*argv: object) -> tuple[int, str, str]:
    """``meteremu.cli.main`` in-process, as the console script calls it: (status, out, err).

    An exception escaping ``main`` is what the console script would show as a
    traceback, so it fails the test as it stands.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_usage_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def package_with(work: pathlib.Path, config_text: str) -> tuple[int, str, str]:
    cfg = work / "bad.json"
    cfg.write_text(config_text, encoding="utf-8", errors="surrogatepass")
    out = work / "out.pkg"
    out.unlink(missing_ok=True)
    result = call("package", work / "fw.bin", "--config", cfg, "-o", out,
                  "--pubkey", work / "pub.pem")
    assert out.exists() == (result[0] == 0)
    return result


def config_text(**changes: object) -> str:
    return json.dumps({**CONFIG, **changes})


# --- config.json: the defect's cases -------------------------------------------


def test_config_behaviour_as_a_list_is_a_usage_error(work: pathlib.Path) -> None:
    code, _, err = package_with(work, config_text(behaviour=["normal"]))
    assert_one_line_usage_error(code, err, "behaviour")


def test_config_5000_digit_integer_is_a_usage_error(work: pathlib.Path) -> None:
    text = config_text(vendor_id=0).replace('"vendor_id": 0', '"vendor_id": ' + "9" * 5000)
    code, _, err = package_with(work, text)
    assert_one_line_usage_error(code, err, "config", "digits")
    assert len(err) < 300


def test_config_nested_100k_deep_is_a_usage_error(work: pathlib.Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    text = config_text(packet_count=0).replace('"packet_count": 0', '"packet_count": ' + deep)
    code, _, err = package_with(work, text)
    assert_one_line_usage_error(code, err, "config", "nested")


def test_config_nested_100k_deep_object_is_a_usage_error(work: pathlib.Path) -> None:
    code, _, err = package_with(work, '{"a":' * 100_000 + "1" + "}" * 100_000)
    assert_one_line_usage_error(code, err, "config", "nested")


def test_version_with_non_ascii_digits_is_refused(work: pathlib.Path) -> None:
    code, _, err = package_with(work, config_text(version=f"{ARABIC_ONE}.0.0"))
    assert_one_line_usage_error(code, err, "version")
    with pytest.raises(ValueError, match=r"\(ASCII digits\)"):
        Version.parse(f"{ARABIC_ONE}.0.0")
    with pytest.raises(ValueError, match=r"\(ASCII digits\)"):
        Version.parse("1.0.0+\uff11")  # FULLWIDTH DIGIT ONE


def test_hex_string_with_non_ascii_digits_is_refused(work: pathlib.Path) -> None:
    code, _, err = package_with(work, config_text(hw_revision=f"0x{ARABIC_ONE}2"))
    assert_one_line_usage_error(code, err, "hw_revision")


# --- config.json: wrong types and ranges, field by field ------------------------

_INT_FIELDS = ("vendor_id", "hw_revision", "security_counter", "fragment_size",
               "packet_count", "trailer_size")


@pytest.mark.parametrize("field", _INT_FIELDS)
@pytest.mark.parametrize("value", [[1], {"a": 1}, 16.0, True, False, "16", None, "0x"])
def test_config_integer_field_of_the_wrong_type_is_a_usage_error(
    work: pathlib.Path, field: str, value: object
) -> None:
    code, _, err = package_with(work, config_text(**{field: value}))
    if field == "packet_count" and value is None:
        assert code == 0, err  # a null packet_count means none given
        return
    assert_one_line_usage_error(code, err, field)


@pytest.mark.parametrize("field", ("version", "behaviour"))
@pytest.mark.parametrize("value", [[1], ["normal"], {"a": 1}, 1, 1.5, True, None])
def test_config_string_field_of_the_wrong_type_is_a_usage_error(
    work: pathlib.Path, field: str, value: object
) -> None:
    code, _, err = package_with(work, config_text(**{field: value}))
    assert_one_line_usage_error(code, err, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vendor_id", 2**32), ("vendor_id", -1), ("vendor_id", "0x100000000"),
        ("hw_revision", 2**16), ("security_counter", 2**32), ("packet_count", 2**32),
        ("fragment_size", 2**64), ("trailer_size", -(10**4000)),
        ("vendor_id", "0x" + "f" * 5000),  # hex has no digit limit: the message must cut it
    ],
    ids=lambda v: repr(v)[:24],
)
def test_config_integer_out_of_range_is_a_short_usage_error(
    work: pathlib.Path, field: str, value: object
) -> None:
    code, _, err = package_with(work, config_text(**{field: value}))
    assert_one_line_usage_error(code, err, field)
    assert len(err) < 300


@pytest.mark.parametrize("text", ["1.2.3+" + "9" * 5000, "9" * 5000 + ".0.0",
                                  "1." + "0" * 5000 + "256.0", " 1.2.3\n+4"],
                         ids=["huge-build", "huge-major", "zeros-then-too-big", "newline"])
def test_config_version_with_huge_or_broken_numbers_is_a_short_usage_error(
    work: pathlib.Path, text: str
) -> None:
    code, _, err = package_with(work, config_text(version=text))
    assert_one_line_usage_error(code, err, "version")
    assert len(err) < 300


def test_version_leading_zeros_are_still_read() -> None:
    assert Version.parse("01.002.0003+0004") == Version(1, 2, 3, 4)
    assert Version.parse("1." + "0" * 5000 + "1.0") == Version(1, 1, 0)  # no 4300-digit limit


@pytest.mark.parametrize("key", ["vendor\nid", "\ud800", "x" * 10_000, "a\u2028b"],
                         ids=["newline", "surrogate", "long", "line-separator"])
def test_config_unknown_field_with_odd_name_is_one_line(work: pathlib.Path, key: str) -> None:
    code, _, err = package_with(work, json.dumps({**CONFIG, key: 1}))
    assert_one_line_usage_error(code, err, "unknown field")
    assert len(err) < 400


def test_config_duplicate_field_is_a_usage_error(work: pathlib.Path) -> None:
    # The first value is the one a reviewer reads; JSON parsers keep the last.
    text = config_text().replace('"security_counter": 12', '"security_counter": 12, '
                                                           '"security_counter": 0')
    code, _, err = package_with(work, text)
    assert_one_line_usage_error(code, err, "security_counter", "more than once")


@pytest.mark.parametrize("top", ["[]", "1", '"x"', "null", "NaN", "", "\ufeff{}"])
def test_config_that_is_not_an_object_is_a_usage_error(work: pathlib.Path, top: str) -> None:
    code, _, err = package_with(work, top)
    assert_one_line_usage_error(code, err, "config")


def test_from_dict_with_python_values_fails_as_config_error() -> None:
    # The library entry point, with values json never produces.
    for value in (10**5000, [10**5000], float("inf"), 2**70):
        with pytest.raises(ConfigError) as info:
            PackageConfig.from_dict({**CONFIG, "vendor_id": value})
        assert info.value.field == "vendor_id" and len(str(info.value)) < 200


# --- arbitrary JSON into every field -------------------------------------------------


class Raw(str):
    """JSON text written as it stands: numbers json.dumps cannot write, deep nesting."""


def dump(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


_DIGITS = "0123456789" + "\u0660\u0661\u0662\u06f1\u0967\uff11\U0001d7ce"
_texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(sorted(BEHAVIOURS)),
    st.lists(st.text(_DIGITS, min_size=1, max_size=4), min_size=1, max_size=4).map(".".join),
    st.tuples(st.text(_DIGITS, min_size=1, max_size=3), st.text(_DIGITS, max_size=3))
    .map(lambda t: f"1.2.{t[0]}+{t[1]}"),
    st.text("0123456789abcdefABCDEF\u0661_ xX", max_size=12).map(lambda t: "0x" + t),
)
_huge_numbers = st.integers(4290, 6000).map(lambda n: Raw("9" * n))
_deep = st.integers(1, 150_000).map(lambda n: Raw("[" * n + "]" * n))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True), _texts, _huge_numbers,
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
) | _deep


@pytest.mark.parametrize("field", FIELDS)
@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(value=json_values)
def test_any_json_in_a_config_field_is_0_or_a_one_line_2(
    work: pathlib.Path, field: str, value: object
) -> None:
    text = "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}"
                           for k, v in {**CONFIG, field: value}.items()) + "}"
    code, out, err = package_with(work, text)
    assert code in (0, 2), (code, err)
    if code == 2:
        assert_one_line_usage_error(code, err, field if field in err else "config")
        assert out == ""
    else:
        assert "Traceback" not in err


def test_deep_config_through_the_console_script_is_one_line(work: pathlib.Path) -> None:
    """Deep nesting in a fresh interpreter, where the stack is the CLI's own."""
    cfg = work / "deep.json"
    cfg.write_text('{"vendor_id": ' + "[" * 100_000 + "]" * 100_000 + "}")
    r = subprocess.run([sys.executable, "-m", "meteremu.cli", "package", str(work / "fw.bin"),
                        "--config", str(cfg), "-o", str(work / "d.pkg"),
                        "--pubkey", str(work / "pub.pem")], capture_output=True, text=True)
    assert_one_line_usage_error(r.returncode, r.stderr, "config")
    assert not (work / "d.pkg").exists()


# --- numeric options ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["0x100000000", "4294967296", "-1", "1" * 5000,
                                   ARABIC_ONE, "1.0", "", "0x"])
def test_verify_out_of_range_vendor_id_is_a_usage_error(work: pathlib.Path, value: str) -> None:
    code, out, err = call("verify", work / "fw.pkg", "--pubkey", work / "pub.pem",
                          f"--vendor-id={value}")
    assert_one_line_usage_error(code, err, "--vendor-id")
    assert out == ""
    assert len(err) < 300


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--hw-revision", "65536"), ("--hw-revision", "-1"), ("--hw-revision", ARABIC_ONE),
        ("--bank-size", "0"), ("--bank-size", "-5"), ("--bank-size", "0x100000000"),
        ("--bank-size", "9" * 30),
        ("--min-security-counter", "-1"), ("--min-security-counter", "4294967296"),
        ("--min-security-counter", f"1{ARABIC_ONE}"),
    ],
)
def test_verify_out_of_range_option_is_a_usage_error(
    work: pathlib.Path, option: str, value: str
) -> None:
    code, out, err = call("verify", work / "fw.pkg", "--pubkey", work / "pub.pem",
                          f"{option}={value}")
    assert_one_line_usage_error(code, err, option)
    assert out == ""


@pytest.mark.parametrize(
    ("option", "value"),
    [("--vendor-id", "0x4D455445"), ("--vendor-id", "1296389189"), ("--hw-revision", "3"),
     ("--min-security-counter", "0xFFFFFFFF"), ("--bank-size", "0xFFFFFFFF"),
     ("--bank-size", "3584")],
)
def test_verify_limits_themselves_are_accepted(
    work: pathlib.Path, option: str, value: str
) -> None:
    code, _, err = call("verify", work / "fw.pkg", "--pubkey", work / "pub.pem",
                        f"{option}={value}")
    assert code in (0, 1), err  # 1: the meter refuses (e.g. 0x8006); still not a usage error
    assert len(err.splitlines()) == (0 if code == 0 else 1)


def test_verify_library_call_range_checks_as_config_error(work: pathlib.Path) -> None:
    from meteremu.keys import load_public_key_file

    data, keys = (work / "fw.pkg").read_bytes(), [load_public_key_file(work / "pub.pem")]
    for name, value in (("vendor_id", 2**32), ("hw_revision", -1), ("bank_size", 0),
                        ("min_security_counter", 2**32), ("vendor_id", True)):
        with pytest.raises(ConfigError) as info:
            verify(data, keys, **{name: value})
        assert info.value.field == name


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--seed", "0x100000000"],
                                  ["--seed", ARABIC_ONE], ["--loss", f"0.{ARABIC_ONE}"],
                                  ["--loss", "nan"], ["--loss", "0.5x"]])
def test_demo_bad_numeric_option_is_a_usage_error(argv: list[str]) -> None:
    code, out, err = call("demo", "meter", "--plain", *argv)
    assert_one_line_usage_error(code, err, argv[0])
    assert out == ""


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--seed", ARABIC_ONE],
                                  ["--meters", "49"], ["--meters", "2001"]])
def test_fleet_demo_bad_numeric_option_is_a_usage_error(argv: list[str]) -> None:
    code, out, err = call("demo", "--plain", *argv)
    assert_one_line_usage_error(code, err, argv[0])
    assert out == ""


def test_demo_largest_seed_still_makes_valid_sessions() -> None:
    from meteremu.demo import session_id

    assert all(0 <= session_id(2**32 - 1, n) < 2**32 for n in (0, 1, 2))


@pytest.mark.parametrize(
    "argv",
    [[], ["verify"], ["verify", "x.pkg"], ["package", "fw.bin"], ["keygen"], ["nope"],
     ["inspect", "a", "b"], ["verify", "x.pkg", "--pubkey"], ["demo", "--seed"]],
)
def test_argument_errors_are_one_line(argv: list[str]) -> None:
    code, out, err = call(*argv)
    assert_one_line_usage_error(code, err, "meteremu")
    assert out == ""


def test_help_still_prints_the_usage() -> None:
    code, out, _ = call("verify", "--help")
    assert code == 0 and "--vendor-id" in out and "usage:" in out


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--vendor-id", "--hw-revision", "--min-security-counter",
                               "--bank-size"]),
       value=st.one_of(st.integers(-(2**70), 2**70).map(str),
                       st.integers(-(2**70), 2**70).map(hex), _texts))
def test_any_text_in_a_verify_option_is_one_line(
    work: pathlib.Path, option: str, value: str
) -> None:
    code, _, err = call("verify", work / "fw.pkg", "--pubkey", work / "pub.pem",
                        f"{option}={value}")
    assert code in (0, 1, 2), (code, err)
    assert len(err.splitlines()) == (0 if code == 0 else 1), err
    assert err == "" or err.endswith("\n")
    if code == 2:
        assert option in err


def test_out_of_range_option_through_the_console_script_is_one_line(work: pathlib.Path) -> None:
    r = subprocess.run([sys.executable, "-m", "meteremu.cli", "verify", str(work / "fw.pkg"),
                        "--pubkey", str(work / "pub.pem"), "--vendor-id", "0x100000000"],
                       capture_output=True, text=True)
    assert_one_line_usage_error(r.returncode, r.stderr, "--vendor-id")
