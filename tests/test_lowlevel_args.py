"""The binding checks every argument before C sees it: fixed-size arguments of
another length raise ValueError naming what is wrong, C always gets a buffer's
length in bytes (not its item count), and the public binding objects take only
the binding's own objects -- never a raw cdata handle from the caller."""

from __future__ import annotations

import hashlib
import zlib
from array import array

import pytest
from _pkg_build import make_package, sec1
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from meteremu import crypto
from meteremu._lowlevel import crypto as ll
from meteremu._lowlevel import ffi, lib
from meteremu._lowlevel.boot import Bootloader
from meteremu._lowlevel.flash import Flash, compute_layout
from meteremu._lowlevel.image import check_package, parse_header
from meteremu._lowlevel.reasm import Frame, Reassembler, decode_frame, encode_frame

KEY = ec.derive_private_key(0xA5A5_1234, ec.SECP256R1())
POINT = sec1(KEY.public_key())
MESSAGE = b"firmware image bytes" * 7
DIGEST = hashlib.sha256(MESSAGE).digest()
DER = KEY.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
RAW = b"".join(v.to_bytes(32, "big") for v in decode_dss_signature(DER))


def wide(data: bytes) -> memoryview:
    """The same bytes as a view of 4-byte items: len() is a quarter of the bytes."""
    assert len(data) % 4 == 0
    return memoryview(data).cast("I")


# ---- crypto: lengths ------------------------------------------------------------


def test_signatures_used_here_verify():
    assert ll.p256_verify(POINT, DIGEST, DER, der=True)
    assert ll.p256_verify(POINT, DIGEST, RAW, der=False)


@pytest.mark.parametrize("n", [0, 1, 20, 31, 33, 48, 64])
@pytest.mark.parametrize("der", [True, False])
def test_digest_not_32_bytes_is_refused_before_c(n, der):
    digest = (DIGEST * 2)[:n]
    with pytest.raises(ValueError, match=rf"digest must be 32 bytes \(SHA-256\), got {n}"):
        ll.p256_verify(POINT, digest, DER if der else RAW, der)


def test_digest_of_32_bytes_in_wider_items_is_accepted():
    # 8 items of 4 bytes: 32 bytes, whatever len() says
    assert ll.p256_verify(POINT, wide(DIGEST), DER, der=True)
    with pytest.raises(ValueError, match=r"digest must be 32 bytes \(SHA-256\), got 16"):
        ll.p256_verify(POINT, wide(DIGEST[:16]), DER, der=True)


@pytest.mark.parametrize("n", [0, 1, 32, 34, 64, 66])
def test_key_not_33_or_65_bytes_is_refused(n):
    with pytest.raises(ValueError, match=rf"33- or 65-byte SEC1 point, got {n} bytes"):
        ll.p256_verify((POINT * 2)[:n], DIGEST, DER, der=True)


def test_key_from_any_buffer():
    assert ll.p256_parse_point(memoryview(POINT)) == POINT
    assert ll.p256_parse_point(bytearray(POINT)) == POINT
    with pytest.raises(TypeError):
        ll.p256_parse_point(65)  # not a buffer: not 65 zero bytes either


@pytest.mark.parametrize("n", [0, 32, 63, 65, 72])
def test_raw_signature_of_wrong_length_is_a_bad_signature(n):
    # the module's policy: a bad signature is an outcome (False), not misuse
    sig = (RAW * 2)[:n]
    assert ll.p256_verify(POINT, DIGEST, sig, der=False) is False
    assert crypto.verify_p256(POINT, DIGEST, sig, encoding="raw") is False


def test_der_signature_in_wider_items_is_read_whole():
    der = DER + b"\x00" * (-len(DER) % 4)  # trailing bytes: not strict DER any more
    assert ll.p256_verify(POINT, DIGEST, wide(RAW), der=False)
    assert ll.p256_verify(POINT, DIGEST, wide(der), der=True) is (der == DER)
    assert ll.ecdsa_der_to_raw(wide(der)) == (RAW if der == DER else None)


def test_public_verify_has_the_same_checks():
    with pytest.raises(ValueError, match=r"digest must be 32 bytes \(SHA-256\), got 31"):
        crypto.verify_p256(POINT, DIGEST[:31], DER)
    assert crypto.verify_p256(POINT, wide(DIGEST), DER)


# ---- crypto: C reads every byte of the buffer ------------------------------------


def test_hashes_read_every_byte_of_wide_buffers():
    data = bytes(range(256)) * 3
    items = array("I", data)  # 192 items, 768 bytes
    assert len(items) * items.itemsize == len(data)
    assert crypto.crc32(items) == zlib.crc32(data)
    assert crypto.crc32(wide(data)) == zlib.crc32(data)
    assert ll.crc32_portable(items) == zlib.crc32(data)
    assert crypto.crc16_x25(items) == crypto.crc16_x25(data)
    assert crypto.sha256(items) == hashlib.sha256(data).digest()
    h = crypto.Sha256()
    h.update(wide(data))
    assert h.digest() == hashlib.sha256(data).digest()


# ---- image, flash, reassembly: byte lengths --------------------------------------


def test_package_check_reads_every_byte_of_a_wide_buffer():
    pkg = make_package(KEY, bytes(range(200)) * 4)
    pkg += b"\xff" * (-len(pkg) % 4)  # padding after the trailer is allowed in a bank
    header = parse_header(wide(pkg))
    assert header.image_size == 800
    assert parse_header(wide(pkg[:128])) == header
    with pytest.raises(ValueError, match=r"a package header is 128 bytes, got 124"):
        parse_header(wide(pkg[:124]))
    got = check_package(wide(pkg), vendor_id=header.vendor_id, hw_revision=header.hw_revision,
                        bank_size=4096, trusted_keys=[POINT])
    assert got == header


def test_trusted_keys_must_be_a_sequence_of_points():
    pkg = make_package(KEY, b"\x00" * 64)
    with pytest.raises(TypeError, match=r"sequence of SEC1 points, not one point"):
        check_package(pkg, vendor_id=0x4D455445, hw_revision=3, bank_size=4096,
                      trusted_keys=POINT)
    with pytest.raises(ValueError, match=r"trusted key 0: a SEC1 point is 33 or 65 bytes, got 64"):
        check_package(pkg, vendor_id=0x4D455445, hw_revision=3, bank_size=4096,
                      trusted_keys=[POINT[:64]])


def test_flash_program_writes_every_byte_of_a_wide_buffer():
    f = Flash(4096, 256, 8)
    data = bytes(range(64))
    f.program(0, wide(data))
    assert f.read(0, 64) == data
    assert f.read(64, 8) == b"\xff" * 8


def test_frames_read_every_byte_of_a_wide_buffer():
    frame = Frame(7, 300, 128, 1, 3, bytes(range(125)))
    raw = encode_frame(frame)
    assert len(raw) == 144  # 36 items of 4 bytes
    assert decode_frame(wide(raw)) == frame
    assert encode_frame(Frame(7, 300, 128, 1, 3, wide(bytes(range(128))))) == encode_frame(
        Frame(7, 300, 128, 1, 3, bytes(range(128))))


# ---- no raw cdata from callers ----------------------------------------------------


def _raw_flash():
    mem = ffi.new("uint8_t[]", 65536)
    wear = ffi.new("uint32_t[]", 16)
    dev = ffi.new("mt_flash *")
    assert lib.mt_flash_init(dev, mem, 65536, wear, 4096, 8) == 0
    return dev, (mem, wear)


AREAS = {"bank_a": (0, 16384), "bank_b": (16384, 16384), "golden": (32768, 16384),
         "boot0": (49152, 4096), "boot1": (53248, 4096), "floor": (57344, 4096)}


def test_bootloader_refuses_a_raw_flash_handle():
    dev, _keep = _raw_flash()
    with pytest.raises(TypeError, match=r"flash must be a meteremu\._lowlevel\.flash\.Flash, "
                                        r"not <cdata 'struct mt_flash \*'"):
        Bootloader(dev, AREAS, vendor_id=1, hw_revision=1, trusted_keys=[POINT])
    with pytest.raises(TypeError, match=r"must be a meteremu\._lowlevel\.flash\.Flash, not b'"):
        Bootloader(b"\x00" * 160, AREAS, vendor_id=1, hw_revision=1, trusted_keys=[POINT])
    # the binding's own Flash is what it takes
    Bootloader(Flash(65536, 4096, 8), AREAS, vendor_id=1, hw_revision=1, trusted_keys=[POINT])


def test_reassembler_refuses_a_raw_flash_handle():
    dev, _keep = _raw_flash()
    lay = compute_layout(sector_size=4096, bank_size=16384)
    bank, progress = lay.bank_b, lay.progress
    with pytest.raises(TypeError, match=r"flash must be a meteremu\._lowlevel\.flash\.Flash, "
                                        r"not <cdata 'struct mt_flash \*'"):
        Reassembler(dev, bank, progress, 1, 1)
    r = Reassembler(Flash(lay.used, 4096, 8), bank, progress, 1, 1)
    with pytest.raises(TypeError, match=r"run must be a FrameRun, not \[b''\]"):
        r.frames([b""])
