"""Operator consumption (Thalamus "set voucher as consumed").

Two DynamoDB round trips on success: one BatchGetItem (session, touchpoint, activity,
catalog item, voucher) and one TransactWriteItems (voucher update conditioned on the
version read + CONSUMED event + the session still live + the operator's grant still there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from shared.domain import (
    AuditEvent,
    Consumption,
    Contention,
    NotAnOperator,
    NotFound,
    PrincipalKind,
    Session,
    Status,
    Unauthenticated,
    Voucher,
    decide_consume,
    format_instant,
    utcnow,
)
from shared.store import (
    Item,
    Keys,
    VoucherStore,
    item_to_session,
    item_to_voucher,
    key_id,
)
from shared.usecases.commit import MAX_ATTEMPTS, commit


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
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> ConsumeResult:
    keys = {
        "session": Keys.session(command.token_hash),
        "touchpoint": Keys.touchpoint(command.touchpoint),
        "activity": Keys.activity(command.activity_code),
        "item": Keys.catalog_item(command.activity_code, command.item_code),
        "voucher": Keys.voucher(command.voucher_code),
    }
    for attempt in range(MAX_ATTEMPTS):
        now = clock()
        found = store.hydrate(keys.values())
        items = {role: found.get(key_id(key)) for role, key in keys.items()}

        session = _authenticate(items["session"], items["touchpoint"], command, now)
        if items["activity"] is None or not session.may_see_activity(command.activity_code):
            raise NotFound("activity not found", what="activityCode")
        grant = session.grant_for(command.activity_code, command.item_code)
        catalog_item = items["item"]
        if catalog_item is None or grant is None:
            raise NotFound("item not found", what="voucherItemCode")
        voucher_item = items["voucher"]
        if voucher_item is None:
            raise NotFound("voucher not found", what="voucherCode")
        voucher = item_to_voucher(voucher_item)
        if voucher.activity_code != command.activity_code or voucher.item_code != command.item_code:
            raise NotFound("voucher not found", what="voucherCode")

        transition = decide_consume(voucher, now)
        consumption = Consumption(
            consumed_at=now,
            operator_id=session.principal_id,
            touchpoint=command.touchpoint,
            parameters=dict(command.parameters),
        )
        event = AuditEvent(
            serial=voucher.serial,
            event_type="CONSUMED",
            channel="thalamus",
            actor_kind=session.kind.value,
            actor_id=session.principal_id,
            from_status=transition.from_status.value,
            to_status=Status.REDEEMED.value,
            at=now,
            request_id=command.request_id,
            details={"touchpoint": command.touchpoint, "parameters": dict(command.parameters)},
        )
        consumption_map = {
            "consumed_at": format_instant(now),
            "operator_id": session.principal_id,
            "touchpoint": command.touchpoint,
            "parameters": dict(command.parameters),
        }
        writes = [
            store.tx_transition(
                voucher, transition, now=now, set_attributes={"consumption": consumption_map}
            ),
            store.tx_event(event),
            store.tx_session_live(command.token_hash, now),
            store.tx_exists("grant", Keys.operator_grant(session.principal_id, grant[0], grant[1])),
        ]
        committed = commit(
            store,
            writes,
            attempt=attempt,
            rejudge=partial(decide_consume, now=now),
            role_errors={
                "session": lambda: Unauthenticated("session no longer valid", field="token"),
                "grant": lambda: NotFound("item not found", what="voucherItemCode"),
            },
            sleep=sleep,
        )
        if not committed:
            continue
        product = catalog_item.get("product_name")
        return ConsumeResult(
            voucher=replace(
                voucher, status=Status.REDEEMED, version=voucher.version + 1, consumption=consumption
            ),
            product_name=product,
            item_type=catalog_item.get("item_type"),
        )
    raise Contention("voucher kept changing")


def _authenticate(
    session_item: Item | None, touchpoint_item: Item | None, command: ConsumeCommand, now: datetime
) -> Session:
    if touchpoint_item is None:
        raise Unauthenticated("unknown touchpoint", field="touchpoint")
    if session_item is None:
        raise Unauthenticated("unknown token", field="token")
    session = item_to_session(session_item)
    if (
        not session.is_live(now)
        or session.kind is not PrincipalKind.THALAMUS_USER
        or session.touchpoint != command.touchpoint
    ):
        raise Unauthenticated("token not valid for this touchpoint", field="token")
    if not session.is_operator:
        raise NotAnOperator("the authenticated user is not an operator")
    return session
