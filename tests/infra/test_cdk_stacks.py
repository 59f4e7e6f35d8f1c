"""The synthesized templates match the single sources of truth (shared/routes.py, table_schema.py).

Every check goes through ``aws_cdk.assertions`` (``Template``, ``Match``, ``Capture``) and is
driven by ``FUNCTIONS``/``ROUTES``/``TABLE``: a function or route added there is covered here
without touching this file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template
from cdk_template import IMPORTED_SECRET_NAME, Grant, Synth, canonical, grants

from shared.routes import FUNCTIONS, ROUTES, FunctionSpec, Route
from shared.table_schema import TABLE

pytestmark = pytest.mark.cdk

SPECS = pytest.mark.parametrize("spec", FUNCTIONS.values(), ids=FUNCTIONS.keys())
# DynamoDB actions that may target the table's indexes ("<table arn>/index/*").
INDEX_ACTIONS = {"dynamodb:Query", "dynamodb:Scan"}
XRAY_GRANTS = {("xray:PutTelemetryRecords", '"*"'), ("xray:PutTraceSegments", '"*"')}
ACCESS_LOG_FIELDS = (
    "requestId",
    "ip",
    "caller",
    "user",
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
        },
    )
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
    assert set(functions) == {_function_id(spec) for spec in FUNCTIONS.values()}


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
    synth.api.has_resource(
        "AWS::Lambda::Function",
        {
            "Properties": _function_props(
                spec,
                Runtime="python3.13",
                Architectures=["arm64"],
                TracingConfig=Match.exact({"Mode": "Active"}),
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
    assert not [f for f in files if f.startswith("shared/importer")]
    assert "shared/routes.py" in files
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

    # The access log group is the one log group no function logs to.
    function_log_groups = {_function_log_group(synth.api, spec) for spec in FUNCTIONS.values()}
    (access_log_group,) = set(synth.api.find_resources("AWS::Logs::LogGroup")) - function_log_groups

    synth.api.resource_count_is("AWS::ApiGateway::Stage", 1)
    synth.api.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "MethodSettings": [
                {
                    "LoggingLevel": "INFO",
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                    "ThrottlingRateLimit": 50,
                    "ThrottlingBurstLimit": 100,
                }
            ],
            "AccessLogSetting": {
                "Format": Match.serialized_json(
                    Match.object_like({field: Match.any_value() for field in ACCESS_LOG_FIELDS})
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

    assert _role_grants(synth.api, role_id) == expected


def test_only_secret_readers_read_the_secret(synth):
    readers = set()
    for spec in FUNCTIONS.values():
        actions = {action for action, _ in _role_grants(synth.api, _function_role(synth.api, spec))}
        if any(action.startswith("secretsmanager:") for action in actions):
            readers.add(_function_id(spec))
    expected = {_function_id(spec) for spec in FUNCTIONS.values() if spec.reads_provider_secret}
    assert readers == expected == {"ActivateVoucherFunction"}
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
    for spec in FUNCTIONS.values():
        for metric in ("Errors", "Throttles"):
            _alarm(
                api,
                1,
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": {"Ref": _function_id(spec)}}],
            )
    _alarm(api, len(FUNCTIONS), Namespace="AWS/Lambda", MetricName="Errors")
    _alarm(api, len(FUNCTIONS), Namespace="AWS/Lambda", MetricName="Throttles")
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
