"""The commit policy shared by use cases whose decision can simply be re-made: one
transaction; on a failed condition, map the failing item's role to a domain error, or re-judge
the voucher's new state (so a race loser gets the error it would have got had it come
second), or ask the caller to re-read and decide again; on a write conflict, back off."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from shared.domain import Contention, DomainError, Voucher
from shared.store import ConditionFailed, TxItem, VoucherStore, WriteConflict, item_to_voucher

MAX_ATTEMPTS = 4


def commit(
    store: VoucherStore,
    writes: Sequence[TxItem],
    *,
    attempt: int,
    rejudge: Callable[[Voucher], object],
    role_errors: Mapping[str, Callable[[], DomainError]],
    sleep: Callable[[float], None],
) -> bool:
    """True when committed; False when the caller should re-read and decide again."""
    last = attempt + 1 >= MAX_ATTEMPTS
    try:
        store.transact(writes)
        return True
    except ConditionFailed as failure:
        if failure.role in role_errors:
            raise role_errors[failure.role]() from failure
        if failure.role == "voucher" and failure.item is not None:
            rejudge(item_to_voucher(failure.item))  # raises the domain error, if any
        if last:
            raise Contention("voucher kept changing") from failure
        return False
    except WriteConflict:
        if last:
            raise Contention("voucher is being changed by another request") from None
        sleep(0.02 * (attempt + 1) * (1 + random.random()))
        return False
