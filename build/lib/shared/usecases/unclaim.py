"""Spaaza "unclaim-voucher": a claimed voucher goes back to AVAILABLE ("generated")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain import decide_unclaim, utcnow
from shared.ports import VoucherStore
from shared.retry import CommitPolicy
from shared.usecases.idempotency import Idempotency
from shared.usecases.spaaza_move import Moved, move_voucher
from shared.usecases.spaaza_request import VoucherRequest


def unclaim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    idempotency: Idempotency | None = None,
) -> Moved:
    return move_voucher(store, request, decide_unclaim, "UNCLAIMED", policy, clock, idempotency)
