"""Cut a package into mesh fragment frames, and pick the ones to send again.

Every frame repeats the session geometry (package size, fragment size,
fragment count; ``csrc/mt_frame.h``), so a meter can join from any frame. The
frames come from the C encoder -- a 128 KiB package is a thousand of them --
and ``tests/test_hes_fragments.py`` checks they are byte for byte what the
construct definition (:mod:`meteremu.wire.frames`) builds.

Nothing here checks that the package is valid: a head-end test bench must be
able to send broken packages too. The one thing read from the package is the
header's fragment size (where :data:`meteremu.wire.package.Header` puts it),
when the caller does not give one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._lowlevel.reasm import encode_frame
from ..wire.frames import FrameRecord
from ..wire.layout import offset_of, size_of
from ..wire.package import FRAGMENT_MAX, FRAGMENT_MIN, Header, fragment_count

__all__ = [
    "by_fragment",
    "fragment_count",
    "fragment_package",
    "header_fragment_size",
    "missing_indices",
    "retransmission",
    "session_of",
]

_FRAGMENT_SIZE_AT = offset_of(Header, "fragment_size")
_FRAGMENT_SIZE_END = _FRAGMENT_SIZE_AT + size_of(Header, "fragment_size")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


def header_fragment_size(package: bytes | bytearray | memoryview) -> int:
    """The fragment size the package header announces (not otherwise checked)."""
    if len(package) < _FRAGMENT_SIZE_END:
        raise ValueError(f"{len(package)} bytes is too short to hold a package header")
    return int.from_bytes(package[_FRAGMENT_SIZE_AT : _FRAGMENT_SIZE_END], "little")


def fragment_package(
    package: bytes | bytearray | memoryview,
    *,
    session_id: int,
    fragment_size: int | None = None,
) -> list[bytes]:
    """The package as mesh frames, index ``i`` at position ``i``.

    ``fragment_size`` defaults to the header's. A size other than the header's
    makes frames a meter refuses (the geometry must match the header); that is
    allowed on purpose, for tests of exactly that.
    """
    data = bytes(package)
    size = header_fragment_size(data) if fragment_size is None else fragment_size
    if not FRAGMENT_MIN <= size <= FRAGMENT_MAX:
        raise ValueError(f"fragment size must be {FRAGMENT_MIN}..{FRAGMENT_MAX}, not {size}")
    if not 0 <= session_id <= _U32:
        raise ValueError("session_id must fit 32 bits")
    if not data or len(data) > _U32:
        raise ValueError("the package must be 1 .. 2**32-1 bytes")
    count = fragment_count(len(data), size)
    if count > _U16:
        raise ValueError(
            f"{count} fragments of {size} bytes: a frame's 16-bit count cannot say so"
        )
    return [
        encode_frame(FrameRecord(session_id, len(data), size, i, count,
                                 data[i * size : (i + 1) * size]))
        for i in range(count)
    ]


def session_of(frames: Iterable[bytes | bytearray | memoryview]) -> int | None:
    """The session ID the frames carry: the first frame's that parses; None when
    none does."""
    from .._lowlevel.reasm import frame_fields
    from ..errors import PackageRefused

    for frame in frames:
        try:
            return int(frame_fields(bytes(frame))[0])
        except PackageRefused:
            continue
    return None


def by_fragment(frames: Sequence[bytes], session_id: int | None = None) -> list[bytes]:
    """``frames`` put where their fragment index says: entry ``i`` is the frame
    that carries fragment ``i`` of the session (``session_id``, or the first
    frame's that parses) -- the first such frame when several do -- else
    ``frames[i]`` as given (a frame that does not parse, or another session's,
    stays where the caller put it). A missing fragment is sent again by its
    index, so a head-end that shuffled its list still re-sends the right
    frames; for the list :func:`fragment_package` makes, the same list."""
    from .._lowlevel.reasm import frame_fields
    from ..errors import PackageRefused

    out = [bytes(f) for f in frames]
    if session_id is None:
        session_id = session_of(out)
    placed: list[bytes | None] = [None] * len(out)
    for data in out:
        try:
            sid, _size, _fsize, index, _count, _payload = frame_fields(data)
        except PackageRefused:
            continue
        if sid == session_id and index < len(placed) and placed[index] is None:
            placed[index] = data
    return [p if p is not None else out[i] for i, p in enumerate(placed)]


def retransmission(frames: Sequence[bytes], missing: Iterable[int]) -> list[bytes]:
    """The frames to send again for the ``missing`` indices (as a meter reports
    them), in index order, each once, each the frame carrying that fragment
    (:func:`by_fragment`); an index outside the session is an error."""
    wanted = sorted(set(missing))
    if wanted and not 0 <= wanted[0] <= wanted[-1] < len(frames):
        raise IndexError(f"missing index outside 0..{len(frames) - 1}")
    ordered = by_fragment(frames) if wanted else []
    return [ordered[i] for i in wanted]


def missing_indices(bitmap: bytes | bytearray, count: int) -> list[int]:
    """Indices from a missing bitmap (bit ``i % 8`` of byte ``i // 8`` set = missing,
    the form ``Reassembler.missing()`` returns) over ``count`` fragments."""
    if len(bitmap) * 8 < count:
        raise ValueError(f"a {len(bitmap)}-byte bitmap cannot cover {count} fragments")
    return [i for i in range(count) if bitmap[i // 8] >> (i % 8) & 1]
