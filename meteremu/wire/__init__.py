"""Byte layouts, defined once in construct and used for both parse and build.

One module per family of layouts; every other module takes offsets, sizes
and record types from here rather than restating them:

* ``wire.package`` -- the firmware package (header, trailer TLVs, whole file);
* ``wire.frames`` -- the mesh fragment frame;
* ``wire.boot`` -- the boot-control record and the anti-rollback floor slot;
* ``wire.progress`` -- the download-progress record and its bitmap;
* ``wire.nvm`` -- the meter's metrology, audit and closed-session records,
  with their ``struct`` twins for the hot path;
* ``wire.storage`` -- the head of a meter's flash file;
* ``wire.layout`` -- offsets, sizes and ``struct`` formats derived from the
  definitions, and the sealed-record shape (a checksum over the bytes
  before it) the on-flash records share;
* ``wire.doc`` -- the field tables of docs/FORMAT.md, generated from the
  definitions.

The C core has its own codecs for the formats it reads and writes; the
tests check each against its definition here byte for byte.
"""

from __future__ import annotations

from .package import Header, Package, SignatureRecord, Trailer, UnsignedPackage

__all__ = ["Header", "Package", "SignatureRecord", "Trailer", "UnsignedPackage"]
