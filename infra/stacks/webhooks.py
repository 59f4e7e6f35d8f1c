"""Signed webhooks from the table's stream: the queues, event sources and grants of the delivery.

The delivery function itself (infra/functions.py ``DELIVERY``) is built by ``ApiStack._function``
like every API function (same code asset, layer, log group, tracing, explicit role with exactly
``spec.dynamodb_actions`` on the table). This construct adds what only it has:

* three SQS queues, each with SQS-managed SSE (no CMK, so no KMS grants) and TLS-only access:
  - the retry queue: delayed re-attempts (``DelaySeconds`` <= 900), consumed by the function;
    a message received ``RETRY_MAX_RECEIVES`` times without success is redriven to the DLQ;
  - the dead-letter queue: deliveries given up on, each a whole ``Delivery`` (the handler's own
    dead letters and the retry queue's redrives have the same body), replayed with
    ``python -m infra.webhook_redrive --dlq``;
  - the stream-failure queue: the stream event source's on-failure destination. Lambda puts
    *pointers* to stream batches it gave up on there (shard, sequence numbers), not deliveries,
    so it is kept apart from the DLQ: ``replay --dlq`` would choke on them, and they are
    replayed from the audit log instead (``replay --since``).
* the two event sources: the table's stream (filtered to audit events and voucher images) and
  the retry queue, both reporting partial batch failures;
* its grants beyond DynamoDB: GetSecretValue on ``voucher/<stage>/webhooks/*`` only,
  SendMessage on the retry queue and the DLQ only. The event sources add their own (stream
  read, receive/delete on the retry queue, send to the stream-failure queue).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import DELIVERY
from infra.stacks.config import StageConfig
from infra.stacks.nag import acknowledge, cfn_resource
from shared.store.keys import SK, Keys
from shared.table_schema import TABLE

# What the function reads (shared/webhooks/adapters.py DeliverySettings.from_env).
RETRY_BASE_SECONDS = 5  # full-jitter backoff base: 5 s * 2^attempt, capped at SQS's 15 minutes
RETRY_MAX_AGE = cdk.Duration.days(1)  # then a failing delivery is dead-lettered
HTTP_TIMEOUT_SECONDS = 5  # per POST (read; connect is at most 3 s)

# Queues
RETRY_VISIBILITY_FACTOR = 6  # AWS: an SQS event source's visibility timeout >= 6x the function's
RETRY_MAX_RECEIVES = 5  # a retry message that fails this often (SQS down, crashes) goes to the DLQ
RETRY_RETENTION = cdk.Duration.days(4)  # each message waits at most 15 minutes; SQS's default
DEAD_LETTER_RETENTION = cdk.Duration.days(14)  # the SQS maximum: time to fix a receiver

# Event sources
STREAM_BATCH_SIZE = 100
STREAM_BATCHING_WINDOW = cdk.Duration.seconds(1)
STREAM_RETRY_ATTEMPTS = 10
STREAM_MAX_RECORD_AGE = cdk.Duration.days(1)
STREAM_PARALLELIZATION = 1  # one batch per shard at a time: a voucher's events stay in order
RETRY_BATCH_SIZE = 10


def secret_name_prefix(stage: str) -> str:
    """Subscribers' signing secrets (shared/webhooks/subscribers.py SECRET_NAME)."""
    return f"voucher/{stage}/webhooks/"


def stream_filters() -> list[Mapping[str, Any]]:
    """Only what the handler reads reaches it: INSERTs of audit events (sk ``EVENT#...``) and
    INSERTs/MODIFYs of voucher items (sk ``VOUCHER``, the image a transition left). Aliases,
    sessions, subscribers, TTL deletions, ... are dropped by Lambda, never invoking it."""
    rule = lambda_.FilterRule
    voucher_sk = Keys.voucher("")[SK]

    def keyed(event_names: list[str], sort_key: list[Any]) -> Mapping[str, Any]:
        pattern = {"eventName": event_names, "dynamodb": {"Keys": {TABLE.sort_key: {"S": sort_key}}}}
        return lambda_.FilterCriteria.filter(pattern)

    return [
        keyed(rule.is_equal("INSERT"), rule.begins_with(Keys.event_prefix())),
        keyed(rule.or_("INSERT", "MODIFY"), rule.is_equal(voucher_sk)),
    ]


class Webhooks(Construct):
    """The delivery's queues; ``connect`` wires the delivery function to them and the stream."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        function_timeout = cdk.Duration.seconds(DELIVERY.timeout_seconds)

        self.dead_letter_queue = self._queue("DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION)
        self.retry_queue = self._queue(
            "RetryQueue",
            retention_period=RETRY_RETENTION,
            visibility_timeout=cdk.Duration.seconds(function_timeout.to_seconds() * RETRY_VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=RETRY_MAX_RECEIVES, queue=self.dead_letter_queue
            ),
        )
        self.stream_failure_queue = self._queue("StreamFailureQueue", retention_period=DEAD_LETTER_RETENTION)
        acknowledge(
            cfn_resource(self.stream_failure_queue),
            "SQS3",
            "This queue is itself a dead-letter destination: the stream event source mapping's "
            "on-failure destination (cdk-nag only recognises queue redrive policies and function "
            "DLQs). Nothing consumes it automatically, so it has no DLQ of its own.",
        )

        stack = cdk.Stack.of(self)
        self.secret_arn = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            # every subscriber's secret of this stage (Secrets Manager appends "-" + 6 characters)
            resource_name=f"{secret_name_prefix(config.stage)}*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        for output_id, queue, what in (
            ("WebhookRetryQueueUrl", self.retry_queue, "webhook retry queue"),
            ("WebhookDeadLetterQueueUrl", self.dead_letter_queue, "webhook dead letters (replay --dlq)"),
            ("WebhookStreamFailureQueueUrl", self.stream_failure_queue, "stream batches given up on"),
        ):
            cdk.CfnOutput(stack, output_id, value=queue.queue_url, description=f"URL of the {what}")

    def _queue(self, construct_id: str, **props: Any) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # what was not delivered is kept like the logs are (retained in prod)
            removal_policy=self.config.cdk_removal_policy,
            **props,
        )

    def environment(self) -> dict[str, str]:
        """The delivery function's settings beyond the common ones."""
        return {
            "WEBHOOK_RETRY_QUEUE_URL": self.retry_queue.queue_url,
            "WEBHOOK_DLQ_URL": self.dead_letter_queue.queue_url,
            "WEBHOOK_ALLOW_PRIVATE": "false",  # AWS: refuse receivers on private addresses
            "WEBHOOK_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
            "WEBHOOK_RETRY_MAX_AGE_SECONDS": str(int(RETRY_MAX_AGE.to_seconds())),
            "WEBHOOK_TIMEOUT_SECONDS": str(HTTP_TIMEOUT_SECONDS),
        }

    def connect(self, function: lambda_.Function, table: dynamodb.ITableV2) -> None:
        """Grants and event sources of the delivery function (built by ApiStack._function)."""
        role = function.role
        assert role is not None  # ApiStack._function always passes its explicit role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWebhookSecrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.secret_arn],
            )
        )
        # Only SendMessage (grant_send_messages would add GetQueueAttributes and GetQueueUrl).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueueWebhookRetries",
                actions=["sqs:SendMessage"],
                resources=[self.retry_queue.queue_arn, self.dead_letter_queue.queue_arn],
            )
        )

        # The stream: the event source grants stream read and SendMessage on the on-failure
        # queue. The handler answers {"batchItemFailures": []} (a delivery that fails is queued
        # for a retry, never failing the batch) and raises only before any delivery; Lambda then
        # retries the batch, bisecting it, and finally parks its position on the failure queue.
        function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=STREAM_BATCH_SIZE,
                max_batching_window=STREAM_BATCHING_WINDOW,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                max_record_age=STREAM_MAX_RECORD_AGE,
                parallelization_factor=STREAM_PARALLELIZATION,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.stream_failure_queue),
                filters=stream_filters(),
            )
        )
        # The retry queue: each message is one delivery; one that could not be queued again is
        # reported back alone ({"batchItemFailures": [{"itemIdentifier": messageId}]}).
        function.add_event_source(
            event_sources.SqsEventSource(
                self.retry_queue, batch_size=RETRY_BATCH_SIZE, report_batch_item_failures=True
            )
        )

        policy = cfn_resource(role.node.find_child("DefaultPolicy"))
        acknowledge(
            policy,
            "IAM5",
            "Subscribers' signing secrets are created per subscriber (by the importer or an "
            "operator) under this stage's prefix, with a random suffix Secrets Manager appends: "
            "GetSecretValue is limited to that prefix, not to secrets of other stages or services.",
            applies_to=f"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
            f"secret:{secret_name_prefix(self.config.stage)}*",
        )
