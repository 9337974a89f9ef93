"""Thin typed wrappers over the C CRC, SHA-256 and P-256 code.

Lengths are checked here, before C sees a pointer: C is always given the
buffer's length in bytes, and a fixed-size argument (the 32-byte digest, the
33- or 65-byte key) of another length raises ``ValueError`` naming it. A
signature of the wrong length is a bad signature (``False``), not a misuse.
Results come back as plain ``int`` and ``bytes``.
"""

from __future__ import annotations

from . import ffi, lib, nbytes

MT_OK = 0
MT_E_ENCODING = -10

#: The SHA-256 code for this CPU (1: SHA extensions, 0: portable), asked once
#: here: the question is three CPUID instructions, which a hypervisor may trap
#: (about 12 us per question), and C would otherwise ask at every context.
SHA256_IMPL: int = int(lib.mt_sha256_accelerated())
#: The CRC code for this CPU (1: carry-less-multiply folding, 0: tables), asked
#: once here for the same reason (one CPUID, about 4 us under a hypervisor):
#: every call passes it to the C ``_impl`` entry points, which never ask.
CRC_IMPL: int = int(lib.mt_crc_accelerated())


def _buf(data: bytes | bytearray | memoryview):  # -> bytes or cdata, private to this module
    # cffi passes bytes to a `const uint8_t *` parameter without a copy; other
    # buffers need from_buffer (about 0.3 us per call, as much as a small CRC).
    if type(data) is bytes:
        return data
    return ffi.from_buffer("uint8_t[]", data)


def _digest(digest: bytes | bytearray | memoryview):  # -> bytes or cdata of exactly 32 bytes
    n = nbytes(digest)
    if n != 32:
        raise ValueError(f"digest must be 32 bytes (SHA-256), got {n}")
    return _buf(digest)


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    if type(data) is bytes:  # the short path: a record's CRC costs less than the steps
        return _crc32_impl(value & 0xFFFFFFFF, data, len(data), CRC_IMPL)  # type: ignore[no-any-return]
    return int(lib.mt_crc32_impl(value & 0xFFFFFFFF, _buf(data), nbytes(data), CRC_IMPL))


_crc32_impl = lib.mt_crc32_impl


def crc32_portable(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    return int(lib.mt_crc32_portable(value & 0xFFFFFFFF, _buf(data), nbytes(data)))


def crc_accelerated() -> bool:
    return bool(CRC_IMPL)


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    return int(lib.mt_crc16_x25_impl(_buf(data), nbytes(data), CRC_IMPL))


_DIGEST = ffi.typeof("uint8_t[32]")
# C writes all 32 bytes: no need to zero them first (saves a third of the allocation)
_new_digest = ffi.new_allocator(should_clear_after_alloc=False)
_sha256_impl = lib.mt_sha256_impl


def sha256(data: bytes | bytearray | memoryview) -> bytes:
    """One-shot SHA-256."""
    # The short path for bytes matters at the sizes the meter hashes (a 4 KiB
    # chunk costs about 3 us on SHA-NI; each Python step here 0.05-0.2 us).
    out = _new_digest(_DIGEST)
    if type(data) is bytes:
        _sha256_impl(data, len(data), out, SHA256_IMPL)
    else:
        _sha256_impl(_buf(data), nbytes(data), out, SHA256_IMPL)
    return ffi.buffer(out)[:]


def sha256_accelerated() -> bool:
    return bool(SHA256_IMPL)


class Sha256State:
    """An incremental SHA-256 context owned by Python (the C struct lives in cdata)."""

    __slots__ = ("_ctx",)

    def __init__(self, portable: bool = False) -> None:
        self._ctx = ffi.new("mt_sha256_ctx *")
        if portable:
            lib.mt_sha256_init_portable(self._ctx)
        else:
            lib.mt_sha256_init_impl(self._ctx, SHA256_IMPL)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        lib.mt_sha256_update(self._ctx, _buf(data), nbytes(data))

    def copy(self) -> Sha256State:
        other = Sha256State.__new__(Sha256State)
        other._ctx = ffi.new("mt_sha256_ctx *")
        other._ctx[0] = self._ctx[0]
        return other

    def digest(self) -> bytes:
        # final() consumes the context; finish a copy so update() may go on.
        ctx = ffi.new("mt_sha256_ctx *")
        ctx[0] = self._ctx[0]
        out = ffi.new("uint8_t[32]")
        lib.mt_sha256_final(ctx, out)
        return bytes(out)


def _p256_key(point: bytes | bytearray | memoryview):  # -> cdata mt_p256_pubkey *, private
    """Parse and validate a SEC1 point; ValueError naming what is wrong."""
    point = bytes(memoryview(point))  # raw bytes of any buffer; TypeError for others
    if len(point) not in (33, 65):
        raise ValueError(
            f"P-256 public key must be a 33- or 65-byte SEC1 point, got {len(point)} bytes"
        )
    key = ffi.new("mt_p256_pubkey *")
    rc = lib.mt_p256_pubkey_parse(key, _buf(point), len(point))
    if rc == MT_E_ENCODING:
        raise ValueError(f"P-256 public key: bad SEC1 encoding (prefix 0x{point[0]:02x})")
    if rc != MT_OK:
        raise ValueError("P-256 public key: not a valid point on the curve")
    return key


def p256_parse_point(point: bytes | bytearray | memoryview) -> bytes:
    """Validate a SEC1 point; return the 65-byte uncompressed form.

    Raises ValueError naming what is wrong (encoding or point).
    """
    out = ffi.new("uint8_t[65]")
    lib.mt_p256_pubkey_encode(_p256_key(point), out)
    return bytes(out)


def p256_verify(
    point: bytes | bytearray | memoryview,
    digest: bytes | bytearray | memoryview,
    signature: bytes | bytearray | memoryview,
    der: bool,
) -> bool:
    """ECDSA P-256 verify; the key is parsed once here.

    ValueError when ``digest`` is not 32 bytes or the key is not a valid
    33- or 65-byte SEC1 point; ``False`` for a bad signature, including one of
    the wrong length (DER: any length, C parses it; raw r||s: 64 bytes).
    """
    d = _digest(digest)
    key = _p256_key(point)
    n = nbytes(signature)
    if der:
        rc = lib.mt_ecdsa_verify_der(key, d, _buf(signature), n)
    else:
        if n != 64:
            return False
        rc = lib.mt_ecdsa_verify_raw(key, d, _buf(signature))
    return rc == MT_OK


def ecdsa_der_to_raw(signature: bytes | bytearray | memoryview) -> bytes | None:
    """Strict-DER ECDSA signature to raw r||s, or None when it is not strict DER."""
    out = ffi.new("uint8_t[64]")
    if lib.mt_ecdsa_sig_from_der(out, _buf(signature), nbytes(signature)) != MT_OK:
        return None
    return bytes(out)
