"""A warm container's memory of records that only an import changes.

Why: a consume's BatchGetItem named six items, four of which (touchpoint, activity, catalogue
item, and for an activation the definition) no request ever changes. Each costs 1 RRU on every
request. Kept here for `ttl` seconds, a warm request reads only what can change under it.

What may be kept (`CACHEABLE`), and why nothing else:
  * definitions, catalogue items, activities, touchpoints, chains, apps and voucher aliases
    are written only by the importer; a re-import that changes one is seen by every container
    within `ttl` seconds (tests/unit/test_immutable_cache.py proves the bound);
  * never a session, a grant, a member or a voucher: they change through requests or are
    revoked, and the port promises them read consistently (revocation is also re-checked at
    commit, but a read-only endpoint has no commit);
  * only what was found: an absent record is read again on the next request, so an import
    that adds one is seen at once.

No oracle: the cache changes which keys a BatchGetItem names, never how many round trips a
request makes: a read keeps at least one key in its batch (`split`), so a request whose every
ref is cached still makes its one call, and the caller's answer is the same either way.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from shared.ports import (
    ActivityRef,
    AppRef,
    CatalogItemRef,
    ChainRef,
    DefinitionRef,
    Ref,
    TouchpointRef,
    VoucherAliasRef,
)

CACHEABLE: tuple[type, ...] = (
    DefinitionRef,
    CatalogItemRef,
    ActivityRef,
    TouchpointRef,
    ChainRef,
    AppRef,
    VoucherAliasRef,
)
MAX_ENTRIES = 4096  # a container's bound: ~1 KB each at most, so a few MB


class ImmutableCache:
    """Least-recently-used, time-bounded, per container; `ttl` 0 keeps nothing."""

    def __init__(
        self, ttl: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Ref[Any], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()  # the local stack and the race tests share a store

    def split(self, refs: Sequence[Ref[Any]]) -> tuple[dict[Ref[Any], Any], list[Ref[Any]]]:
        """(what is kept and fresh, what must be read). The read list is empty only when
        `refs` is: a request makes its round trip whatever this container remembers."""
        if self.ttl <= 0:
            return {}, list(refs)
        now = self._clock()
        kept: dict[Ref[Any], Any] = {}
        missing: list[Ref[Any]] = []
        with self._lock:
            for ref in refs:
                entry = self._entries.get(ref)
                if entry is not None and entry[0] > now:
                    self._entries.move_to_end(ref)
                    kept[ref] = entry[1]
                else:
                    self._entries.pop(ref, None)
                    missing.append(ref)
        if not missing and refs:
            first = refs[0]  # keep the round trip: read one ref afresh
            del kept[first]
            missing.append(first)
        return kept, missing

    def keep(self, ref: Ref[Any], value: Any) -> None:
        if self.ttl <= 0 or not isinstance(ref, CACHEABLE):
            return
        with self._lock:
            self._entries[ref] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(ref)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
