"""A real ``mosquitto`` for the MQTT tests and the ack bench (a helper module, not
a test module): started on a free loopback port with a generated config,
stopped by its PID.

* :func:`make_certs` -- a CA, a server certificate for 127.0.0.1/localhost, a
  client certificate the CA signed and a rogue one signed by another CA, all
  made with ``cryptography`` (P-256 keys, valid for a day);
* :class:`Broker` -- one ``mosquitto`` process: plain, or TLS with
  ``require_certificate true`` (the seed's gateway row: MQTTS), and optional
  limits (``max_queued_messages`` ...) small enough that it drops under load.

Tests skip with :data:`SKIP_REASON` when mosquitto is not installed (.ci/run
installs it, so they run in CI).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
SKIP_REASON = "mosquitto is not installed (apt-get install mosquitto; .ci/run installs it)"
WAIT = 30.0  # seconds the broker may take to start or stop


# ------------------------------------------------------------------ certificates
@dataclass(frozen=True)
class Certs:
    """PEM files: the CA, the broker's pair, a client pair the CA signed and a
    rogue client pair signed by a CA the broker does not know."""

    ca: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    client_cert: pathlib.Path
    client_key: pathlib.Path
    rogue_cert: pathlib.Path
    rogue_key: pathlib.Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
          server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False)
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(where: pathlib.Path) -> Certs:
    """A CA, the broker's certificate, a client's, and a rogue client's, in ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    out: dict[str, pathlib.Path] = {}
    cas = {}
    for ca_name in ("ca", "rogue-ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"meteremu test {ca_name}")
        cas[ca_name] = (name, key)
        (where / f"{ca_name}.pem").write_bytes(
            _cert(f"meteremu test {ca_name}", key, name, key, ca=True)
            .public_bytes(serialization.Encoding.PEM))
    for who, ca_name, server in (("server", "ca", True), ("client", "ca", False),
                                 ("rogue", "rogue-ca", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        issuer, issuer_key = cas[ca_name]
        cert = _cert("127.0.0.1" if server else f"head-end {who}", key, issuer, issuer_key,
                     server=server)
        out[f"{who}_cert"] = where / f"{who}.crt"
        out[f"{who}_key"] = where / f"{who}.key"
        out[f"{who}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(out[f"{who}_key"], key)
    return Certs(ca=where / "ca.pem", **out)


# ------------------------------------------------------------------ the broker
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One ``mosquitto -c <generated config>`` on 127.0.0.1; :attr:`url` to reach it.

    ``certs`` makes it an MQTTS listener (TLS 1.2 or later, client certificates
    required); ``limits`` adds config lines such as ``max_queued_messages 10``.
    A port taken between choosing it and binding it is retried with another.
    """

    def __init__(self, where: pathlib.Path, *, certs: Certs | None = None,
                 limits: dict[str, int | str] | None = None) -> None:
        if MOSQUITTO is None:
            raise RuntimeError(SKIP_REASON)
        where.mkdir(parents=True, exist_ok=True)
        self.where = where
        self.certs = certs
        self.limits = dict(limits or {})
        self.log_path = where / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        for _ in range(5):
            self.port = free_port()
            if self._start():
                return
        raise RuntimeError(f"mosquitto did not start:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.certs else 'mqtt'}://127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            # root drops to the "mosquitto" user, which could not read the
            # test's files: stay who we are
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.certs is not None:
            c = self.certs
            lines += [f"cafile {c.ca}", f"certfile {c.server_cert}", f"keyfile {c.server_key}",
                      "require_certificate true", "use_identity_as_username true",
                      "tls_version tlsv1.2"]
        lines += [f"{k} {v}" for k, v in self.limits.items()]
        return "\n".join(lines) + "\n"

    def _start(self) -> bool:
        conf = self.where / "mosquitto.conf"
        conf.write_text(self.config())
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child holds it; closed below)
        try:
            self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=log,
                                         stderr=log, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # most likely the port was taken meanwhile
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return True
            except OSError:
                time.sleep(0.02)
        self.stop()
        return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to its PID, SIGKILL if it lingers; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(WAIT)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
