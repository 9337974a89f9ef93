"""What an installed meteremu needs at run time: python-ecdsa is a test-extra
dependency, reached only by the test factory's fallback signer (for a
cryptography without deterministic ECDSA), and imported there alone."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from meteremu.testing import factory, make_keys


def _runtime_requirements() -> list[str]:
    reqs = importlib.metadata.requires("meteremu") or []
    return [r for r in reqs if "extra ==" not in r]


def test_ecdsa_is_not_a_runtime_dependency():
    names = [r.split(";")[0].split(">")[0].split("=")[0].strip().lower()
             for r in _runtime_requirements()]
    assert "cryptography" in names  # the metadata was read
    assert "ecdsa" not in names


def test_no_meteremu_module_imports_ecdsa():
    # A fresh interpreter where `import ecdsa` fails imports every module of
    # the package (the builder script aside: it runs at build time only).
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["ecdsa"] = None  # any import of it raises ImportError
        import meteremu
        names = [m.name for m in pkgutil.walk_packages(meteremu.__path__, "meteremu.")]
        for name in names:
            # the builder needs cffi's build side; a __main__ runs a command
            if name != "meteremu._build_ffi" and not name.endswith(".__main__"):
                importlib.import_module(name)
        print(len(names))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 20  # it did walk the package


class _OldCryptographyKey:
    """A private key as cryptography < 43 has it: no deterministic_signing."""

    def __init__(self, real: ec.EllipticCurvePrivateKey) -> None:
        self._real = real

    def sign(self, data: bytes, algorithm: object) -> bytes:
        raise TypeError("__init__() got an unexpected keyword argument 'deterministic_signing'")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        return self._real.private_numbers()


def _old(keys: factory.KeyPair) -> factory.KeyPair:
    return factory.KeyPair(_OldCryptographyKey(keys.private), keys.point, keys.key_id)


def test_fallback_signer_gives_the_rfc6979_signature():
    pytest.importorskip("ecdsa")
    keys = make_keys(3)
    data = b"a package to sign" * 10
    expected = keys.private.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    assert factory.sign_deterministic(_old(keys), data) == expected


def test_fallback_signer_without_ecdsa_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ecdsa", None)
    with pytest.raises(ImportError, match=r"pip install 'meteremu\[test\]'"):
        factory.sign_deterministic(_old(make_keys(3)), b"data")
