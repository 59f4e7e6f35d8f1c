"""DynamoDB stream records (and retries from SQS) -> signed webhooks.

Two event sources, one function: the table's stream (each committed audit event, first
attempt) and the retry queue (later attempts, each message one delivery). A delivery that
fails is queued again or dead-lettered by shared/webhooks/delivery.py and never fails the
invocation, so a stream batch is not re-run and what was delivered is not sent twice. Only
an error before any delivery (the table or the subscribers unreadable) fails the batch, which
Lambda then retries (bisecting it, then parking the shard position on the on-failure queue).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared import endpoint
from shared.runtime import RUNTIME, end_of_init
from shared.store import Table
from shared.webhooks.adapters import DeliverySettings, HttpSender, SqsQueue, read_secret
from shared.webhooks.delivery import Deliverer, Delivery, Outcome
from shared.webhooks.publish import SubscriberDirectory, deliveries_for

logger, metrics = endpoint.observability(__name__)
_state: dict[str, Any] = {}
RESERVE_MS = 12_000  # one attempt at most 3 s connect + 5 s read, plus SQS sends and a margin


def _parts() -> tuple[Deliverer, Table, SubscriberDirectory]:
    if "deliverer" not in _state:
        settings = DeliverySettings.from_env()
        sqs = RUNTIME.client("sqs")
        table = Table(RUNTIME.client("dynamodb"), settings.table_name)
        _state["table"] = table
        _state["directory"] = SubscriberDirectory(table)
        _state["deliverer"] = Deliverer(
            sender=HttpSender(settings.timeout_seconds, allow_private=settings.allow_private),
            secret=read_secret,
            retry_queue=SqsQueue(sqs, settings.retry_queue_url),
            dead_letters=SqsQueue(sqs, settings.dead_letter_queue_url),
            policy=settings.policy,
            # the sender resolves, checks every address and connects to the checked one
            # (shared/webhooks/target.py): a second lookup here would only cost time
            check_addresses=False,
        )
        end_of_init()
    return _state["deliverer"], _state["table"], _state["directory"]


def reset() -> None:
    """Tests and the local stack: build the parts again from the current environment."""
    _state.clear()


def _report(outcome: Outcome) -> None:
    now = time.time()
    metrics.add_metric("WebhooksDelivered", MetricUnit.Count, len(outcome.delivered))
    metrics.add_metric("WebhooksRetrying", MetricUnit.Count, len(outcome.retrying))
    metrics.add_metric("WebhooksDeadLettered", MetricUnit.Count, len(outcome.dead))
    for d in outcome.delivered:
        metrics.add_metric("WebhookDeliveryLag", MetricUnit.Milliseconds, (now - d.event["created"]) * 1000)
    for d in [*outcome.retrying, *outcome.dead]:
        # the subscriber and the event id, never the URL's query or the secret
        logger.warning(
            "webhook not delivered",
            subscriber_id=d.subscriber_id,
            event_id=d.event["id"],
            attempt=d.attempt,
            error=d.last_error,
            dead_lettered=d in outcome.dead,
        )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deliverer, table, directory = _parts()

    def out_of_time() -> bool:  # room for one more attempt (connect + read) and the queueing
        return int(context.get_remaining_time_in_millis()) < RESERVE_MS

    records = (event or {}).get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        # each message is one delivery: one that could not even be queued again (SQS down)
        # is reported back alone, so Lambda redrives it and not the ones delivered
        outcome, failed = Outcome(), []
        for record in records:
            try:
                deliverer.run([Delivery.from_message(record["body"])], outcome, out_of_time)
            except Exception:
                logger.exception("webhook retry not handled", message_id=record.get("messageId"))
                failed.append({"itemIdentifier": record["messageId"]})
        _report(outcome)
        return {"batchItemFailures": failed}
    published = deliveries_for(records, table, directory)
    if published.without_chain:
        metrics.add_metric("WebhookEventsWithoutChain", MetricUnit.Count, published.without_chain)
    outcome = deliverer.run(published.deliveries, out_of_time=out_of_time)
    _report(outcome)
    return {"batchItemFailures": []}
