"""Spaaza "claim-voucher", unclaim's inverse: a generated voucher becomes CLAIMED."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain import decide_claim, utcnow
from shared.ports import VoucherStore
from shared.retry import CommitPolicy
from shared.usecases.idempotency import Idempotency
from shared.usecases.spaaza_move import Moved, move_voucher
from shared.usecases.spaaza_request import VoucherRequest


def claim_voucher(
    store: VoucherStore,
    request: VoucherRequest,
    *,
    policy: CommitPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    idempotency: Idempotency | None = None,
) -> Moved:
    return move_voucher(store, request, decide_claim, "CLAIMED", policy, clock, idempotency)
