"""Thalamus: an operator views a voucher before (or after) consuming it.

One round trip: the read consume makes, judged by the same rules in the same order
(shared/usecases/thalamus_rules.py) — so an operator without permission on the item gets
exactly the NotFound consume would give.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain import utcnow
from shared.ports import VoucherStore
from shared.usecases.thalamus_rules import (
    CatalogVoucher,
    OperatorCommand,
    authenticate_operator,
    operator_target,
)


def view_voucher(
    store: VoucherStore, command: OperatorCommand, *, clock: Callable[[], datetime] = utcnow
) -> CatalogVoucher:
    snapshot = store.read(command.refs())
    session = authenticate_operator(snapshot, command, clock())
    voucher, item, _grant = operator_target(snapshot, session, command)
    return CatalogVoucher(voucher, item.product_name, item.item_type)
