"""Which meters go when: the canary and the waves (docs/CAMPAIGN.md, "Plan").

The canary is ``canary`` of the fleet (at least one meter), chosen from the
seed and spread over the concentrators in proportion to their size (every
concentrator with meters gives at least one while there are canaries to
give). The rest go in waves of at most ``wave`` meters, in concentrator
order, so a wave's broadcasts reach whole meshes. Wave 0 is the canary.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from ..errors import UsageError
from ..mesh.channel import stream_seed

__all__ = ["plan"]


def plan(concentrators: Mapping[str, Sequence[str]], *, canary: float, wave: int,
         seed: int) -> dict[str, int]:
    """``{meter: wave}`` for every meter of the fleet."""
    if not 0.0 < canary < 1.0:
        raise UsageError(f"canary share must be in (0, 1), not {canary}")
    if wave < 1:
        raise UsageError(f"a wave holds at least one meter, not {wave}")
    total = sum(len(v) for v in concentrators.values())
    if total == 0:
        raise UsageError("the fleet holds no meters")
    want = max(1, round(canary * total))
    dcs = sorted(d for d, ids in concentrators.items() if ids)
    # Largest remainder: each concentrator's share of the canary, at least one each
    # while there are enough canaries.
    quota = {d: want * len(concentrators[d]) // total for d in dcs}
    if want >= len(dcs):
        for d in dcs:
            quota[d] = max(1, quota[d])
    order = sorted(dcs, key=lambda d: (-(want * len(concentrators[d]) % total), d))
    while sum(quota.values()) < want:
        for d in order:
            if sum(quota.values()) < want and quota[d] < len(concentrators[d]):
                quota[d] += 1
    while sum(quota.values()) > want:
        d = max(dcs, key=lambda d: (quota[d], d))
        quota[d] -= 1
    out: dict[str, int] = {}
    for d in dcs:
        ids = sorted(concentrators[d])
        for m in random.Random(stream_seed(seed, "canary", d)).sample(ids, quota[d]):
            out[m] = 0
    k = 0
    for d in dcs:
        for m in sorted(concentrators[d]):
            if m not in out:
                out[m] = 1 + k // wave
                k += 1
    return out
