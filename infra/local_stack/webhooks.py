"""Webhooks on the local stack: what Lambda's event source mappings do in AWS, done by one
thread.

In AWS, the table's stream invokes the delivery function (functions/deliver_webhooks), and
so does its SQS retry queue. Here a relay thread polls the local engine's stream (DynamoDB
Local implements DynamoDB Streams; so does moto's server) and the retry queue (moto's SQS),
and calls the same handler with events of the same shape. The dead-letter queue is a moto SQS
queue too, so `python -m infra.webhook_redrive` works against it unchanged.

Differences from AWS, on purpose: one relay for all shards (Lambda runs one poller per
shard); retries are due after `retry_base_seconds` scaled as in AWS, so a test can watch a
delivery be retried within seconds; private addresses are allowed (receivers on this machine).
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from infra.functions import DELIVERY
from infra.local_stack.apigw import LambdaContext, serialize_flushes

MAX_BATCH_ATTEMPTS = 10  # a failing stream batch runs this often, then is parked (Lambda: retries)
RETRY_QUEUE = "voucher-local-webhooks-retry"
DEAD_LETTER_QUEUE = "voucher-local-webhooks-dlq"
log = logging.getLogger("voucher.local.webhooks")


@dataclass
class WebhookRelay:
    dynamodb_endpoint: str
    sqs_endpoint: str
    region: str
    table_name: str
    poll_seconds: float = 0.1
    retry_base_seconds: float = 1.0
    max_age_seconds: float = 3600.0
    retry_queue_url: str = field(default="", init=False)
    dead_letter_queue_url: str = field(default="", init=False)
    batches: int = field(default=0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _iterators: dict[str, str | None] = field(default_factory=dict, init=False)
    _failures: dict[str, int] = field(default_factory=dict, init=False)  # failed runs of a shard's batch

    def environment(self) -> dict[str, str]:
        """What the delivery function reads (set by the local stack before any handler runs)."""
        return {
            "WEBHOOK_RETRY_QUEUE_URL": self.retry_queue_url,
            "WEBHOOK_DLQ_URL": self.dead_letter_queue_url,
            "WEBHOOK_ALLOW_PRIVATE": "true",
            "WEBHOOK_RETRY_BASE_SECONDS": str(self.retry_base_seconds),
            "WEBHOOK_RETRY_MAX_AGE_SECONDS": str(self.max_age_seconds),
            "WEBHOOK_TIMEOUT_SECONDS": "3",
            "AWS_ENDPOINT_URL_SQS": self.sqs_endpoint,
        }

    def prepare(self) -> WebhookRelay:
        import boto3

        session = boto3.session.Session()
        self._sqs = session.client("sqs", region_name=self.region, endpoint_url=self.sqs_endpoint)
        self._dynamodb = session.client(
            "dynamodb", region_name=self.region, endpoint_url=self.dynamodb_endpoint
        )
        self._streams = session.client(
            "dynamodbstreams", region_name=self.region, endpoint_url=self.dynamodb_endpoint
        )
        self.retry_queue_url = self._sqs.create_queue(QueueName=RETRY_QUEUE)["QueueUrl"]
        self.dead_letter_queue_url = self._sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        return self

    def start(self) -> WebhookRelay:
        self._stream_arn = ensure_stream(self._dynamodb, self.table_name)
        for shard in self._shards():  # what is already in the stream (the loaded data) is not news
            self._iterators[shard] = self._iterator(shard, "LATEST")
        self._thread = threading.Thread(target=self._run, name="local-webhook-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    # ------------------------------------------------------------------ polling

    def _shards(self) -> list[str]:
        description = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in description.get("Shards", [])]

    def _iterator(self, shard: str, kind: str, **position: str) -> str | None:
        answer = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=shard, ShardIteratorType=kind, **position
        )
        return answer.get("ShardIterator")

    def _run(self) -> None:
        last_shard_scan = time.monotonic()
        while not self._stop.is_set():
            busy = False
            try:
                if time.monotonic() - last_shard_scan > 2:
                    for shard in self._shards():
                        if shard not in self._iterators:  # a new shard: read it from its start
                            self._iterators[shard] = self._iterator(shard, "TRIM_HORIZON")
                    last_shard_scan = time.monotonic()
                busy |= self._poll_stream()
                busy |= self._poll_retries()
            except Exception:  # the relay outlives one bad poll, as Lambda's pollers do
                log.exception("webhook relay poll failed")
            if not busy:
                self._stop.wait(self.poll_seconds)

    def _poll_stream(self) -> bool:
        busy = False
        for shard, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator, Limit=100)
            records = answer.get("Records") or []
            if records:
                busy = True
                try:
                    invoke({"Records": [{**r, "eventSource": "aws:dynamodb"} for r in records]})
                except Exception:
                    # As Lambda does with a failed batch: the position stays at its first record
                    # and the batch runs again (up to MAX_BATCH_ATTEMPTS, then it is parked).
                    failures = self._failures.get(shard, 0) + 1
                    if failures < MAX_BATCH_ATTEMPTS:
                        self._failures[shard] = failures
                        first = records[0]["dynamodb"]["SequenceNumber"]
                        self._iterators[shard] = self._iterator(
                            shard, "AT_SEQUENCE_NUMBER", SequenceNumber=first
                        )
                        raise
                    log.error(
                        "webhook relay parks a stream batch", extra={"shard": shard, "records": len(records)}
                    )
                self._failures.pop(shard, None)
                self.batches += 1
            # the position moves on only once the handler has returned (or the batch was parked)
            self._iterators[shard] = answer.get("NextShardIterator")
        return busy

    def _poll_retries(self) -> bool:
        answer = self._sqs.receive_message(
            QueueUrl=self.retry_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = answer.get("Messages") or []
        if not messages:
            return False
        records = [
            {
                "eventSource": "aws:sqs",
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
            }
            for m in messages
        ]
        failed = {f["itemIdentifier"] for f in invoke({"Records": records}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self.retry_queue_url, ReceiptHandle=m["ReceiptHandle"])
        return True

    def dead_letters(self) -> list[str]:
        """Every message body in the dead-letter queue (left in it)."""
        bodies: dict[str, str] = {}
        for _ in range(20):
            answer = self._sqs.receive_message(
                QueueUrl=self.dead_letter_queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages") or []
            if not messages or all(m["MessageId"] in bodies for m in messages):
                break
            bodies.update({m["MessageId"]: m["Body"] for m in messages})
        return list(bodies.values())


def ensure_stream(client: Any, table_name: str) -> str:
    """The table's stream ARN, enabling the stream on a table made before it existed (a
    persisted DynamoDB Local database)."""
    from shared.table_schema import TABLE

    table = client.describe_table(TableName=table_name)["Table"]
    if not table.get("LatestStreamArn") or not (table.get("StreamSpecification") or {}).get("StreamEnabled"):
        client.update_table(
            TableName=table_name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": TABLE.stream_view_type},
        )
        table = client.describe_table(TableName=table_name)["Table"]
    return str(table["LatestStreamArn"])


@functools.cache
def _delivery_handler() -> Any:
    """The delivery function's real handler, imported once, its metric flushes serialized."""
    module_name, _, attribute = DELIVERY.handler.rpartition(".")
    module = importlib.import_module(module_name)
    serialize_flushes(module.metrics)
    return getattr(module, attribute)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(function_name=DELIVERY.construct_id, timeout_seconds=DELIVERY.timeout_seconds)
    return dict(_delivery_handler()(event, context) or {})
