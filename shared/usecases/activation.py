"""PAC activation (ES Loyalty "Activate Voucher") through an external provider.

Round trips: a live activation answered again 1 (the read); a first activation 3 (the read,
the guard claim, the commit) and exactly one provider call.

    read     session + voucher (with its activation guard) + definition
    decide   401 -> 403 console -> 403 ghost -> 404 -> 409 -> 400 type -> live -> 422
    claim    the guard, only while the voucher is still at the version judged
    provider one call, with a reference derived from that version (a retry after a crash
             gets the same code back, never a second one)
    commit   ACTIVATED + event while the session is live; the same write releases the guard

While the guard is held nothing else changes the voucher (consume and unclaim wait for the
outcome), so the provider is never called for a state nobody will record.

"Unused" means unusable. The claim writes the provider reference (`serial:v<version>`) on the
voucher before the provider is called, so no code is ever minted unrecorded. When the provider
may have issued a code that no commit records (it timed out, answered garbage, or the commit
failed or lost its answer), the guard is expired but kept: a retry at the same version takes
the same reference and gets that very code, so nothing is announced. Only the transition that
moves the voucher on without it announces the reference unused (`domain.code_left_unused`, in
that transition's own transaction). When the provider certainly issued nothing (refused before
the request was sent, or a 4xx), the guard is released outright.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial

from shared import domain, ports
from shared.domain import (
    Activation,
    ActivationGuard,
    Definition,
    LiveActivation,
    Session,
    Transition,
    Voucher,
)
from shared.ports import ConditionFailed, GuardHeld, NoLiveActivation, SessionLive, VoucherRef, VoucherStore
from shared.providers import (
    ProviderAdapter,
    ProviderBadResponse,
    ProviderFailure,
    ProviderNotConfigured,
    ProviderRequest,
    adapter_for,
)
from shared.retry import CommitPolicy
from shared.usecases import es_rules
from shared.usecases.commit import Plan, refuse_while_activating, refuse_with, run
from shared.usecases.idempotency import Idempotency, kept_for

GUARD_MARGIN_SECONDS = 5.0  # the guard outlives the provider's timeout by this much (the commit)


@dataclass(frozen=True)
class ActivateResult:
    activation: Activation
    product_name: str
    idempotent: bool  # True: a live activation was answered, no provider call, no write


@dataclass(frozen=True)
class _Claimed:
    """The guard is ours: what the provider call and the commit need."""

    guard: ActivationGuard
    transition: Transition
    voucher: Voucher
    session: Session
    definition: Definition
    adapter: ProviderAdapter
    keep: Callable[[ActivateResult], ports.Remembered | None]  # Idempotency-Key

    @property
    def product_name(self) -> str:
        return self.definition.product_name

    @property
    def held(self) -> GuardHeld:
        return GuardHeld(self.voucher.serial, self.guard.owner)


def activate_voucher(
    store: VoucherStore,
    command: es_rules.ActivateCommand,
    *,
    policy: CommitPolicy | None = None,
    adapters: Callable[[str], ProviderAdapter | None] = adapter_for,
    clock: Callable[[], datetime] = domain.utcnow,
    metric: Callable[[str], None] = lambda _name: None,
    idempotency: Idempotency | None = None,
) -> ActivateResult:
    """`metric(name)` counts ProviderCalls / ProviderFailures / ProviderCodesUnsettled."""
    policy = policy or CommitPolicy()
    prepared = cache(partial(_prepared, adapters))  # credentials loaded once per request

    def plan() -> Plan[ActivateResult | _Claimed]:
        now = clock()
        snapshot = store.read(command.refs())
        session = es_rules.authenticate_member(snapshot[ports.SessionRef(command.token_hash)], now)
        keep = kept_for(idempotency, store, session, now)
        voucher = es_rules.owned_voucher(snapshot[VoucherRef(command.serial)], command, session)
        decision = domain.decide_activate(voucher, now)
        definition = es_rules.pac_definition(snapshot[ports.DefinitionRef(command.definition_id)], command)
        if isinstance(decision, LiveActivation):
            return Plan(None, ActivateResult(decision.activation, definition.product_name, idempotent=True))
        if definition.provider is None:
            raise ProviderNotConfigured("voucher definition has no activation provider")
        adapter = prepared(definition.provider.name)  # before the claim: its hold covers the call only
        refuse_while_activating(snapshot, voucher, now)
        until = now + timedelta(seconds=definition.provider.timeout_seconds + GUARD_MARGIN_SECONDS)
        guard = ActivationGuard(
            voucher.serial, uuid.uuid4().hex, domain.activation_reference(voucher), now, until
        )
        claimed = _Claimed(guard, decision, voucher, session, definition, adapter, keep)
        return Plan(ports.GuardClaim(guard, ports.VoucherAt.of(voucher)), claimed)

    def refused(failure: ConditionFailed, planned: Plan[ActivateResult | _Claimed]) -> ActivateResult | None:
        if isinstance(failure.condition, NoLiveActivation):
            return None  # another request holds the guard: the commit loop waits for its outcome
        return _as_second(failure.current, planned.answer.product_name, clock())

    claimed = run(store, plan, refused, policy)  # the guard is ours, or answered without a call
    if isinstance(claimed, ActivateResult):
        return claimed
    activation = _issue_code(store, claimed, clock, metric)  # settles the guard if it fails
    return _commit(store, command, claimed, activation, policy, clock, metric)  # releases it


def _prepared(adapters: Callable[[str], ProviderAdapter | None], name: str) -> ProviderAdapter:
    adapter = adapters(name)
    if adapter is None:
        raise ProviderNotConfigured(f"no adapter for provider {name}")
    adapter.prepare()
    return adapter


def _issue_code(
    store: VoucherStore, claimed: _Claimed, clock: Callable[[], datetime], metric: Callable[[str], None]
) -> Activation:
    """The one provider call, under the guard. A failure settles the guard and is raised."""
    config = claimed.definition.provider
    assert config is not None  # checked before the claim
    reference = claimed.guard.reference
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
        _settle(store, claimed.held, issued=not nothing_issued, metric=metric)
        raise
    previous = domain.pre_activation_status(claimed.voucher)
    return Activation(done, config.name, expiry, code.authorization_code, previous, reference)


def _commit(
    store: VoucherStore,
    command: es_rules.ActivateCommand,
    claimed: _Claimed,
    activation: Activation,
    policy: CommitPolicy,
    clock: Callable[[], datetime],
    metric: Callable[[str], None],
) -> ActivateResult:
    """Record the code (ACTIVATED and its event, while the session is live and the guard is
    still ours); the same write releases the guard."""
    voucher, held = claimed.voucher, claimed.held
    event = es_rules.activation_event(
        command, claimed.session, voucher, activation, activation.activated_at, used=True
    )
    after = claimed.transition.apply(voucher, activation=activation)
    answer = ActivateResult(activation, claimed.product_name, False)
    conditions = (SessionLive(command.token_hash), held)
    change = ports.StateChange(voucher, after, event, conditions, claimed.keep(answer))

    def refused(failure: ConditionFailed, _plan: Plan[ActivateResult]) -> ActivateResult | None:
        refuse_with(
            failure, {SessionLive: lambda: domain.Unauthenticated("session no longer valid", field="token")}
        )
        current = failure.current
        if isinstance(failure.condition, GuardHeld):  # ours expired and was taken: its holder answers
            current = store.read([VoucherRef(voucher.serial)])[VoucherRef(voucher.serial)]
        answered = _as_second(current, claimed.product_name, clock())
        if answered is None:
            raise domain.ActivationInProgress("the voucher changed while its code was issued", retry_after=1)
        return answered

    try:
        result = run(store, lambda: Plan(change, answer), refused, policy)
    except Exception:
        # Not committed, or committed with every answer lost (OutcomeUnknown): either way the
        # reference stays on the voucher for the retry, which gets this very code.
        _settle(store, held, issued=True, metric=metric)
        raise
    if result.activation.reference != activation.reference:  # answered with another activation's code
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


def _as_second(voucher: Voucher | None, product_name: str, now: datetime) -> ActivateResult | None:
    """The voucher changed under us: answer as if we had come second (its live activation,
    or the domain error), or None while it is still activatable (its owner and definition
    never change, so the ownership judged before still holds)."""
    if voucher is None:
        raise domain.NotFound("voucher not found", what="voucherId")
    decision = domain.decide_activate(voucher, now)
    if isinstance(decision, LiveActivation):
        return ActivateResult(decision.activation, product_name, True)
    return None
