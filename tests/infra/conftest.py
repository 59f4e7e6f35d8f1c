"""One in-process synth of the CDK app per session, shared by every infra test.

Bundling is skipped ({"aws:cdk:bundling-stacks": []}): CDK stages the source directories
instead of running pip, so the tests need no network and no Docker.
"""

from __future__ import annotations

import os

import pytest

for _flag in (
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
):
    os.environ.setdefault(_flag, "1")

from cdk_template import IMPORTED_SECRET_NAME, Synth, synthesize  # noqa: E402 - after the jsii env flags


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default stage (cdk.json: dev), synthesized once."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synth_prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The prod stage (retain, WAF), synthesized once for the few tests that need it.

    It also sets ``provider_secret_name`` (import the secret instead of creating it), so one
    extra synth covers both variants.
    """
    from infra.stacks.app_builder import cdk_json_context

    stages = cdk_json_context()["stages"]
    stages["prod"] = {**stages["prod"], "provider_secret_name": IMPORTED_SECRET_NAME}
    return synthesize(tmp_path_factory.mktemp("cdk.out.prod"), stage="prod", stages=stages)
