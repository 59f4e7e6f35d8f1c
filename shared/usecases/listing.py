"""One page of a member's vouchers, for every list endpoint (ES, CSR console, Spaaza).

    index    store.vouchers_of(member): which vouchers, of which definition, issued when —
             what never changes after issue, so the index's lag cannot hide a caller's change
    order    newest issue first, then serial (no issue date last): a total order on
             immutable fields, so a page position stays valid while states change
    hydrate  the page's candidates and their definitions in one consistent BatchGetItem
    filter   on the hydrated state only, so a list never shows a stale status

A page costs what it examines (page_of); it may hold fewer than `limit` matches while `after`
says more remain, the contract of DynamoDB's own filtered queries.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain import Definition, Voucher
from shared.ports import DefinitionRef, Owned, Ref, Snapshot, VoucherRef, VoucherStore

BATCH_KEYS = 100  # one BatchGetItem
READ_AHEAD = 2  # a filtered page's first batch: this many candidates per item it may show
REFILLS = 1  # more batches it may read when its filter kept less than 1 in READ_AHEAD
MAX_TOKEN = 512  # characters of a page token


@dataclass(frozen=True, order=True)
class Position:
    """Where a page ended, in the list's order (issued_ms None sorts last)."""

    missing_issue: bool
    minus_issued_ms: int
    serial: str

    def token(self) -> str:
        """An opaque page token (it only names a place in the caller's own list)."""
        raw = json.dumps([self.missing_issue, self.minus_issued_ms, self.serial], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Position | None:
        """The position a token names, or None when it is not one of ours."""
        if not 0 < len(token) <= MAX_TOKEN or not token.isascii():
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            return None
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not isinstance(value[0], bool)
            or type(value[1]) is not int
            or not isinstance(value[2], str)
            or not 0 < len(value[2]) <= 128
        ):
            return None
        return cls(value[0], value[1], value[2])

    @classmethod
    def of(cls, owned: Owned) -> Position:
        if owned.issued_at is None:
            return cls(True, 0, owned.serial)
        return cls(False, -int(owned.issued_at.timestamp() * 1000), owned.serial)


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
    owned: Sequence[Owned],
    *,
    member_id: str,
    limit: int,
    after: Position | None = None,
    keep_owned: Callable[[Owned], bool] = lambda _o: True,
    keep: Callable[[Voucher, Definition], bool] = lambda _v, _d: True,
    selective: bool = False,
    extra_refs: Iterable[Ref[Any]] = (),
) -> Page:
    """The next page after `after`: `limit` matches at most. The first batch also reads
    `extra_refs` (a caller's last read, at no round trip of its own) and exactly `limit`
    candidates. `selective` (`keep` filters on state the caller asked about): the first batch
    reads READ_AHEAD x `limit`; when the filter kept less than the page needs, up to REFILLS
    more batches read the shortfall scaled by the share kept; a filter keeping almost nothing
    ends the page short, `after` set, instead of reading on."""
    extra = list(dict.fromkeys(extra_refs))
    candidates = sorted(
        (o for o in owned if keep_owned(o) and (after is None or Position.of(o) > after)),
        key=Position.of,
    )
    items: list[Listed] = []
    snapshot, examined = Snapshot(), 0
    for batch in range(1 + (REFILLS if selective else 0)):
        need = limit - len(items)
        if batch:
            if need <= 0 or examined >= len(candidates):
                break
            need = math.ceil(need * examined / max(len(items), 1))
        elif selective:
            need *= READ_AHEAD
        chunk = _chunk(candidates[examined:], need, BATCH_KEYS - (len(extra) if not batch else 0))
        refs: list[Ref[Any]] = [*(extra if not batch else ()), *(VoucherRef(o.serial) for o in chunk)]
        refs += [DefinitionRef(d) for d in sorted({o.definition_id for o in chunk})]
        found = store.read(refs) if refs else Snapshot()
        snapshot = snapshot.merged(found)
        for candidate in chunk:
            examined += 1
            voucher = found[VoucherRef(candidate.serial)]
            definition = found[DefinitionRef(candidate.definition_id)]
            if voucher is None or definition is None or voucher.owner_member_id != member_id:
                continue  # the index lagged behind the table: the table is the truth
            if not keep(voucher, definition):
                continue
            items.append(Listed(voucher, definition))
            if len(items) == limit:
                return Page(items, Position.of(candidate) if examined < len(candidates) else None, snapshot)
    more = 0 < examined < len(candidates)
    return Page(items, Position.of(candidates[examined - 1]) if more else None, snapshot)


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
