"""Byte layouts, defined once in construct and used for both parse and build.

``wire.package`` is the firmware package (header, trailer TLVs, whole file);
later modules add fragment frames, the TCP wrapper and DLMS data.
"""

from __future__ import annotations

from .package import Header, Package, SignatureRecord, Trailer, UnsignedPackage

__all__ = ["Header", "Package", "SignatureRecord", "Trailer", "UnsignedPackage"]
