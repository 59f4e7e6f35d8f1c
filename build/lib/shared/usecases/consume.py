"""Operator consumption (Thalamus "set voucher as consumed").

Two round trips on success: one read (session, touchpoint, activity, catalog item, voucher
with its activation guard) and one commit (the voucher at the version read becomes REDEEMED,
with its CONSUMED event, while the session is live, the operator's grant is held and no
activation is in flight). A consume that meets an activation in flight waits for its outcome
(the commit loop, bounded) and is judged on the voucher it finds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain import (
    AuditEvent,
    Consumption,
    NotFound,
    Status,
    Unauthenticated,
    decide_consume,
    utcnow,
)
from shared.ports import GrantHeld, GuardFailed, SessionLive, StateChange, VoucherStore
from shared.retry import CommitPolicy
from shared.usecases.commit import Plan, refuse_while_activating, refuse_with, rejudge, run
from shared.usecases.idempotency import Idempotency, kept_for
from shared.usecases.thalamus_rules import (
    CHANNEL,
    CatalogVoucher,
    OperatorCommand,
    authenticate_operator,
    operator_target,
)


def consume_voucher(
    store: VoucherStore,
    command: OperatorCommand,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    idempotency: Idempotency | None = None,
) -> CatalogVoucher:
    refs = command.refs()

    def plan() -> Plan[CatalogVoucher]:
        now = clock()
        snapshot = store.read(refs)
        session = authenticate_operator(snapshot, command, now)
        keep = kept_for(idempotency, store, session, now)
        voucher, item, grant = operator_target(snapshot, session, command)
        idle = refuse_while_activating(snapshot, voucher, now)
        consumption = Consumption(now, session.principal_id, command.touchpoint, dict(command.parameters))
        after = decide_consume(voucher, now).apply(voucher, consumption=consumption)
        event = AuditEvent(
            serial=voucher.serial,
            event_type="CONSUMED",
            channel=CHANNEL,
            actor_kind=session.kind.value,
            actor_id=session.principal_id,
            from_status=voucher.status.value,
            to_status=Status.REDEEMED.value,
            at=now,
            request_id=command.request_id,
            details={"touchpoint": command.touchpoint, "parameters": dict(command.parameters)},
        )
        guards = (SessionLive(command.token_hash), GrantHeld(grant), idle)
        result = CatalogVoucher(after, item.product_name, item.item_type)
        return Plan(StateChange(voucher, after, event, guards, keep(result)), result)

    def refused(failure: GuardFailed, _plan: Plan[CatalogVoucher]) -> CatalogVoucher | None:
        refuse_with(
            failure,
            {
                SessionLive: lambda: Unauthenticated("session no longer valid", field="token"),
                GrantHeld: lambda: NotFound("item not found", what="voucherItemCode"),
            },
        )
        rejudge(failure, lambda v: decide_consume(v, clock()), what="voucherCode")
        return None

    return run(store, plan, refused, policy or CommitPolicy())
