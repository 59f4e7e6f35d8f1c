"""Thalamus: an operator views a voucher before (or after) consuming it.

One round trip: the read consume makes (session, touchpoint, activity, catalog item,
voucher), judged by the same rules in the same order — so an operator without permission
on the item gets exactly the NotFound consume would give, and a view never tells more than
a consume attempt would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain import utcnow
from shared.ports import ActivityRef, CatalogItemRef, SessionRef, TouchpointRef, VoucherRef, VoucherStore
from shared.usecases.consume import ConsumeCommand, ConsumeResult, authenticate_operator, operator_target


def view_voucher(
    store: VoucherStore, command: ConsumeCommand, *, clock: Callable[[], datetime] = utcnow
) -> ConsumeResult:
    snapshot = store.read(
        (
            SessionRef(command.token_hash),
            TouchpointRef(command.touchpoint),
            ActivityRef(command.activity_code),
            CatalogItemRef(command.activity_code, command.item_code),
            VoucherRef(command.voucher_code),
        )
    )
    session = authenticate_operator(snapshot, command, clock())
    voucher, item, _grant = operator_target(snapshot, session, command)
    return ConsumeResult(voucher, item.product_name, item.item_type)
