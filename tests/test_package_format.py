"""The package format in construct: same bytes as csrc/mt_pkg.h and docs/FORMAT.md, round trips."""

from __future__ import annotations

import pathlib
import re
import struct
import zlib

import pytest
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.wire import package as fmt

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _doc_table(section: str) -> list[tuple[int, str, str]]:
    """(offset, size, field) rows of the first table under '## <section>' in FORMAT.md."""
    text = (ROOT / "docs" / "FORMAT.md").read_text()
    part = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in part.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            rows.append((int(cells[0]), cells[1], cells[2]))
    return rows


def _c_header_layout() -> list[tuple[int, int, str]]:
    text = (ROOT / "csrc" / "mt_pkg.h").read_text()
    comment = text.split("Header, format version 1", 1)[1].split("Trailer TLV", 1)[0]
    return [
        (int(m[1]), int(m[2]), m[3])
        for m in re.finditer(r"^\s*\*\s+(\d+)\s+(\d+)\s+([a-z_0-9]+)", comment, re.M)
    ]


def _construct_layout(struct_: object) -> list[tuple[int, int, str]]:
    out, off = [], 0
    for sc in struct_.subcons:  # type: ignore[attr-defined]
        size = sc.sizeof()
        if sc.name:
            out.append((off, size, sc.name))
        off += size
    return out


HEADER_LAYOUT = [*_construct_layout(fmt.HeaderBody), (124, 4, "header_crc32")]


def test_header_layout_matches_mt_pkg_h() -> None:
    assert _c_header_layout() == HEADER_LAYOUT


def test_header_layout_matches_format_md() -> None:
    doc = [(off, int(size), name) for off, size, name in _doc_table("Header")]
    assert doc == HEADER_LAYOUT


def test_header_is_128_bytes_and_crc_at_124() -> None:
    assert fmt.HeaderBody.sizeof() == fmt.HEADER_CRC_OFFSET == 124
    assert fmt.Header.sizeof() == fmt.HEADER_SIZE == 128


def test_trailer_record_layout_matches_format_md() -> None:
    doc = _doc_table("Trailer")
    assert [(off, name) for off, _size, name in doc] == [(0, "type"), (1, "length"), (3, "value")]
    sizes = {sc.name: sc for sc in fmt.SignatureRecord.subcons if sc.name}
    assert sizes["type"].sizeof() == int(doc[0][1]) == 1
    assert sizes["length"].sizeof() == int(doc[1][1]) == 2


def test_constants_match_mt_pkg_h() -> None:
    text = (ROOT / "csrc" / "mt_pkg.h").read_text()
    defs = dict(re.findall(r"#define (MT_PKG_\w+) (\S+)", text))
    assert defs["MT_PKG_MAGIC"] == '"MTRP"' and fmt.MAGIC == b"MTRP"
    for name, value in [
        ("FORMAT_VERSION", fmt.FORMAT_VERSION),
        ("HEADER_SIZE", fmt.HEADER_SIZE),
        ("KEY_ID_LEN", fmt.KEY_ID_LEN),
        ("FRAGMENT_MIN", fmt.FRAGMENT_MIN),
        ("FRAGMENT_MAX", fmt.FRAGMENT_MAX),
        ("TRAILER_MAX", fmt.TRAILER_MAX),
        ("FRAGMENT_ALIGN", fmt.FRAGMENT_ALIGN),
        ("TRAILER_DEFAULT", fmt.TRAILER_DEFAULT),
        ("TLV_SIG_DER", fmt.TLV_SIG_DER),
        ("TLV_SIG_RAW", fmt.TLV_SIG_RAW),
        ("TLV_PAD", fmt.TLV_PAD),
    ]:
        assert int(defs[f"MT_PKG_{name}"].rstrip("u"), 0) == value, name
    behaviours = dict(re.findall(r"MT_BEHAVIOUR_(\w+) = (\d+)", text))
    assert {k.lower().replace("_", "-"): int(v) for k, v in behaviours.items()} == fmt.BEHAVIOURS


# --- strategies -------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def headers(draw: st.DrawFn) -> dict:
    image_size = draw(st.integers(1, 0xFFFFFFFF - 128 - 1024))
    trailer_size = draw(st.integers(0, fmt.TRAILER_MAX))
    units = draw(st.integers(1, fmt.FRAGMENT_MAX // fmt.FRAGMENT_ALIGN))
    fragment_size = fmt.FRAGMENT_ALIGN * units
    return {
        "vendor_id": draw(u32),
        "hw_revision": draw(u16),
        "flags": {"reserved": 0, "behaviour": draw(st.sampled_from(list(fmt.BEHAVIOURS)))},
        "version_major": draw(u8),
        "version_minor": draw(u8),
        "version_patch": draw(u16),
        "version_build": draw(u32),
        "security_counter": draw(u32),
        "image_size": image_size,
        "fragment_size": fragment_size,
        "trailer_size": trailer_size,
        "fragment_count": fmt.fragment_count(128 + image_size + trailer_size, fragment_size),
        "image_crc32": draw(u32),
        "image_sha256": draw(st.binary(min_size=32, max_size=32)),
        "key_id": draw(st.binary(min_size=8, max_size=8)),
    }


def _fields(parsed: dict) -> dict:
    out = {k: v for k, v in parsed.items() if k not in ("magic", "format_version",
                                                        "header_size", "reserved",
                                                        "header_crc32")}
    out["flags"] = {"reserved": parsed["flags"]["reserved"],
                    "behaviour": str(parsed["flags"]["behaviour"])}
    return out


HEADER_STRUCT = struct.Struct("<4sHHIHHBBHIIIHHII32s8s40sI")


@settings(max_examples=150, deadline=None)
@given(headers())
def test_header_round_trip_and_independent_layout(h: dict) -> None:
    data = fmt.Header.build(h)
    assert len(data) == 128
    parsed = fmt.Header.parse(data)
    assert _fields(parsed) == h
    assert fmt.Header.build(parsed) == data
    # The same bytes read with struct, independently of construct.
    f = HEADER_STRUCT.unpack(data)
    assert f[:3] == (b"MTRP", 1, 128)
    assert f[3:6] == (h["vendor_id"], h["hw_revision"], fmt.BEHAVIOURS[h["flags"]["behaviour"]])
    assert f[6:10] == (h["version_major"], h["version_minor"], h["version_patch"],
                       h["version_build"])
    assert f[10:15] == (h["security_counter"], h["image_size"], h["fragment_size"],
                        h["trailer_size"], h["fragment_count"])
    assert f[15:18] == (h["image_crc32"], h["image_sha256"], h["key_id"])
    assert f[18] == bytes(40)
    assert f[19] == zlib.crc32(data[:124])


signature_records = st.one_of(
    st.builds(lambda v: {"type": "sig_der", "value": v},
              st.binary(min_size=fmt.SIG_DER_MIN, max_size=fmt.SIG_DER_MAX)),
    st.builds(lambda v: {"type": "sig_raw", "value": v},
              st.binary(min_size=fmt.SIG_RAW_LEN, max_size=fmt.SIG_RAW_LEN)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(signature_records, max_size=1), st.integers(0, 200))
def test_trailer_round_trip(records: list, padding: int) -> None:
    data = fmt.Trailer.build({"records": records, "padding": padding})
    assert len(data) == sum(3 + len(r["value"]) for r in records) + padding
    assert data.endswith(b"\xff" * padding)
    parsed = fmt.Trailer.parse(data)
    assert [{"type": str(r.type), "value": r.value} for r in parsed.records] == records
    assert parsed.padding == padding
    assert fmt.Trailer.build(parsed) == data


@settings(max_examples=60, deadline=None)
@given(
    headers(),
    st.binary(min_size=1, max_size=600),
    signature_records,
)
def test_package_round_trip(h: dict, image: bytes, record: dict) -> None:
    h = dict(h, image_size=len(image), trailer_size=128,
             fragment_count=fmt.fragment_count(128 + len(image) + 128, h["fragment_size"]))
    padding = 128 - 3 - len(record["value"])
    pkg = {"header": h, "image": image, "trailer": {"records": [record], "padding": padding}}
    data = fmt.Package.build(pkg)
    assert len(data) == 128 + len(image) + 128
    parsed = fmt.Package.parse(data)
    assert fmt.Package.build(parsed) == data
    assert parsed.image == image
    unsigned = fmt.UnsignedPackage.build({"header": h, "image": image})
    assert data.startswith(unsigned) and len(unsigned) == 128 + len(image)
    assert fmt.UnsignedPackage.parse(unsigned).image == image


def test_trailer_rejections() -> None:
    sig = bytes(70)
    good = b"\x01" + (70).to_bytes(2, "little") + sig + b"\xff" * 55
    assert fmt.Trailer.parse(good).padding == 55
    bad = {
        "unknown type": b"\x03" + good[1:],
        "non-0xFF padding": good[:-1] + b"\x00",
        "DER too long": b"\x01" + (73).to_bytes(2, "little") + bytes(73),
        "raw not 64": b"\x02" + (63).to_bytes(2, "little") + bytes(63) + b"\xff",
        "record past the end": good[:40],
        "two signatures": good[:73] * 2 + b"\xff",
    }
    for what, data in bad.items():
        with pytest.raises(ConstructError):
            fmt.Trailer.parse(data)
            pytest.fail(what)
    empty = fmt.Trailer.parse(b"\xff" * 128)
    assert empty.records == [] and empty.padding == 128
    assert fmt.Trailer.parse(b"").padding == 0
