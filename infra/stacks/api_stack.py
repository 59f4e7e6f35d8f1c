"""VoucherApi-<stage>: the stateless part (functions, dependency layer, REST API, WAF, webhook
delivery, alarms).

Everything here is derived from infra/functions.py: one function per FunctionSpec (the API's
``FUNCTIONS`` and the webhook ``DELIVERY``, all built by ``_function``), one method per Route,
and each function role gets exactly ``spec.dynamodb_actions`` on the table and
``spec.index_actions`` on its indexes.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import bundling
from infra.functions import DELIVERY, FUNCTIONS, ROUTES, SETTLE_EVERY_MINUTES, SETTLEMENT, FunctionSpec
from infra.stacks import observability, telemetry
from infra.stacks.config import StageConfig
from infra.stacks.monitoring import Monitoring
from infra.stacks.nag import acknowledge, cfn_resource
from infra.stacks.webhooks import Webhooks
from shared.table_schema import TABLE

METRICS_NAMESPACE = "VoucherService"

# DynamoDB actions that can target a GSI ("<table arn>/index/<name>"); all others are table-level.
INDEX_ACTIONS = frozenset({"dynamodb:Query", "dynamodb:Scan"})

VENDOR_AUTH_REASON = (
    "Each vendor dialect authenticates in the function with its own tokens/signatures and must "
    "answer auth failures in that dialect's wire format; an API Gateway authorizer cannot."
)


def _policy_logical_ids(role: iam.IRole) -> list[str]:
    policy = role.node.try_find_child("DefaultPolicy")
    return [cfn_resource(policy).logical_id] if policy is not None else []


def function_logical_id(spec: FunctionSpec) -> str:
    """Stable CloudFormation logical ID of a function (used by `sam local invoke`)."""
    return f"{spec.construct_id}Function"


class ApiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITableV2,
        provider_secret: secretsmanager.ISecret | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.table = table

        self.provider_secret_arn = (
            provider_secret.secret_arn
            if provider_secret is not None
            else self.format_arn(
                service="secretsmanager",
                resource="secret",
                # Secrets Manager appends "-" and 6 random characters to the name.
                resource_name=f"{config.secret_name}-??????",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
        )

        code = bundling.function_code(self)
        self.layer = lambda_.LayerVersion(
            self,
            "DependencyLayer",
            code=bundling.dependency_layer_code(),
            compatible_runtimes=[bundling.LAMBDA_RUNTIME],
            compatible_architectures=[bundling.LAMBDA_ARCHITECTURE],
            description="Pinned run time dependencies (requirements/runtime.txt)",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        self.functions: dict[str, lambda_.Function] = {
            spec.name: self._function(spec, code) for spec in FUNCTIONS.values()
        }
        # Not behind the API: the table's stream and the retry queue invoke it (webhooks.py).
        self.webhooks = Webhooks(self, "Webhooks", config=config)
        self.delivery_function = self._function(DELIVERY, code, environment=self.webhooks.environment())
        self.webhooks.connect(self.delivery_function, table)
        # Not behind the API either: a schedule settles provider codes (shared/usecases/settle_codes.py).
        self.settle_function = self._function(SETTLEMENT, code)
        events.Rule(
            self,
            "SettleCodesSchedule",
            description="Announce and void provider codes no voucher carries",
            schedule=events.Schedule.rate(cdk.Duration.minutes(SETTLE_EVERY_MINUTES)),
            targets=[targets.LambdaFunction(self.settle_function, retry_attempts=0)],
        )

        self.api = self._rest_api()
        if config.waf:
            self._web_acl()
        else:
            acknowledge(
                cfn_resource(self.api.deployment_stage),
                "APIG3",
                f"WAF is disabled for stage '{config.stage}' (cdk.json stages.{config.stage}.waf); "
                "non-production traffic is limited by stage throttling. Production enables WAF.",
            )

        Monitoring(
            self,
            "Monitoring",
            config=config,
            api=self.api,
            functions={
                **self.functions,
                DELIVERY.name: self.delivery_function,
                SETTLEMENT.name: self.settle_function,
            },
            webhooks=self.webhooks,
            table_name=table.table_name,
            metrics_namespace=METRICS_NAMESPACE,
        )
        # The Function construct makes each function DependsOn its role, which `Role: GetAtt`
        # already orders (cfn-lint W3005, also what `sam validate --lint` reports): only the
        # dependency on the role's policy is kept (the function must not run before it).
        for function in [*self.functions.values(), self.delivery_function, self.settle_function]:
            assert function.role is not None
            cfn_resource(function).add_override("DependsOn", _policy_logical_ids(function.role))
        # One URL output (ApiUrl) instead of RestApi's auto-named "Endpoint" output.
        self.api.node.try_remove_child("Endpoint")
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the voucher API stage")

    # ---------------------------------------------------------------- functions

    def _function(
        self, spec: FunctionSpec, code: lambda_.Code, *, environment: dict[str, str] | None = None
    ) -> lambda_.Function:
        """The function of ``spec`` (``environment``: settings beyond the common ones)."""
        config = self.config
        cid = spec.construct_id
        log_group = logs.LogGroup(
            self,
            f"{cid}Logs",
            retention=config.log_retention,
            removal_policy=config.cdk_removal_policy,
        )
        # Explicit role: no AWSLambdaBasicExecutionRole managed policy; logs only to its group.
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=(
                f"{spec.name}: least privilege "
                f"({len(spec.dynamodb_actions) + len(spec.index_actions)} DynamoDB actions)"
            ),
        )
        log_group.grant_write(role)

        environment = {
            **(environment or {}),
            "TABLE_NAME": self.table.table_name,
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            "STAGE": config.stage,
        }
        if spec.reads_provider_secret:
            environment["PROVIDER_SECRET_NAME"] = config.secret_name

        function = lambda_.Function(
            self,
            cid,
            description=spec.description,
            runtime=bundling.LAMBDA_RUNTIME,
            architecture=bundling.LAMBDA_ARCHITECTURE,
            handler=spec.handler,
            code=code,
            layers=[self.layer],
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            # API Gateway's sampling rule decides; the stream and the schedule carry no decision
            tracing=lambda_.Tracing.PASS_THROUGH,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat[observability.LOG_FORMAT],
            application_log_level_v2=lambda_.ApplicationLogLevel[
                observability.application_log_level(config.log_level)
            ],
            system_log_level_v2=lambda_.SystemLogLevel[observability.SYSTEM_LOG_LEVEL],
            role=role,
            environment=environment,
        )
        cfn_function = cfn_resource(function)
        cfn_function.override_logical_id(function_logical_id(spec))
        acknowledge(
            cfn_function,
            "L1",
            f"Runtime pinned to {bundling.LAMBDA_RUNTIME.name} on purpose: the dependency layer is built "
            f"from cp{bundling.PIP_PYTHON_VERSION.replace('.', '')} wheels (infra/bundling.py) and the code "
            "is tested on it; the runtime and the layer's --python-version move together.",
        )

        self._grant_dynamodb(role, spec)
        if spec.reads_provider_secret:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadProviderSecret",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self.provider_secret_arn],
                )
            )

        policy = cfn_resource(role.node.find_child("DefaultPolicy"))
        acknowledge(
            policy,
            "IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords (added by Tracing.PASS_THROUGH) support no "
            "resource-level permissions; '*' is the only valid resource for them.",
            applies_to="Resource::*",
        )
        return function

    def _grant_dynamodb(self, role: iam.Role, spec: FunctionSpec) -> None:
        """Exactly spec.dynamodb_actions on the table and spec.index_actions on its indexes (no
        grant_* helpers: they add actions)."""
        actions = list(spec.dynamodb_actions)
        index_actions = sorted(spec.index_actions)
        if any(not action.startswith("dynamodb:") or "*" in action for action in actions + index_actions):
            raise ValueError(f"{spec.name}: dynamodb_actions must be explicit dynamodb: actions")
        if not INDEX_ACTIONS.issuperset(index_actions):
            raise ValueError(f"{spec.name}: only {sorted(INDEX_ACTIONS)} can target an index")
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="VoucherTable", actions=actions, resources=[self.table.table_arn])
        )
        if index_actions:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="VoucherTableIndexes",
                    actions=index_actions,
                    # each index by name (no wildcard: nothing for cdk-nag's IAM5 to acknowledge)
                    resources=[
                        f"{self.table.table_arn}/index/{index.name}" for index in TABLE.global_indexes
                    ],
                )
            )

    # ---------------------------------------------------------------- API

    def _rest_api(self) -> apigateway.RestApi:
        config = self.config
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=config.log_retention,
            removal_policy=config.cdk_removal_policy,
        )
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"voucher-api-{config.stage}",
            description="Voucher service: vendor-dialect voucher endpoints",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.throttle_rate_limit,
                throttling_burst_limit=config.throttle_burst_limit,
                tracing_enabled=True,
                metrics_enabled=observability.DETAILED_METRICS,
                logging_level=telemetry.method_logging_level(),
                data_trace_enabled=False,  # bodies carry voucher codes: keep them out of logs
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(
                    json.dumps(observability.ACCESS_LOG_FIELDS, separators=(",", ":"))
                ),
            ),
        )

        integrations = {
            name: apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
            for name, function in self.functions.items()
        }
        for route in ROUTES:
            resource = api.root.resource_for_path(route.path)
            method = resource.add_method(
                route.method,
                integrations[route.function],
                authorization_type=apigateway.AuthorizationType.NONE,
            )
            cfn_method = cfn_resource(method)
            acknowledge(cfn_method, "APIG4", VENDOR_AUTH_REASON)
            acknowledge(cfn_method, "COG4", VENDOR_AUTH_REASON)

        acknowledge(
            cfn_resource(api),
            "APIG2",
            "Requests are validated in each function against its vendor dialect, which must answer "
            "invalid requests in that dialect's error format; API Gateway validation cannot.",
        )
        cloud_watch_role = api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            acknowledge(
                cfn_resource(cloud_watch_role),
                "IAM4",
                "API Gateway's account-level CloudWatch Logs role (needed for execution logging) uses "
                "the AWS-maintained policy AmazonAPIGatewayPushToCloudWatchLogs, as AWS documents.",
                applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs",
            )
        telemetry.execution_log_group(self, api, config)
        telemetry.sampling_rule(self, api, config)
        return api

    def _web_acl(self) -> wafv2.CfnWebACL:
        config = self.config

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"voucher-api-{config.stage}",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"voucher-api-{config.stage}"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="AWSManagedRulesCommonRuleSet",
                    priority=0,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name="AWSManagedRulesCommonRuleSet"
                        )
                    ),
                    visibility_config=visibility("AWSManagedRulesCommonRuleSet"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=config.waf_rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("RateLimitPerIp"),
                ),
            ],
        )
        # The stage ARN's Ref to the stage orders the association after it (an explicit
        # dependency as well is cfn-lint W3005)
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl
