"""Alarms and a dashboard for the voucher service (one construct, inside the API stack)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.functions import DELIVERY, FUNCTIONS, SETTLEMENT
from infra.stacks.config import StageConfig
from infra.stacks.webhooks import Webhooks

PERIOD = cdk.Duration.minutes(5)

# Thresholds (per 5-minute period unless noted).
API_5XX_RATE = 0.05  # fraction of requests answered 5XX (API Gateway 5XXError average)
API_P99_LATENCY_MS = 5000
PROVIDER_FAILURES = 3
# Answers with a 5XX status, counted by the handlers themselves (shared/endpoint.py): Lambda's
# own Errors metric never sees them, since a handler turns every exception into an answer.
SERVER_ERRORS = 3
# A provider code issued and never recorded on any voucher: money-like and untracked, page at
# once. Unused codes (a losing race, a failed commit) are recorded, expected now and then.
PROVIDER_CODES_UNSETTLED = 5
# Webhooks: any dead letter or parked stream batch alarms at once; delivery falling behind
# the stream (IteratorAge, milliseconds) or the retry queue not being drained (seconds).
WEBHOOK_ITERATOR_AGE_MS = 5 * 60 * 1000
WEBHOOK_RETRY_AGE_SECONDS = 3600

# Every function built by ApiStack._function: the API's and the webhook delivery.
SPECS = {**FUNCTIONS, DELIVERY.name: DELIVERY, SETTLEMENT.name: SETTLEMENT}


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        api: apigateway.RestApi,
        functions: dict[str, lambda_.Function],
        webhooks: Webhooks,
        table_name: str,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        prefix = f"voucher-{config.stage}"
        self.topic = self._topic(config, prefix)
        action = cw_actions.SnsAction(self.topic)

        def alarm(
            construct_id: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            description: str,
            *,
            evaluation_periods: int = 1,
            datapoints_to_alarm: int | None = None,
            comparison: cloudwatch.ComparisonOperator = (
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=f"{prefix}-{construct_id}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                comparison_operator=comparison,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        # --- Lambda: errors and throttles per function
        for name, function in functions.items():
            cid = SPECS[name].construct_id
            alarm(
                f"{cid}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                f"{name}: unhandled errors (the function raised or timed out)",
            )
            alarm(
                f"{cid}Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                1,
                f"{name}: invocations throttled by Lambda concurrency limits",
            )

        # --- API Gateway: 5XX rate and p99 latency
        api_5xx = api.metric_server_error(period=PERIOD, statistic="Average")
        api_p99 = api.metric_latency(period=PERIOD, statistic="p99")
        alarm(
            "Api5xxRate",
            api_5xx,
            API_5XX_RATE,
            f"API 5XX rate >= {API_5XX_RATE:.0%} in 2 of 3 periods",
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        alarm(
            "ApiLatencyP99",
            api_p99,
            API_P99_LATENCY_MS,
            f"API p99 latency >= {API_P99_LATENCY_MS} ms in 2 of 3 periods",
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )

        # --- DynamoDB: throttled reads + writes on the table (and its GSIs)
        def table_metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=metric_name,
                dimensions_map={"TableName": table_name},
                statistic="Sum",
                period=PERIOD,
            )

        ddb_throttles = cloudwatch.MathExpression(
            expression="FILL(r, 0) + FILL(w, 0)",
            using_metrics={"r": table_metric("ReadThrottleEvents"), "w": table_metric("WriteThrottleEvents")},
            label="DynamoDB throttled requests",
            period=PERIOD,
        )
        alarm("TableThrottles", ddb_throttles, 1, "DynamoDB throttled read/write requests on the table")

        # --- Provider failures, emitted by Powertools Metrics (dimension service=<function name>)
        provider_failures: list[cloudwatch.Metric] = []
        for spec in FUNCTIONS.values():
            if not spec.reads_provider_secret:
                continue
            metric = cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name="ProviderFailures",
                dimensions_map={"service": spec.name},
                statistic="Sum",
                period=PERIOD,
            )
            provider_failures.append(metric.with_(label=f"{spec.name} provider failures"))
            alarm(
                f"{spec.construct_id}ProviderFailures",
                metric,
                PROVIDER_FAILURES,
                f"{spec.name}: >= {PROVIDER_FAILURES} external provider failures in 5 minutes",
            )

        # --- Answers with a 5XX status, per API function (the handlers' own metric)
        def service_metric(metric_name: str, service: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name=metric_name,
                dimensions_map={"service": service},
                statistic="Sum",
                period=PERIOD,
            )

        server_errors: list[cloudwatch.Metric] = []
        for spec in FUNCTIONS.values():
            metric = service_metric("ServerErrors", spec.name)
            server_errors.append(metric.with_(label=spec.name))
            alarm(
                f"{spec.construct_id}ServerErrors",
                metric,
                SERVER_ERRORS,
                f"{spec.name}: >= {SERVER_ERRORS} answers with a 5XX status in 5 minutes (the function "
                "answered; its log has outcome and request_id: see docs/deploy.md, On call)",
            )

        # --- Activations that ended with the provider's outcome unknown. No code is ever
        # unrecorded (the guard claim writes its reference on the voucher before the call), so
        # the one signal is how often a provider call or the commit after it fails.
        provider_codes: list[cloudwatch.Metric] = []
        for spec in FUNCTIONS.values():
            if not spec.reads_provider_secret:
                continue
            unsettled = service_metric("ProviderCodesUnsettled", spec.name)
            provider_codes += [unsettled.with_(label=f"{spec.name} codes unsettled")]
            alarm(
                f"{spec.construct_id}ProviderCodesUnsettled",
                unsettled,
                PROVIDER_CODES_UNSETTLED,
                f"{spec.name}: >= {PROVIDER_CODES_UNSETTLED} activations in 5 minutes ended without a commit "
                "after the provider may have issued a code (the reference stays on the voucher: a retry "
                "gets the same code, a later transition announces it unused): provider or DynamoDB failing",
            )

        # --- Webhooks: dead letters, parked stream batches, delivery lag
        delivery = functions[DELIVERY.name]
        dead_letters = webhooks.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        stream_failures = webhooks.stream_failure_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        iterator_age = delivery.metric("IteratorAge", period=PERIOD, statistic="Maximum")
        retry_age = webhooks.retry_queue.metric_approximate_age_of_oldest_message(
            period=PERIOD, statistic="Maximum"
        )
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        alarm(
            "WebhookDeadLetters",
            dead_letters,
            0,
            "Webhook deliveries dead-lettered (receiver failing for a day, 410, or a refused URL): "
            "fix the receiver, then python -m infra.webhook_redrive --dlq",
            comparison=above,
        )
        alarm(
            "WebhookStreamFailures",
            stream_failures,
            0,
            "Stream batches the delivery function gave up on (their events were not published): "
            "replay them from the audit log with python -m infra.webhook_redrive --since",
            comparison=above,
        )
        alarm(
            "WebhookIteratorAge",
            iterator_age,
            WEBHOOK_ITERATOR_AGE_MS,
            f"Webhook delivery is more than {WEBHOOK_ITERATOR_AGE_MS // 60000} minutes behind the "
            "table's stream (IteratorAge maximum)",
            comparison=above,
        )
        alarm(
            "WebhookRetryAge",
            retry_age,
            WEBHOOK_RETRY_AGE_SECONDS,
            f"Oldest webhook retry waiting more than {WEBHOOK_RETRY_AGE_SECONDS // 60} minutes: the "
            "retry queue is not being drained",
            comparison=above,
        )

        # --- Dashboard
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=prefix)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=4)
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=PERIOD, statistic="Sum"),
                    api.metric_client_error(period=PERIOD, statistic="Sum"),
                    api.metric_server_error(period=PERIOD, statistic="Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(title="API 5XX rate", left=[api_5xx], width=8),
            cloudwatch.GraphWidget(
                title="API latency",
                left=[api.metric_latency(period=PERIOD, statistic="p50"), api_p99],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[f.metric_errors(period=PERIOD, statistic="Sum") for f in functions.values()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda throttles",
                left=[f.metric_throttles(period=PERIOD, statistic="Sum") for f in functions.values()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration p99",
                left=[f.metric_duration(period=PERIOD, statistic="p99") for f in functions.values()],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Answers with a 5XX status", left=server_errors, width=8),
            cloudwatch.GraphWidget(title="DynamoDB throttled requests", left=[ddb_throttles], width=8),
            cloudwatch.GraphWidget(
                title="Provider failures and codes", left=provider_failures + provider_codes, width=8
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Webhook dead letters and parked stream batches",
                left=[
                    dead_letters.with_(label="dead letters"),
                    stream_failures.with_(label="stream batches given up on"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(title="Webhook delivery iterator age (ms)", left=[iterator_age], width=8),
            cloudwatch.GraphWidget(title="Oldest webhook retry (s)", left=[retry_age], width=8),
        )
        cdk.CfnOutput(scope, "DashboardName", value=prefix)
        cdk.CfnOutput(scope, "AlarmTopicArn", value=self.topic.topic_arn)

    def _topic(self, config: StageConfig, prefix: str) -> sns.ITopic:
        """Where every alarm (and its recovery) goes: the stage's own topic, or one created here,
        encrypted with a key CloudWatch may use (it cannot publish with the AWS-managed SNS key)."""
        if config.alarm_topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", config.alarm_topic_arn)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{prefix} alarm topic",
            enable_key_rotation=True,
            removal_policy=config.cdk_removal_policy,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(self, "AlarmTopic", topic_name=f"{prefix}-alarms", master_key=key, enforce_ssl=True)
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        elif config.retain:
            cdk.Annotations.of(topic).add_info(
                f"stage {config.stage}: the alarm topic has no subscriber; set alarm_email (or "
                "alarm_topic_arn) in cdk.json, or subscribe to the AlarmTopicArn output",
            )
        return topic
