"""The one backoff policy: bounded, with full jitter.

Every wait in the service uses it: the store retrying UnprocessedKeys, the commit loop
backing off after a write conflict, and a request waiting out another request's
activation. "Equal jitter": a uniform draw between half of and the whole of an exponentially growing
ceiling. It spreads racing retries apart while every wait stays at least as long as the one
before (until the cap), and the cap keeps one wait short enough to poll an activation guard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.025
    cap_seconds: float = 0.25

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


BACKOFF = Backoff()
