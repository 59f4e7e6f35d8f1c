"""The one commit loop every state-changing use case runs, activation included.

    plan -> commit -> answer
      a plan with no write (a replay) is answered at once;
      on a failed condition: the use case's `refused` maps it to a domain error (raising),
                         to an answer, or to None: plan again on a fresh read;
      on a write conflict: back off and plan again;
      while another request's activation is in flight: wait for its outcome, polling,
                         bounded by the policy's wait, then answer the retryable error.

Bounded everywhere: at most `max_attempts` decisions for conflicts and version changes, at
most `wait_seconds` spent waiting out an activation, every pause drawn from the one backoff
policy (shared/retry.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from shared.domain import ActivationInProgress, Contention, DomainError, NotFound, Voucher
from shared.ports import (
    ConditionFailed,
    GuardRef,
    NoLiveActivation,
    Snapshot,
    StateChange,
    VoucherAt,
    VoucherStore,
    Write,
    WriteConflict,
)
from shared.retry import CommitPolicy

R = TypeVar("R")


@dataclass(frozen=True)
class Plan(Generic[R]):
    """A decision: the one write that makes it true (None: nothing to write, e.g. a replay)
    and the answer the request gets once that write is committed."""

    write: Write | None
    answer: R


def run(
    store: VoucherStore,
    plan: Callable[[], Plan[R]],
    refused: Callable[[ConditionFailed, Plan[R]], R | None],
    policy: CommitPolicy,
) -> R:
    """Plan and commit until committed, answered, or refused. `plan` reads and decides afresh
    each time (raising ActivationInProgress while another request holds the voucher's
    activation guard); `refused` receives the failure and the plan whose write it failed."""
    deadline: float | None = None  # set when this request first has to wait
    decisions = waits = 0
    while True:
        try:
            decided = plan()
        except ActivationInProgress:
            waits += 1
            deadline = _wait(policy, deadline, waits)
            continue
        try:
            if decided.write is not None:
                store.commit(decided.write)
            return decided.answer
        except ConditionFailed as failure:
            if isinstance(decided.write, StateChange) and decided.write.remember is not None:
                # A request with an Idempotency-Key that lost its write: plan again, which reads
                # the key first, so a repeat that won is replayed rather than judged.
                decisions += 1
                if decisions < policy.max_attempts:
                    continue
            answer = refused(failure, decided)
            if answer is not None:
                return answer
            if isinstance(failure.condition, NoLiveActivation):
                waits += 1
                deadline = _wait(policy, deadline, waits)
                continue
            decisions += 1
            if decisions >= policy.max_attempts:
                raise Contention("the voucher kept changing") from failure
        except WriteConflict:
            decisions += 1
            if decisions >= policy.max_attempts:
                raise Contention("the voucher is being changed by another request") from None
            policy.sleep(policy.backoff.delay(decisions))


def _wait(policy: CommitPolicy, deadline: float | None, waits: int) -> float:
    deadline = policy.monotonic() + policy.wait_seconds if deadline is None else deadline
    remaining = deadline - policy.monotonic()
    if remaining <= 0:
        raise ActivationInProgress("another request is activating this voucher", retry_after=1)
    policy.sleep(min(policy.backoff.delay(waits), remaining))
    return deadline


def refuse_while_activating(snapshot: Snapshot, voucher: Voucher, now: datetime) -> NoLiveActivation:
    """Consume, claim and unclaim wait for an activation in flight (the commit loop polls).
    Otherwise the condition their write carries: the voucher's activation guard exactly as
    read (none, or an expired one whose reference the write announces unused)."""
    guard = snapshot[GuardRef(voucher.serial)]
    if guard is not None and guard.is_held(now):
        raise ActivationInProgress("the voucher is being activated")
    return NoLiveActivation(voucher.serial, guard)


def rejudge(failure: ConditionFailed, decide: Callable[[Voucher], object], *, what: str) -> None:
    """A voucher that changed under a decision: answer as if this request had come second
    (decide() raises that answer's domain error), or plan again when the new state still
    allows it."""
    if isinstance(failure.condition, VoucherAt):
        if failure.current is None:
            raise NotFound("voucher not found", what=what) from failure
        decide(failure.current)


def refuse_with(failure: ConditionFailed, errors: dict[type, Callable[[], DomainError]]) -> None:
    """Raise the domain error this use case maps the failed condition's type to, if any."""
    factory = errors.get(type(failure.condition))
    if factory is not None:
        raise factory() from failure
