"""Re-deliver webhooks: from the dead-letter queue, or from a time range of the audit log.

    python -m infra.webhook_redrive --dlq [--queue-url URL]
    python -m infra.webhook_redrive --since 2026-12-06T10:00:00Z [--until ...] [--subscriber ID]

`--dlq` takes each dead letter (a whole `Delivery`: the event as first built, its subscriber),
makes one signed attempt, and deletes the message only when the receiver acknowledged it;
what still fails stays in the queue and is counted. Use it once the receiver is fixed.

`--since/--until` rebuilds the events of every publishable audit event committed in the range
(a paginated Scan of the table: an operator's tool, not a request path) and sends each to the
subscribers its voucher's chain has now. The voucher in such an event is the voucher as it is
now (`voucher_is_current: true`); `id` and `sequence` are the original ones, so a receiver
that already had an event drops the copy. What fails is dead-lettered when a DLQ is known.

Endpoints come from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, ...)
or from --endpoint-url (SQS and Secrets Manager) and --dynamodb-endpoint-url; the table and
the DLQ from TABLE_NAME and WEBHOOK_DLQ_URL unless given. Exit 0 when everything replayed was
delivered, 1 when some of it was not, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain import parse_instant
from shared.store import PK, SK, Table
from shared.store.keys import Keys
from shared.webhooks.delivery import Deliverer, Delivery
from shared.webhooks.publish import SubscriberDirectory, deliveries_for


@dataclass
class Collected:
    """A queue stand-in: what the deliverer would queue, kept for the replay to decide."""

    bodies: list[str] = field(default_factory=list)

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self.bodies.append(body)


@dataclass
class Tally:
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _deliverer(sender: Any, secret: Callable[[str], str], allow_private: bool) -> tuple[Deliverer, Collected]:
    parked = Collected()
    return Deliverer(sender, secret, parked, parked, check_addresses=not allow_private), parked


def replay_dead_letters(sqs: Any, queue_url: str, deliverer: Deliverer, *, empty_polls: int = 3) -> Tally:
    """One attempt per dead letter; delete it on success. A failure is made visible again at
    once (left for a later replay) and not tried twice in one run: the run ends when the
    queue offers only letters it has already tried, or nothing `empty_polls` times."""
    tally = Tally()
    seen: set[str] = set()
    quiet = 0
    while quiet < empty_polls:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1
        )
        received = answer.get("Messages") or []
        for again in (m for m in received if m["MessageId"] in seen):  # leave it as it was
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0
            )
        messages = [m for m in received if m["MessageId"] not in seen]
        if not messages:
            quiet += 1
            continue
        quiet = 0
        for message in messages:
            seen.add(message["MessageId"])
            try:
                delivery = Delivery.from_message(message["Body"])
            except (ValueError, TypeError):  # not a delivery (a hand-sent or corrupted message)
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                tally.failed += 1
                tally.errors.append(
                    f"message {message['MessageId']}: not a webhook delivery, left in the queue"
                )
                continue
            outcome = deliverer.run([delivery])
            if outcome.delivered:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                tally.delivered += 1
                continue
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            tally.failed += 1
            tally.errors.append(f"{delivery.event['id']} -> {delivery.subscriber_id}: {_error(outcome)}")
    return tally


def _error(outcome: Any) -> str:
    failed = [*outcome.retrying, *outcome.dead]
    return str(failed[0].last_error) if failed else "?"


def audit_records(client: Any, table_name: str, since: str, until: str) -> Iterator[dict[str, Any]]:
    """The audit events committed in [since, until), as stream-like INSERT records."""
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table_name,
        FilterExpression="begins_with(#sk, :prefix) AND #at BETWEEN :since AND :until",
        ExpressionAttributeNames={"#sk": SK, "#at": "at"},
        ExpressionAttributeValues={
            ":prefix": {"S": Keys.event_prefix()},
            ":since": {"S": since},
            ":until": {"S": until},
        },
    )
    for page in pages:
        for image in page.get("Items", []):
            if image["at"]["S"] < until:  # BETWEEN includes its upper bound; the range does not
                yield {"eventName": "INSERT", "dynamodb": {"NewImage": image}}


def replay_range(
    client: Any,
    table_name: str,
    since: str,
    until: str,
    deliverer: Deliverer,
    *,
    subscriber: str | None = None,
    dead_letters: Any = None,
) -> Tally:
    table = Table(client, table_name)
    directory = SubscriberDirectory(table, ttl=float("inf"))
    records = sorted(audit_records(client, table_name, since, until), key=_order)
    tally = Tally()
    for start in range(0, len(records), 100):  # one voucher read per 100 events
        published = deliveries_for(records[start : start + 100], table, directory)
        for delivery in published.deliveries:
            if subscriber is not None and delivery.subscriber_id != subscriber:
                continue
            outcome = deliverer.run([delivery])
            if outcome.delivered:
                tally.delivered += 1
                continue
            tally.failed += 1
            tally.errors.append(f"{delivery.event['id']} -> {delivery.subscriber_id}: {_error(outcome)}")
            if dead_letters is not None:
                dead_letters.send([*outcome.retrying, *outcome.dead][0].to_message())
    return tally


def _order(record: dict[str, Any]) -> tuple[str, str]:
    image = record["dynamodb"]["NewImage"]
    return image["at"]["S"], image[PK]["S"]


def _instant(text: str) -> str:
    from shared.domain import format_instant

    return format_instant(parse_instant(text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.webhook_redrive", description=__doc__.split("\n\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dlq", action="store_true", help="re-deliver the dead letters")
    source.add_argument("--since", help="re-deliver audit events committed at or after this instant")
    parser.add_argument("--until", help="... and before this one (default: now)")
    parser.add_argument("--subscriber", help="only this subscriber (--since only)")
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME"))
    parser.add_argument(
        "--queue-url", default=os.environ.get("WEBHOOK_DLQ_URL"), help="the dead-letter queue"
    )
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--endpoint-url", help="SQS and Secrets Manager endpoint (moto, the local stack)")
    parser.add_argument("--dynamodb-endpoint-url", help="DynamoDB endpoint (DynamoDB Local)")
    parser.add_argument(
        "--allow-private", action="store_true", help="allow loopback/private receivers (local stack only)"
    )
    args = parser.parse_args(argv)
    try:
        since = _instant(args.since) if args.since else None
        until = _instant(args.until) if args.until else None
    except ValueError as error:
        parser.error(f"not an instant: {error}")
    if args.dlq and not args.queue_url:
        parser.error("--dlq needs --queue-url or WEBHOOK_DLQ_URL")
    if since and not args.table:
        parser.error("--since needs --table or TABLE_NAME")

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.webhooks.adapters import HttpSender, SqsQueue

    session = boto3.session.Session(region_name=args.region or "eu-west-1")
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    secrets = session.client("secretsmanager", endpoint_url=args.endpoint_url)

    def secret(name: str) -> str:
        return str(secrets.get_secret_value(SecretId=name)["SecretString"])

    deliverer, _ = _deliverer(HttpSender(5.0, allow_private=args.allow_private), secret, args.allow_private)
    try:
        if args.dlq:
            tally = replay_dead_letters(sqs, args.queue_url, deliverer)
        else:
            from shared.domain import format_instant, utcnow

            dynamodb = session.client(
                "dynamodb", endpoint_url=args.dynamodb_endpoint_url or args.endpoint_url
            )
            dlq = SqsQueue(sqs, args.queue_url) if args.queue_url else None
            tally = replay_range(
                dynamodb,
                args.table,
                str(since),
                until or format_instant(utcnow()),
                deliverer,
                subscriber=args.subscriber,
                dead_letters=dlq,
            )
    except (BotoCoreError, ClientError) as error:
        print(f"replay failed: {error}", file=sys.stderr)
        return 1
    for line in tally.errors[:20]:
        print(f"not delivered: {line}", file=sys.stderr)
    print(f"replayed: {tally.delivered} delivered, {tally.failed} not delivered")
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
