"""One page of a member's vouchers, for every list endpoint (ES, CSR console, Spaaza).

    index    store.vouchers_of(member): which vouchers, of which definition, issued when —
             what never changes after issue, so the index's lag cannot hide a caller's change
    order    newest issue first, then serial (no issue date last): a total order on
             immutable fields, so a page position stays valid while states change; the index
             is sorted in it, so a page reads the entries it examines (plus one, to know
             whether more remain), whatever the member holds
    read     the page's candidates and their definitions in one consistent BatchGetItem
    filter   on the state read only, so a list never shows a stale status; an issue-date
             window is a key condition of the index read instead

A page costs what it examines (page_of); it may hold fewer than `limit` matches while `after`
says more remain, the contract of DynamoDB's own filtered queries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import Definition, Voucher
from shared.ports import (
    MAX_TOKEN,
    DefinitionRef,
    Owned,
    Position,
    Ref,
    Snapshot,
    VoucherRef,
    VoucherStore,
)

__all__ = ["MAX_TOKEN", "Listed", "Page", "Position", "page_of"]

BATCH_KEYS = 100  # one BatchGetItem
READ_AHEAD = 2  # a filtered page's first batch: this many candidates per item it may show
REFILLS = 1  # more batches it may read when its filter kept less than 1 in READ_AHEAD


@dataclass(frozen=True)
class Listed:
    voucher: Voucher
    definition: Definition


@dataclass(frozen=True)
class Page:
    items: list[Listed]
    after: Position | None  # None: nothing more to list
    snapshot: Snapshot  # what the batch read found (extra refs included)


def page_of(
    store: VoucherStore,
    *,
    member_id: str,
    limit: int,
    after: Position | None = None,
    newest: datetime | None = None,
    oldest: datetime | None = None,
    keep: Callable[[Voucher, Definition], bool] = lambda _v, _d: True,
    selective: bool = False,
    extra_refs: Iterable[Ref[Any]] = (),
) -> Page:
    """The next page after `after` of the member's vouchers issued in [`oldest`, `newest`]
    (either open; a window lists dated vouchers only): `limit` matches at most. Each batch is
    one index read of the candidates it examines, plus one entry that says whether more
    remain, then one BatchGetItem of them and their definitions; the first batch also reads
    `extra_refs` (a caller's last read, at no round trip of its own). A plain page examines
    exactly `limit` candidates. `selective` (`keep` filters on state the caller asked about):
    the first batch examines READ_AHEAD x `limit`; when the filter kept less than the page
    needs, up to REFILLS more batches (an index read and a batch each) examine the shortfall
    scaled by the share kept; a filter keeping almost nothing ends the page short, `after`
    set, instead of reading on."""
    extra = list(dict.fromkeys(extra_refs))
    items: list[Listed] = []
    snapshot, examined, position, more = Snapshot(), 0, after, False
    for batch in range(1 + (REFILLS if selective else 0)):
        need = limit - len(items)
        if batch:
            if need <= 0 or not more:
                break
            need = math.ceil(need * examined / max(len(items), 1))
        elif selective:
            need *= READ_AHEAD
        budget = BATCH_KEYS - (len(extra) if not batch else 0)
        need = min(need, budget)  # a candidate takes a key at least
        candidates = store.vouchers_of(
            member_id, after=position, newest=newest, oldest=oldest, limit=need + 1
        )
        chunk = _chunk(candidates, need, budget)
        more = len(candidates) > len(chunk)
        refs: list[Ref[Any]] = [*(extra if not batch else ()), *(VoucherRef(o.serial) for o in chunk)]
        refs += [DefinitionRef(d) for d in sorted({o.definition_id for o in chunk})]
        found = store.read(refs) if refs else Snapshot()
        snapshot = snapshot.merged(found)
        for n, candidate in enumerate(chunk, 1):
            examined += 1
            position = Position.of(candidate)
            voucher = found[VoucherRef(candidate.serial)]
            definition = found[DefinitionRef(candidate.definition_id)]
            if voucher is None or definition is None or voucher.owner_member_id != member_id:
                continue  # the index lagged behind the table: the table is the truth
            if not keep(voucher, definition):
                continue
            items.append(Listed(voucher, definition))
            if len(items) == limit:
                return Page(items, position if n < len(chunk) or more else None, snapshot)
    return Page(items, position if more else None, snapshot)


def _chunk(candidates: Sequence[Owned], count: int, budget: int) -> list[Owned]:
    """The next `count` candidates that fit, with their definitions, in `budget` keys."""
    chunk: list[Owned] = []
    definitions: set[str] = set()
    for candidate in candidates:
        cost = 1 + (candidate.definition_id not in definitions)
        if cost > budget or len(chunk) == count:
            break
        budget -= cost
        chunk.append(candidate)
        definitions.add(candidate.definition_id)
    return chunk
