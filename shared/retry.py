"""The one backoff policy, and the bounds of the commit loop that uses it.

Every wait in the service draws from `Backoff`: the store retrying UnprocessedKeys, the
commit loop backing off after a write conflict, and a request waiting out another request's
activation. "Equal jitter": a uniform draw between half of and the whole of a doubling
ceiling, capped. It spreads racing retries apart, each wait is at least as long as the
longest the one before could have been (until the cap), and the cap keeps a wait short
enough to poll an activation guard.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.025
    cap_seconds: float = 0.25

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


BACKOFF = Backoff()


@dataclass(frozen=True)
class CommitPolicy:
    """How long shared/usecases/commit.py:run keeps going: at most `max_attempts` decisions
    (write conflicts, versions that changed), at most `wait_seconds` waiting out another
    request's activation."""

    max_attempts: int = 4
    wait_seconds: float = 3.0
    backoff: Backoff = BACKOFF
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)
