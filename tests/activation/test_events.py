"""The sample events in events/activate_voucher/ replay with their manifest status on fresh
demo data with the provider simulator running."""

from __future__ import annotations

import json
from pathlib import Path

from infra.local_stack.apigw import function_for_event, invoke
from tests.activation.conftest import ActivationEnv

EVENTS = Path(__file__).resolve().parents[2] / "events" / "activate_voucher"


def test_every_sample_event_has_its_manifest_status(env: ActivationEnv) -> None:
    manifest = json.loads((EVENTS / "manifest.json").read_text(encoding="utf-8"))
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "manifest.json")
    assert files == sorted(manifest)
    for name in files:
        event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
        assert function_for_event(event) == "activate_voucher"
        response = invoke("activate_voucher", event)
        assert response["statusCode"] == manifest[name]["status"], (name, response["body"])
        body = json.loads(response["body"])
        if response["statusCode"] == 200:
            assert body["status"] == "ACTIVATED"
        else:
            assert set(body) == {"errorCode", "message", "correlationId"}
