"""Audit-log lines in the seed's shape (Section C), one per event.

    2026-11-27T10:00:05Z FOTA_ERR 0x8005 signature mismatch key_id=0123456789abcdef
    2026-11-27T10:07:12Z FOTA_OK CONFIRMED version=2.0.0 bank=B
    2026-11-27T10:00:00Z FOTA_EVT DOWNLOAD_START session=0x1234abcd fragments=1024

``FOTA_ERR`` lines carry an operator code from the error table, so
``grep 0xE04`` finds every signature failure; ``FOTA_OK`` marks a milestone
reached (verified, activated, confirmed); ``FOTA_EVT`` everything else worth
knowing (download start and resume, rollback, boot, power-up).
"""

from __future__ import annotations

from ..errors import ErrorCode

__all__ = ["err_line", "evt_line", "ok_line"]


def _kv(fields: dict[str, object]) -> str:
    return "".join(f" {k}={v}" for k, v in fields.items() if v is not None)


def err_line(stamp: str, error: ErrorCode, **fields: object) -> str:
    return f"{stamp} FOTA_ERR {error.code} {error.name}{_kv(fields)}"


def ok_line(stamp: str, what: str, **fields: object) -> str:
    return f"{stamp} FOTA_OK {what}{_kv(fields)}"


def evt_line(stamp: str, what: str, **fields: object) -> str:
    return f"{stamp} FOTA_EVT {what}{_kv(fields)}"
