"""PAC activation (ES Loyalty "Activate Voucher") through an external provider.

DynamoDB round trips:
  * replay of a live activation: 1 (BatchGetItem of session + voucher + definition)
  * first activation: 3 (that BatchGetItem, the activation marker PutItem, and one
    TransactWriteItems = voucher update conditioned on the version read + ACTIVATED event +
    session still live + marker release), and exactly one provider call.

Check order (docs/dialects/activate_voucher.md): token (401) -> console (403) -> ghost (403)
-> voucher under this account (404) -> available (409) -> reward type (400) -> live
activation replay -> provider configured (422) -> marker -> provider -> commit.

The marker makes concurrent activations of one voucher call the provider once: a request
that finds it held waits (polling voucher + marker) for the holder's commit and answers the
replay, or gives up with ActivationInProgress. The provider reference is derived from the
voucher version, so a retry after a crash between provider answer and commit gets the same
code back instead of a second one.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.domain import (
    Activation,
    ActivationInProgress,
    AuditEvent,
    ConsoleUser,
    Definition,
    DomainError,
    GhostMember,
    NotFound,
    PrincipalKind,
    Replay,
    Session,
    Status,
    Transition,
    Unauthenticated,
    Voucher,
    activation_reference,
    decide_activate,
    pre_activation_status,
    utcnow,
)
from shared.providers import (
    ProviderAdapter,
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRequest,
    adapter_for,
)
from shared.store import (
    ConditionFailed,
    Item,
    Keys,
    VoucherStore,
    WriteConflict,
    item_to_definition,
    item_to_session,
    item_to_voucher,
    key_id,
)
from shared.store import _activation_to_map as activation_to_map  # the stored map, one writer

PAC_REWARD_TYPE = "PRODUCT_AUTHORIZATION_CODE"
LOCK_MARGIN_SECONDS = 5.0  # marker outlives the provider timeout by this much (commit time)
MAX_TX_ATTEMPTS = 4
CHANNEL = "es_loyalty"


class InvalidVoucherType(DomainError):
    """The voucher's definition is not a PAC reward: nothing to activate (400)."""

    code = "INVALID_VOUCHER_TYPE"


@dataclass(frozen=True)
class ActivateCommand:
    correlation_id: str
    definition_id: str
    serial: str  # lower-case issuance UUID
    token_hash: str
    request_id: str


@dataclass(frozen=True)
class ActivateResult:
    activation: Activation
    product_name: str
    idempotent: bool  # True: a live activation was answered, no provider call, no write


@dataclass
class _Context:
    store: VoucherStore
    command: ActivateCommand
    session: Session
    definition: Definition
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    metric: Callable[[str], None]


def activate_voucher(
    store: VoucherStore,
    command: ActivateCommand,
    *,
    wait_seconds: float = 3.0,
    adapters: Callable[[str], ProviderAdapter | None] = adapter_for,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    metric: Callable[[str], None] = lambda _name: None,
) -> ActivateResult:
    """`metric(name)` counts ProviderCalls / ProviderFailures (the handler emits them)."""
    keys = {
        "session": Keys.session(command.token_hash),
        "voucher": Keys.voucher(command.serial),
        "definition": Keys.definition(command.definition_id),
    }
    now = clock()
    found = store.hydrate(keys.values())
    items = {role: found.get(key_id(key)) for role, key in keys.items()}

    session = _authenticate(items["session"], now)
    voucher = _owned_voucher(items["voucher"], command, session)
    if items["definition"] is None:
        # The importer guarantees every voucher's definition exists: this is a data fault.
        raise RuntimeError(f"definition {command.definition_id!r} of an existing voucher is missing")
    definition = item_to_definition(items["definition"])

    decision = decide_activate(voucher, now)  # 409s (and 404 for a never-issued voucher)
    if definition.reward_type != PAC_REWARD_TYPE:
        raise InvalidVoucherType("voucher is not a product authorization code voucher")
    if isinstance(decision, Replay):
        return ActivateResult(decision.activation, definition.product_name, idempotent=True)
    config = definition.provider
    if config is None:
        raise ProviderNotConfigured("voucher definition has no activation provider")
    adapter = adapters(config.name)
    if adapter is None:
        raise ProviderNotConfigured(f"no adapter for provider {config.name}")

    adapter.prepare()  # credentials before the marker: the hold only covers the provider call
    ctx = _Context(store, command, session, definition, clock, sleep, monotonic, metric)
    deadline = monotonic() + wait_seconds
    while True:
        owner = uuid.uuid4().hex
        reference = activation_reference(voucher)
        hold = config.timeout_seconds + LOCK_MARGIN_SECONDS
        if store.acquire_activation_lock(command.serial, owner, reference, clock(), hold) is None:
            return _activate_holding(ctx, adapter, voucher, decision, owner, reference)
        # Someone else is activating this voucher: wait for their commit (or their marker to go).
        voucher = _await_holder(ctx, deadline)
        if voucher.owner_member_id != session.member_id:  # changed hands meanwhile
            raise NotFound("voucher not found", what="voucherId")
        decision = decide_activate(voucher, clock())
        if isinstance(decision, Replay):
            return ActivateResult(decision.activation, definition.product_name, idempotent=True)


# --------------------------------------------------------------------------- steps


def _authenticate(item: Item | None, now: datetime) -> Session:
    if item is None:
        raise Unauthenticated("unknown token", field="token")
    session = item_to_session(item)
    if not session.is_live(now):
        raise Unauthenticated("token expired or revoked", field="token")
    if session.kind is PrincipalKind.ES_CONSOLE:
        raise ConsoleUser("console users may view activations but never activate")
    if session.kind is not PrincipalKind.ES_MEMBER or not session.member_id:
        raise Unauthenticated("token is not an ES member token", field="token")
    if session.ghost:
        raise GhostMember("ghost members cannot activate vouchers")
    return session


def _owned_voucher(item: Item | None, command: ActivateCommand, session: Session) -> Voucher:
    """Missing, of another definition, or of another account: all the same 404."""
    if item is None:
        raise NotFound("voucher not found", what="voucherId")
    voucher = item_to_voucher(item)
    if voucher.definition_id != command.definition_id or voucher.owner_member_id != session.member_id:
        raise NotFound("voucher not found", what="voucherId")
    return voucher


def _await_holder(ctx: _Context, deadline: float) -> Voucher:
    """Poll voucher + marker (one consistent BatchGetItem each) until the voucher is no
    longer plain activatable (the holder committed, or it was consumed meanwhile) or the
    marker is gone/expired (the holder failed: we may try ourselves). Past the deadline:
    ActivationInProgress, which the client may retry."""
    serial = ctx.command.serial
    voucher_key, lock_key = Keys.voucher(serial), Keys.activation_lock(serial)
    attempt = 0
    while True:
        if ctx.monotonic() >= deadline:
            raise ActivationInProgress("another request is activating this voucher", retry_after=1)
        attempt += 1
        delay = min(0.05 * (2 ** (attempt - 1)), 0.25) * (0.75 + random.random() / 2)
        ctx.sleep(max(0.0, min(delay, deadline - ctx.monotonic())))
        found = ctx.store.hydrate([voucher_key, lock_key])
        voucher_item = found.get(key_id(voucher_key))
        if voucher_item is None:
            raise NotFound("voucher not found", what="voucherId")
        voucher = item_to_voucher(voucher_item)
        now = ctx.clock()
        try:
            if isinstance(decide_activate(voucher, now), Replay):
                return voucher
        except DomainError:
            return voucher  # the caller re-decides and raises the right error
        lock = found.get(key_id(lock_key))
        if lock is None or int(lock.get("expires_at_ms", 0)) < int(now.timestamp() * 1000):
            return voucher


def _activate_holding(
    ctx: _Context,
    adapter: ProviderAdapter,
    voucher: Voucher,
    transition: Transition,
    owner: str,
    reference: str,
) -> ActivateResult:
    """We hold the marker: call the provider once, then commit.

    If the provider call fails, the marker is released at once (best effort) so that an
    immediate retry can succeed. Once the provider has answered, the marker is never
    deleted: committed, it is marked so; refused (the voucher was consumed meanwhile, say),
    it is left to expire. Either way a request that read the voucher earlier cannot take it
    and call the provider again; it waits and answers from the voucher's new state. (A crash
    also leaves it to expire: the retry then reuses the same reference, so the same code.)"""
    answered = False
    try:
        config = ctx.definition.provider
        assert config is not None
        ctx.metric("ProviderCalls")
        try:
            code = adapter.issue_code(ProviderRequest(reference=reference, config=config))
        except Exception:
            ctx.metric("ProviderFailures")
            raise
        done = ctx.clock()
        expiry = code.expires_at or done + timedelta(seconds=config.code_validity_seconds)
        if expiry <= done:
            ctx.metric("ProviderFailures")
            raise ProviderBadResponse(f"{config.name} answered with a code that has already expired")
        answered = True  # a usable code exists from here on: the marker must not be freed
        activation = Activation(
            activated_at=done,
            provider=config.name,
            code_expiry=expiry,
            authorization_code=code.authorization_code,
            previous_status=pre_activation_status(voucher),
            reference=reference,
        )
        result = _commit(ctx, voucher, transition, activation, owner, done)
    except Exception:
        if not answered:
            _release_quietly(ctx.store, ctx.command.serial, owner)
        raise
    if result.idempotent:  # someone else's activation answered: our marker was not released
        _release_quietly(ctx.store, ctx.command.serial, owner)
    return result


def _commit(
    ctx: _Context,
    voucher: Voucher,
    transition: Transition,
    activation: Activation,
    owner: str,
    now: datetime,
) -> ActivateResult:
    store, command, session = ctx.store, ctx.command, ctx.session
    product_name = ctx.definition.product_name
    for attempt in range(MAX_TX_ATTEMPTS):
        event = AuditEvent(
            serial=voucher.serial,
            event_type="ACTIVATED",
            channel=CHANNEL,
            actor_kind=session.kind.value,
            actor_id=session.principal_id,
            from_status=transition.from_status.value,
            to_status=Status.ACTIVATED.value,
            at=now,
            request_id=command.request_id,
            correlation_id=command.correlation_id,
            details={"provider": activation.provider, "reference": activation.reference},
        )
        try:
            store.transact(
                [
                    store.tx_transition(
                        voucher,
                        transition,
                        now=now,
                        set_attributes={"activation": activation_to_map(activation)},
                    ),
                    store.tx_event(event),
                    store.tx_session_live(command.token_hash, now),
                    store.tx_complete_lock(command.serial, owner, now),
                ]
            )
            return ActivateResult(activation, product_name, idempotent=False)
        except WriteConflict:
            # Retry the write only: the code we hold stays valid, the provider is not called again.
            if attempt + 1 < MAX_TX_ATTEMPTS:
                ctx.sleep(0.02 * (attempt + 1) * (1 + random.random()))
                continue
            raise ActivationInProgress("voucher is being changed by another request", retry_after=1) from None
        except ConditionFailed as failure:
            if failure.role == "session":
                raise Unauthenticated("session no longer valid", field="token") from failure
            if failure.role == "lock":
                # Our marker expired and another request took it (same reference, same code).
                fresh = store.get(Keys.voucher(command.serial))
                if fresh is not None and fresh.get("owner_member_id") == session.member_id:
                    decision = decide_activate(item_to_voucher(fresh), ctx.clock())
                    if isinstance(decision, Replay):
                        return ActivateResult(decision.activation, product_name, idempotent=True)
                raise ActivationInProgress("another request took over", retry_after=1) from None
            if failure.role != "voucher":
                raise
            if failure.item is None:
                raise NotFound("voucher not found", what="voucherId") from failure
            # The voucher changed since we read it: judge its new state, so a race loser
            # gets the answer it would have got had it come second.
            fresh_voucher = item_to_voucher(failure.item)
            if fresh_voucher.owner_member_id != session.member_id:
                raise NotFound("voucher not found", what="voucherId") from failure
            decision = decide_activate(fresh_voucher, now)
            if isinstance(decision, Replay):
                return ActivateResult(decision.activation, product_name, idempotent=True)
            # Still activatable at a newer version (e.g. unclaimed meanwhile): the code we
            # hold was issued for this voucher, so write it on top of the new version.
            voucher, transition = fresh_voucher, decision
            activation = replace(activation, previous_status=pre_activation_status(fresh_voucher))
    raise ActivationInProgress("voucher kept changing", retry_after=1)


def _release_quietly(store: VoucherStore, serial: str, owner: str) -> None:
    """Best effort: the marker expires on its own; never mask the error being reported."""
    with contextlib.suppress(Exception):
        store.release_activation_lock(serial, owner)
