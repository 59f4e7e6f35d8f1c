"""Synthesis and template helpers for the infra tests (imported by conftest and the tests).

Templates are ``aws_cdk.assertions.Template`` objects. ``Template.from_stack`` reads the cloud
assembly the app already produced (``App.synth()`` caches it), so it adds no synth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}
IMPORTED_SECRET_NAME = "ops/kesseltronics"  # the prod fixture imports the secret by this name

Grant = tuple[str, str]  # (IAM action, resource as canonical JSON)


@dataclass
class Synth:
    stage: str
    outdir: Path
    templates: dict[str, Template]  # stack name -> template
    validation_report: dict[str, Any] | None
    messages: list[dict[str, Any]] = field(default_factory=list)  # assembly annotations
    synth_error: str | None = None  # set when app.synth() raised (e.g. cdk-nag violations)

    @property
    def data(self) -> Template:
        return self.templates[f"VoucherData-{self.stage}"]

    @property
    def api(self) -> Template:
        return self.templates[f"VoucherApi-{self.stage}"]

    def template_path(self, stack_name: str) -> Path:
        return self.outdir / f"{stack_name}.template.json"


def synthesize(outdir: Path, **extra_context: Any) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stacks.app_builder import build_app

    app = build_app({**SKIP_BUNDLING, **extra_context}, str(outdir))
    stage = app.node.try_get_context("stage")
    stacks = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    synth_error = None
    messages: list[dict[str, Any]] = []
    try:
        assembly = app.synth()
    except RuntimeError as error:  # cdk-nag violations fail synth; templates are written first
        synth_error = str(error)
        # No cached assembly to read back: build the templates from the files synth wrote.
        templates = {
            stack.stack_name: Template.from_json(json.loads((outdir / stack.template_file).read_text()))
            for stack in stacks
        }
    else:
        templates = {stack.stack_name: Template.from_stack(stack) for stack in stacks}
        for artifact in assembly.stacks:
            for message in artifact.messages:
                messages.append(
                    {
                        "stack": artifact.stack_name,
                        "level": str(message.level),
                        "id": message.id,
                        "data": message.entry.data,
                    }
                )
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Synth(stage, outdir, templates, report, messages, synth_error)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def canonical(value: Any) -> str:
    """A template value (string or intrinsic) as comparable text."""
    return json.dumps(value, sort_keys=True)


def grants(statements: list[dict[str, Any]]) -> set[Grant]:
    """The (action, resource) pairs a list of IAM statements allows.

    Comparing these sets is independent of how CDK groups or orders statements (minimizePolicies
    merges statements that share actions or resources). Only plain Allow statements are expected.
    """
    allowed: set[Grant] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        assert not {"NotAction", "NotResource", "Condition", "Principal"} & set(statement), statement
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                allowed.add((action, canonical(resource)))
    return allowed
