"""Spaaza "unclaim-voucher" and its inverse "claim-voucher": a claimed voucher goes back to
AVAILABLE ("generated"), a generated one becomes CLAIMED.

Three round trips on success: the two reads of shared/usecases/spaaza_target.py and one
commit (the voucher at the version read, its UNCLAIMED / CLAIMED event, the session still
live, the admin's chain grant still held, no activation in flight). A voucher named only by
third_party_id whose chain is learnt from the first read costs one read more. Both share
one resolution, one judgement order and one commit loop: they differ only in the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain import (
    ActivationInProgress,
    AuditEvent,
    Definition,
    Forbidden,
    Member,
    Status,
    Unauthenticated,
    Voucher,
    decide_claim,
    decide_unclaim,
    utcnow,
)
from shared.ports import (
    GrantHeld,
    GuardFailed,
    GuardRef,
    NoActivationInFlight,
    SessionLive,
    StateChange,
    VoucherStore,
)
from shared.usecases.commit import CommitPolicy, Done, refuse_with, rejudge, run
from shared.usecases.spaaza_rules import AuthMode, VoucherRequest
from shared.usecases.spaaza_target import Target, resolve


@dataclass(frozen=True)
class UnclaimResult:
    voucher: Voucher  # as written (AVAILABLE, version + 1, no activation)
    definition: Definition
    member: Member
    mode: AuthMode
    chain_id: int


ClaimResult = UnclaimResult


def unclaim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> UnclaimResult:
    return _move(store, request, decide_unclaim, Status.AVAILABLE, "UNCLAIMED", policy, clock)


def claim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ClaimResult:
    return _move(store, request, decide_claim, Status.CLAIMED, "CLAIMED", policy, clock)


def _move(
    store: VoucherStore,
    request: VoucherRequest,
    rule: Callable[..., object],
    to_status: Status,
    event_type: str,
    policy: CommitPolicy | None,
    clock: Callable[[], datetime],
) -> UnclaimResult:
    resolved: list[Target] = []

    def decide(voucher: Voucher, target: Target, now: datetime) -> object:
        return rule(
            voucher,
            now,
            end_user=target.mode is AuthMode.USER,
            allows_end_user_to_claim=target.definition.allows_end_user_to_claim_voucher,
        )

    def attempt() -> StateChange:
        now = clock()
        target = resolve(store, request, now)
        voucher = target.voucher
        guard = target.snapshot[GuardRef(voucher.serial)]
        if guard is not None and guard.is_held(now):
            raise ActivationInProgress("the voucher is being activated")
        decide(voucher, target, now)
        resolved[:] = [target]
        guards: list[SessionLive | GrantHeld | NoActivationInFlight] = [
            SessionLive(target.session.token_hash)
        ]
        if target.grant is not None:
            guards.append(GrantHeld(target.grant))
        guards.append(NoActivationInFlight(voucher.serial))
        return StateChange(
            before=voucher,
            # an expired activation goes with the move (its record stays in the history)
            after=replace(voucher, status=to_status, version=voucher.version + 1, activation=None),
            event=AuditEvent(
                serial=voucher.serial,
                event_type=event_type,
                channel="spaaza",
                actor_kind=target.session.kind.value,
                actor_id=target.session.principal_id,
                from_status=voucher.status.value,
                to_status=to_status.value,
                at=now,
                request_id=request.request_id,
                details={
                    "auth_mode": target.mode.value,
                    "chain_id": target.chain_id,
                    "member_id": target.member.member_id,
                    "user_id": target.member.user_id,
                    **request.audit,
                    "locked": voucher.locked,
                },
            ),
            guards=tuple(guards),
        )

    def refused(failure: GuardFailed) -> Done[UnclaimResult] | None:
        refuse_with(
            failure,
            {
                SessionLive: lambda: Unauthenticated("session no longer valid", field="session"),
                GrantHeld: lambda: Forbidden("no write access to the chain", what="chain"),
            },
        )
        rejudge(failure, lambda v: decide(v, resolved[0], clock()), what="voucher")
        return None

    committed = run(store, attempt, refused, policy or CommitPolicy())
    assert isinstance(committed, StateChange)
    target = resolved[0]
    return UnclaimResult(committed.after, target.definition, target.member, target.mode, target.chain_id)
