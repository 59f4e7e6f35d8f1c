"""Build the CDK app: ``VoucherData-<stage>`` + ``VoucherApi-<stage>``, checked by cdk-nag.

``build_app`` is what app.py calls and what tests call in-process (with extra context such
as ``{"aws:cdk:bundling-stacks": []}`` to skip bundling). Nothing here calls AWS: no lookups,
the stacks are environment-agnostic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stacks.api_stack import ApiStack
from infra.stacks.config import load_stage_config
from infra.stacks.data_stack import DataStack

BUNDLING_STACKS = "aws:cdk:bundling-stacks"
SKIP_BUNDLING = "skip_bundling"
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json context: the CLI passes it itself, in-process synths (tests) need it too."""
    context = dict(json.loads(CDK_JSON.read_text()).get("context", {}))
    # The CLI turns asset metadata on (SAM CLI reads aws:asset:path); do the same in-process.
    context.setdefault("aws:cdk:enable-asset-metadata", True)
    return context


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app. Precedence: ``context`` > CLI context (``-c``, cdk.json) > cdk.json defaults."""
    app = cdk.App(context=cdk_json_context(), post_cli_context=context or None, outdir=outdir)
    # The CLI rejects user context keys starting with "aws:", so `cdk synth -c skip_bundling=true`
    # is the CLI-facing switch for what in-process callers pass as {"aws:cdk:bundling-stacks": []}.
    if str(app.node.try_get_context(SKIP_BUNDLING)).lower() in {"true", "1", "yes"}:
        app.node.set_context(BUNDLING_STACKS, [])

    config = load_stage_config(app)
    # Stack tags are given explicitly (@aws-cdk/core:explicitStackTags: Tags.of() no longer reaches
    # stacks); CloudFormation propagates them to every resource that supports tags.
    tags = {"service": "voucher", "stage": config.stage}
    data = DataStack(
        app,
        f"VoucherData-{config.stage}",
        config=config,
        description=f"Voucher service ({config.stage}): DynamoDB table and provider secret (stateful)",
        tags=tags,
    )
    api = ApiStack(
        app,
        f"VoucherApi-{config.stage}",
        config=config,
        table=data.table,
        provider_secret=data.provider_secret,
        description=f"Voucher service ({config.stage}): Lambda functions, REST API, alarms",
        tags=tags,
    )
    api.add_stack_dependency(data)

    for key, value in tags.items():  # resource tags in the templates, as before
        cdk.Tags.of(app).add(key, value)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app
