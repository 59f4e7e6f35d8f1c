"""What the API stack logs, traces and meters, as plain data (no CDK import): the stack is
built from it (api_stack.py, telemetry.py) and `make bench` prices it (tests/bench/bill.py),
so the whole bill the bench prints is the bill of what deploys.

Each choice is the cheapest that keeps what the service promises (docs/deploy.md, On call):
one JSON line per request with its outcome, the EMF metrics the alarms read, an access log
line per request, traces of a sample, and every failure logged.
"""

from __future__ import annotations

# X-Ray: API Gateway decides, by this sampling rule, for every request of the stage; the
# functions pass its decision through (Lambda's own default, 1 request/s + 5%, would trace
# every invocation of the stream-driven delivery at the rates this service sees).
XRAY_RESERVOIR_PER_SECOND = 0
XRAY_FIXED_RATE = 0.01
XRAY_RULE_PRIORITY = 1000  # before the account's Default (10000)

# API Gateway execution logs: errors only (INFO writes ~1.5 KB of lines per request that the
# access log and the function's own line already say); in a log group the stack creates
# with the stage's retention, not the one API Gateway would create without any.
EXECUTION_LOG_LEVEL = "ERROR"
# Per-method CloudWatch metrics: 5 series per method billed as custom metrics; the alarms
# and the dashboard read the API-wide ones, which API Gateway publishes anyway.
DETAILED_METRICS = False

# Access log: one JSON line per request. `caller` and `user` of the standard set are left out:
# every method authenticates in its function (AuthorizationType NONE), so they are always "-".
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
}

# Lambda's advanced logging controls: JSON, and the platform's own lines (START, END, REPORT:
# ~300 B a request) only from WARN up; a timeout or crash still counts in the Errors alarm.
LOG_FORMAT = "JSON"
SYSTEM_LOG_LEVEL = "WARN"
_LEVELS = ("DEBUG", "INFO")


def application_log_level(stage_level: str) -> str:
    """Lambda's filter for the functions' own lines: the stage's level, but never above INFO.
    EMF metric lines carry no `level`, which Lambda files as INFO: filtering at WARN would drop
    the metrics every alarm reads. Powertools' POWERTOOLS_LOG_LEVEL filters above that."""
    return stage_level if stage_level in _LEVELS else "INFO"
