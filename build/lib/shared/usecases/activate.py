"""PAC activation (ES Loyalty "Activate Voucher") through an external provider.

Round trips: a replay of a live activation 1 (the read); a first activation 3 (the read,
the guard claim, the commit) and exactly one provider call.

    read     session + voucher (with its activation guard) + definition
    decide   401 -> 403 console -> 403 ghost -> 404 -> 409 -> 400 type -> replay -> 422
    claim    the guard, only while the voucher is still at the version judged
    provider one call, with a reference derived from that version (a retry after a crash
             gets the same code back, never a second one)
    commit   ACTIVATED + event while the session is live; the same write releases the guard

While the guard is held nothing else changes the voucher (consume and unclaim wait for the
outcome), so the provider is never called for a state nobody will record. The claim writes
the provider reference on the voucher before the call: a code no commit records stays with
the voucher for the retry, and is announced unused only when the voucher moves on without it
(shared/usecases/activation_code.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, partial

from shared import domain, ports
from shared.domain import ActivationGuard, Replay
from shared.ports import GuardFailed, VoucherRef, VoucherStore
from shared.providers import (
    ProviderAdapter,
    ProviderNotConfigured,
    adapter_for,
)
from shared.retry import CommitPolicy
from shared.usecases import es_rules
from shared.usecases.activation_code import ActivateResult, Claimed, issue_and_commit, replay
from shared.usecases.commit import Plan, refuse_while_activating, run
from shared.usecases.idempotency import Idempotency, kept_for

GUARD_MARGIN_SECONDS = 5.0  # the guard outlives the provider's timeout by this much (the commit)


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

    def plan() -> Plan[ActivateResult | Claimed]:
        now = clock()
        snapshot = store.read(command.refs())
        session = es_rules.authenticate_member(snapshot[ports.SessionRef(command.token_hash)], now)
        keep = kept_for(idempotency, store, session, now)
        voucher = es_rules.owned_voucher(snapshot[VoucherRef(command.serial)], command, session)
        decision = domain.decide_activate(voucher, now)
        definition = es_rules.pac_definition(snapshot[ports.DefinitionRef(command.definition_id)], command)
        if isinstance(decision, Replay):
            return Plan(None, ActivateResult(decision.activation, definition.product_name, idempotent=True))
        if definition.provider is None:
            raise ProviderNotConfigured("voucher definition has no activation provider")
        adapter = prepared(definition.provider.name)  # before the claim: its hold covers the call only
        refuse_while_activating(snapshot, voucher, now)
        until = now + timedelta(seconds=definition.provider.timeout_seconds + GUARD_MARGIN_SECONDS)
        guard = ActivationGuard(
            voucher.serial, uuid.uuid4().hex, domain.activation_reference(voucher), now, until
        )
        claimed = Claimed(guard, decision, voucher, session, definition, adapter, keep)
        return Plan(ports.GuardClaim(guard, ports.VoucherAt.of(voucher)), claimed)

    def refused(failure: GuardFailed, planned: Plan[ActivateResult | Claimed]) -> ActivateResult | None:
        if isinstance(failure.guard, ports.GuardFree):
            return None  # another request holds the guard: the commit loop waits for its outcome
        return replay(failure.current, planned.answer.product_name, clock())

    outcome = run(store, plan, refused, policy)
    if isinstance(outcome, ActivateResult):
        return outcome
    return issue_and_commit(store, command, outcome, policy, clock, metric)


def _prepared(adapters: Callable[[str], ProviderAdapter | None], name: str) -> ProviderAdapter:
    adapter = adapters(name)
    if adapter is None:
        raise ProviderNotConfigured(f"no adapter for provider {name}")
    adapter.prepare()
    return adapter
