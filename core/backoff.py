"""The one place that turns consecutive failures into a retry delay."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with jitter.

    The delay doubles per failure up to `cap_s`; half of it is fixed and half random, so a
    fleet of kiosks that lost the same broker does not come back in lock-step.
    """

    initial_s: float = 1.0
    cap_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        ceiling: float = min(self.cap_s, self.initial_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
