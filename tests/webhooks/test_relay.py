"""The local stack's webhook relay moves its stream position only once the delivery handler
has returned: a batch whose handler fails (a DynamoDB blip while it reads the subscribers)
runs again, as Lambda retries it, instead of being skipped for good."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.local_stack import webhooks as relay_module
from infra.local_stack.webhooks import WebhookRelay
from shared.store.codec import serialize
from shared.table_schema import create_table
from tests.conftest import engine_client


def test_a_failed_batch_runs_again_from_its_first_record(
    dynamodb_local: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = engine_client(dynamodb_local)
    name = f"relay-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    relay = WebhookRelay(dynamodb_local, moto_server, "eu-west-1", name).prepare()
    seen: list[list[str]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        seen.append([r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]])
        if len(seen) == 1:
            raise RuntimeError("subscribers unreadable")
        return {}

    monkeypatch.setattr(relay_module, "invoke", handler)
    relay._stream_arn = relay_module.ensure_stream(relay._dynamodb, name)
    for shard in relay._shards():
        relay._iterators[shard] = relay._iterator(shard, "LATEST")
    client.put_item(TableName=name, Item=serialize({"pk": "VOUCHER#x", "sk": "EVENT#1", "type": "event"}))
    with pytest.raises(RuntimeError):
        relay._poll_stream()
    assert relay._poll_stream()  # the same batch again, and this time the handler returns
    assert seen == [["EVENT#1"], ["EVENT#1"]] and relay.batches == 1
    relay._poll_stream()
    assert len(seen) == 2  # then it has moved on
    client.delete_table(TableName=name)
