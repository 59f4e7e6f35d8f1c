"""Spaaza "unclaim-voucher" (a claimed voucher goes back to AVAILABLE, "generated") and its
inverse "claim-voucher" (a generated voucher becomes CLAIMED). They share one resolution
(shared/usecases/spaaza_target.py), one judgement order and one commit, and differ only in
the domain rule that decides the move.

Three round trips on success: the two reads of the resolution and one commit (the voucher at
the version read, its UNCLAIMED / CLAIMED event, the session still live, the admin's chain
grant still held, no activation in flight). A voucher named only by third_party_id whose
chain is learnt from the first read costs one read more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain import (
    AuditEvent,
    Definition,
    Forbidden,
    Member,
    Transition,
    Unauthenticated,
    Voucher,
    decide_claim,
    decide_unclaim,
    utcnow,
)
from shared.ports import ConditionFailed, GrantHeld, SessionLive, StateChange, VoucherStore
from shared.retry import CommitPolicy
from shared.usecases.commit import Plan, refuse_while_activating, refuse_with, rejudge, run
from shared.usecases.idempotency import Idempotency, kept_for
from shared.usecases.spaaza_rules import AuthMode, VoucherRequest
from shared.usecases.spaaza_target import Target, resolve

CHANNEL = "spaaza"

# decide_unclaim / decide_claim: (voucher, now, *, end_user, allows_end_user_to_claim)
Rule = Callable[..., Transition]


@dataclass(frozen=True)
class Moved:
    voucher: Voucher  # as written (its new status, version + 1, no activation)
    target: Target  # who moved it, and what the request named

    @property
    def definition(self) -> Definition:
        return self.target.definition

    @property
    def member(self) -> Member:
        return self.target.member


def unclaim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    idempotency: Idempotency | None = None,
) -> Moved:
    return _move(store, request, decide_unclaim, "UNCLAIMED", policy, clock, idempotency)


def claim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    idempotency: Idempotency | None = None,
) -> Moved:
    return _move(store, request, decide_claim, "CLAIMED", policy, clock, idempotency)


def _move(
    store: VoucherStore,
    request: VoucherRequest,
    rule: Rule,
    event_type: str,
    policy: CommitPolicy | None,
    clock: Callable[[], datetime],
    idempotency: Idempotency | None = None,
) -> Moved:
    def decide(voucher: Voucher, target: Target, now: datetime) -> Transition:
        end_user, allows = target.mode is AuthMode.USER, target.definition.allows_end_user_to_claim_voucher
        return rule(voucher, now, end_user=end_user, allows_end_user_to_claim=allows)

    def plan() -> Plan[Moved]:
        now = clock()
        target = resolve(store, request, now)
        keep = kept_for(idempotency, store, target.session, now)
        voucher = target.voucher
        idle = refuse_while_activating(target.snapshot, voucher, now)
        # an expired activation goes with the move (its record stays in the history)
        after = decide(voucher, target, now).apply(voucher, activation=None)
        held = (GrantHeld(target.grant),) if target.grant is not None else ()
        conditions = (SessionLive(target.session.token_hash), *held, idle)
        event = AuditEvent(
            serial=voucher.serial,
            event_type=event_type,
            channel=CHANNEL,
            actor_kind=target.session.kind.value,
            actor_id=target.session.principal_id,
            from_status=voucher.status.value,
            to_status=after.status.value,
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
        )
        moved = Moved(after, target)
        return Plan(StateChange(voucher, after, event, conditions, keep(moved)), moved)

    def refused(failure: ConditionFailed, planned: Plan[Moved]) -> Moved | None:
        refuse_with(
            failure,
            {
                SessionLive: lambda: Unauthenticated("session no longer valid", field="session"),
                GrantHeld: lambda: Forbidden("no write access to the chain", what="chain"),
            },
        )
        target = planned.answer.target
        rejudge(failure, lambda v: decide(v, target, clock()), what="voucher")
        return None

    return run(store, plan, refused, policy or CommitPolicy())
