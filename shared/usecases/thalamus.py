"""Thalamus, the operator's voucher path: view a voucher (GET), consume it (PUT, "set voucher
as consumed"). Both make the same one read and judge it by the same rules in one order
(touchpoint, token, operator, activity, item and grant, voucher). No permission on an
activity or item reads exactly as it not existing, so a view never tells more than a consume
attempt would.

    view     one round trip: the read
    consume  two round trips on success: the read and one commit (the voucher at the version
             read becomes REDEEMED, with its CONSUMED event, while the session is live, the
             operator's grant is held and no activation is live). A consume that meets an
             activation in flight waits for its outcome (the commit loop, bounded) and is
             judged on the voucher it finds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain import (
    AuditEvent,
    CatalogItem,
    Consumption,
    NotAnOperator,
    NotFound,
    PrincipalKind,
    Session,
    Status,
    Unauthenticated,
    Voucher,
    decide_consume,
    utcnow,
)
from shared.ports import (
    ActivityRef,
    CatalogItemRef,
    ConditionFailed,
    GrantHeld,
    GuardRef,
    OperatorGrantRef,
    Ref,
    SessionLive,
    SessionRef,
    Snapshot,
    StateChange,
    TouchpointRef,
    VoucherRef,
    VoucherStore,
)
from shared.retry import CommitPolicy
from shared.usecases.commit import Plan, refuse_while_activating, refuse_with, rejudge, run
from shared.usecases.idempotency import Idempotency, kept_for

CHANNEL = "thalamus"


@dataclass(frozen=True)
class OperatorCommand:
    """What an operator's request names on the voucher path (consume and view)."""

    activity_code: str
    item_code: str
    voucher_code: str
    touchpoint: str
    token_hash: str
    request_id: str
    parameters: dict[str, str] = field(default_factory=dict)  # recorded with a consumption

    def refs(self) -> tuple[Ref[Any], ...]:
        """The one read both make. The guard is part of the voucher item: no key of its own."""
        return (
            SessionRef(self.token_hash),
            TouchpointRef(self.touchpoint),
            ActivityRef(self.activity_code),
            CatalogItemRef(self.activity_code, self.item_code),
            VoucherRef(self.voucher_code),
            GuardRef(self.voucher_code),
        )


@dataclass(frozen=True)
class CatalogVoucher:
    """A voucher as an operator sees it: with its catalogue item's product."""

    voucher: Voucher
    product_name: str | None
    item_type: str | None


def view_voucher(
    store: VoucherStore, command: OperatorCommand, *, clock: Callable[[], datetime] = utcnow
) -> CatalogVoucher:
    snapshot = store.read(command.refs())
    session = _authenticate_operator(snapshot, command, clock())
    voucher, item, _grant = _operator_target(snapshot, session, command)
    return CatalogVoucher(voucher, item.product_name, item.item_type)


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
        session = _authenticate_operator(snapshot, command, now)
        keep = kept_for(idempotency, store, session, now)
        voucher, item, grant = _operator_target(snapshot, session, command)
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
        conditions = (SessionLive(command.token_hash), GrantHeld(grant), idle)
        result = CatalogVoucher(after, item.product_name, item.item_type)
        return Plan(StateChange(voucher, after, event, conditions, keep(result)), result)

    def refused(failure: ConditionFailed, _plan: Plan[CatalogVoucher]) -> CatalogVoucher | None:
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


def _authenticate_operator(snapshot: Snapshot, command: OperatorCommand, now: datetime) -> Session:
    if snapshot[TouchpointRef(command.touchpoint)] is None:
        raise Unauthenticated("unknown touchpoint", field="touchpoint")
    session = snapshot[SessionRef(command.token_hash)]
    if session is None:
        raise Unauthenticated("unknown token", field="token")
    if (
        not session.is_live(now)
        or session.kind is not PrincipalKind.THALAMUS_USER
        or session.touchpoint != command.touchpoint
    ):
        raise Unauthenticated("token not valid for this touchpoint", field="token")
    if not session.is_operator:
        raise NotAnOperator("the authenticated user is not an operator")
    return session


def _operator_target(
    snapshot: Snapshot, session: Session, command: OperatorCommand
) -> tuple[Voucher, CatalogItem, OperatorGrantRef]:
    """The voucher the operator may act on, its item, and the grant that allows it."""
    if snapshot[ActivityRef(command.activity_code)] is None or not session.may_see_activity(
        command.activity_code
    ):
        raise NotFound("activity not found", what="activityCode")
    grant = session.grant_for(command.activity_code, command.item_code)
    item = snapshot[CatalogItemRef(command.activity_code, command.item_code)]
    if item is None or grant is None:
        raise NotFound("item not found", what="voucherItemCode")
    voucher = snapshot[VoucherRef(command.voucher_code)]
    if voucher is None or (voucher.activity_code, voucher.item_code) != (
        command.activity_code,
        command.item_code,
    ):
        raise NotFound("voucher not found", what="voucherCode")
    return voucher, item, OperatorGrantRef(session.principal_id, grant[0], grant[1])
