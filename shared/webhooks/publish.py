"""A batch of stream records -> the deliveries it asks for (one read at most).

Each committed, publishable audit event becomes one `Delivery` per subscriber of the
voucher's chain that wants its type. The voucher form comes from the same batch when the
transaction's voucher image is in it; the others are read in one BatchGetItem. Subscribers
are read per chain (one Query of that chain's partition) and kept for `ttl` seconds in the
container, so an import that adds or changes a subscriber is seen within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.store import PK, Table, decode, key_id
from shared.store.keys import Keys
from shared.webhooks.delivery import Delivery
from shared.webhooks.events import pending_events, webhook_event
from shared.webhooks.subscribers import SUBSCRIBER, Subscriber

SUBSCRIBER_CACHE_SECONDS = 60.0


@dataclass
class SubscriberDirectory:
    table: Table
    ttl: float = SUBSCRIBER_CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _kept: dict[int, tuple[float, list[Subscriber]]] = field(default_factory=dict)

    def of_chain(self, chain_id: int) -> list[Subscriber]:
        now = self.clock()
        kept = self._kept.get(chain_id)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        pk = Keys.subscriber(chain_id, "")[PK]
        found = [decode(SUBSCRIBER, i) for i in self.table.query_partition(pk, Keys.subscriber_prefix())]
        self._kept[chain_id] = (now, found)
        return found


@dataclass
class Published:
    deliveries: list[Delivery]
    events: int  # publishable events in the batch
    without_chain: int  # events of vouchers that belong to no chain: nobody to tell
    missing_voucher: int  # voucher gone (should not happen: vouchers are never deleted)


def deliveries_for(
    records: Iterable[Mapping[str, Any]], table: Table, directory: SubscriberDirectory
) -> Published:
    pending = pending_events(records)
    unpaired = [p.voucher_key for p in pending if p.voucher is None]
    read = table.batch_get(unpaired) if unpaired else {}
    deliveries: list[Delivery] = []
    without_chain = missing = 0
    for p in pending:
        voucher = p.voucher or read.get(key_id(p.voucher_key))
        if voucher is None:
            missing += 1
            continue
        event = webhook_event(p.event, voucher)
        chain = event["chain_id"]
        if chain is None:
            without_chain += 1
            continue
        for subscriber in directory.of_chain(int(chain)):
            if subscriber.wants(event["type"]):
                deliveries.append(Delivery.of(subscriber, event))
    return Published(deliveries, len(pending), without_chain, missing)
