"""Refactors keep every stateful resource's logical id: the ids v0.1.0 synthesized are pinned
in tests/infra/data/stateful_logical_ids.json, and each must still be in the template with its
type (a new resource may be added; none may be renamed or dropped without a migration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdk_template import Synth

PINNED = json.loads(
    (Path(__file__).parent / "data" / "stateful_logical_ids.json").read_text(encoding="utf-8")
)


def _resources(synth: Synth) -> set[str]:
    return {
        f"{resource['Type']} {logical_id}"
        for template in synth.templates.values()
        for logical_id, resource in template.to_json()["Resources"].items()
    }


@pytest.mark.cdk
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_pinned_stateful_logical_id_is_still_synthesized(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue("synth" if stage == "dev" else "synth_prod")
    pinned = {entry for stack, entries in PINNED.items() if stack.endswith(f"-{stage}") for entry in entries}
    if stage == "prod":  # the prod fixture imports the provider secret by name instead of creating it
        pinned = {entry for entry in pinned if not entry.startswith("AWS::SecretsManager::Secret ")}
    assert pinned, "the pin file lists this stage"
    assert sorted(pinned - _resources(synth)) == []
