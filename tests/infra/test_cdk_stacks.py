"""The synthesized templates match the single sources of truth (shared/routes.py, table_schema.py)."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_template import (
    IMPORTED_SECRET_NAME,
    as_list,
    find_getatt_refs,
    policy_statements_for_role,
    resources,
)

from shared.routes import FUNCTIONS, ROUTES
from shared.table_schema import TABLE

pytestmark = pytest.mark.cdk

INDEX_ACTIONS = {"dynamodb:Query", "dynamodb:Scan"}


def _table(template: dict[str, Any]) -> dict[str, Any]:
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable").values()
    return table


def _function(template: dict[str, Any], construct_id: str) -> dict[str, Any]:
    return template["Resources"][f"{construct_id}Function"]


# ------------------------------------------------------------------------------ stacks


def test_two_stacks_per_stage(synth):
    assert set(synth.templates) == {"VoucherData-dev", "VoucherApi-dev"}
    assert "TableName" in synth.data["Outputs"]
    assert "ApiUrl" in synth.api["Outputs"]


def test_api_stack_has_no_stateful_resources(synth):
    stateful = {"AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"}
    assert not {r["Type"] for r in synth.api["Resources"].values()} & stateful


# ------------------------------------------------------------------------------- table


def test_table_matches_table_schema(synth):
    props = _table(synth.data)["Properties"]
    expected = TABLE.create_table_kwargs("ignored")

    assert props["BillingMode"] == expected["BillingMode"]
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    gsis = [
        {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")}
        for gsi in props["GlobalSecondaryIndexes"]
    ]
    assert gsis == expected["GlobalSecondaryIndexes"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_dev_table_is_destroyed_prod_table_is_retained(synth, synth_prod):
    dev = _table(synth.data)
    assert dev["DeletionPolicy"] == "Delete"
    assert not dev["Properties"]["Replicas"][0].get("DeletionProtectionEnabled", False)

    prod = _table(synth_prod.data)
    assert prod["DeletionPolicy"] == "Retain"
    assert prod["UpdateReplacePolicy"] == "Retain"
    assert prod["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is True


# --------------------------------------------------------------------------- functions


def test_one_function_per_spec(synth):
    functions = resources(synth.api, "AWS::Lambda::Function")
    assert set(functions) == {f"{spec.construct_id}Function" for spec in FUNCTIONS.values()}


@pytest.mark.parametrize("spec", FUNCTIONS.values(), ids=FUNCTIONS.keys())
def test_function_configuration(synth, spec):
    function = _function(synth.api, spec.construct_id)
    props = function["Properties"]
    assert props["Handler"] == spec.handler
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Timeout"] == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    assert len(props["Layers"]) == 1

    env = props["Environment"]["Variables"]
    expected_keys = {
        "TABLE_NAME",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "STAGE",
    } | ({"PROVIDER_SECRET_NAME"} if spec.reads_provider_secret else set())
    assert set(env) == expected_keys
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "VoucherService"
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert env["STAGE"] == "dev"
    assert "Fn::ImportValue" in env["TABLE_NAME"]  # the data stack's table
    if spec.reads_provider_secret:
        assert env["PROVIDER_SECRET_NAME"] == "voucher/dev/provider-credentials"

    # Explicit log group with the stage's retention.
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = synth.api["Resources"][log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 14

    # SAM CLI finds the code through the asset metadata.
    assert function["Metadata"]["aws:asset:property"] == "Code"
    assert function["Metadata"]["aws:asset:path"]


def test_code_asset_holds_only_functions_and_shared(synth):
    (function, *_) = resources(synth.api, "AWS::Lambda::Function").values()
    asset = synth.outdir / function["Metadata"]["aws:asset:path"]
    top_level = {p.name for p in asset.iterdir()}
    assert top_level == {"functions", "shared"}
    files = [p.relative_to(asset).as_posix() for p in asset.rglob("*")]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert not [f for f in files if f.startswith("shared/importer")]
    assert "shared/routes.py" in files


def test_prod_stage_settings(synth_prod):
    (function, *_) = resources(synth_prod.api, "AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"
    retention = {
        lg["Properties"]["RetentionInDays"]
        for lg in resources(synth_prod.api, "AWS::Logs::LogGroup").values()
    }
    assert retention == {90}


# --------------------------------------------------------------------------------- API


def _api_routes(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(method, full path, function logical id) rebuilt from Resource PathPart/ParentId chains."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def full_path(ref: Any) -> str:
        if "Fn::GetAtt" in ref:  # the RestApi's RootResourceId
            return ""
        resource = api_resources[ref["Ref"]]["Properties"]
        return f"{full_path(resource['ParentId'])}/{resource['PathPart']}"

    routes = set()
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        (function_id,) = find_getatt_refs(props["Integration"]["Uri"])
        path = full_path(props["ResourceId"]) or "/"
        routes.add((props["HttpMethod"], path, function_id))
        assert props["AuthorizationType"] == "NONE"
        assert props["Integration"]["Type"] == "AWS_PROXY"
    return routes


def test_api_methods_equal_routes(synth):
    expected = {
        (route.method, route.path, f"{FUNCTIONS[route.function].construct_id}Function") for route in ROUTES
    }
    assert _api_routes(synth.api) == expected
    assert len(resources(synth.api, "AWS::ApiGateway::Method")) == len(ROUTES)


def test_api_stage_settings(synth):
    (api,) = resources(synth.api, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == "voucher-api-dev"
    assert resources(synth.api, "AWS::ApiGateway::Account")  # account-level CloudWatch role

    (stage,) = resources(synth.api, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "dev"
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["LoggingLevel"] == "INFO"
    assert settings["MetricsEnabled"] is True
    assert settings["ThrottlingRateLimit"] == 50
    assert settings["ThrottlingBurstLimit"] == 100
    access_format = props["AccessLogSetting"]["Format"]
    for field in (
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
    ):
        assert f'"{field}"' in access_format
    assert find_getatt_refs(props["AccessLogSetting"]["DestinationArn"])


def test_waf_only_where_enabled(synth, synth_prod):
    assert not resources(synth.api, "AWS::WAFv2::WebACL")
    (acl,) = resources(synth_prod.api, "AWS::WAFv2::WebACL").values()
    statements = [rule["Statement"] for rule in acl["Properties"]["Rules"]]
    assert {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"} in [
        s.get("ManagedRuleGroupStatement") for s in statements
    ]
    assert any("RateBasedStatement" in s for s in statements)
    (association,) = resources(synth_prod.api, "AWS::WAFv2::WebACLAssociation").values()
    (stage_id,) = resources(synth_prod.api, "AWS::ApiGateway::Stage")
    assert stage_id in str(association["Properties"]["ResourceArn"])


# --------------------------------------------------------------------------------- IAM


@pytest.mark.parametrize("spec", FUNCTIONS.values(), ids=FUNCTIONS.keys())
def test_function_role_has_exactly_its_dynamodb_actions(synth, spec):
    function = _function(synth.api, spec.construct_id)
    (role_id,) = find_getatt_refs(function["Properties"]["Role"])
    role = synth.api["Resources"][role_id]
    assert "ManagedPolicyArns" not in role["Properties"]  # no AWSLambdaBasicExecutionRole

    statements = policy_statements_for_role(synth.api, role_id)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    on_index = [s for s in dynamodb if any("/index/" in str(r) for r in as_list(s["Resource"]))]
    on_table = [s for s in dynamodb if s not in on_index]
    assert sorted(a for s in on_table for a in as_list(s["Action"])) == sorted(spec.dynamodb_actions)
    assert sorted(a for s in on_index for a in as_list(s["Action"])) == sorted(spec.index_actions)
    for statement in dynamodb:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            assert resource != "*"
            if "/index/" in str(resource):
                assert set(as_list(statement["Action"])) <= INDEX_ACTIONS

    secret_actions = sorted(
        a for s in statements for a in as_list(s["Action"]) if a.startswith("secretsmanager:")
    )
    assert secret_actions == (["secretsmanager:GetSecretValue"] if spec.reads_provider_secret else [])

    # Logs only to its own log group.
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_statements = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert log_statements
    for statement in log_statements:
        assert find_getatt_refs(statement["Resource"]) == {log_group_id}


def test_only_the_provider_function_reads_the_secret(synth):
    readers = set()
    for role_id in resources(synth.api, "AWS::IAM::Role"):
        for statement in policy_statements_for_role(synth.api, role_id):
            if any(a.startswith("secretsmanager:") for a in as_list(statement["Action"])):
                readers.add(role_id)
                assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
                assert "Ref" in str(statement["Resource"]) or "ImportValue" in str(statement["Resource"])
    functions_reading = {
        lid
        for lid, fn in resources(synth.api, "AWS::Lambda::Function").items()
        if find_getatt_refs(fn["Properties"]["Role"]) & readers
    }
    expected = {f"{s.construct_id}Function" for s in FUNCTIONS.values() if s.reads_provider_secret}
    assert functions_reading == expected == {"ActivateVoucherFunction"}


def test_no_wildcard_actions_and_star_resources_only_for_xray(synth, synth_prod):
    checked = 0
    for template in [*synth.templates.values(), *synth_prod.templates.values()]:
        for role_id in resources(template, "AWS::IAM::Role"):
            for statement in policy_statements_for_role(template, role_id):
                checked += 1
                actions = as_list(statement["Action"])
                assert not [a for a in actions if "*" in a], statement
                if "*" in as_list(statement.get("Resource", [])):
                    assert {a.split(":")[0] for a in actions} == {"xray"}, statement
    assert checked


def test_provider_secret_created_in_data_stack(synth):
    (secret,) = resources(synth.data, "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["Name"] == "voucher/dev/provider-credentials"


def test_imported_provider_secret(synth_prod):
    """stages.<stage>.provider_secret_name set: no secret is created, the name reaches the function."""
    assert synth_prod.synth_error is None
    assert not resources(synth_prod.data, "AWS::SecretsManager::Secret")
    function = _function(synth_prod.api, "ActivateVoucher")
    env = function["Properties"]["Environment"]["Variables"]
    assert env["PROVIDER_SECRET_NAME"] == IMPORTED_SECRET_NAME
    (role_id,) = find_getatt_refs(function["Properties"]["Role"])
    secret_resources = [
        s["Resource"]
        for s in policy_statements_for_role(synth_prod.api, role_id)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
    ]
    assert f"secret:{IMPORTED_SECRET_NAME}-??????" in str(secret_resources)


# -------------------------------------------------------------------------- operations


def test_alarms_and_dashboard(synth):
    alarms = resources(synth.api, "AWS::CloudWatch::Alarm")
    metrics = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms.values()}
    assert ("AWS/Lambda", "Errors") in metrics
    assert ("AWS/Lambda", "Throttles") in metrics
    assert ("AWS/ApiGateway", "5XXError") in metrics
    assert ("AWS/ApiGateway", "Latency") in metrics
    lambda_errors = [a for a in alarms.values() if a["Properties"].get("MetricName") == "Errors"]
    assert len(lambda_errors) == len(FUNCTIONS)
    latency = next(a for a in alarms.values() if a["Properties"].get("MetricName") == "Latency")
    assert latency["Properties"]["ExtendedStatistic"] == "p99"

    (provider,) = [a for a in alarms.values() if a["Properties"].get("MetricName") == "ProviderFailures"]
    assert provider["Properties"]["Namespace"] == "VoucherService"
    assert provider["Properties"]["Dimensions"] == [{"Name": "service", "Value": "activate_voucher"}]

    throttles = [a for a in alarms.values() if "Metrics" in a["Properties"]]
    metric_names = {
        m["MetricStat"]["Metric"]["MetricName"]
        for a in throttles
        for m in a["Properties"]["Metrics"]
        if "MetricStat" in m
    }
    assert {"ReadThrottleEvents", "WriteThrottleEvents"} <= metric_names
    assert len(resources(synth.api, "AWS::CloudWatch::Dashboard")) == 1
