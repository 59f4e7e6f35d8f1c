"""events/unclaim_voucher/: current, complete, and each gets its manifest status when
replayed against freshly loaded demo data."""

from __future__ import annotations

import json

import pytest

from infra.local_stack.apigw import function_for_event, invoke
from shared.store import DynamoDBStore
from tests.unclaim.sample_events import CASES, EVENTS_DIR, files

MANIFEST = json.loads((EVENTS_DIR / "manifest.json").read_text(encoding="utf-8"))


def test_files_are_current_and_listed() -> None:
    expected = files()
    on_disk = {p.name for p in EVENTS_DIR.glob("*.json")}
    assert on_disk == set(expected), "run: .venv/bin/python -m tests.unclaim.sample_events"
    for name, content in expected.items():
        assert (EVENTS_DIR / name).read_text(encoding="utf-8") == content, f"{name} is stale"
    assert set(MANIFEST) == on_disk - {"manifest.json"}


def test_every_auth_mode_encoding_and_method_succeeds_somewhere() -> None:
    ok = [c for c in CASES if c.status == 200]
    assert {c.method for c in ok} == {"POST", "PUT"}
    assert {c.encoding for c in ok} == {"urlencoded", "multipart"}
    assert any("Authorization" in c.headers for c in ok)
    assert {c.headers.get("X-Spaaza-Session-Key") for c in ok} >= {
        "demo-spaaza-user-alice",
        "demo-spaaza-admin-chain1",
    }


def _replay(name: str) -> None:
    event = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    assert function_for_event(event) == "unclaim_voucher"
    response = invoke("unclaim_voucher", event)
    body = json.loads(response["body"])
    assert response["statusCode"] == MANIFEST[name]["status"], (name, body)
    if response["statusCode"] == 200:
        assert (
            body["result"] == {"code": 1, "status": "ok"} and body["results"]["voucher_status"] == "generated"
        )
    else:
        assert body["result"] == {"code": 2, "status": "error"}, name
        assert set(body["error"]) == {"code", "name", "description"}, name


@pytest.mark.parametrize("name", sorted(n for n, entry in MANIFEST.items() if entry["status"] == 200))
def test_replay_success(demo: DynamoDBStore, name: str) -> None:
    """Each success on its own freshly loaded demo data (they change it)."""
    _replay(name)


def test_replay_errors(demo: DynamoDBStore) -> None:
    """Errors change nothing, so they share one freshly loaded table."""
    names = sorted(n for n, entry in MANIFEST.items() if entry["status"] != 200)
    assert names
    for name in names:
        _replay(name)
