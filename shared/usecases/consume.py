"""Operator consumption (Thalamus "set voucher as consumed").

Two round trips on success: one read (session, touchpoint, activity, catalog item, voucher
and its activation guard) and one commit (the voucher at the version read becomes REDEEMED,
with its CONSUMED event, while the session is live, the operator's grant is held and no
activation is in flight). A consume that meets an activation in flight waits for its outcome
(the commit loop, bounded) and is judged on the voucher it finds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain import (
    ActivationInProgress,
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
    GrantHeld,
    GuardFailed,
    GuardRef,
    NoActivationInFlight,
    OperatorGrantRef,
    SessionLive,
    SessionRef,
    Snapshot,
    StateChange,
    TouchpointRef,
    VoucherRef,
    VoucherStore,
)
from shared.usecases.commit import CommitPolicy, Done, refuse_with, rejudge, run


@dataclass(frozen=True)
class ConsumeCommand:
    activity_code: str
    item_code: str
    voucher_code: str
    touchpoint: str
    token_hash: str
    parameters: dict[str, str]
    request_id: str


@dataclass(frozen=True)
class ConsumeResult:
    voucher: Voucher
    product_name: str | None
    item_type: str | None


def consume_voucher(
    store: VoucherStore,
    command: ConsumeCommand,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ConsumeResult:
    refs = (
        SessionRef(command.token_hash),
        TouchpointRef(command.touchpoint),
        ActivityRef(command.activity_code),
        CatalogItemRef(command.activity_code, command.item_code),
        VoucherRef(command.voucher_code),
        GuardRef(command.voucher_code),
    )
    catalog: list[CatalogItem] = []  # the item the committed decision named

    def attempt() -> StateChange:
        now = clock()
        snapshot = store.read(refs)
        session = authenticate_operator(snapshot, command, now)
        voucher, item, grant = operator_target(snapshot, session, command)
        guard = snapshot[GuardRef(voucher.serial)]
        if guard is not None and guard.is_held(now):
            raise ActivationInProgress("the voucher is being activated")
        transition = decide_consume(voucher, now)
        catalog[:] = [item]
        return StateChange(
            before=voucher,
            after=replace(
                voucher,
                status=transition.to_status,
                version=voucher.version + 1,
                consumption=Consumption(
                    now, session.principal_id, command.touchpoint, dict(command.parameters)
                ),
            ),
            event=AuditEvent(
                serial=voucher.serial,
                event_type="CONSUMED",
                channel="thalamus",
                actor_kind=session.kind.value,
                actor_id=session.principal_id,
                from_status=voucher.status.value,
                to_status=Status.REDEEMED.value,
                at=now,
                request_id=command.request_id,
                details={"touchpoint": command.touchpoint, "parameters": dict(command.parameters)},
            ),
            guards=(SessionLive(command.token_hash), GrantHeld(grant), NoActivationInFlight(voucher.serial)),
        )

    def refused(failure: GuardFailed) -> Done[ConsumeResult] | None:
        refuse_with(
            failure,
            {
                SessionLive: lambda: Unauthenticated("session no longer valid", field="token"),
                GrantHeld: lambda: NotFound("item not found", what="voucherItemCode"),
            },
        )
        rejudge(failure, lambda v: decide_consume(v, clock()), what="voucherCode")
        return None

    committed = run(store, attempt, refused, policy or CommitPolicy())
    assert isinstance(committed, StateChange)
    item = catalog[0]
    return ConsumeResult(committed.after, item.product_name, item.item_type)


def authenticate_operator(snapshot: Snapshot, command: ConsumeCommand, now: datetime) -> Session:
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


def operator_target(
    snapshot: Snapshot, session: Session, command: ConsumeCommand
) -> tuple[Voucher, CatalogItem, OperatorGrantRef]:
    """The voucher the operator may act on. No permission reads exactly as not existing."""
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
