"""The one backoff policy, and the bounds of the commit loop that uses it.

Every wait in the service draws from `Backoff`: the store retrying UnprocessedKeys and lost
connections, the commit loop backing off after a write conflict, a request waiting out
another request's activation, and a webhook delivery's next attempt (with its own base and
cap: seconds to minutes, not milliseconds). "Equal jitter": a uniform draw between half of
and the whole of a doubling ceiling, capped. It spreads racing retries apart, each wait is at
least as long as the longest the one before could have been (until the cap), and the cap
keeps a wait short enough to poll an activation guard.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.025
    cap_seconds: float = 0.25

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** min(max(0, attempt - 1), 32)))
        return ceiling / 2 + ceiling / 2 * rng()


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


# --------------------------------------------------------------------------- the request's deadline

# When the request's answer is due (time.monotonic()), set at the edge from the Lambda
# context: every retry below the edge stops in time to answer before the function's timeout,
# past which API Gateway answers its own 502, which belongs to no dialect. A ContextVar, so
# threads serving different requests in one process (the local stack) keep their own.
_DEADLINE: ContextVar[float | None] = ContextVar("voucher_deadline", default=None)
ANSWER_MARGIN_SECONDS = 1.0  # kept back from the function's timeout to build and send the answer
DEFAULT_BUDGET_SECONDS = 8.0  # no Lambda context (scripts, unit tests): the shortest function's budget


def start_deadline(remaining_ms: int | None, *, clock: Callable[[], float] = time.monotonic) -> None:
    """This request must have answered `remaining_ms` from now (less the answer's margin)."""
    budget = DEFAULT_BUDGET_SECONDS if remaining_ms is None else remaining_ms / 1000 - ANSWER_MARGIN_SECONDS
    _DEADLINE.set(clock() + max(0.0, budget))


def end_deadline() -> None:
    """The request has answered: what runs next in this thread has no deadline of its own."""
    _DEADLINE.set(None)


def remaining_seconds(*, clock: Callable[[], float] = time.monotonic) -> float:
    """Seconds left before this request must answer (the default budget when none was set)."""
    deadline = _DEADLINE.get()
    return DEFAULT_BUDGET_SECONDS if deadline is None else deadline - clock()
