"""The whole bill's arithmetic (tests/bench/bill.py), on inputs written here: no run, no clock.

Each figure `make bench` prints is list price x a measured or stated quantity; these pin the
rules that turn one into the other, so a wrong rule cannot hide behind a plausible total.
"""

from __future__ import annotations

import json
import math

import pytest

from infra.stacks import observability
from tests.bench import bill

P = bill.LIST_PRICES


def test_xray_records_the_reservoir_each_second_then_its_rate_of_the_rest() -> None:
    default = (1, 0.05)  # X-Ray's default rule: 1 request/s, then 5%
    assert bill.traced_share(1, *default) == 1.0
    assert bill.traced_share(10, *default) == pytest.approx((1 + 9 * 0.05) / 10)
    assert bill.traced_share(100, *default) == pytest.approx((1 + 99 * 0.05) / 100)
    assert bill.traced_share(0.5, *default) == 1.0
    assert bill.traced_share(0, *default) == 0.0
    for rps in bill.RATES:  # no reservoir: the same share at every rate
        assert bill.traced_share(rps, 0, 0.01) == pytest.approx(0.01)


def test_lambda_duration_stretches_cpu_by_the_memorys_cpu_share_and_adds_waits_rounded_up() -> None:
    assert bill.duration_ms(10.0, 12.0, 1769) == 22
    assert bill.duration_ms(10.0, 12.0, 3538) == 22  # no faster than one vCPU for one thread
    assert bill.duration_ms(10.0, 12.0, 128) == math.ceil(10.0 * 1769 / 128 + 12.0)
    assert bill.duration_ms(0.1, 0.0, 1769) == 1  # billed by the started millisecond


def test_lambda_price_is_requests_plus_gb_seconds_per_architecture() -> None:
    requests, duration = bill.lambda_usd_per_million(100, 1024, "arm64")
    assert requests == P["lambda_request_per_million"] == 0.20
    assert duration == pytest.approx(0.1 * 1.0 * P["lambda_gb_second_arm64"] * 1e6)
    _, x86 = bill.lambda_usd_per_million(100, 128, "x86")
    assert x86 == pytest.approx(0.1 * 0.125 * P["lambda_gb_second_x86"] * 1e6)
    # a wait costs in proportion to memory: half the memory, half the price of waiting
    _, at_512 = bill.lambda_usd_per_million(300, 512, "arm64")
    _, at_256 = bill.lambda_usd_per_million(300, 256, "arm64")
    assert at_256 == pytest.approx(at_512 / 2)


def test_log_ingestion_counts_each_events_overhead() -> None:
    usd = bill.logs_usd_per_million(1000, 2)
    assert usd == pytest.approx((1000 + 2 * 26) / 2**30 * 0.50 * 1e6)
    assert bill.logs_usd_per_million(0, 0) == 0.0


def test_lambdas_level_filter_keeps_metric_lines_as_info() -> None:
    debug = json.dumps({"level": "DEBUG", "message": "x"})
    info = json.dumps({"level": "INFO", "message": "request finished"})
    warning = json.dumps({"level": "WARNING", "message": "provider failed"})
    emf = json.dumps({"_aws": {"CloudWatchMetrics": []}, "Succeeded": [1.0]})
    lines = [debug, info, warning, emf, "not json"]
    assert bill.kept_lines(lines, "DEBUG") == lines
    assert bill.kept_lines(lines, "INFO") == [info, warning, emf, "not json"]
    assert bill.kept_lines(lines, "WARNING") == [warning]


def test_the_functions_level_filter_never_drops_the_metric_lines() -> None:
    """EMF lines carry no level, which Lambda files as INFO: a filter above INFO would drop
    every metric the alarms read, so the stage's WARNING or ERROR is left to Powertools."""
    assert observability.application_log_level("DEBUG") == "DEBUG"
    assert observability.application_log_level("INFO") == "INFO"
    for level in ("WARNING", "ERROR", "CRITICAL"):
        assert observability.application_log_level(level) == "INFO"


def test_the_access_log_line_has_exactly_the_configured_fields() -> None:
    line = bill.access_log_line(observability.ACCESS_LOG_FIELDS, "PUT", "/x/{id}", 123)
    fields = json.loads(line)
    assert list(fields) == list(observability.ACCESS_LOG_FIELDS)
    assert fields["resourcePath"] == "/x/{id}" and fields["responseLength"] == "123"


def _measured(**overrides: object) -> bill.Measured:
    values: dict[str, object] = {
        "function": "consume_voucher",
        "method": "PUT",
        "path": "/x",
        "cpu_ms": 4.0,
        "log_lines": (json.dumps({"level": "INFO", "message": "request finished"}),),
        "response_bytes": 100,
        "round_trips": 2,
        "dynamodb_usd": 3.25,
        "state_change": True,
    }
    return bill.Measured(**{**values, **overrides})  # type: ignore[arg-type]


SETTINGS = bill.Settings(
    xray_reservoir=0,
    xray_rate=0.01,
    execution_logs="ERROR",
    platform_lines=False,
    app_level="INFO",
    access_fields=observability.ACCESS_LOG_FIELDS,
    detailed_metrics=False,
)
DESIGN = bill.Design("d", "arm64", {"consume_voucher": 256, "activate_voucher": 256}, webhooks=True)


def test_a_requests_bill_is_the_sum_of_its_components_each_from_its_rule() -> None:
    m = _measured()
    parts = bill.request_bill(m, DESIGN, SETTINGS, 10, waf=True)
    billed = bill.duration_ms(4.0, 2 * bill.STATED["dynamodb_round_trip_ms"], 256)
    assert parts["api_gateway"] == P["apigw_rest_per_million"]
    assert parts["waf"] == P["waf_per_million"]
    assert parts["lambda_duration"] == pytest.approx(
        bill.lambda_usd_per_million(billed, 256, "arm64")[1], abs=1e-4
    )
    assert parts["xray"] == pytest.approx(0.01 * P["xray_trace_per_million"])
    assert parts["api_execution_logs"] == 0.0  # ERROR: a success writes none
    assert parts["dynamodb"] == 3.25
    assert parts["webhook_delivery"] == pytest.approx(bill.webhook_share(10, DESIGN.delivery_mb), abs=1e-4)
    table = bill.all_in({"consume": m}, DESIGN, SETTINGS, waf=True)
    assert set(table["consume"]) == {str(r) for r in bill.RATES}
    for cell in table["consume"].values():
        assert cell["total"] == pytest.approx(sum(cell["components"].values()), abs=1e-3)


def test_settings_change_only_their_own_components() -> None:
    m = _measured()
    now = bill.request_bill(m, DESIGN, SETTINGS, 10, waf=False)
    assert now["waf"] == 0.0
    verbose = bill.request_bill(
        m,
        DESIGN,
        bill.Settings(**{**SETTINGS.__dict__, "execution_logs": "INFO", "platform_lines": True}),
        10,
        False,
    )
    assert verbose["api_execution_logs"] > 0 and verbose["function_logs"] > now["function_logs"]
    assert {k for k in now if now[k] != verbose[k]} == {"api_execution_logs", "function_logs"}
    # a read changes no state: no webhook share
    assert (
        bill.request_bill(_measured(state_change=False), DESIGN, SETTINGS, 10, False)["webhook_delivery"] == 0
    )
    # the provider's wait is billed at the function's memory
    waiting = bill.request_bill(
        _measured(function="activate_voucher", provider_calls=1), DESIGN, SETTINGS, 10, False
    )
    assert waiting["lambda_duration"] > now["lambda_duration"]


def test_a_webhook_invocation_is_shared_by_the_events_its_batch_window_gathers() -> None:
    one, ten, hundred = (bill.webhook_share(r, 128) for r in bill.RATES)
    assert one > ten > hundred > 0
    assert bill.webhook_share(0.1, 128) == pytest.approx(one)  # never fewer than one event a batch
    assert bill.webhook_share(10, 256) > ten  # the receivers' wait is billed at the memory


def test_the_repeated_lambda_context_is_left_out_of_logger_lines_only() -> None:
    line = json.dumps({"level": "INFO", "message": "m", "function_arn": "arn", "cold_start": False})
    emf = json.dumps({"_aws": {}, "function_arn": "kept: not a Logger line"})
    assert bill.without_context([line, emf]) == (
        json.dumps({"level": "INFO", "message": "m", "cold_start": False}, separators=(",", ":")),
        emf,
    )


def test_memory_is_the_smallest_size_keeping_a_warm_requests_cpu_under_the_budget() -> None:
    budget = bill.STATED["cpu_budget_ms"]
    assert bill.memory_for(budget * 128 / 1769) == 128
    assert bill.memory_for(budget * 128 / 1769 + 0.5) == 256
    assert bill.memory_for(budget) == 1769


def test_fixed_monthly_costs_are_apart_and_idle_series_cost_nothing() -> None:
    idle_dev = dict((item, usd) for item, usd, _ in bill.fixed_monthly({"waf": False}, SETTINGS, idle=True))
    prod = dict((item, usd) for item, usd, _ in bill.fixed_monthly({"waf": True}, SETTINGS, idle=False))
    assert not any("WAF" in item or "EMF" in item for item in idle_dev)
    assert prod["WAF web ACL + 2 rules"] == P["waf_acl_month"] + 2 * P["waf_rule_month"]
    emf = next(usd for item, usd in prod.items() if item.startswith("EMF"))
    assert emf == pytest.approx(bill.emf_series() * P["metric_month"])
    assert not any("detailed" in item for item in prod)
    before = bill.fixed_monthly({"waf": True}, SETTINGS.before(), idle=False)
    assert any("detailed" in item for item, _, _ in before)
