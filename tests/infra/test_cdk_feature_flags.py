"""cdk.json sets every feature flag aws-cdk-lib recommends; deviations are explained in docs/deploy.md.

The recommended list is read from the installed aws-cdk-lib (the ``recommended-feature-flags.json``
inside the jsii bundle of the Python package), so upgrading aws-cdk-lib makes this test name the
new flags to decide on.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cdk_template import REPO_ROOT

pytestmark = pytest.mark.cdk

DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
# A row of the deviations table: | `<flag>` | `<json value>` | <why> |
DEVIATION_ROW = re.compile(r"^\|\s*`(@aws-cdk[^`]*)`\s*\|\s*`([^`]*)`\s*\|\s*(.*?)\s*\|\s*$")


def recommended_flags() -> dict[str, Any]:
    spec = importlib.util.find_spec("aws_cdk")  # locate the package without importing it
    assert spec is not None and spec.submodule_search_locations
    (bundle,) = Path(next(iter(spec.submodule_search_locations)), "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, Any] = json.load(member)
    return flags


def cdk_json_flags() -> dict[str, Any]:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return {key: value for key, value in context.items() if key.startswith("@aws-cdk")}


def documented_deviations() -> dict[str, tuple[Any, str]]:
    rows = {}
    for line in DEPLOY_DOC.read_text().splitlines():
        match = DEVIATION_ROW.match(line)
        if match:
            flag, value, why = match.groups()
            rows[flag] = (json.loads(value), why)
    return rows


def test_recommended_list_is_readable():
    flags = recommended_flags()
    assert "@aws-cdk/core:checkSecretUsage" in flags  # sanity: the real list, not an empty file


def test_cdk_json_sets_every_recommended_flag():
    missing = sorted(set(recommended_flags()) - set(cdk_json_flags()))
    assert missing == [], f"cdk.json context lacks recommended feature flags: {missing}"


def test_every_deviation_is_documented():
    recommended, configured, documented = recommended_flags(), cdk_json_flags(), documented_deviations()
    # A flag off the recommended list (expired, misspelt, or opted into early) needs a row too.
    deviations = {
        flag: value
        for flag, value in configured.items()
        if flag not in recommended or recommended[flag] != value
    }
    undocumented = sorted(set(deviations) - set(documented))
    assert undocumented == [], f"deviations without a row in docs/deploy.md: {undocumented}"
    for flag, value in deviations.items():
        documented_value, why = documented[flag]
        assert documented_value == value, (
            f"{flag}: docs/deploy.md says {documented_value!r}, cdk.json {value!r}"
        )
        assert len(why) > 40, f"{flag}: say why in docs/deploy.md"
    stale = sorted(set(documented) - set(deviations))
    assert stale == [], f"docs/deploy.md lists deviations cdk.json no longer has: {stale}"


def test_synthesized_app_sees_the_flags(synth):
    """The in-process synth (cdk_json_context) hands the flags to the app like the CLI does."""
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    report = manifest["artifacts"]["aws-cdk-lib/feature-flag-report"]["properties"]["flags"]
    configured = cdk_json_flags()
    user_values = {flag: report[flag].get("userValue") for flag in configured}
    assert user_values == configured
