"""Webhook subscribers: who is told of which events, where, signed with which secret.

A subscriber is a chain's endpoint (`chain_id`), the event types it wants (or "*"), and the
*name* of the Secrets Manager secret holding its signing secret. The table never holds the
secret itself: the importer stores it in Secrets Manager (or the local stack's moto) and the
delivery function reads it through Powertools' parameters cache.

URLs are checked twice: at import (https, or http to a loopback address locally; no private,
loopback or link-local address when importing into AWS) and at delivery in AWS mode, where
the host's resolved addresses are checked again just before the request, because DNS can
change after the import (what is left is the gap between that lookup and the connect).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.store.keys import Keys

SECRET_NAME = re.compile(r"^voucher/[a-z0-9-]+/webhooks/[A-Za-z0-9/_+=.@-]{1,200}$")
SUBSCRIBER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ALL = "*"


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks (scheme, host, or the address it names)."""


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


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not address.is_global or address.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, or UnsafeUrl. `allow_private` is the local stack's mode (receivers on this
    machine); in AWS mode a URL naming a non-public address is refused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise UnsafeUrl("the URL needs a host and no credentials")
    if parts.scheme == "http" and not (_loopback(host) and allow_private):
        raise UnsafeUrl("webhook URLs use https (http only to a loopback address, locally)")
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("webhook URLs use https")
    if allow_private:
        return url
    if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        raise UnsafeUrl("the URL names a private host")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return url  # a name: checked again, resolved, before each delivery
    if _not_public(address):
        raise UnsafeUrl("the URL names a private, loopback or link-local address")
    return url


def check_resolved(url: str) -> None:
    """AWS mode, just before a delivery: every address the host resolves to is public."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise UnsafeUrl(f"the host does not resolve ({type(error).__name__})") from None
    for info in infos:
        if _not_public(ipaddress.ip_address(info[4][0])):
            raise UnsafeUrl("the host resolves to a private address")
