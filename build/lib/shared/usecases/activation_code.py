"""An activation's second half, once the guard is ours: the one provider call, then the
commit that records its code and releases the guard. Also what an activation answers
(`ActivateResult`) and how a request that came second is answered (`replay`).

"Unused" means unusable. The guard claim wrote the provider reference (`serial:v<version>`)
on the voucher before the provider was called, so no code is ever minted unrecorded. When
the provider may have issued a code that no commit records (it timed out, answered garbage,
or the commit failed or lost its answer), the guard is expired but kept: a retry at the same
version takes the same reference and gets that very code, so nothing is announced. Only the
transition that moves the voucher on without it announces the reference unused
(`domain.code_left_unused`, in that transition's own transaction). When the provider
certainly issued nothing (refused before the request was sent, or a 4xx), the guard is
released outright."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import domain, ports
from shared.domain import Activation, ActivationGuard, Definition, Replay, Session, Transition, Voucher
from shared.ports import GuardFailed, GuardHeld, SessionLive, VoucherRef, VoucherStore
from shared.providers import ProviderAdapter, ProviderBadResponse, ProviderFailure, ProviderRequest
from shared.retry import CommitPolicy
from shared.usecases import es_rules
from shared.usecases.commit import Plan, refuse_with, run


@dataclass(frozen=True)
class ActivateResult:
    activation: Activation
    product_name: str
    idempotent: bool  # True: a live activation was answered, no provider call, no write


@dataclass(frozen=True)
class Claimed:
    """The guard is ours: what the provider call and the commit need."""

    guard: ActivationGuard
    transition: Transition
    voucher: Voucher
    session: Session
    definition: Definition
    adapter: ProviderAdapter
    keep: Callable[[ActivateResult], ports.Remembered | None] = lambda _result: None  # Idempotency-Key

    @property
    def product_name(self) -> str:
        return self.definition.product_name


def issue_and_commit(
    store: VoucherStore,
    command: es_rules.ActivateCommand,
    claimed: Claimed,
    policy: CommitPolicy,
    clock: Callable[[], datetime],
    metric: Callable[[str], None],
) -> ActivateResult:
    """We hold the guard: one provider call, then the commit that releases it."""
    voucher, session, config = claimed.voucher, claimed.session, claimed.definition.provider
    assert config is not None  # checked before the claim
    held, reference = GuardHeld(voucher.serial, claimed.guard.owner), claimed.guard.reference
    metric("ProviderCalls")
    try:
        code = claimed.adapter.issue_code(ProviderRequest(reference=reference, config=config))
        done = clock()
        expiry = code.expires_at or done + timedelta(seconds=config.code_validity_seconds)
        if expiry <= done:
            raise ProviderBadResponse(f"{config.name} answered with a code that has already expired")
    except Exception as error:
        metric("ProviderFailures")
        nothing_issued = isinstance(error, ProviderFailure) and error.nothing_issued
        _settle(store, held, issued=not nothing_issued, metric=metric)
        raise
    previous = domain.pre_activation_status(voucher)
    activation = Activation(done, config.name, expiry, code.authorization_code, previous, reference)
    event = es_rules.activation_event(command, session, voucher, activation, done, used=True)
    after = claimed.transition.apply(voucher, activation=activation)
    answer = ActivateResult(activation, claimed.product_name, False)
    guards = (SessionLive(command.token_hash), held)
    change = ports.StateChange(voucher, after, event, guards, claimed.keep(answer))

    def refused(failure: GuardFailed, _plan: Plan[ActivateResult]) -> ActivateResult | None:
        refuse_with(
            failure, {SessionLive: lambda: domain.Unauthenticated("session no longer valid", field="token")}
        )
        current = failure.current
        if isinstance(failure.guard, GuardHeld):  # ours expired and was taken: its holder answers
            current = store.read([VoucherRef(voucher.serial)])[VoucherRef(voucher.serial)]
        replayed = replay(current, claimed.product_name, clock())
        if replayed is None:
            raise domain.ActivationInProgress("the voucher changed while its code was issued", retry_after=1)
        return replayed

    try:
        result = run(
            store,
            lambda: Plan(change, answer),
            refused,
            policy,
        )
    except Exception:
        # Not committed, or committed with every answer lost (OutcomeUnknown): either way the
        # reference stays on the voucher for the retry, which gets this very code.
        _settle(store, held, issued=True, metric=metric)
        raise
    if result.activation.reference != reference:  # answered with another activation's code
        _settle(store, held, issued=True, metric=metric)  # a no-op unless the guard is still ours
    return result


def _settle(store: VoucherStore, held: GuardHeld, *, issued: bool, metric: Callable[[str], None]) -> None:
    """End our hold on the guard after an activation that did not commit: released when the
    provider certainly issued nothing, else expired with its reference kept (the module's
    docstring). Best effort: a guard we cannot reach expires on its own, reference and all."""
    if issued:
        metric("ProviderCodesUnsettled")
    with contextlib.suppress(Exception):
        (store.expire_guard if issued else store.release_guard)(held)


def replay(voucher: Voucher | None, product_name: str, now: datetime) -> ActivateResult | None:
    """The voucher changed under us: answer as if we had come second (a replay, or the
    domain error), or None while it is still activatable (its owner and definition never
    change, so the ownership judged before still holds)."""
    if voucher is None:
        raise domain.NotFound("voucher not found", what="voucherId")
    decision = domain.decide_activate(voucher, now)
    return ActivateResult(decision.activation, product_name, True) if isinstance(decision, Replay) else None
