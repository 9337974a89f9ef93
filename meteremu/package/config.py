"""``config.json``, the package metadata of seed step 2: :class:`PackageConfig`."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..wire import package as fmt

__all__ = ["PackageConfig", "Version", "load_config"]

_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF


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

    _PATTERN = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:\+(\d+))?")

    def __post_init__(self) -> None:
        for name, limit in (("major", _U8), ("minor", _U8), ("patch", _U16), ("build", _U32)):
            value = getattr(self, name)
            if not 0 <= value <= limit:
                raise ValueError(f"{name} must be 0..{limit}, not {value}")

    @classmethod
    def parse(cls, text: str) -> Version:
        m = cls._PATTERN.fullmatch(text.strip())
        if not m:
            raise ValueError(f'must look like "1.2.3" or "1.2.3+45", not {text!r}')
        return cls(*(int(g) if g is not None else 0 for g in m.groups()))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}+{self.build}" if self.build else text


def _int_field(data: Mapping[str, Any], name: str, limit: int, low: int = 0) -> int:
    value = data[name]
    if isinstance(value, str) and value.strip().lower().startswith("0x"):
        try:
            value = int(value, 16)
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a hexadecimal number") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an integer (or a \"0x...\" string), not {value!r}")
    if not low <= value <= limit:
        raise ConfigError(name, f"must be {low}..{limit}, got {value}")
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
        unknown = sorted(set(data) - set(cls.REQUIRED) - set(cls.OPTIONAL))
        if unknown:
            raise ConfigError(unknown[0], "unknown field (typo?); known fields: "
                              + ", ".join(cls.REQUIRED + cls.OPTIONAL))
        for name in cls.REQUIRED:
            if name not in data:
                raise ConfigError(name, "missing (required)")
        version = data["version"]
        if not isinstance(version, str):
            raise ConfigError("version", f'must be a string like "1.2.3+45", not {version!r}')
        try:
            parsed_version = Version.parse(version)
        except ValueError as exc:
            raise ConfigError("version", str(exc)) from None
        behaviour = data.get("behaviour", "normal")
        if behaviour not in fmt.BEHAVIOURS:
            raise ConfigError(
                "behaviour", f"must be one of {', '.join(fmt.BEHAVIOURS)}, not {behaviour!r}"
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
        return fmt.fragment_count(image_size, self.trailer_size, self.fragment_size)


def load_config(path: str | pathlib.Path) -> PackageConfig:
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid JSON: {exc}") from None
    return PackageConfig.from_dict(data)
