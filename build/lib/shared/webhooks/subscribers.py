"""Webhook subscribers: who is told of which events, where, signed with which secret.

A subscriber is a chain's endpoint (`chain_id`), the event types it wants (or "*"), and the
*name* of the Secrets Manager secret holding its signing secret. The table never holds the
secret itself: the importer stores it in Secrets Manager (or the local stack's moto) and the
delivery function reads it through Powertools' parameters cache.

URLs are checked twice by one normaliser (shared/webhooks/target.py): at import (https, or
http to a loopback address locally; no non-public host in any disguise when importing into
AWS) and at delivery, where the sender resolves the name, checks every address, and connects
to the address it checked (no gap for a name that rebinds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.store.keys import Keys
from shared.webhooks.target import UnsafeUrl, normalise, resolve

__all__ = ["ALL", "SECRET_NAME", "SUBSCRIBER_ID", "Subscriber", "UnsafeUrl", "check_resolved", "check_url"]

SECRET_NAME = re.compile(r"^voucher/[a-z0-9-]+/webhooks/[A-Za-z0-9/_+=.@-]{1,200}$")
SUBSCRIBER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ALL = "*"


@dataclass(frozen=True)
class Subscriber:
    subscriber_id: str
    chain_id: int
    url: str
    event_types: tuple[str, ...]
    secret_name: str
    enabled: bool = True

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL in self.event_types or event_type in self.event_types)


def subscriber_to_item(s: Subscriber) -> dict[str, Any]:
    return {
        **Keys.subscriber(s.chain_id, s.subscriber_id),
        "type": "webhook_subscriber",
        "subscriber_id": s.subscriber_id,
        "chain_id": s.chain_id,
        "url": s.url,
        "event_types": list(s.event_types),
        "secret_name": s.secret_name,
        "enabled": s.enabled,
    }


def item_to_subscriber(item: Mapping[str, Any]) -> Subscriber:
    return Subscriber(
        subscriber_id=item["subscriber_id"],
        chain_id=int(item["chain_id"]),
        url=item["url"],
        event_types=tuple(item.get("event_types") or (ALL,)),
        secret_name=item["secret_name"],
        enabled=bool(item.get("enabled", True)),
    )


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, or UnsafeUrl (shared/webhooks/target.py normalise: the one host normaliser,
    for import and delivery). `allow_private` is the local stack's mode (receivers on this
    machine); in AWS mode a URL naming a non-public host, in any disguise, is refused."""
    normalise(url, allow_private=allow_private)
    return url


def check_resolved(url: str) -> None:
    """AWS mode, just before a delivery: every address the host resolves to is public (the
    pinned sender connects only to an address it checked; this is for other senders)."""
    resolve(normalise(url, allow_private=False), allow_private=False)
