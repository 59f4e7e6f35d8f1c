"""The whole bill of a request, for `make bench`: every AWS line item a success costs, in $ per
million, from what the run measures (CPU time, log bytes, DynamoDB units) and list prices, at
1, 10 and 100 requests/s; each stage's fixed monthly cost apart; and the same for a
cookbook-style design (aws-lambda-handler-cookbook: REST API + WAF, 128 MB x86, Powertools
Logger with the event logged, Metrics, Tracer, Idempotency) under the same generic settings.

Inputs are labelled: *measured* (this run), *list* (AWS public price, region and date in
LIST_PRICES), *stated* (an assumption written here, with its reason), or *config* (read from
infra/functions.py, infra/stacks/observability.py and cdk.json, i.e. what deploys).

Lambda duration is modelled, not measured on Lambda: the handler's CPU time measured
in-process (thread time, so the DynamoDB engine and the provider simulator are not counted),
stretched by the CPU share a function's memory buys (a full vCPU at 1,769 MB, in proportion
below), plus stated waits: each DynamoDB round trip and, for an activation, the provider.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

# AWS public list prices, us-east-1, read 2026-12-07 from aws.amazon.com/<service>/pricing
# (first tier of each; the DynamoDB prices are capacity.PRICES).
LIST_PRICES: dict[str, float] = {
    "apigw_rest_per_million": 3.50,  # REST API calls, first 333 million a month
    "apigw_http_per_million": 1.00,  # HTTP API calls, first 300 million (weighed, not offered)
    "waf_per_million": 0.60,  # web ACL requests
    "waf_acl_month": 5.00,
    "waf_rule_month": 1.00,  # a managed rule group counts as one rule
    "lambda_request_per_million": 0.20,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86": 0.0000166667,
    "logs_ingest_per_gb": 0.50,  # CloudWatch Logs standard ingestion (Lambda logs: first tier)
    "xray_trace_per_million": 5.00,  # traces recorded
    "metric_month": 0.30,  # a custom metric series (EMF, API Gateway detailed metrics)
    "alarm_metric_month": 0.10,  # standard resolution, per metric an alarm reads
    "dashboard_month": 3.00,  # beyond the account's first 3 (not counted as free here)
    "kms_key_month": 1.00,
    "secret_month": 0.40,
    "sqs_per_million": 0.40,
}
PRICES_AS_OF = "us-east-1 list prices, read 2026-12-07"
RATES = (1, 10, 100)  # requests/s
SECONDS_PER_MONTH = 30 * 24 * 3600
GB = 2**30

# Stated inputs (assumptions, each with its reason).
STATED: dict[str, Any] = {
    # DynamoDB's single-digit milliseconds, taken at the upper half (transactions are slower)
    "dynamodb_round_trip_ms": 6.0,
    # an activation provider's answer: a TLS request to a third-party API (a new connection's
    # handshakes at ~30 ms a round trip, and its own work); the simulator answers in ~1 ms
    "provider_wait_ms": 200.0,
    "webhook_post_ms": 100.0,  # one signed POST to a subscriber's receiver
    "webhook_cpu_ms": 5.0,  # the delivery's own work per event (sign, build, parse)
    "webhook_subscribers": 1,  # deliveries per state change
    "webhook_log_bytes_per_invocation": 450,  # its EMF line (5 metrics)
    "cpu_budget_ms": 100.0,  # memory: the smallest size keeping a warm request's CPU part below this
    "full_vcpu_mb": 1769,  # Lambda: one vCPU at 1,769 MB, a share in proportion below
    "cpu_speed_vs_this_machine": 1.0,  # Graviton/x86 Lambda core taken as fast as this one
    "log_event_overhead_bytes": 26,  # CloudWatch Logs' per-event size (its PutLogEvents rule)
    "sqs_idle_requests_month": 650_000,  # the retry queue's event source: 5 pollers, 20 s polls
    "settle_invocations_month": 30 * 24 * 12,  # every 5 minutes (infra/functions.py)
}

# What this service deployed before the cut of issue #38 (priced beside it, same run).
BEFORE_XRAY = (1.0, 0.05)  # reservoir per second, rate: the default sampling rule before #38
BEFORE_EXECUTION_LOGS = "INFO"  # and 512 MB (delivery 256): designs()


@dataclass(frozen=True)
class Settings:
    """The generic choices a design is priced under (the same for both designs in a run)."""

    xray_reservoir: float
    xray_rate: float
    execution_logs: str  # "INFO" | "ERROR" | "OFF"
    platform_lines: bool  # START/END/REPORT logged (system log level INFO)
    app_level: str  # the lowest application level kept (Lambda's filter or Powertools')
    access_fields: dict[str, str]
    detailed_metrics: bool

    @staticmethod
    def configured(stage_level: str = "INFO") -> Settings:
        from infra.stacks import observability as o

        return Settings(
            xray_reservoir=o.XRAY_RESERVOIR_PER_SECOND,
            xray_rate=o.XRAY_FIXED_RATE,
            execution_logs=o.EXECUTION_LOG_LEVEL,
            platform_lines=o.SYSTEM_LOG_LEVEL in ("INFO", "DEBUG"),
            app_level=stage_level,
            access_fields=o.ACCESS_LOG_FIELDS,
            detailed_metrics=o.DETAILED_METRICS,
        )

    def before(self) -> Settings:
        """The settings deployed before #38: default X-Ray rule, INFO execution logs, text logs
        with the platform's lines, detailed metrics, the standard access log fields."""
        standard = {
            **self.access_fields,
            "caller": "$context.identity.caller",
            "user": "$context.identity.user",
        }
        return replace(
            self,
            xray_reservoir=BEFORE_XRAY[0],
            xray_rate=BEFORE_XRAY[1],
            execution_logs=BEFORE_EXECUTION_LOGS,
            platform_lines=True,
            access_fields=standard,
            detailed_metrics=True,
        )


# --------------------------------------------------------------------------- the arithmetic


def traced_share(rps: float, reservoir: float, rate: float) -> float:
    """Share of requests X-Ray records: the reservoir's requests each second, then `rate` of the rest."""
    if rps <= 0:
        return 0.0
    first = min(rps, reservoir)
    return (first + (rps - first) * rate) / rps


def duration_ms(cpu_ms: float, waits_ms: float, memory_mb: int) -> int:
    """Billed Lambda duration: CPU time stretched by the memory's CPU share, plus waits, rounded
    up to the millisecond."""
    share = max(1.0, STATED["full_vcpu_mb"] / memory_mb)
    return math.ceil(cpu_ms * STATED["cpu_speed_vs_this_machine"] * share + waits_ms)


def lambda_usd_per_million(billed_ms: int, memory_mb: int, arch: str) -> tuple[float, float]:
    """(requests, duration) of a million invocations."""
    gb_seconds = billed_ms / 1000 * memory_mb / 1024
    return LIST_PRICES["lambda_request_per_million"], gb_seconds * LIST_PRICES[
        f"lambda_gb_second_{arch}"
    ] * 1e6


def logs_usd_per_million(byte_count: float, events: float) -> float:
    """CloudWatch Logs ingestion of a million requests that each log `events` lines of `byte_count` in all."""
    return (
        (byte_count + events * STATED["log_event_overhead_bytes"])
        / GB
        * LIST_PRICES["logs_ingest_per_gb"]
        * 1e6
    )


LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}


def kept_lines(lines: list[str], app_level: str) -> list[str]:
    """The lines Lambda and Powertools keep at `app_level`: a line without a level (an EMF
    metric line) is filed as INFO, as Lambda files it."""
    kept = []
    for line in lines:
        try:
            level = str(json.loads(line).get("level", "INFO")).upper()
        except (ValueError, AttributeError):
            level = "INFO"
        if LEVELS.get(level, 20) >= LEVELS[app_level]:
            kept.append(line)
    return kept


# What Logger.inject_lambda_context repeats on every line (the log group and stream say it once)
LAMBDA_CONTEXT_KEYS = ("function_name", "function_memory_size", "function_arn", "function_request_id")


def without_context(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The same lines without the repeated Lambda context (cold_start, documented, stays)."""
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(record, dict) and "level" in record:
            line = json.dumps(
                {k: v for k, v in record.items() if k not in LAMBDA_CONTEXT_KEYS}, separators=(",", ":")
            )
        out.append(line)
    return tuple(out)


def memory_for(cpu_ms: float, sizes: tuple[int, ...] = (128, 256, 512, 1024, 1769)) -> int:
    """The smallest size whose CPU share keeps `cpu_ms` (at a full vCPU) under the stated budget."""
    return next((m for m in sizes if duration_ms(cpu_ms, 0, m) <= STATED["cpu_budget_ms"]), sizes[-1])


def platform_lines(request_id: str, billed: int, memory_mb: int) -> list[str]:
    """The platform's text lines of one invocation (START, END, REPORT), as Lambda prints them."""
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {billed - 0.42:.2f} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 98 MB\t",
    ]


# API Gateway's execution log at INFO without data tracing, one request (its documented lines)
EXECUTION_INFO_LINES = (
    "({id}) Extended Request Id: {xid}",
    "({id}) Verifying Usage Plan for request: {id}. API Key:  API Stage: {api}/{stage}",
    "({id}) API Key  authorized because method '{method} {path}' does not require API Key. "
    "Request will not contribute to throttle or quota limits",
    "({id}) Usage Plan check succeeded for API Key  and API Stage {api}/{stage}",
    "({id}) Starting execution for request: {id}",
    "({id}) HTTP Method: {method}, Resource Path: {path}",
    "({id}) Method completed with status: 200",
    "({id}) AWS Integration Endpoint RequestId : {id}",
    "({id}) Successfully completed execution",
)


def execution_log(method: str, path: str, level: str) -> list[str]:
    if level != "INFO":
        return []  # ERROR: a success writes nothing
    values = {
        "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "xid": "EXAMPLExid0=",
        "api": "abcde12345",
        "stage": "prod",
        "method": method,
        "path": path,
    }
    return [line.format(**values) for line in EXECUTION_INFO_LINES]


def access_log_line(fields: dict[str, str], method: str, path: str, response_bytes: int) -> str:
    values = {
        "$context.requestId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "$context.identity.sourceIp": "203.0.113.10",
        "$context.identity.caller": "-",
        "$context.identity.user": "-",
        "$context.requestTime": "07/Dec/2026:12:56:47 +0000",
        "$context.httpMethod": method,
        "$context.resourcePath": path,
        "$context.status": "200",
        "$context.protocol": "HTTP/1.1",
        "$context.responseLength": str(response_bytes),
    }
    return json.dumps({k: values[v] for k, v in fields.items()}, separators=(",", ":"))


@dataclass(frozen=True)
class Measured:
    """One case as the run measured it (medians over its samples)."""

    function: str
    method: str
    path: str  # the route's resource path
    cpu_ms: float
    log_lines: tuple[str, ...]  # what the handler printed for one request (Logger + EMF)
    response_bytes: int
    round_trips: int
    dynamodb_usd: float
    provider_calls: int = 0
    state_change: bool = False


@dataclass(frozen=True)
class Design:
    name: str
    arch: str
    memory_mb: dict[str, int]  # function -> MB
    webhooks: bool  # delivers a webhook per state change
    delivery_mb: int = 128  # the delivery function's memory


def request_bill(m: Measured, design: Design, settings: Settings, rps: float, waf: bool) -> dict[str, float]:
    """$ per million requests of one case, by component."""
    memory = design.memory_mb[m.function]
    waits = m.round_trips * STATED["dynamodb_round_trip_ms"] + m.provider_calls * STATED["provider_wait_ms"]
    billed = duration_ms(m.cpu_ms, waits, memory)
    requests, duration = lambda_usd_per_million(billed, memory, design.arch)
    lines = kept_lines(list(m.log_lines), settings.app_level)
    if settings.platform_lines:
        lines += platform_lines("a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", billed, memory)
    function_logs = logs_usd_per_million(sum(len(x) + 1 for x in lines), len(lines))
    access = access_log_line(settings.access_fields, m.method, m.path, m.response_bytes)
    execution = execution_log(m.method, m.path, settings.execution_logs)
    bill = {
        "api_gateway": LIST_PRICES["apigw_rest_per_million"],
        "waf": LIST_PRICES["waf_per_million"] if waf else 0.0,
        "lambda_requests": requests,
        "lambda_duration": duration,
        "function_logs": function_logs,
        "api_access_logs": logs_usd_per_million(len(access) + 1, 1),
        "api_execution_logs": logs_usd_per_million(sum(len(x) + 1 for x in execution), len(execution)),
        "xray": traced_share(rps, settings.xray_reservoir, settings.xray_rate)
        * LIST_PRICES["xray_trace_per_million"],
        "webhook_delivery": webhook_share(rps, design.delivery_mb)
        if design.webhooks and m.state_change
        else 0.0,
        "dynamodb": m.dynamodb_usd,
    }
    return {k: round(v, 4) for k, v in bill.items()}


def webhook_share(rps: float, memory_mb: int) -> float:
    """One state change's share of the delivery function: the stream batches what arrives in
    its window (infra/stacks/webhooks.py), so the invocation is shared by that many events; each
    event is POSTed to each subscriber in turn."""
    from infra.stacks.webhooks import STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW

    batch = max(1.0, min(float(STREAM_BATCH_SIZE), rps * STREAM_BATCHING_WINDOW.to_seconds()))
    per_event_ms = STATED["webhook_cpu_ms"] * max(1.0, STATED["full_vcpu_mb"] / memory_mb)
    per_event_ms += STATED["webhook_subscribers"] * STATED["webhook_post_ms"]
    _, duration = lambda_usd_per_million(math.ceil(per_event_ms * batch), memory_mb, "arm64")
    invocation = LIST_PRICES["lambda_request_per_million"] + duration
    logs = logs_usd_per_million(STATED["webhook_log_bytes_per_invocation"], 1)
    return (invocation + logs) / batch


def all_in(measured: dict[str, Measured], design: Design, settings: Settings, waf: bool) -> dict[str, Any]:
    """{case: {rps: {"total": $, "components": {...}}}}"""
    table: dict[str, Any] = {}
    for case, m in measured.items():
        table[case] = {}
        for rps in RATES:
            parts = request_bill(m, design, settings, rps, waf)
            table[case][str(rps)] = {"total": round(sum(parts.values()), 3), "components": parts}
    return table


# --------------------------------------------------------------------------- fixed monthly


def alarm_metrics() -> int:
    """Metrics the stack's alarms read (infra/stacks/monitoring.py; tests/infra checks the count
    against the template): errors and throttles of every function, the API's 5XX rate and p99,
    the table's throttles (two metrics), each API function's 5XX answers, the provider
    functions' failures and unsettled codes, and four webhook alarms."""
    from infra.functions import FUNCTIONS

    functions = len(FUNCTIONS) + 2  # + the webhook delivery and the settlement
    providers = sum(spec.reads_provider_secret for spec in FUNCTIONS.values())
    return 2 * functions + 2 + 2 + len(FUNCTIONS) + 2 * providers + 4


def emf_series() -> int:
    """EMF series the handlers publish (one per metric name and service): Succeeded,
    ClientErrors, ServerErrors and ColdStart per API function; ProviderCalls, ProviderFailures,
    ProviderCodesUnsettled per provider function; the delivery's five and the settlement's four."""
    from infra.functions import FUNCTIONS

    providers = sum(spec.reads_provider_secret for spec in FUNCTIONS.values())
    return 4 * len(FUNCTIONS) + 3 * providers + 5 + 4


def fixed_monthly(stage: dict[str, Any], settings: Settings, idle: bool) -> list[tuple[str, float, str]]:
    """(item, $ a month, label) of a stage before any request. `idle`: no traffic at all, so
    series that are billed only in the hours they get a data point cost nothing."""
    from infra.functions import FUNCTIONS, ROUTES

    p = LIST_PRICES
    rows = [
        (
            f"alarms ({alarm_metrics()} alarm metrics)",
            alarm_metrics() * p["alarm_metric_month"],
            "list + config",
        ),
        ("dashboard", p["dashboard_month"], "list"),
        ("KMS key of the alarm topic", p["kms_key_month"], "list"),
        ("provider secret + 1 webhook subscriber secret", 2 * p["secret_month"], "list + stated"),
        (
            "SQS polls of the idle retry queue",
            max(0.0, STATED["sqs_idle_requests_month"] - 1e6) / 1e6 * p["sqs_per_million"],
            "stated (inside SQS's 1M free requests)",
        ),
    ]
    settle = STATED["settle_invocations_month"] / 1e6
    requests, duration = lambda_usd_per_million(
        duration_ms(20, 3 * STATED["dynamodb_round_trip_ms"], 256), 256, "arm64"
    )
    rows.append(("settlement schedule (every 5 min)", settle * (requests + duration), "stated 20 ms CPU"))
    if stage.get("waf"):
        rows.append(("WAF web ACL + 2 rules", p["waf_acl_month"] + 2 * p["waf_rule_month"], "list + config"))
    if not idle:
        rows.append((f"EMF metric series ({emf_series()})", emf_series() * p["metric_month"], "list + code"))
        if settings.detailed_metrics:
            methods = len(ROUTES)
            rows.append(
                (
                    f"API Gateway detailed metrics ({methods} methods x 5)",
                    methods * 5 * p["metric_month"],
                    "list + config",
                )
            )
    assert FUNCTIONS  # the counts above read infra/functions.py
    return [(item, round(usd, 2), label) for item, usd, label in rows]


# --------------------------------------------------------------------------- measuring


def deployed_context(function: str, event: dict[str, Any]) -> Any:
    """A Lambda context named as CloudFormation names a deployed function (the name and ARN are
    on every log line the Logger writes)."""
    from infra.functions import FUNCTIONS
    from infra.local_stack.apigw import LambdaContext

    spec = FUNCTIONS[function]
    name = f"VoucherApi-prod-{spec.construct_id}Function-AbCdEfGh1234"[:64]
    context = LambdaContext(
        function_name=name, memory_limit_in_mb=spec.memory_mb, timeout_seconds=spec.timeout_seconds
    )
    context.aws_request_id = event["requestContext"]["requestId"]
    return context


TRACE_HEADER = "Root=1-6755a0b1-3f1e2d4c5b6a79881726354a;Parent=53995c3f42cd8ad8;Sampled=0"


@contextlib.contextmanager
def captured(loggers: list[Any], level: str) -> Any:
    """Everything the handlers print while inside: their Loggers' lines (at `level`) and the EMF
    lines Metrics prints."""
    import os

    buffer = io.StringIO()
    saved = [(lg, lg.log_level, [h.setStream(buffer) for h in lg.handlers]) for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    os.environ["_X_AMZN_TRACE_ID"] = TRACE_HEADER  # Lambda sets it: the Logger adds xray_trace_id
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
        for lg, old, streams in saved:
            lg.setLevel(old)
            for h, stream in zip(lg.handlers, streams, strict=True):
                h.setStream(stream)


def measure(
    env: Any, requests: dict[str, list[Any]], rows: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each case's requests invoked in-process with a deployed-style context: the handler
    thread's CPU time and what it printed, at INFO (the prod stage's level). DynamoDB round trips
    and cost come from the round-trip rows (`rows`, same run)."""
    import importlib

    from infra.functions import ROUTES
    from infra.local_stack.apigw import build_event, handler_for

    by_case = {(r["function"], r["case"]): r for r in rows}
    out: dict[str, dict[str, Any]] = {}
    for case, batch in requests.items():
        function = batch[0][0]
        handler = handler_for(function)
        logger = importlib.import_module(f"functions.{function}.handler").logger
        cpu, logs, sizes = [], [], []
        for _function, method, target, headers, body in batch:
            path, _, query = target.partition("?")
            built = build_event(method, path, headers=headers, query_string=query, body=body, stage="prod")
            assert built is not None
            event = built[1]
            context = deployed_context(function, event)
            with captured([logger], "INFO") as printed:
                t0 = time.thread_time()
                response = handler(event, context)
                cpu.append((time.thread_time() - t0) * 1000)
            assert response["statusCode"] == 200, (case, response)
            logs.append(printed.getvalue().splitlines())
            sizes.append(len(response["body"].encode()))
        row = by_case[CASE_ROWS[case]]
        route = next(r for r in ROUTES if r.function == function and r.method == batch[0][1])
        median_logs = sorted(logs, key=lambda lines: sum(map(len, lines)))[len(logs) // 2]
        out[case] = {
            "function": function,
            "method": route.method,
            "path": route.path,
            "cpu_ms": round(statistics.median(cpu), 3),
            "log_lines": median_logs,
            "log_bytes": sum(len(x) + 1 for x in median_logs),
            "response_bytes": int(statistics.median(sizes)),
            "round_trips": row["dynamodb_round_trips"],
            "dynamodb_usd": row["usd_per_million_requests"],
            "provider_calls": row["provider_calls"] or 0,
            "state_change": case in STATE_CHANGES,
            "samples": len(batch),
        }
    return out


CASE_ROWS = {
    "consume": ("consume_voucher", "success, warm container"),
    "first_activation": ("activate_voucher", "first activation, warm container"),
    "replay": ("activate_voucher", "idempotent replay"),
    "unclaim": ("unclaim_voucher", "success, warm container"),
    "claim": ("claim_voucher", "success"),
    "list_page": ("list_issuances", "first page"),
}
STATE_CHANGES = ("consume", "first_activation", "unclaim", "claim")


def measure_cookbook(
    env: Any, requests: dict[str, list[Any]], ours: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The cookbook-style design measured the same way: its handler shape (Powertools Logger with
    `inject_lambda_context(log_event=True)`, its three INFO lines, one EMF metric) around the
    bench's baseline operations (capacity.Baseline: Powertools Idempotency + read + conditional
    write) on vouchers of its own (COOKBOOK_OFFSETS), each invoked with the API Gateway event of
    our request for the same case. Claim is priced as an unclaim (the same shape); a list page
    with our page's reads (a Query and its items: the same for any design) and CPU."""
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    from infra.local_stack.apigw import build_event
    from tests.bench.capacity import Baseline

    design = Baseline(env.store.client, env.store.table_name, env.simulator)
    logger = Logger(service="cookbook", stream=io.StringIO())
    metrics = Metrics(namespace="Cookbook", service="cookbook")
    operation_of = {
        "consume": "consume_voucher success",
        "first_activation": "activate_voucher first activation (+1 provider call)",
        "replay": "activate_voucher first activation (+1 provider call)",
        "unclaim": "unclaim_voucher success",
        "claim": "unclaim_voucher success",
    }

    def cookbook_handler(operation: Any) -> Any:
        @metrics.log_metrics
        @logger.inject_lambda_context(log_event=True)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            serial = event["serial"]
            logger.info("got create order request", order={"serial": serial})
            logger.info("starting to handle create request", serial=serial)
            result = operation(request={"serial": serial, "request_id": serial})
            metrics.add_metric(name="ValidRequests", unit=MetricUnit.Count, value=1)
            logger.info("finished handling create order request")
            return {"statusCode": 200, "body": json.dumps(result, default=str)}

        return handler

    out: dict[str, dict[str, Any]] = {}
    for case, operation in operation_of.items():
        handler = cookbook_handler(design.operations[operation])
        cpu, logs, recordings = [], [], []
        for i, (function, method, target, headers, body) in enumerate(requests[case]):
            path, _, query = target.partition("?")
            built = build_event(method, path, headers=headers, query_string=query, body=body, stage="prod")
            assert built is not None
            event = {**built[1], "serial": serial_of(COOKBOOK_OFFSETS[case] + i)}
            context = deployed_context(function, event)
            with captured([logger], "INFO") as printed:
                t0 = time.thread_time()
                _, recording = env.recorder.record(lambda h=handler, e=event, c=context: h(e, c))
                cpu.append((time.thread_time() - t0) * 1000)
            logs.append(printed.getvalue().splitlines())
            recordings.append(recording)
        median_logs = sorted(logs, key=lambda lines: sum(map(len, lines)))[len(logs) // 2]
        out[case] = {
            **ours[case],
            "cpu_ms": round(statistics.median(cpu), 3),
            "log_lines": median_logs,
            "log_bytes": sum(len(x) + 1 for x in median_logs),
            "round_trips": recordings[0].round_trips,
            "dynamodb_usd": round(recordings[0].cost_per_million(), 3),
            "provider_calls": 0 if case == "replay" else ours[case]["provider_calls"],
        }
    out["list_page"] = {**ours["list_page"], **{k: out["unclaim"][k] for k in ("log_lines", "log_bytes")}}
    return out


def serial_of(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# Vouchers only the bill touches (tests/bench/__main__.py bench_document adds them): ours,
# then the cookbook's (replay: the same vouchers again, which its idempotency record answers).
BILL_OFFSETS = {"consume": 810000, "activate": 820000, "unclaim": 830000}
COOKBOOK_OFFSETS = {
    "consume": 840000,
    "first_activation": 850000,
    "replay": 850000,
    "unclaim": 860000,
    "claim": 870000,
}
BILL_SAMPLES = 15


def as_measured(raw: dict[str, dict[str, Any]]) -> dict[str, Measured]:
    keys = Measured.__dataclass_fields__
    return {
        case: Measured(**{k: (tuple(v) if k == "log_lines" else v) for k, v in r.items() if k in keys})  # type: ignore[arg-type]  # a JSON row back into its dataclass
        for case, r in raw.items()
    }


def designs() -> tuple[Design, Design, Design]:
    """(this service as configured, as before #38, the cookbook style)."""
    from infra.functions import DELIVERY, FUNCTIONS

    memory = {n: s.memory_mb for n, s in FUNCTIONS.items()}
    ours = Design("this service", "arm64", memory, webhooks=True, delivery_mb=DELIVERY.memory_mb)
    before = replace(ours, name="before #38", memory_mb={n: 512 for n in FUNCTIONS}, delivery_mb=256)
    cookbook = Design("cookbook style", "x86", {n: 128 for n in FUNCTIONS}, webhooks=False)
    return ours, before, cookbook


def compute(results: dict[str, Any], stages: dict[str, dict[str, Any]]) -> None:
    """Fill results' all_in, all_in_baseline, all_in_before and fixed_monthly from the run's measurements."""
    ours, before, cookbook = designs()
    prod = stages["prod"]
    settings = Settings.configured(prod["log_level"])
    measured = as_measured(results["bill_measured"])
    results["all_in"] = {c: {"rest": v} for c, v in all_in(measured, ours, settings, prod["waf"]).items()}
    results["all_in_baseline"] = all_in(as_measured(results["bill_cookbook"]), cookbook, settings, True)
    results["all_in_before"] = all_in(measured, before, settings.before(), prod["waf"])
    results["fixed_monthly"] = {
        name: {
            "idle": fixed_monthly(stage, settings, idle=True),
            "with traffic": fixed_monthly(stage, settings, idle=False),
            "before #38, with traffic": fixed_monthly(stage, settings.before(), idle=False),
        }
        for name, stage in stages.items()
    }
    results["bill_inputs"] = {"list_prices": LIST_PRICES, "as_of": PRICES_AS_OF, "stated": STATED}


# --------------------------------------------------------------------------- report

TARGETS = {"consume": 8.20, "first_activation": 9.60, "unclaim": 8.70}  # issue #38, REST prod at 10/s
SHORT = {
    "api_gateway": "APIGW",
    "waf": "WAF",
    "lambda_requests": "λ req",
    "lambda_duration": "λ dur",
    "function_logs": "fn logs",
    "api_access_logs": "access",
    "api_execution_logs": "exec",
    "xray": "X-Ray",
    "webhook_delivery": "webhook",
    "dynamodb": "DynamoDB",
}


def report(results: dict[str, Any], table: Any) -> list[str]:
    if "all_in" not in results:
        return []
    out = [
        f"\nThe whole bill, $ per million successes, prod stage (REST + WAF) at 10 requests/s, by component "
        f"({PRICES_AS_OF}; measured: handler CPU, log bytes, DynamoDB units; stated waits: "
        f"{STATED['dynamodb_round_trip_ms']:.0f} ms a DynamoDB round trip, "
        f"{STATED['provider_wait_ms']:.0f} ms the provider; tests/bench/bill.py labels every input)"
    ]
    rows = []
    for case, stages in results["all_in"].items():
        parts = stages["rest"]["10"]["components"]
        target = TARGETS.get(case)
        total = stages["rest"]["10"]["total"]
        rows.append(
            [
                case,
                *[f"{parts[k]:.3f}" for k in SHORT],
                f"{total:.3f}",
                f"<= {target:.2f}: {'yes' if total <= target else 'NO'}" if target else "-",
            ]
        )
    out.append(table(["case", *SHORT.values(), "total", "target"], rows))
    out.append(
        "\nTotals at 1 / 10 / 100 requests/s: this service (REST prod), as deployed before #38, the cookbook "
        "style under the same settings (X-Ray rule, log levels, access log), the ratio; an HTTP API stage "
        "(not offered: no WAF, no usage plans) would be APIGW $2.50 and WAF $0.60 less"
    )
    rows = []
    for case in results["all_in"]:
        now = [results["all_in"][case]["rest"][str(r)]["total"] for r in RATES]
        was = [results["all_in_before"][case][str(r)]["total"] for r in RATES]
        base = [results["all_in_baseline"][case][str(r)]["total"] for r in RATES]
        rows.append(
            [
                case,
                " / ".join(f"{x:.2f}" for x in now),
                " / ".join(f"{x:.2f}" for x in was),
                " / ".join(f"{x:.2f}" for x in base),
                " / ".join(f"{a / b:.2f}" for a, b in zip(now, base, strict=True)),
            ]
        )
    out.append(table(["case", "this service", "before #38", "cookbook style", "ratio"], rows))
    m, b = results["bill_measured"], results["bill_cookbook"]
    out.append(
        "\nMeasured per request (median): handler CPU ms in-process, bytes it printed at INFO (Logger + EMF)"
    )
    out.append(
        table(
            ["case", "function", "CPU ms", "log bytes", "log lines", "cookbook CPU ms", "cookbook log bytes"],
            [
                [
                    c,
                    r["function"],
                    r["cpu_ms"],
                    r["log_bytes"],
                    len(r["log_lines"]),
                    b[c]["cpu_ms"],
                    b[c]["log_bytes"],
                ]
                for c, r in m.items()
            ],
        )
    )
    ours = as_measured(m)
    design, _, _ = designs()
    prod = Settings.configured("INFO")
    out.append(
        "\nMemory and the repeated Lambda context: each function's configured memory against the smallest "
        f"size keeping a warm request's CPU under {STATED['cpu_budget_ms']:.0f} ms; the function logs and "
        "the total at 10 requests/s if the Logger's lines left out the context it repeats "
        f"({', '.join(LAMBDA_CONTEXT_KEYS)})"
    )
    rows = []
    for case, one in ours.items():
        lean = replace(one, log_lines=without_context(one.log_lines))
        bill_now = request_bill(one, design, prod, 10, True)
        bill_lean = request_bill(lean, design, prod, 10, True)
        rows.append(
            [
                case,
                design.memory_mb[one.function],
                memory_for(one.cpu_ms),
                f"{bill_now['function_logs']:.3f}",
                f"{bill_lean['function_logs']:.3f}",
                f"{sum(bill_lean.values()):.3f}",
            ]
        )
    out.append(
        table(
            ["case", "MB configured", "MB by CPU", "fn logs", "fn logs w/o context", "total w/o context"],
            rows,
        )
    )
    for stage, variants in results["fixed_monthly"].items():
        totals = ", ".join(f"{k} ${sum(r[1] for r in rows_):.2f}" for k, rows_ in variants.items())
        out.append(f"\nFixed monthly cost, {stage} stage, apart from requests: {totals}")
        out.append(
            table(
                ["item", "$ a month", "input"],
                [[i, f"{u:.2f}", lab] for i, u, lab in variants["with traffic"]],
            )
        )
    return out


def cases(
    consume: Any, activate: Any, unclaim: Any, claim: Any, page: Any, samples: int
) -> dict[str, list[Any]]:
    """The bench's requests for each case, on vouchers only this row touches (BILL_OFFSETS);
    unclaim frees what claim then takes, and replay repeats the first activations."""
    return {
        "consume": [consume(BILL_OFFSETS["consume"] + i) for i in range(samples)],
        "first_activation": [activate(BILL_OFFSETS["activate"] + i) for i in range(samples)],
        "replay": [activate(BILL_OFFSETS["activate"] + i) for i in range(samples)],
        "unclaim": [unclaim(BILL_OFFSETS["unclaim"] + i) for i in range(samples)],
        "claim": [claim(BILL_OFFSETS["unclaim"] + i) for i in range(samples)],
        "list_page": [page for _ in range(samples)],
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `python -m tests.bench`")
