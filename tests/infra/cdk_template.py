"""Synthesis and template helpers for the infra tests (imported by conftest and the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}
IMPORTED_SECRET_NAME = "ops/kesseltronics"  # the prod fixture imports the secret by this name


@dataclass
class Synth:
    stage: str
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack name -> template
    validation_report: dict[str, Any] | None
    messages: list[dict[str, Any]] = field(default_factory=list)  # assembly annotations
    synth_error: str | None = None  # set when app.synth() raised (e.g. cdk-nag violations)

    @property
    def data(self) -> dict[str, Any]:
        return self.templates[f"VoucherData-{self.stage}"]

    @property
    def api(self) -> dict[str, Any]:
        return self.templates[f"VoucherApi-{self.stage}"]

    def template_path(self, stack_name: str) -> Path:
        return self.outdir / f"{stack_name}.template.json"


def synthesize(outdir: Path, **extra_context: Any) -> Synth:
    from infra.stacks.app_builder import build_app

    app = build_app({**SKIP_BUNDLING, **extra_context}, str(outdir))
    stage = app.node.try_get_context("stage")
    synth_error = None
    messages: list[dict[str, Any]] = []
    try:
        assembly = app.synth()
    except RuntimeError as error:  # cdk-nag violations fail synth; templates are written first
        synth_error = str(error)
    else:
        for stack in assembly.stacks:
            for message in stack.messages:
                messages.append(
                    {
                        "stack": stack.stack_name,
                        "level": str(message.level),
                        "id": message.id,
                        "data": message.entry.data,
                    }
                )
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Synth(stage, outdir, templates, report, messages, synth_error)


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template.get("Resources", {}).items() if r["Type"] == type_}


def find_getatt_refs(value: Any) -> set[str]:
    """Logical IDs referenced by Fn::GetAtt anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            else:
                found |= find_getatt_refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= find_getatt_refs(inner)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements_for_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of IAM::Policy resources attached to the role, plus its inline policies."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    role = template["Resources"][role_id]
    for inline in role["Properties"].get("Policies", []):
        statements += as_list(inline["PolicyDocument"]["Statement"])
    return statements
