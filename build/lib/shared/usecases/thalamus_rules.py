"""Who may act on which Thalamus voucher: the judgement consume and view share, in one order
(touchpoint, token, operator, activity, item and grant, voucher). No permission on an
activity or item reads exactly as it not existing, so a view never tells more than a
consume attempt would."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain import (
    CatalogItem,
    NotAnOperator,
    NotFound,
    PrincipalKind,
    Session,
    Unauthenticated,
    Voucher,
)
from shared.ports import (
    ActivityRef,
    CatalogItemRef,
    GuardRef,
    OperatorGrantRef,
    Ref,
    SessionRef,
    Snapshot,
    TouchpointRef,
    VoucherRef,
)

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


def authenticate_operator(snapshot: Snapshot, command: OperatorCommand, now: datetime) -> Session:
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
