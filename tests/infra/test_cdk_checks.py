"""cdk-nag, cfn-lint, replay events and the pinned CDK CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from cdk_template import REPO_ROOT

from infra.functions import FUNCTIONS, ROUTES

pytestmark = pytest.mark.cdk

# Every acknowledged cdk-nag finding must be one of these (each with a reason in the code).
ALLOWED_ACKNOWLEDGMENTS = {
    "AwsSolutions-SMG4",
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-L1",
    "AwsSolutions-APIG2",
    "AwsSolutions-APIG3",
    "AwsSolutions-APIG4",
    "AwsSolutions-COG4",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]",
    # The webhook stream-failure queue is itself a dead-letter destination (the stream event
    # source's on-failure queue), which cdk-nag's SQS3 does not recognise.
    "AwsSolutions-SQS3",
}


def allowed_acknowledgments(stage: str) -> set[str]:
    """The fixed list, plus the one stage-specific finding: the delivery function's
    GetSecretValue on this stage's webhook secrets (``voucher/<stage>/webhooks/*``)."""
    webhook_secrets = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
        f"<AWS::AccountId>:secret:voucher/{stage}/webhooks/*]"
    )
    return ALLOWED_ACKNOWLEDGMENTS | {webhook_secrets}


CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"


# ------------------------------------------------------------------------------ cdk-nag


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
def test_cdk_nag_has_no_unsuppressed_findings(request, fixture):
    synth = request.getfixturevalue(fixture)
    report = synth.validation_report
    assert report is not None, "cdk-nag wrote no validation-report.json"
    violations = [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    assert violations == [], violations
    assert synth.synth_error is None, synth.synth_error
    assert [p["pluginName"] for p in report["pluginReports"]] == ["AwsSolutions"]
    errors = [m for m in synth.messages if "error" in m["level"].lower()]
    assert errors == []


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
def test_cdk_nag_acknowledgments_are_narrow_and_explained(request, fixture):
    synth = request.getfixturevalue(fixture)
    suppressed = [
        v
        for plugin in synth.validation_report["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
    ]
    assert suppressed  # the pack did run
    for violation in suppressed:
        assert violation["ruleName"] in allowed_acknowledgments(synth.stage), violation["ruleName"]
        assert len(violation["reason"]) > 40
        # Acknowledged on the very construct that carries the finding, never on a stack or app.
        (construct,) = violation["violatingConstructs"]
        assert violation["acknowledgedAt"] == construct["constructPath"]
    rules = {v["ruleName"] for v in suppressed}
    # Each webhook acknowledgment is on exactly one construct: the delivery role's policy and
    # the stream-failure queue.
    for rule, path in (
        (f"secret:voucher/{synth.stage}/webhooks/*]", f"VoucherApi-{synth.stage}/DeliverWebhooksRole/"),
        ("AwsSolutions-SQS3", f"VoucherApi-{synth.stage}/Webhooks/StreamFailureQueue/"),
    ):
        (found,) = [v for v in suppressed if v["ruleName"].endswith(rule)]
        assert found["acknowledgedAt"].startswith(path), found
    if fixture == "synth_prod":
        assert "AwsSolutions-APIG3" not in rules  # WAF is on in prod


# ------------------------------------------------------------------------------ cfn-lint


def test_cfn_lint_finds_nothing(synth, synth_prod):
    """No error and no warning, with no rule switched off: what `cfn-lint cdk.out/*.json`
    and `sam validate --lint` report by hand. The W3005 warnings CDK's constructs produce
    (an explicit DependsOn a GetAtt or Ref already enforces) are fixed at their source in
    infra/stacks/api_stack.py."""
    from cfnlint.api import ManualArgs, lint_file

    config = ManualArgs(regions=["us-east-1", "eu-west-1"])
    linted = []
    for result in (synth, synth_prod):
        for stack_name in result.templates:
            matches = lint_file(result.template_path(stack_name), config=config)
            assert [f"{m.rule.id} {m.message}" for m in matches] == [], stack_name
            linted.append(stack_name)
    assert len(linted) == 4


# ------------------------------------------------------------------------------ events


def test_replay_events_target_their_function(synth):
    """events/<function_name>/<case>.json are REST proxy events for a route of that function."""
    event_files = sorted(p for p in (REPO_ROOT / "events").glob("**/*.json") if p.name != "manifest.json")
    function_ids = set(synth.api.find_resources("AWS::Lambda::Function"))
    checked = []
    for path in event_files:
        function_name = path.relative_to(REPO_ROOT / "events").parts[0]
        assert function_name in FUNCTIONS, f"{path}: folder is not a function name"
        event = json.loads(path.read_text())
        route = (event.get("httpMethod"), event.get("resource"))
        served_by = {(r.method, r.path): r.function for r in ROUTES}
        assert route in served_by, f"{path}: {route} is not in ROUTES"
        assert served_by[route] == function_name, f"{path}: {route} is served by {served_by[route]}"
        assert f"{FUNCTIONS[function_name].construct_id}Function" in function_ids
        checked.append(path)
    assert checked == event_files
    assert {p.parent.name for p in checked} == set(FUNCTIONS)  # every function has sample events


# ------------------------------------------------------------------------------ CLI


@pytest.mark.skipif(not CDK_CLI.exists(), reason="node_modules absent: run `npm ci` (make test does)")
def test_pinned_cdk_cli_synthesizes_offline(tmp_path):
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    }
    # cdk.json runs `.venv/bin/python app.py`; make sure this interpreter's venv is the one used.
    assert shutil.which("node"), "node is required by the CDK CLI"

    version = subprocess.run(
        [str(CDK_CLI), "--version"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert version.stdout.strip().startswith("2."), version.stdout

    # The CLI refuses user context keys starting with "aws:": skip_bundling=true maps to
    # aws:cdk:bundling-stacks=[] inside build_app.
    outdir = tmp_path / "cdk.out"
    synth = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices", "-c", "skip_bundling=true", "-o", str(outdir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synth.returncode == 0, synth.stdout + synth.stderr
    # cdk.json sets every recommended flag: the CLI has none to report (test_cdk_feature_flags.py).
    assert "feature flags are not configured" not in synth.stdout + synth.stderr
    api_template = json.loads((outdir / "VoucherApi-dev.template.json").read_text())
    assert {f"{s.construct_id}Function" for s in FUNCTIONS.values()} <= set(api_template["Resources"])
    assert (outdir / "VoucherData-dev.template.json").exists()
    assert not list(outdir.glob("asset.*/python"))  # bundling (pip) did not run
