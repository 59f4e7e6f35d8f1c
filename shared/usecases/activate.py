"""PAC activation (ES Loyalty "Activate Voucher") through an external provider.

Round trips: a replay of a live activation 1 (the read); a first activation 3 (the read,
the guard claim, the commit) and exactly one provider call.

    read     session + voucher + definition + the voucher's activation guard
    decide   401 -> 403 console -> 403 ghost -> 404 -> 409 -> 400 type -> replay -> 422
    claim    the guard, only while the voucher is still at the version judged
    provider one call, with a reference derived from that version (a retry after a crash
             gets the same code back, never a second one)
    commit   ACTIVATED + event, while the session is live; the same write releases the guard

While the guard is held nothing else changes the voucher (consume and unclaim wait for the
outcome), so the provider is never called for a state nobody will record. If the provider
answered but the commit still fails, the code is recorded as an ACTIVATION_CODE_UNUSED event
on the voucher, in the write that releases the guard, so an operator can void it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.domain import (
    Activation,
    ActivationGuard,
    ActivationInProgress,
    Definition,
    InvalidVoucherType,
    Replay,
    Session,
    Status,
    Unauthenticated,
    Voucher,
    activation_reference,
    decide_activate,
    pre_activation_status,
    utcnow,
)
from shared.ports import (
    DefinitionRef,
    GuardClaim,
    GuardFailed,
    GuardFree,
    GuardHeld,
    GuardRef,
    SessionLive,
    SessionRef,
    StateChange,
    VoucherAt,
    VoucherRef,
    VoucherStore,
)
from shared.providers import (
    ProviderAdapter,
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRequest,
    adapter_for,
)
from shared.usecases.activation_steps import (
    ActivateCommand,
    activation_event,
    authenticate_member,
    owned_voucher,
    record_unused,
)
from shared.usecases.commit import CommitPolicy, Done, refuse_with, run

PAC_REWARD_TYPE = "PRODUCT_AUTHORIZATION_CODE"
GUARD_MARGIN_SECONDS = 5.0  # the guard outlives the provider's timeout by this much (the commit)


@dataclass(frozen=True)
class ActivateResult:
    activation: Activation
    product_name: str
    idempotent: bool  # True: a live activation was answered, no provider call, no write


@dataclass(frozen=True)
class _Claimed:
    claim: GuardClaim
    voucher: Voucher
    session: Session
    definition: Definition
    adapter: ProviderAdapter


def activate_voucher(
    store: VoucherStore,
    command: ActivateCommand,
    *,
    policy: CommitPolicy | None = None,
    adapters: Callable[[str], ProviderAdapter | None] = adapter_for,
    clock: Callable[[], datetime] = utcnow,
    metric: Callable[[str], None] = lambda _name: None,
) -> ActivateResult:
    """`metric(name)` counts ProviderCalls / ProviderFailures / ProviderCodesUnused."""
    policy = policy or CommitPolicy()
    refs = (
        SessionRef(command.token_hash),
        VoucherRef(command.serial),
        DefinitionRef(command.definition_id),
        GuardRef(command.serial),
    )
    decided: list[_Claimed] = []

    def attempt() -> GuardClaim | Done[ActivateResult]:
        now = clock()
        snapshot = store.read(refs)
        session = authenticate_member(snapshot[SessionRef(command.token_hash)], now)
        voucher = owned_voucher(snapshot[VoucherRef(command.serial)], command, session)
        definition = snapshot[DefinitionRef(command.definition_id)]
        if definition is None:  # the importer guarantees it: a data fault, not the member's
            raise RuntimeError(f"definition {command.definition_id!r} of an existing voucher is missing")
        decision = decide_activate(voucher, now)
        if definition.reward_type != PAC_REWARD_TYPE:
            raise InvalidVoucherType("voucher is not a product authorization code voucher")
        if isinstance(decision, Replay):
            return Done(ActivateResult(decision.activation, definition.product_name, idempotent=True))
        adapter = _adapter(definition, adapters, decided)
        guard = snapshot[GuardRef(command.serial)]
        if guard is not None and guard.is_held(now):
            raise ActivationInProgress("another request is activating this voucher", retry_after=1)
        assert definition.provider is not None
        hold = timedelta(seconds=definition.provider.timeout_seconds + GUARD_MARGIN_SECONDS)
        claim = GuardClaim(
            ActivationGuard(command.serial, uuid.uuid4().hex, activation_reference(voucher), now, now + hold),
            VoucherAt.of(voucher),
        )
        decided[:] = [_Claimed(claim, voucher, session, definition, adapter)]
        return claim

    def refused(failure: GuardFailed) -> Done[ActivateResult] | None:
        if isinstance(failure.guard, GuardFree):
            return None  # another request holds the guard: the commit loop waits for its outcome
        return _rejudge(failure.current, command, decided[0].session, decided[0].definition, clock())

    claimed = run(store, attempt, refused, policy)
    if isinstance(claimed, Done):
        return claimed.value
    return _issue_and_commit(store, command, decided[0], policy, clock, metric)


def _issue_and_commit(
    store: VoucherStore,
    command: ActivateCommand,
    claimed: _Claimed,
    policy: CommitPolicy,
    clock: Callable[[], datetime],
    metric: Callable[[str], None],
) -> ActivateResult:
    """We hold the guard: one provider call, then the commit that releases it."""
    voucher, session, definition = claimed.voucher, claimed.session, claimed.definition
    config = definition.provider
    assert config is not None
    held = GuardHeld(command.serial, claimed.claim.guard.owner)
    reference = claimed.claim.guard.reference
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
    activation = Activation(
        done, config.name, expiry, code.authorization_code, pre_activation_status(voucher), reference
    )
    change = StateChange(
        before=voucher,
        after=replace(voucher, status=Status.ACTIVATED, version=voucher.version + 1, activation=activation),
        event=activation_event(
            command, session, voucher, "ACTIVATED", done, {"provider": config.name, "reference": reference}
        ),
        guards=(SessionLive(command.token_hash), held),
    )

    def refused(failure: GuardFailed) -> Done[ActivateResult] | None:
        refuse_with(failure, {SessionLive: lambda: Unauthenticated("session no longer valid", field="token")})
        if isinstance(failure.guard, GuardHeld):  # ours expired and was taken: its holder answers
            fresh = store.read([VoucherRef(command.serial)])[VoucherRef(command.serial)]
            return _rejudge(fresh, command, session, definition, clock()) or _in_progress()
        return _rejudge(failure.current, command, session, definition, clock()) or _in_progress()

    try:
        committed = run(store, lambda: change, refused, policy)
    except Exception:
        record_unused(store, command, session, voucher, activation, held, clock, metric)
        raise
    if isinstance(committed, Done):
        if committed.value.activation.reference != reference:
            record_unused(store, command, session, voucher, activation, held, clock, metric)
        return committed.value
    return ActivateResult(activation, definition.product_name, idempotent=False)


def _rejudge(
    voucher: Voucher | None, command: ActivateCommand, session: Session, definition: Definition, now: datetime
) -> Done[ActivateResult] | None:
    """The voucher changed under us: answer as if we had come second (a replay, or the
    domain error), or None while it is still activatable."""
    current = owned_voucher(voucher, command, session)
    decision = decide_activate(current, now)
    if isinstance(decision, Replay):
        return Done(ActivateResult(decision.activation, definition.product_name, idempotent=True))
    return None


def _in_progress() -> Done[ActivateResult]:
    raise ActivationInProgress("the voucher changed while its code was being issued", retry_after=1)


def _adapter(
    definition: Definition, adapters: Callable[[str], ProviderAdapter | None], decided: list[_Claimed]
) -> ProviderAdapter:
    """The provider's adapter, prepared (credentials loaded) before the guard is taken, so the
    guard's hold only has to cover the provider call itself."""
    if definition.provider is None:
        raise ProviderNotConfigured("voucher definition has no activation provider")
    if decided:
        return decided[0].adapter
    adapter = adapters(definition.provider.name)
    if adapter is None:
        raise ProviderNotConfigured(f"no adapter for provider {definition.provider.name}")
    adapter.prepare()
    return adapter
