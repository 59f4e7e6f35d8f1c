"""Typed view of the per-stage settings in cdk.json context (``stage`` and ``stages.<stage>``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

# CloudWatch Logs accepts only these retention values; map days -> enum member.
_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class StageConfig:
    stage: str
    removal_policy: str  # "retain" | "destroy"
    log_level: str
    log_retention_days: int
    throttle_rate_limit: float
    throttle_burst_limit: int
    waf: bool
    provider_secret_name: str | None  # None: the data stack creates the secret
    waf_rate_limit: int = 2000  # requests per 5 minutes per source IP
    alarm_topic_arn: str | None = None  # an existing SNS topic for alarm actions (else one is created)
    alarm_email: str | None = None  # subscribed to the created alarm topic (confirm the email AWS sends)

    @property
    def retain(self) -> bool:
        return self.removal_policy == "retain"

    @property
    def cdk_removal_policy(self) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.RETAIN if self.retain else cdk.RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]

    @property
    def secret_name(self) -> str:
        """Name of the provider-credentials secret the activation function reads."""
        return self.provider_secret_name or f"voucher/{self.stage}/provider-credentials"

    @property
    def creates_secret(self) -> bool:
        return self.provider_secret_name is None


def context_value(node: Any, key: str) -> Any:
    """A context value; strings that hold JSON (``-c key=[...]`` on the CLI) are decoded."""
    value = node.try_get_context(key)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_stage_config(app: cdk.App) -> StageConfig:
    stage = app.node.try_get_context("stage") or "dev"
    stages = context_value(app.node, "stages") or {}
    if stage not in stages:
        raise ValueError(f"unknown stage {stage!r}: cdk.json context 'stages' has {sorted(stages)}")
    raw = dict(stages[stage])
    config = StageConfig(
        stage=stage,
        removal_policy=str(raw["removal_policy"]).lower(),
        log_level=str(raw["log_level"]).upper(),
        log_retention_days=int(raw["log_retention_days"]),
        throttle_rate_limit=float(raw["throttle_rate_limit"]),
        throttle_burst_limit=int(raw["throttle_burst_limit"]),
        waf=bool(raw["waf"]),
        provider_secret_name=raw.get("provider_secret_name") or None,
        waf_rate_limit=int(raw.get("waf_rate_limit", 2000)),
        alarm_topic_arn=raw.get("alarm_topic_arn") or None,
        alarm_email=raw.get("alarm_email") or None,
    )
    if config.removal_policy not in {"retain", "destroy"}:
        raise ValueError(f"stage {stage}: removal_policy must be 'retain' or 'destroy'")
    if config.log_level not in _LOG_LEVELS:
        raise ValueError(f"stage {stage}: log_level must be one of {sorted(_LOG_LEVELS)}")
    if config.log_retention_days not in _RETENTION:
        raise ValueError(f"stage {stage}: log_retention_days must be one of {sorted(_RETENTION)}")
    if config.alarm_email is not None and (config.alarm_topic_arn or "@" not in config.alarm_email):
        raise ValueError(
            f"stage {stage}: alarm_email must be an email address, and only without alarm_topic_arn "
            "(subscribe to your own topic yourself)"
        )
    return config
