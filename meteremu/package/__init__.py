"""Firmware packages on the head-end side: build, sign, attach, inspect, verify.

The signing input is the *unsigned package* -- the 128-byte header followed by
the image, exactly the bytes of the file :func:`build_unsigned` returns -- so an
HSM or ``openssl dgst -sha256 -sign key.pem -out fw.sig fw.unsigned.pkg`` signs
it as it stands; :func:`attach_signature` then appends the trailer. The header
(vendor, hardware revision, version, security counter, behaviour and the key
ID of the signer) is inside the signed bytes, so none of it can be changed
without breaking the signature.

Byte layouts come from :mod:`meteremu.wire.package`; the acceptance check of
:func:`verify` is the C core's, the same code the virtual meter runs.

By job: :mod:`.config` reads ``config.json``; :mod:`.build` builds, signs and
attaches; :mod:`.read` takes a package apart, describes it (``meteremu
inspect``) and verifies it (``meteremu verify``).
"""

from __future__ import annotations

from .build import attach_signature, build_unsigned, sign, signature_encoding
from .config import PackageConfig, Version, load_config
from .read import (
    BANK_SIZE_DEFAULT,
    ParsedPackage,
    SignatureEncoding,
    describe,
    parse_header,
    parse_package,
    verify,
)

__all__ = [
    "BANK_SIZE_DEFAULT",
    "PackageConfig",
    "ParsedPackage",
    "SignatureEncoding",
    "Version",
    "attach_signature",
    "build_unsigned",
    "describe",
    "load_config",
    "parse_header",
    "parse_package",
    "sign",
    "signature_encoding",
    "verify",
]
