"""``kill -9`` of ``meteremu serve`` at random points of class 18 transfers and of
activations (a fixed seed), restarted on the same state directory each time.

After every restart: the meter answers (never bricked), runs the old or the
new image and nothing else, resumes a transfer from its first missing block,
and its persisted energy never goes backwards. A kill is a power cut without
the hold-up time of a mains loss, so the meter resumes from its last energy
snapshot (docs/METER.md): what it read before the kill but had not yet
persisted is the one thing a kill may take. At the end the last update is
active and confirmed.
"""

from __future__ import annotations

import pathlib
import random
import signal
import time

import pytest
from servekit import IMAGE_TRANSFER, Served

from meteremu.device import BootState
from meteremu.testing.factory import make_firmware, make_keys, make_package

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")

SEED = 20260101
TRANSFER_KILLS = 14
ACTIVATION_KILLS = 8
FIRMWARE_ID = "1.0.0.2.0.255"
BOOT_STATE = "0.0.96.10.2.255"
ENERGY = "1.0.1.8.0.255"


class Bench:
    """The server under test, its state directory, and what was observed."""

    def __init__(self, tmp: pathlib.Path) -> None:
        keys = make_keys(0)
        self.keys = keys
        self.state = tmp / "state"
        self.pub = tmp / "pub.pem"
        self.pub.write_bytes(keys.public_pem)
        self.log = tmp / "serve.log"
        self.server: Served | None = None
        self.floors: list[int] = []  # the energy register read first after each start
        self.kills = {"transfer": 0, "activation": 0}
        self.versions = {b"1.0.0"}

    def start(self) -> Served:
        self.server = Served(self.state, "--trusted-key", str(self.pub), "--time-scale", "20",
                             "-q", log=self.log)
        with self.server.client() as c:  # never bricked: it answers, a known image runs
            assert c.associate().accepted
            fw = c.get(FIRMWARE_ID, 2).value
            assert fw in self.versions, fw
            energy = c.get(ENERGY, 2).value
            c.release()
        # what a restart resumes from was persisted: it never goes backwards
        assert not self.floors or energy >= self.floors[-1], (energy, self.floors)
        self.floors.append(energy)
        return self.server

    def kill(self, what: str) -> None:
        assert self.server is not None
        self.server.kill()
        self.server = None
        self.kills[what] += 1

    def stop(self) -> None:
        """SIGTERM: the clean shutdown (exit 0, the meters saved)."""
        assert self.server is not None
        code, out = self.server.terminate()
        assert code == 0 and b"stopped" in out, (code, out)
        self.server = None


def _blocks(package: bytes) -> list[bytes]:
    return [package[i:i + 128] for i in range(0, len(package), 128)]


def _initiate(c, package: bytes, ident: bytes) -> int:
    """Initiate (or resume) the transfer; the first block still missing."""
    r = c.action(IMAGE_TRANSFER, 1, (ident, len(package)))
    assert r.ok, r
    return c.get(IMAGE_TRANSFER, 4).value


def _transfer_with_kills(bench: Bench, rng: random.Random, package: bytes, ident: bytes,
                         kills: int) -> None:
    blocks = _blocks(package)
    acked = 0  # blocks whose response came back before a kill
    in_flight = False
    while True:
        server = bench.start()
        with server.client() as c:
            assert c.associate().accepted
            first = _initiate(c, package, ident)
            # resumed from the first missing block: nothing acknowledged is lost,
            # nothing unsent appears
            assert acked <= first <= acked + int(in_flight), (acked, first)
            status = c.get(IMAGE_TRANSFER, 3).value
            assert status == "1" * first + "0" * (len(blocks) - first)
            acked, in_flight = first, False
            done = bench.kills["transfer"] >= kills
            end = len(blocks) if done else min(first + rng.randint(1, 10), len(blocks) - 1)
            for n in range(first, end):
                assert c.action(IMAGE_TRANSFER, 2, (n, blocks[n])).ok
                acked = n + 1
            if done:
                assert c.action(IMAGE_TRANSFER, 3, 0).ok  # verify
                c.release()
            elif rng.random() < 0.5:  # a block in flight at the kill
                c.sock.sendall(c.dlms.action(IMAGE_TRANSFER, 2, (end, blocks[end])))
                in_flight = True
                time.sleep(rng.uniform(0, 0.003))
        if done:
            bench.stop()
            return
        bench.kill("transfer")


def _activate_with_kill(bench: Bench, rng: random.Random, package: bytes, ident: bytes,
                        version: bytes) -> bool:
    """One round: make sure ``package`` is verified, send activate, kill -9 a few ms
    later. True when ``version`` runs confirmed at the start of the round (done)."""
    server = bench.start()  # this management association is the heartbeat, too
    with server.client() as c:
        assert c.associate().accepted
        if c.get(FIRMWARE_ID, 2).value == version:
            assert c.get(BOOT_STATE, 2).value == BootState.CONFIRMED.value
            c.release()
            return True
        first = _initiate(c, package, ident)
        blocks = _blocks(package)
        for n in range(first, len(blocks)):
            assert c.action(IMAGE_TRANSFER, 2, (n, blocks[n])).ok
        assert c.action(IMAGE_TRANSFER, 3, 0).ok
        bench.versions.add(version)
        c.sock.sendall(c.dlms.action(IMAGE_TRANSFER, 4, 0))  # activate, then the cut
        time.sleep(rng.choice((0, rng.uniform(0, 0.003))))
    bench.kill("activation")
    return False


def test_kill_9_mid_transfer_and_mid_activation_resumes_and_never_bricks(tmp_path):
    rng = random.Random(SEED)
    bench = Bench(tmp_path)
    keys = bench.keys
    # the first update: 20 KiB, killed at random points of its transfer
    pkg = make_package(make_firmware(20 * 1024, seed=1), keys, version="2.0.0",
                       security_counter=2)
    _transfer_with_kills(bench, rng, pkg, b"fw-2.0.0", TRANSFER_KILLS)
    assert bench.kills["transfer"] == TRANSFER_KILLS
    # activations, each cut a few ms after the request; a new version once one lands
    n = 2
    version = b"2.0.0"
    while bench.kills["activation"] < ACTIVATION_KILLS:
        if _activate_with_kill(bench, rng, pkg, f"fw-{n}".encode(), version):
            bench.stop()
            n += 1
            version = f"{n}.0.0".encode()
            pkg = make_package(make_firmware(6 * 1024, seed=n), keys, version=version.decode(),
                               security_counter=n)
    # the last update goes through: activate, heartbeat, confirmed
    server = bench.start()
    with server.client() as c:
        assert c.associate().accepted
        if c.get(FIRMWARE_ID, 2).value != version:
            first = _initiate(c, pkg, f"fw-{n}".encode())
            for k, block in enumerate(_blocks(pkg)[first:], start=first):
                assert c.action(IMAGE_TRANSFER, 2, (k, block)).ok
            assert c.action(IMAGE_TRANSFER, 3, 0).ok
            bench.versions.add(version)
            assert c.action(IMAGE_TRANSFER, 4, 0).ok
        c.release()
    with server.client() as again:  # the heartbeat (a no-op when already confirmed)
        assert again.associate().accepted
        assert again.get(FIRMWARE_ID, 2).value == version
        assert again.get(BOOT_STATE, 2).value == BootState.CONFIRMED.value
        again.release()
    bench.stop()
    assert sum(bench.kills.values()) >= 20
    assert bench.floors == sorted(bench.floors)
