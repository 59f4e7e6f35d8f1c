"""The synthesized templates match the single sources of truth (infra/functions.py, table_schema.py).

Every check goes through ``aws_cdk.assertions`` (``Template``, ``Match``, ``Capture``) and is
driven by ``FUNCTIONS``/``DELIVERY``/``ROUTES``/``TABLE``: a function or route added there is
covered here without touching this file.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template
from cdk_template import IMPORTED_SECRET_NAME, Grant, Synth, canonical, grants

from infra.functions import DELIVERY, FUNCTIONS, ROUTES, SETTLE_EVERY_MINUTES, SETTLEMENT, FunctionSpec, Route
from shared.store.keys import SK, Keys
from shared.table_schema import TABLE
from shared.webhooks.subscribers import SECRET_NAME

pytestmark = pytest.mark.cdk

# Every function the API stack builds: the API's (FUNCTIONS) and the webhook delivery.
ALL_SPECS: dict[str, FunctionSpec] = {**FUNCTIONS, DELIVERY.name: DELIVERY, SETTLEMENT.name: SETTLEMENT}
SPECS = pytest.mark.parametrize("spec", ALL_SPECS.values(), ids=ALL_SPECS.keys())
# DynamoDB actions that may target the table's indexes ("<table arn>/index/*").
INDEX_ACTIONS = {"dynamodb:Query", "dynamodb:Scan"}
XRAY_GRANTS = {("xray:PutTelemetryRecords", '"*"'), ("xray:PutTraceSegments", '"*"')}
# What an access log line must carry to tie it to a request and say how it ended; `caller` and
# `user` are always "-" here (every method authenticates in its function), so they are left out.
ACCESS_LOG_FIELDS = (
    "requestId",
    "ip",
    "requestTime",
    "httpMethod",
    "resourcePath",
    "status",
    "protocol",
    "responseLength",
)


def _function_id(spec: FunctionSpec) -> str:
    return f"{spec.construct_id}Function"  # stable: SAM CLI invokes functions by this logical ID


def _function_props(spec: FunctionSpec, **props: Any) -> dict[str, Any]:
    """Properties pattern of this spec's function (handlers are unique: one function each)."""
    return {"Handler": spec.handler, **props}


def _captured(template: Template, type_: str, props: dict[str, Any], capture: Capture) -> str:
    """The one value ``capture`` takes in the one resource of ``type_`` matching ``props``."""
    template.has_resource_properties(type_, props)
    template.resource_properties_count_is(type_, props, 1)
    return capture.as_string()


def _function_role(template: Template, spec: FunctionSpec) -> str:
    role = Capture()
    return _captured(
        template, "AWS::Lambda::Function", _function_props(spec, Role={"Fn::GetAtt": [role, "Arn"]}), role
    )


def _function_log_group(template: Template, spec: FunctionSpec) -> str:
    group = Capture()
    return _captured(
        template,
        "AWS::Lambda::Function",
        _function_props(spec, LoggingConfig={"LogGroup": {"Ref": group}}),
        group,
    )


def _policy_statements(template: Template, roles: Any = None) -> list[dict[str, Any]]:
    """Statements of the IAM::Policy resources attached to ``roles`` (default: all policies)."""
    props = {"Properties": {"Roles": roles}} if roles is not None else {}
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy", props).values():
        document = policy["Properties"]["PolicyDocument"]["Statement"]
        statements += document if isinstance(document, list) else [document]
    return statements


def _role_grants(template: Template, role_id: str) -> set[Grant]:
    return grants(_policy_statements(template, Match.array_with([{"Ref": role_id}])))


def _imported(data: Template, value: dict[str, Any]) -> dict[str, Any]:
    """How the API stack reads ``value`` from the data stack (strong cross-stack reference)."""
    name = Capture()
    data.has_output("*", {"Value": Match.exact(value), "Export": {"Name": name}})
    return {"Fn::ImportValue": name.as_string()}


def _table_arn(synth: Synth) -> dict[str, Any]:
    table_id = synth.data.get_resource_id("AWS::DynamoDB::GlobalTable")
    return _imported(synth.data, {"Fn::GetAtt": [table_id, "Arn"]})


def _stream_arn(synth: Synth) -> dict[str, Any]:
    table_id = synth.data.get_resource_id("AWS::DynamoDB::GlobalTable")
    return _imported(synth.data, {"Fn::GetAtt": [table_id, "StreamArn"]})


def _queue_arn(queue_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [queue_id, "Arn"]}


def _webhook_queues(template: Template) -> dict[str, str]:
    """Logical IDs of the webhook queues, told apart by how they are wired, not by their names:
    the retry queue feeds the function (an SQS event source), the DLQ is its redrive target and
    the stream-failure queue is the stream event source's on-failure destination."""
    assert len(template.find_resources("AWS::SQS::Queue")) == 3
    retry, dlq, failures = Capture(), Capture(), Capture()
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": {"Fn::GetAtt": [retry, "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SQS::Queue", {"RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}}
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}},
    )
    queues = {"retry": retry.as_string(), "dlq": dlq.as_string(), "failures": failures.as_string()}
    assert len(set(queues.values())) == 3, queues
    assert set(queues.values()) == set(template.find_resources("AWS::SQS::Queue"))
    return queues


def _webhook_secret_arn(stage: str) -> dict[str, Any]:
    """GetSecretValue's resource for the delivery: this stage's webhook secrets, nothing else."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:voucher/{stage}/webhooks/*",
            ],
        ]
    }


def _delivery_grants(synth: Synth) -> set[Grant]:
    """What the delivery role holds beyond logs, X-Ray and spec.dynamodb_actions on the table."""
    queues = {name: canonical(_queue_arn(queue_id)) for name, queue_id in _webhook_queues(synth.api).items()}
    stream = canonical(_stream_arn(synth))
    return {
        ("secretsmanager:GetSecretValue", canonical(_webhook_secret_arn(synth.stage))),
        # the handler: retries (delayed) and dead letters
        ("sqs:SendMessage", queues["retry"]),
        ("sqs:SendMessage", queues["dlq"]),
        # the stream event source (DynamoEventSource): read the table's stream ...
        *{
            (action, stream)
            for action in (
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            )
        },
        # ... and park a batch it gives up on (SqsDlq on-failure destination)
        *{
            (action, queues["failures"])
            for action in ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        },
        # the retry queue's event source (SqsEventSource)
        *{
            (action, queues["retry"])
            for action in (
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            )
        },
    }


# ------------------------------------------------------------------------------ stacks


def test_two_stacks_per_stage(synth):
    assert set(synth.templates) == {"VoucherData-dev", "VoucherApi-dev"}
    synth.data.has_output("TableName", {})
    synth.api.has_output("ApiUrl", {})


@pytest.mark.parametrize(
    "type_", ["AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"]
)
def test_api_stack_has_no_stateful_resources(synth, type_):
    synth.api.resource_count_is(type_, 0)


# ------------------------------------------------------------------------------- table


def test_table_matches_table_schema(synth):
    expected = TABLE.create_table_kwargs("ignored")
    attributes = Capture()

    synth.data.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    synth.data.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "BillingMode": expected["BillingMode"],
            "KeySchema": Match.exact(expected["KeySchema"]),
            "AttributeDefinitions": attributes,
            # Same indexes, same order; each index's keys and projection exactly as in TABLE.
            "GlobalSecondaryIndexes": [
                {key: Match.exact(value) for key, value in gsi.items()}
                for gsi in expected["GlobalSecondaryIndexes"]
            ],
            "TimeToLiveSpecification": Match.exact({"AttributeName": TABLE.ttl_attribute, "Enabled": True}),
            "Replicas": [
                {"PointInTimeRecoverySpecification": Match.exact({"PointInTimeRecoveryEnabled": True})}
            ],
            # A GlobalTable's StreamSpecification has no StreamEnabled: a view type enables it.
            "StreamSpecification": Match.exact(
                {"StreamViewType": expected["StreamSpecification"]["StreamViewType"]}
            ),
        },
    )
    assert expected["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    # CDK orders attribute definitions its own way: compare them as sets.
    key = lambda a: a["AttributeName"]  # noqa: E731
    assert sorted(attributes.as_array(), key=key) == sorted(expected["AttributeDefinitions"], key=key)


def test_dev_table_is_destroyed_prod_table_is_retained(synth, synth_prod):
    synth.data.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": "Delete",
            "Properties": {"Replicas": [{"DeletionProtectionEnabled": False}]},
        },
    )
    synth_prod.data.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"Replicas": [{"DeletionProtectionEnabled": True}]},
        },
    )


# --------------------------------------------------------------------------- functions


def test_one_function_per_spec(synth):
    functions = synth.api.find_resources("AWS::Lambda::Function")
    assert set(functions) == {_function_id(spec) for spec in ALL_SPECS.values()}
    assert len(functions) == len(FUNCTIONS) + 2  # the API's functions, webhook delivery, settlement
    assert DELIVERY.name not in FUNCTIONS and SETTLEMENT.name not in FUNCTIONS  # no route reaches them


@SPECS
def test_function_configuration(synth, spec):
    assert synth.api.get_resource_id("AWS::Lambda::Function", {"Properties": {"Handler": spec.handler}}) == (
        _function_id(spec)
    )
    environment = {
        "TABLE_NAME": {"Fn::ImportValue": Match.any_value()},  # the data stack's table
        "POWERTOOLS_SERVICE_NAME": spec.name,
        "POWERTOOLS_METRICS_NAMESPACE": "VoucherService",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "STAGE": "dev",
    }
    if spec.reads_provider_secret:
        environment["PROVIDER_SECRET_NAME"] = "voucher/dev/provider-credentials"
    if spec is DELIVERY:
        queues = _webhook_queues(synth.api)
        environment |= {
            "WEBHOOK_RETRY_QUEUE_URL": {"Ref": queues["retry"]},
            "WEBHOOK_DLQ_URL": {"Ref": queues["dlq"]},
            "WEBHOOK_ALLOW_PRIVATE": "false",  # AWS: receivers on private addresses are refused
            "WEBHOOK_RETRY_BASE_SECONDS": "5",
            "WEBHOOK_RETRY_MAX_AGE_SECONDS": "86400",
            "WEBHOOK_TIMEOUT_SECONDS": "5",
        }
    synth.api.has_resource(
        "AWS::Lambda::Function",
        {
            "Properties": _function_props(
                spec,
                Runtime="python3.13",
                Architectures=["arm64"],
                # API Gateway's sampling rule decides; the function passes the decision through
                TracingConfig=Match.exact({"Mode": "PassThrough"}),
                # Lambda's advanced logging controls: JSON, the stage's level (never above INFO:
                # EMF lines have no level and count as INFO), the platform's lines from WARN up
                LoggingConfig=Match.object_equals(
                    {
                        "LogFormat": "JSON",
                        "ApplicationLogLevel": "DEBUG",
                        "SystemLogLevel": "WARN",
                        "LogGroup": {"Ref": _function_log_group(synth.api, spec)},
                    }
                ),
                Timeout=spec.timeout_seconds,
                MemorySize=spec.memory_mb,
                Layers=[Match.any_value()],
                Environment={"Variables": Match.object_equals(environment)},
            ),
            # SAM CLI finds the code through the asset metadata.
            "Metadata": {"aws:asset:property": "Code", "aws:asset:path": Match.any_value()},
        },
    )

    # Explicit log group with the stage's retention.
    log_group = _function_log_group(synth.api, spec)
    assert log_group in synth.api.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 14}}
    )


def test_code_asset_holds_only_functions_and_shared(synth):
    path = Capture()
    synth.api.has_resource("AWS::Lambda::Function", {"Metadata": {"aws:asset:path": path}})
    asset = synth.outdir / path.as_string()
    top_level = {p.name for p in asset.iterdir()}
    assert top_level == {"functions", "shared"}
    files = [p.relative_to(asset).as_posix() for p in asset.rglob("*")]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    # exactly the two packages' modules: nothing left out, nothing else (the bundle excludes no module)
    root = Path(__file__).resolve().parents[2]
    sources = {
        p.relative_to(root).as_posix() for d in ("functions", "shared") for p in (root / d).rglob("*.py")
    }
    assert {f for f in files if f.endswith(".py")} == sources
    # One code asset shared by every function.
    synth.api.all_resources("AWS::Lambda::Function", {"Metadata": {"aws:asset:path": path.as_string()}})


def test_prod_stage_settings(synth_prod):
    synth_prod.api.all_resources_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": "INFO"}}}
    )
    # Function and access log groups: the stage's retention, kept when the stack goes.
    synth_prod.api.all_resources(
        "AWS::Logs::LogGroup",
        {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {"RetentionInDays": 90}},
    )


# --------------------------------------------------------------------------------- API


def _api_resource_id(template: Template, path: str) -> dict[str, Any]:
    """The ResourceId of the API Gateway resource for ``path``, following PathPart/ParentId."""
    api_id = template.get_resource_id("AWS::ApiGateway::RestApi")
    parent: dict[str, Any] = {"Fn::GetAtt": [api_id, "RootResourceId"]}
    for part in filter(None, path.split("/")):
        resource_id = template.get_resource_id(
            "AWS::ApiGateway::Resource", {"Properties": {"ParentId": parent, "PathPart": part}}
        )
        parent = {"Ref": resource_id}
    return parent


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_api_method_per_route(synth, route: Route):
    function_id = _function_id(FUNCTIONS[route.function])
    synth.api.resource_properties_count_is(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": route.method,
            "ResourceId": _api_resource_id(synth.api, route.path),
            "AuthorizationType": "NONE",
            "Integration": {
                "Type": "AWS_PROXY",
                "Uri": {"Fn::Join": ["", Match.array_with([{"Fn::GetAtt": [function_id, "Arn"]}])]},
            },
        },
        1,
    )


def test_api_has_no_other_methods(synth):
    synth.api.resource_count_is("AWS::ApiGateway::Method", len(ROUTES))


def test_api_stage_settings(synth):
    synth.api.resource_count_is("AWS::ApiGateway::RestApi", 1)
    synth.api.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": "voucher-api-dev"})
    synth.api.resource_count_is("AWS::ApiGateway::Account", 1)  # account-level CloudWatch role

    # The access log group is the one log group no function logs to, apart from the
    # execution log group (test_every_log_group_the_stack_causes_expires).
    function_log_groups = {_function_log_group(synth.api, spec) for spec in ALL_SPECS.values()}
    execution = synth.api.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"LogGroupName": Match.any_value()}}
    )
    (access_log_group,) = (
        set(synth.api.find_resources("AWS::Logs::LogGroup")) - function_log_groups - set(execution)
    )

    synth.api.resource_count_is("AWS::ApiGateway::Stage", 1)
    synth.api.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "MethodSettings": [
                {
                    "LoggingLevel": "ERROR",  # execution logs: errors only
                    "MetricsEnabled": False,  # per-method series: the alarms read the API's
                    "DataTraceEnabled": False,
                    "ThrottlingRateLimit": 50,
                    "ThrottlingBurstLimit": 100,
                }
            ],
            "AccessLogSetting": {
                "Format": Match.serialized_json(
                    Match.object_equals({field: Match.any_value() for field in ACCESS_LOG_FIELDS})
                ),
                # The group's ARN without the trailing ":*" of its Arn attribute, as API Gateway
                # stores it (@aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard).
                "DestinationArn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":logs:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            ":log-group:",
                            {"Ref": access_log_group},
                        ],
                    ]
                },
            },
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_log_group_the_stack_causes_expires(synth, synth_prod, stage):
    """Every group has the stage's retention, API Gateway's execution log group included: named
    as API Gateway names it and created before the stage, so API Gateway never creates its own
    (which would never expire)."""
    chosen = synth if stage == "dev" else synth_prod
    days = 14 if stage == "dev" else 90
    groups = chosen.api.find_resources("AWS::Logs::LogGroup")
    assert groups and all(g["Properties"]["RetentionInDays"] == days for g in groups.values())
    for template in chosen.templates.values():  # nothing else makes a group (a LogRetention, a bare name)
        assert not template.find_resources("Custom::LogRetention")
    api_id = chosen.api.get_resource_id("AWS::ApiGateway::RestApi")
    (execution,) = [
        name
        for name, group in groups.items()
        if group["Properties"].get("LogGroupName")
        == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{stage}"]]}
    ]
    (stage_resource,) = chosen.api.find_resources("AWS::ApiGateway::Stage").values()
    assert execution in stage_resource["DependsOn"]


def test_a_sampling_rule_decides_which_requests_are_traced(synth):
    from infra.stacks import observability

    synth.api.resource_count_is("AWS::XRay::SamplingRule", 1)
    synth.api.has_resource_properties(
        "AWS::XRay::SamplingRule",
        {
            "SamplingRule": {
                "RuleName": "voucher-api-dev",
                "ServiceName": "voucher-api-dev/dev",  # API Gateway's name for the stage's segments
                "ServiceType": "AWS::ApiGateway::Stage",
                "FixedRate": observability.XRAY_FIXED_RATE,
                "ReservoirSize": observability.XRAY_RESERVOIR_PER_SECOND,
                "Priority": Match.any_value(),
                "Version": 1,
            }
        },
    )
    assert 0 < observability.XRAY_FIXED_RATE <= 0.05  # never above the default rule's rate
    synth.api.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": True})


def test_the_bench_prices_the_alarms_the_stack_has(synth, synth_prod):
    """tests/bench/bill.py counts the metrics the alarms read from infra/functions.py: the same
    count as the templates' (a math alarm reads each of its metrics)."""
    from tests.bench import bill

    for chosen in (synth, synth_prod):
        alarms = chosen.api.find_resources("AWS::CloudWatch::Alarm").values()
        metrics = sum(
            len([q for q in a["Properties"]["Metrics"] if "MetricStat" in q])
            if "Metrics" in a["Properties"]
            else 1
            for a in alarms
        )
        assert metrics == bill.alarm_metrics()


def test_waf_only_where_enabled(synth, synth_prod):
    synth.api.resource_count_is("AWS::WAFv2::WebACL", 0)
    synth.api.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)

    prod = synth_prod.api
    prod.resource_count_is("AWS::WAFv2::WebACL", 1)
    for statement in (
        {
            "ManagedRuleGroupStatement": Match.exact(
                {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}
            )
        },
        {"RateBasedStatement": Match.any_value()},
    ):
        prod.has_resource_properties(
            "AWS::WAFv2::WebACL", {"Rules": Match.array_with([Match.object_like({"Statement": statement})])}
        )

    acl_id = prod.get_resource_id("AWS::WAFv2::WebACL")
    stage_id = prod.get_resource_id("AWS::ApiGateway::Stage")
    prod.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
    prod.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {
            "ResourceArn": {"Fn::Join": ["", Match.array_with([{"Ref": stage_id}])]},
            "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]},
        },
    )


# --------------------------------------------------------------------------------- IAM


@SPECS
def test_function_role_has_exactly_its_grants(synth, spec):
    """Logs to its own group, X-Ray, spec.dynamodb_actions on the table (+ indexes), the secret."""
    role_id = _function_role(synth.api, spec)
    # No AWSLambdaBasicExecutionRole or other managed policy, no inline policies.
    assert role_id in synth.api.find_resources(
        "AWS::IAM::Role", {"Properties": {"ManagedPolicyArns": Match.absent(), "Policies": Match.absent()}}
    )

    table_arn = _table_arn(synth)
    index_arns = [{"Fn::Join": ["", [table_arn, f"/index/{index.name}"]]} for index in TABLE.global_indexes]
    log_group_arn = {"Fn::GetAtt": [_function_log_group(synth.api, spec), "Arn"]}
    expected: set[Grant] = {
        (action, canonical(log_group_arn)) for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    }
    expected |= XRAY_GRANTS
    expected |= {(action, canonical(table_arn)) for action in spec.dynamodb_actions}
    expected |= {(action, canonical(arn)) for action in spec.index_actions for arn in index_arns}
    if spec.reads_provider_secret:
        secret_id = synth.data.get_resource_id("AWS::SecretsManager::Secret")
        secret_arn = _imported(synth.data, {"Ref": secret_id})
        expected.add(("secretsmanager:GetSecretValue", canonical(secret_arn)))
    if spec is DELIVERY:
        expected |= _delivery_grants(synth)

    assert _role_grants(synth.api, role_id) == expected


def test_only_secret_readers_read_the_secret(synth):
    readers: dict[str, set[str]] = {}
    for spec in ALL_SPECS.values():
        secrets = {
            resource
            for action, resource in _role_grants(synth.api, _function_role(synth.api, spec))
            if action.startswith("secretsmanager:")
        }
        if secrets:
            readers[_function_id(spec)] = secrets
    secret_id = synth.data.get_resource_id("AWS::SecretsManager::Secret")
    provider_secret = _imported(synth.data, {"Ref": secret_id})
    assert readers == {
        "ActivateVoucherFunction": {canonical(provider_secret)},  # spec.reads_provider_secret
        "SettleCodesFunction": {canonical(provider_secret)},  # lists and voids provider codes
        "DeliverWebhooksFunction": {canonical(_webhook_secret_arn("dev"))},  # subscribers' secrets
    }
    assert [s.name for s in ALL_SPECS.values() if s.reads_provider_secret] == [
        "activate_voucher",
        "settle_codes",
    ]
    # No other role in the stack (API Gateway's CloudWatch role included) touches Secrets Manager.
    secret_grants = [
        grant for grant in grants(_policy_statements(synth.api)) if grant[0].startswith("secretsmanager:")
    ]
    assert {action for action, _ in secret_grants} == {"secretsmanager:GetSecretValue"}


def test_no_wildcard_actions_and_star_resources_only_for_xray(synth, synth_prod):
    checked = 0
    for template in [*synth.templates.values(), *synth_prod.templates.values()]:
        statements = _policy_statements(template)
        for role in template.find_resources("AWS::IAM::Role").values():
            for inline in role["Properties"].get("Policies", []):
                document = inline["PolicyDocument"]["Statement"]
                statements += document if isinstance(document, list) else [document]
        for action, resource in grants(statements):
            checked += 1
            assert "*" not in action, action
            if resource == '"*"':
                assert action.startswith("xray:"), action
    assert checked


def test_provider_secret_created_in_data_stack(synth):
    synth.data.resource_count_is("AWS::SecretsManager::Secret", 1)
    synth.data.has_resource_properties(
        "AWS::SecretsManager::Secret", {"Name": "voucher/dev/provider-credentials"}
    )


def test_imported_provider_secret(synth_prod):
    """stages.<stage>.provider_secret_name set: no secret is created, the name reaches the function."""
    assert synth_prod.synth_error is None
    synth_prod.data.resource_count_is("AWS::SecretsManager::Secret", 0)
    (spec,) = [s for s in FUNCTIONS.values() if s.reads_provider_secret]
    synth_prod.api.has_resource_properties(
        "AWS::Lambda::Function",
        _function_props(spec, Environment={"Variables": {"PROVIDER_SECRET_NAME": IMPORTED_SECRET_NAME}}),
    )
    # GetSecretValue on "arn:...:secret:<name>-??????" (Secrets Manager's random suffix).
    secret_arn = {"Fn::Join": ["", Match.array_with([Match.string_like_regexp(_secret_arn_suffix())])]}
    read_secret = Match.object_like({"Action": "secretsmanager:GetSecretValue", "Resource": secret_arn})
    synth_prod.api.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": _function_role(synth_prod.api, spec)}],
            "PolicyDocument": {"Statement": Match.array_with([read_secret])},
        },
    )


def _secret_arn_suffix() -> str:
    return re.escape(f":secret:{IMPORTED_SECRET_NAME}-??????") + "$"


# -------------------------------------------------------------------------- operations


def _alarm(template: Template, count: int, **props: Any) -> None:
    template.resource_properties_count_is("AWS::CloudWatch::Alarm", props, count)


def test_alarms_and_dashboard(synth):
    api = synth.api
    for spec in ALL_SPECS.values():
        for metric in ("Errors", "Throttles"):
            _alarm(
                api,
                1,
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": {"Ref": _function_id(spec)}}],
            )
    _alarm(api, len(ALL_SPECS), Namespace="AWS/Lambda", MetricName="Errors")
    _alarm(api, len(ALL_SPECS), Namespace="AWS/Lambda", MetricName="Throttles")
    _alarm(api, 1, Namespace="AWS/ApiGateway", MetricName="5XXError")
    _alarm(api, 1, Namespace="AWS/ApiGateway", MetricName="Latency", ExtendedStatistic="p99")

    readers = [spec for spec in FUNCTIONS.values() if spec.reads_provider_secret]
    _alarm(api, len(readers), MetricName="ProviderFailures")
    for spec in readers:
        _alarm(
            api,
            1,
            Namespace="VoucherService",
            MetricName="ProviderFailures",
            Dimensions=Match.exact([{"Name": "service", "Value": spec.name}]),
        )

    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        _alarm(
            api,
            1,
            Metrics=Match.array_with([Match.object_like({"MetricStat": {"Metric": {"MetricName": metric}}})]),
        )
    api.resource_count_is("AWS::CloudWatch::Dashboard", 1)

    # The handlers' own 5XX count, per API function (Lambda's Errors never sees an answered 500)
    _alarm(api, len(FUNCTIONS), Namespace="VoucherService", MetricName="ServerErrors")
    for spec in FUNCTIONS.values():
        _alarm(
            api,
            1,
            MetricName="ServerErrors",
            Dimensions=Match.exact([{"Name": "service", "Value": spec.name}]),
        )
    # No code can be unrecorded (the claim writes its reference first): one alarm on how often
    # an activation ends with the provider's outcome unknown
    _alarm(api, len(readers), MetricName="ProviderCodesUnsettled", Threshold=5)
    _alarm(api, 0, MetricName="ProviderCodesUnrecorded")


def _alarms(synth: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (stack, logical_id, resource["Properties"])
        for stack, template in synth.templates.items()
        for logical_id, resource in template.to_json()["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_alarm_reaches_someone(synth: Any, synth_prod: Any, stage: str) -> None:
    """An alarm without an action pages nobody: every alarm of every stack notifies the
    stage's alarm topic when it fires and when it recovers."""
    current = synth if stage == "dev" else synth_prod
    alarms = _alarms(current)
    assert len(alarms) >= 30
    topics = current.api.find_resources("AWS::SNS::Topic")
    assert len(topics) == 1
    [topic_id] = topics
    for stack, logical_id, properties in alarms:
        for key in ("AlarmActions", "OKActions"):
            assert properties.get(key) == [{"Ref": topic_id}], (stack, logical_id, key)


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(synth: Any) -> None:
    api = synth.api
    [topic] = api.find_resources("AWS::SNS::Topic").values()
    key_ref = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = api.find_resources("AWS::KMS::Key")[key_ref]
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and "kms:GenerateDataKey*" in st["Action"]
        for st in statements
    )
    api.has_output("AlarmTopicArn", {})


def test_a_retained_stage_without_a_subscriber_warns_at_synth(synth: Any, synth_prod: Any) -> None:
    def warned(current: Any) -> bool:
        return any("alarm topic has no subscriber" in str(m) for m in current.messages)

    assert warned(synth_prod) and not warned(synth)


# ---------------------------------------------------------------------------- webhooks


def _stream_mapping(template: Template) -> dict[str, Any]:
    (mapping,) = template.find_resources(
        "AWS::Lambda::EventSourceMapping", {"Properties": {"StartingPosition": Match.any_value()}}
    ).values()
    properties: dict[str, Any] = mapping["Properties"]
    return properties


def test_stream_event_source(synth):
    """The delivery reads the table's stream: bisect, bounded retries and age, failures parked."""
    queues = _webhook_queues(synth.api)
    synth.api.resource_count_is("AWS::Lambda::EventSourceMapping", 2)  # the stream, the retry queue
    synth.api.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": _function_id(DELIVERY)},
            "EventSourceArn": _stream_arn(synth),
            "StartingPosition": "LATEST",
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 1,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 10,
            "MaximumRecordAgeInSeconds": 24 * 3600,
            "ParallelizationFactor": 1,
            # the handler answers {"batchItemFailures": []} (it never fails single records)
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": Match.exact({"OnFailure": {"Destination": _queue_arn(queues["failures"])}}),
            "FilterCriteria": {"Filters": [Match.any_value(), Match.any_value()]},
        },
    )


def _matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering, for the pattern forms the stream filters use: nested objects,
    and lists of exact strings or {"prefix": ...}; a field the record lacks does not match."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and _matches(rule, value[key]) for key, rule in pattern.items()
        )
    assert isinstance(pattern, list), pattern
    for rule in pattern:
        if isinstance(rule, dict):
            assert set(rule) == {"prefix"}, rule
            if isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
        elif rule == value:
            return True
    return False


def _record(event_name: str, key: dict[str, str]) -> dict[str, Any]:
    return {
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {name: {"S": value} for name, value in key.items()}},
    }


def test_stream_filters_pass_only_audit_events_and_voucher_images(synth):
    filters = [json.loads(f["Pattern"]) for f in _stream_mapping(synth.api)["FilterCriteria"]["Filters"]]
    assert filters == [
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {TABLE.sort_key: {"S": [{"prefix": "EVENT#"}]}}}},
        {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {TABLE.sort_key: {"S": ["VOUCHER"]}}}},
    ]
    # The keys the store really writes (shared/store/keys.py), through the deployed patterns.
    event = Keys.event("SERIAL1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "e1")
    voucher = Keys.voucher("SERIAL1")
    cases = {
        ("INSERT", "event"): (event, True),
        ("MODIFY", "event"): (event, False),  # audit events are written once
        ("REMOVE", "event"): (event, False),
        ("INSERT", "voucher"): (voucher, True),
        ("MODIFY", "voucher"): (voucher, True),  # the image a transition left
        ("REMOVE", "voucher"): (voucher, False),
        ("INSERT", "alias"): (Keys.voucher_alias("voucher_id", 7), False),
        ("INSERT", "subscriber"): (Keys.subscriber(1, "crm"), False),
        ("INSERT", "session"): (Keys.session("ab" * 32), False),
        ("MODIFY", "definition"): (Keys.definition("D1"), False),
    }
    assert event[SK].startswith("EVENT#") and voucher[SK] == "VOUCHER"
    for (event_name, what), (key, delivered) in cases.items():
        record = _record(event_name, key)
        assert any(_matches(f, record) for f in filters) is delivered, (event_name, what, key)


def test_retry_queue_event_source(synth):
    queues = _webhook_queues(synth.api)
    synth.api.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": _function_id(DELIVERY)},
            "EventSourceArn": _queue_arn(queues["retry"]),
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],  # one message fails alone
            "StartingPosition": Match.absent(),
        },
    )


def test_webhook_queues_encrypted_and_tls_only(synth, synth_prod):
    for result, deletion in ((synth, "Delete"), (synth_prod, "Retain")):
        template = result.api
        queues = _webhook_queues(template)
        # SQS-managed SSE (no CMK: no KMS grants), kept like the logs are (retained in prod).
        template.all_resources(
            "AWS::SQS::Queue",
            {
                "DeletionPolicy": deletion,
                "Properties": {"SqsManagedSseEnabled": True, "KmsMasterKeyId": Match.absent()},
            },
        )
        template.resource_count_is("AWS::SQS::QueuePolicy", 3)
        for queue_id in queues.values():
            tls_only = {
                "Action": "sqs:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Resource": _queue_arn(queue_id),
            }
            template.has_resource_properties(
                "AWS::SQS::QueuePolicy",
                {
                    "Queues": [{"Ref": queue_id}],
                    "PolicyDocument": {"Statement": Match.array_with([Match.exact(tls_only)])},
                },
            )

        fourteen_days = 14 * 24 * 3600
        for name in ("dlq", "failures"):
            assert queues[name] in template.find_resources(
                "AWS::SQS::Queue", {"Properties": {"MessageRetentionPeriod": fourteen_days}}
            ), name
        # The retry queue: visibility >= 6x the function's timeout (AWS's advice for an SQS
        # event source), and a message that keeps failing is redriven to the DLQ.
        (retry,) = template.find_resources(
            "AWS::SQS::Queue",
            {"Properties": {"RedrivePolicy": {"deadLetterTargetArn": _queue_arn(queues["dlq"])}}},
        ).values()
        assert retry["Properties"]["VisibilityTimeout"] >= 6 * DELIVERY.timeout_seconds
        assert 1 < retry["Properties"]["RedrivePolicy"]["maxReceiveCount"] <= 10
        assert "DelaySeconds" not in retry["Properties"]  # each retry sets its own (<= 900)


WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
}


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
def test_delivery_role_is_least_privilege(request, fixture):
    """Reads only (it never writes the table), this stage's webhook secrets only, and sends
    only to its own queues."""
    result = request.getfixturevalue(fixture)
    template = result.api
    held = _role_grants(template, _function_role(template, DELIVERY))
    actions = {action for action, _ in held}
    assert not actions & WRITE_ACTIONS
    assert {a for a in actions if a.startswith("dynamodb:")} == {
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert set(DELIVERY.dynamodb_actions) == {"dynamodb:BatchGetItem", "dynamodb:Query"}
    assert not DELIVERY.index_actions and not DELIVERY.reads_provider_secret

    secret_grants = {(a, r) for a, r in held if a.startswith("secretsmanager:")}
    assert secret_grants == {("secretsmanager:GetSecretValue", canonical(_webhook_secret_arn(result.stage)))}
    # Names the importer accepts for this stage's subscribers lie under the granted prefix.
    assert SECRET_NAME.match(f"voucher/{result.stage}/webhooks/crm-1")
    assert not SECRET_NAME.match(f"voucher/{result.stage}/provider-credentials")

    queues = _webhook_queues(template)
    senders = {resource for action, resource in held if action == "sqs:SendMessage"}
    assert senders == {canonical(_queue_arn(queues[name])) for name in ("retry", "dlq", "failures")}
    readers = {resource for action, resource in held if action == "sqs:ReceiveMessage"}
    assert readers == {canonical(_queue_arn(queues["retry"]))}
    assert {action for action, resource in held if resource == '"*"'} == {a for a, _ in XRAY_GRANTS}


def test_webhook_alarms(synth):
    api = synth.api
    queues = _webhook_queues(api)

    def queue_alarm(queue: str, metric: str, threshold: int) -> None:
        _alarm(
            api,
            1,
            Namespace="AWS/SQS",
            MetricName=metric,
            Dimensions=[{"Name": "QueueName", "Value": {"Fn::GetAtt": [queues[queue], "QueueName"]}}],
            Statistic="Maximum",
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
        )

    queue_alarm("dlq", "ApproximateNumberOfMessagesVisible", 0)  # any dead letter
    queue_alarm("failures", "ApproximateNumberOfMessagesVisible", 0)  # any parked stream batch
    queue_alarm("retry", "ApproximateAgeOfOldestMessage", 3600)  # retries not drained for 1 h
    _alarm(
        api,
        1,
        Namespace="AWS/Lambda",
        MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": {"Ref": _function_id(DELIVERY)}}],
        Statistic="Maximum",
        Threshold=5 * 60 * 1000,  # milliseconds: 5 minutes behind the stream
        ComparisonOperator="GreaterThanThreshold",
    )
    _alarm(api, 3, Namespace="AWS/SQS")
    _alarm(api, 1, MetricName="IteratorAge")
    for name in ("WebhookDeadLetters", "WebhookStreamFailures", "WebhookIteratorAge", "WebhookRetryAge"):
        _alarm(api, 1, AlarmName=f"voucher-dev-{name}", TreatMissingData="notBreaching")

    body = json.dumps(api.find_resources("AWS::CloudWatch::Dashboard"))
    for title in ("Webhook dead letters", "Webhook delivery iterator age", "Oldest webhook retry"):
        assert title in body, title


def test_webhook_queue_outputs(synth):
    queues = _webhook_queues(synth.api)
    synth.api.has_output("WebhookRetryQueueUrl", {"Value": {"Ref": queues["retry"]}})
    synth.api.has_output("WebhookDeadLetterQueueUrl", {"Value": {"Ref": queues["dlq"]}})
    synth.api.has_output("WebhookStreamFailureQueueUrl", {"Value": {"Ref": queues["failures"]}})


def test_a_schedule_settles_provider_codes(synth):
    """The settlement function runs every few minutes (EventBridge), nothing else invokes it."""
    synth.api.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": f"rate({SETTLE_EVERY_MINUTES} minutes)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [_function_id(SETTLEMENT), "Arn"]},
                        "RetryPolicy": Match.any_value(),
                    }
                )
            ],
        },
    )
    synth.api.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "FunctionName": {"Fn::GetAtt": [_function_id(SETTLEMENT), "Arn"]},
            "Principal": "events.amazonaws.com",
        },
    )
