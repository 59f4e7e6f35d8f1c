"""An activation's second half, once the guard is ours: the one provider call, then the
commit that records its code and releases the guard — or, when that commit cannot happen,
the ACTIVATION_CODE_UNUSED event that keeps the code voidable. Also what an activation
answers (`ActivateResult`) and how a request that came second is answered (`replay`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import domain, ports
from shared.domain import Activation, ActivationGuard, Definition, Replay, Session, Transition, Voucher
from shared.ports import GuardFailed, GuardHeld, SessionLive, VoucherRef, VoucherStore
from shared.providers import ProviderAdapter, ProviderBadResponse, ProviderRequest
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
    except Exception:
        metric("ProviderFailures")
        with contextlib.suppress(Exception):  # best effort: the guard expires on its own
            store.release_guard(held)  # nothing was issued that anyone could use
        raise
    previous = domain.pre_activation_status(voucher)
    activation = Activation(done, config.name, expiry, code.authorization_code, previous, reference)
    event = es_rules.activation_event(command, session, voucher, activation, done, used=True)
    after = claimed.transition.apply(voucher, activation=activation)
    change = ports.StateChange(voucher, after, event, (SessionLive(command.token_hash), held))

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

    unused = es_rules.activation_event(command, session, voucher, activation, done, used=False)
    try:
        result = run(
            store,
            lambda: Plan(change, ActivateResult(activation, claimed.product_name, False)),
            refused,
            policy,
        )
    except Exception:
        record_unused(store, ports.Record(unused, release=held), metric)
        raise
    if result.activation.reference != reference:  # another request's code is the voucher's
        record_unused(store, ports.Record(unused, release=held), metric)
    return result


def replay(voucher: Voucher | None, product_name: str, now: datetime) -> ActivateResult | None:
    """The voucher changed under us: answer as if we had come second (a replay, or the
    domain error), or None while it is still activatable (its owner and definition never
    change, so the ownership judged before still holds)."""
    if voucher is None:
        raise domain.NotFound("voucher not found", what="voucherId")
    decision = domain.decide_activate(voucher, now)
    return ActivateResult(decision.activation, product_name, True) if isinstance(decision, Replay) else None


def record_unused(store: VoucherStore, record: ports.Record, metric: Callable[[str], None]) -> None:
    """Never masks the error being answered: when even this fails, the metric alarms."""
    metric("ProviderCodesUnused")
    try:
        try:
            store.commit(record)
        except GuardFailed:  # the guard is no longer ours: record without releasing
            store.commit(ports.Record(record.event))
    except Exception:
        metric("ProviderCodesUnrecorded")
        # What on-call needs to void the code at the provider (never the code itself).
        logging.getLogger(__name__).error(
            "provider code not recorded",
            extra={
                "serial": record.event.serial,
                "provider": record.event.details.get("provider"),
                "reference": record.event.details.get("reference"),
                "request_id": record.event.request_id,
            },
            exc_info=True,
        )
