"""Hot-path counters of a run (runtime layer).

Each worker owns one `Counters` object and is its only writer, so counting
needs no lock; snapshots add the workers' counters up. Latency is sampled
once per micro-batch into a bounded reservoir (Vitter's algorithm R).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ("RESERVOIR_SIZE", "Counters", "percentile")

RESERVOIR_SIZE = 1024


class Counters:
    """Per-worker counters of one stage; written by one thread only."""

    __slots__ = (
        "blocked_time",
        "busy_time",
        "items_dropped",
        "items_failed",
        "items_in",
        "items_out",
        "items_retried",
        "items_routed",
        "samples",
        "seen",
    )

    def __init__(self) -> None:
        self.items_in = 0
        self.items_out = 0
        self.items_failed = 0
        self.items_retried = 0
        self.items_dropped = 0
        self.items_routed = 0
        self.busy_time = 0.0
        self.blocked_time = 0.0
        self.samples: list[float] = []
        self.seen = 0

    def sample(self, latency: float) -> None:
        """Offer one latency sample to the reservoir."""
        self.seen += 1
        samples = self.samples
        if len(samples) < RESERVOIR_SIZE:
            samples.append(latency)
        else:
            j = random.randrange(self.seen)  # noqa: S311 - sampling, not crypto
            if j < RESERVOIR_SIZE:
                samples[j] = latency

    def add(self, other: Counters) -> None:
        """Add *other*'s counts into this one (used for snapshots)."""
        self.items_in += other.items_in
        self.items_out += other.items_out
        self.items_failed += other.items_failed
        self.items_retried += other.items_retried
        self.items_dropped += other.items_dropped
        self.items_routed += other.items_routed
        self.busy_time += other.busy_time
        self.blocked_time += other.blocked_time
        self.seen += other.seen
        self.samples.extend(other.samples)
        if len(self.samples) > RESERVOIR_SIZE * 4:
            # Samples merged from remote workers: keep the reservoir bounded.
            self.samples = random.sample(self.samples, RESERVOIR_SIZE)

    @classmethod
    def total(cls, parts: Iterable[Counters]) -> Counters:
        """Return the sum of *parts* (a fresh object)."""
        out = cls()
        for p in parts:
            out.add(p)
        if len(out.samples) > RESERVOIR_SIZE * 4:
            out.samples = random.sample(out.samples, RESERVOIR_SIZE * 4)
        return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Return the *q*-th percentile (0..100) of *sorted_values* (nearest rank)."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]
