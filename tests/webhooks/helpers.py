"""A local stack on DynamoDB Local with receivers of our own, and the data the webhook tests
act on: fresh vouchers of chain 1 (Thalamus consume, Spaaza unclaim/claim), of chain 2, and
of no chain, with subscribers pointing at `Receiver`s on loopback ports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from infra.local_stack.server import LocalStack
from infra.local_stack.webhook_receiver import Receiver
from shared.store.keys import Keys
from shared.webhooks.events import TYPES
from tests.conftest import demo_document, engine_client
from tests.local.helpers import request

ANNA = (("Thalamus-Token", "demo-thalamus-operator-anna"), ("Thalamus-Touchpoint", "BACKOFFICE"))
ADMIN = {1: ("900", "demo-spaaza-admin-chain1"), 2: ("901", "demo-spaaza-admin-chain2")}
FORM = ("Content-Type", "application/x-www-form-urlencoded")
SECRETS = {"chain-1": "whsec_test_chain_one_secret_0001", "chain-2": "whsec_test_chain_two_secret_0002"}


def serial(n: int) -> str:
    return f"00000000-0000-4000-9000-{n:012d}"


def subscriber(subscriber_id: str, chain_id: int, url: str, types: list[str] | None = None) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "chain_id": chain_id,
        "url": url,
        "event_types": types or ["*"],
        "secret_name": f"voucher/local/webhooks/{subscriber_id}",
        "secret": SECRETS.get(subscriber_id, "whsec_test_other_subscriber_0003"),
    }


def document(vouchers: list[dict[str, Any]], subscribers: list[dict[str, Any]]) -> dict[str, Any]:
    """The demo's records (definitions, members, sessions) with only these vouchers."""
    doc = demo_document()
    doc["vouchers"] = vouchers
    doc["webhook_subscribers"] = subscribers
    return doc


def consumable(n: int) -> dict[str, Any]:  # carwash: chain 1 (its Spaaza campaign's chain)
    return {
        "serial": serial(n),
        "definition_id": "carwash",
        "status": "AVAILABLE",
        "owner_member_id": "alice",
        "valid_until": "2099-12-31T23:59:59Z",
    }


def unchained(n: int) -> dict[str, Any]:  # no Spaaza campaign: the voucher is in no chain
    return {**consumable(n), "definition_id": "carwash-unconfigured"}


def claimed(n: int, chain_id: int = 1) -> dict[str, Any]:
    owner, definition = ("alice", "coffee") if chain_id == 1 else ("carol", "other-gift")
    return {
        "serial": serial(n),
        "definition_id": definition,
        "status": "CLAIMED",
        "owner_member_id": owner,
        "voucher_id": 70000 + n,
        "valid_until": "2099-12-31T23:59:59Z",
    }


@contextmanager
def webhook_stack(dynamodb_endpoint: str | None, table: str, **options: Any) -> Iterator[LocalStack]:
    stack = LocalStack(
        port=0,
        demo=False,
        dynamodb_endpoint_url=dynamodb_endpoint,
        table_name=table,
        webhook_retry_base_seconds=0.2,
        **options,
    ).start()
    try:
        yield stack
    finally:
        stack.stop()


def consume(stack: LocalStack, n: int, item: str = "CARWASH") -> int:
    path = f"/api/v4/operator/activity/MILES/item/{item}/voucher/{serial(n)}"
    return request(stack.url, "PUT", path, headers=ANNA)[0]


def spaaza(stack: LocalStack, action: str, n: int, chain_id: int = 1) -> int:
    user, key = ADMIN[chain_id]
    headers = (("X-Spaaza-Session-User-Id", user), ("X-Spaaza-Session-Key", key), FORM)
    user_id = 1001 if chain_id == 1 else 2001
    body = f"voucher_id={70000 + n}&user_id={user_id}&chain_id={chain_id}"
    return request(stack.url, "POST", f"/{action}-voucher", headers=headers, body=body)[0]


def audit_event_ids(stack: LocalStack, serials: list[str]) -> list[str]:
    """The webhook ids the audit log of these vouchers calls for (publishable events only)."""
    client = engine_client(stack.dynamodb_endpoint)
    ids = []
    for s in serials:
        answer = client.query(
            TableName=stack.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
            ExpressionAttributeValues={":pk": {"S": Keys.voucher(s)["pk"]}, ":e": {"S": Keys.event_prefix()}},
            ConsistentRead=True,
        )
        ids += [f"evt_{i['event_id']['S']}" for i in answer["Items"] if i["event_type"]["S"] in TYPES]
    return ids


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Poll until `condition` holds; a bound on a test that would otherwise hang, not a
    timing assertion (the answer is checked by the caller either way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def receiver(subscriber_id: str, status: int = 200) -> Receiver:
    return Receiver(
        secret=SECRETS.get(subscriber_id, "whsec_test_other_subscriber_0003"), status=status
    ).start()
