"""``config.json``, the package metadata of seed step 2: :class:`PackageConfig`."""

from __future__ import annotations

import json
import pathlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, short_repr
from ..wire import package as fmt

__all__ = ["PackageConfig", "Version", "load_config"]

_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF


def _field_name(key: object) -> str:
    """A config.json key as a message shows it: as it stands if short and printable."""
    if isinstance(key, str) and key.isprintable() and 0 < len(key) <= 40:
        return key
    return short_repr(key)


@dataclass(frozen=True)
class Version:
    """Firmware version: ``major.minor.patch`` plus a build number.

    Written ``"1.2.3"`` (build 0) or ``"1.2.3+45"``; ``str()`` gives the same
    form back. Ranges follow the header fields: major and minor 0..255, patch
    0..65535, build 0..2**32-1.
    """

    major: int
    minor: int
    patch: int
    build: int = 0

    # ASCII digits only: \d (and int()) would also take other scripts' digits,
    # so "\u0661.0.0" (Arabic-Indic one) would pass as 1.0.0.
    _PATTERN = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(?:\+([0-9]+))?")
    _LIMITS = (("major", _U8), ("minor", _U8), ("patch", _U16), ("build", _U32))

    def __post_init__(self) -> None:
        for name, limit in self._LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
            if not 0 <= value <= limit:
                raise ValueError(f"{name} must be 0..{limit}, not {short_repr(value)}")

    @classmethod
    def parse(cls, text: str) -> Version:
        m = cls._PATTERN.fullmatch(text.strip())
        if not m:
            raise ValueError(
                f'must look like "1.2.3" or "1.2.3+45" (ASCII digits), not {short_repr(text)}'
            )
        numbers = []
        for (name, limit), group in zip(cls._LIMITS, m.groups(), strict=True):
            digits = (group or "0").lstrip("0") or "0"
            if len(digits) > len(str(limit)):  # out of range; and int() stops at 4300 digits
                raise ValueError(f"{name} must be 0..{limit}, not a {len(digits)}-digit number")
            numbers.append(int(digits))
        return cls(*numbers)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}+{self.build}" if self.build else text


# ASCII hex digits only, for the same reason as Version._PATTERN: int(s, 16)
# would read "0x\u0661\u0662" as 0x12.
_HEX = re.compile(r"\s*0[xX]([0-9A-Fa-f]+)\s*", re.ASCII)


def _int_field(data: Mapping[str, Any], name: str, limit: int, low: int = 0) -> int:
    value = data[name]
    if isinstance(value, str):
        m = _HEX.fullmatch(value)
        if not m:
            raise ConfigError(
                name, f'must be an integer or a "0x..." hexadecimal string, not {short_repr(value)}'
            )
        value = int(m.group(1), 16)
    elif isinstance(value, bool) or not isinstance(value, int):  # bool is an int in Python
        raise ConfigError(name, f"must be an integer (or a \"0x...\" string), "
                                f"not {short_repr(value)}")
    if not low <= value <= limit:
        raise ConfigError(name, f"must be {low}..{limit}, got {short_repr(value)}")
    return value


@dataclass(frozen=True)
class PackageConfig:
    """The package metadata of ``config.json`` (seed step 2).

    ``packet_count``, when given, is the fragment count the operator expects;
    building checks it against the real one. ``trailer_size`` is the space
    reserved after the image for the signature trailer.
    """

    vendor_id: int
    hw_revision: int
    version: Version
    security_counter: int
    fragment_size: int
    behaviour: str = "normal"
    packet_count: int | None = None
    trailer_size: int = fmt.TRAILER_DEFAULT

    REQUIRED = ("vendor_id", "hw_revision", "version", "security_counter", "fragment_size")
    OPTIONAL = ("packet_count", "behaviour", "trailer_size")
    # A DER P-256 signature record is at most 3 + 72 bytes.
    TRAILER_MIN = 3 + fmt.SIG_DER_MAX

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PackageConfig:
        """Validate a parsed ``config.json``; :class:`ConfigError` names the bad field."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", "must be a JSON object")
        known = cls.REQUIRED + cls.OPTIONAL
        unknown = [key for key in data if not (isinstance(key, str) and key in known)]
        if unknown:
            raise ConfigError(_field_name(unknown[0]), "unknown field (typo?); known fields: "
                              + ", ".join(known))
        for name in cls.REQUIRED:
            if name not in data:
                raise ConfigError(name, "missing (required)")
        version = data["version"]
        if not isinstance(version, str):
            raise ConfigError(
                "version", f'must be a string like "1.2.3+45", not {short_repr(version)}'
            )
        try:
            parsed_version = Version.parse(version)
        except ValueError as exc:
            raise ConfigError("version", str(exc)) from None
        behaviour = data.get("behaviour", "normal")
        if not isinstance(behaviour, str) or behaviour not in fmt.BEHAVIOURS:
            raise ConfigError(
                "behaviour",
                f"must be one of {', '.join(fmt.BEHAVIOURS)}, not {short_repr(behaviour)}",
            )
        packet_count = data.get("packet_count")
        fragment_size = _int_field(data, "fragment_size", fmt.FRAGMENT_MAX, fmt.FRAGMENT_MIN)
        if fragment_size % fmt.FRAGMENT_ALIGN:
            raise ConfigError(
                "fragment_size",
                f"must be a multiple of {fmt.FRAGMENT_ALIGN} (the flash write unit), "
                f"got {fragment_size}",
            )
        return cls(
            vendor_id=_int_field(data, "vendor_id", _U32),
            hw_revision=_int_field(data, "hw_revision", _U16),
            version=parsed_version,
            security_counter=_int_field(data, "security_counter", _U32),
            fragment_size=fragment_size,
            behaviour=behaviour,
            packet_count=None if packet_count is None else _int_field(data, "packet_count", _U32),
            trailer_size=(
                _int_field(data, "trailer_size", fmt.TRAILER_MAX, cls.TRAILER_MIN)
                if "trailer_size" in data
                else fmt.TRAILER_DEFAULT
            ),
        )

    def fragment_count(self, image_size: int) -> int:
        """The header's fragment_count for an image of ``image_size`` bytes."""
        return fmt.fragment_count(fmt.HEADER_SIZE + image_size + self.trailer_size,
                                  self.fragment_size)


def load_config(path: str | pathlib.Path) -> PackageConfig:
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_object)
    except _DuplicateKey as dup:
        raise ConfigError("config", f"{path}: {_field_name(dup.key)} is given more than once "
                          "in one object (JSON would keep only the last)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError("config", f"{path} is nested too deeply to read "
                          "(config.json is one flat object)") from None
    except ValueError:
        # Python refuses to read an integer of more than sys.get_int_max_str_digits()
        # digits (4300 by default); no field takes anything near that.
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise ConfigError("config", f"{path} holds a number of more than {limit} digits; "
                          "no field takes one") from None
    return PackageConfig.from_dict(data)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice.

    json keeps the last of duplicate keys silently; in a config.json the
    first one is as likely to be the one a reviewer read.
    """
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj
