"""The API stage's tracing and execution logs, as infra/stacks/observability.py states them."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from aws_cdk import aws_xray as xray
from constructs import Construct

from infra.stacks import observability
from infra.stacks.config import StageConfig


def execution_log_group(scope: Construct, api: apigateway.RestApi, config: StageConfig) -> logs.LogGroup:
    """The group API Gateway writes execution logs to. Left to API Gateway, it is created on
    the first logged request and never expires; created here first (the stage depends on it),
    it has the stage's retention and removal policy like every other group of the stack."""
    stage = api.deployment_stage
    group = logs.LogGroup(
        scope,
        "ApiExecutionLogs",
        log_group_name=f"API-Gateway-Execution-Logs_{api.rest_api_id}/{config.stage}",
        retention=config.log_retention,
        removal_policy=config.cdk_removal_policy,
    )
    stage.node.add_dependency(group)
    return group


def sampling_rule(scope: Construct, api: apigateway.RestApi, config: StageConfig) -> xray.CfnSamplingRule:
    """Which requests of the stage are traced: a fixed share, no per-second reservoir (the
    default rule's 1 request/s traces every request below 1 request/s)."""
    return xray.CfnSamplingRule(
        scope,
        "TraceSampling",
        sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
            rule_name=f"voucher-api-{config.stage}",
            priority=observability.XRAY_RULE_PRIORITY,
            fixed_rate=observability.XRAY_FIXED_RATE,
            reservoir_size=observability.XRAY_RESERVOIR_PER_SECOND,
            # API Gateway names a stage's segments "<api name>/<stage>"
            service_name=f"{api.rest_api_name}/{config.stage}",
            service_type="AWS::ApiGateway::Stage",
            host="*",
            http_method="*",
            url_path="*",
            resource_arn="*",
            version=1,
        ),
    )


def method_logging_level() -> apigateway.MethodLoggingLevel:
    return apigateway.MethodLoggingLevel[observability.EXECUTION_LOG_LEVEL]
