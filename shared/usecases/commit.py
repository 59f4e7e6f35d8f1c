"""The one commit loop every state-changing use case runs, activation included.

    load -> decide -> build the write -> commit
      on a failed guard: the use case maps it to a domain error, answers from the guarded
                         record's current value, or asks for a reload and a fresh decision;
      on a write conflict: back off and try again;
      while another request's activation is in flight: wait for its outcome, polling,
                         bounded by the policy's wait, then answer the retryable error.

Bounded everywhere: at most `max_attempts` decisions for conflicts and version changes, at
most `wait_seconds` spent waiting out an activation, and every pause drawn from the one
backoff policy (shared/retry.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.domain import ActivationInProgress, Contention, DomainError, NotFound, Voucher
from shared.ports import (
    GuardFailed,
    GuardFree,
    NoActivationInFlight,
    VoucherAt,
    VoucherStore,
    Write,
    WriteConflict,
)
from shared.retry import BACKOFF, Backoff

R = TypeVar("R")
W = TypeVar("W", bound=Write)


@dataclass(frozen=True)
class Done(Generic[R]):
    """The decision needs no write (a replay, or the answer another request produced)."""

    value: R


@dataclass(frozen=True)
class CommitPolicy:
    max_attempts: int = 4
    wait_seconds: float = 3.0  # how long a request waits out another request's activation
    backoff: Backoff = BACKOFF
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)


def run(
    store: VoucherStore,
    attempt: Callable[[], W | Done[R]],
    refused: Callable[[GuardFailed], Done[R] | None],
    policy: CommitPolicy,
) -> W | Done[R]:
    """Decide and commit until committed, answered, or refused. `attempt` loads and decides
    afresh each time it is called (raising ActivationInProgress while another request holds
    the voucher's activation guard); `refused` turns a failed guard into a domain error (by
    raising), an answer (Done), or None: reload and decide again."""
    deadline: list[float] = []  # set when this request first has to wait
    decisions = waits = 0
    while True:
        try:
            planned = attempt()
            if isinstance(planned, Done):
                return planned
            store.commit(planned)
            return planned
        except ActivationInProgress:
            waits += 1
            _wait(policy, deadline, waits)
        except GuardFailed as failure:
            answer = refused(failure)
            if answer is not None:
                return answer
            if isinstance(failure.guard, NoActivationInFlight | GuardFree):
                waits += 1
                _wait(policy, deadline, waits)
                continue
            decisions += 1
            if decisions >= policy.max_attempts:
                raise Contention("the voucher kept changing") from failure
        except WriteConflict:
            decisions += 1
            if decisions >= policy.max_attempts:
                raise Contention("the voucher is being changed by another request") from None
            policy.sleep(policy.backoff.delay(decisions))


def _wait(policy: CommitPolicy, deadline: list[float], waits: int) -> None:
    if not deadline:
        deadline.append(policy.monotonic() + policy.wait_seconds)
    remaining = deadline[0] - policy.monotonic()
    if remaining <= 0:
        raise ActivationInProgress("another request is activating this voucher", retry_after=1)
    policy.sleep(min(policy.backoff.delay(waits), remaining))


def rejudge(failure: GuardFailed, decide: Callable[[Voucher], object], *, what: str) -> None:
    """A voucher that changed under a decision: answer as if this request had come second
    (decide() raises that answer's domain error), or reload when the new state still allows it."""
    if isinstance(failure.guard, VoucherAt):
        if failure.current is None:
            raise NotFound("voucher not found", what=what) from failure
        decide(failure.current)


def refuse_with(failure: GuardFailed, errors: dict[type, Callable[[], DomainError]]) -> None:
    """Raise the domain error this use case maps the failed guard's type to, if any."""
    factory = errors.get(type(failure.guard))
    if factory is not None:
        raise factory() from failure
