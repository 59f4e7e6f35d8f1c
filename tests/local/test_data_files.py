"""`make run ARGS="--data FILE"`: a user's file loads after the demo data, may name demo
records, and wins over them when the stack owns its table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.local_stack.server import DataError, LocalStack
from tests.local.helpers import request

SERIAL = "11111111-2222-4333-8444-555555555555"


def test_data_file_can_name_demo_records_and_redefine_them(tmp_path: Path) -> None:
    data = tmp_path / "mine.json"
    data.write_text(
        json.dumps(
            {
                "format": "voucher-import/v1",
                "chains": [{"chain_id": 1, "name": "My Chain", "app_hostnames": ["my.app"]}],
                "sessions": [
                    {
                        "kind": "es_member",
                        "principal": "alice",
                        "token": "my-own-alice-token-1",
                        "expires_at": "2099-01-01T00:00:00Z",
                    }
                ],
                "vouchers": [
                    {
                        "serial": SERIAL,
                        "definition_id": "carwash",
                        "status": "AVAILABLE",
                        "owner_member_id": "alice",
                    }
                ],
            }
        )
    )
    saved = dict(os.environ)
    stack = LocalStack(port=0, table_name="vouchers-data-files", data_files=[str(data)]).start()
    try:
        chain = stack.store.get({"pk": "CHAIN#1", "sk": "CHAIN"})
        assert chain is not None and chain["name"] == "My Chain"  # the user's file won
        status, body, _ = request(
            stack.url,
            "PUT",
            f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{SERIAL}",
            headers=[
                ("Thalamus-Token", "demo-thalamus-operator-anna"),
                ("Thalamus-Touchpoint", "BACKOFFICE"),
            ],
        )
        assert status == 200, body
        status, body, _ = request(
            stack.url,
            "POST",
            f"/client/users/c-1/voucher/carwash::{SERIAL}/activate",
            headers=[("Authorization", "Bearer my-own-alice-token-1")],
        )
        assert (status, body["errorCode"]) == (409, "VOUCHER_NOT_AVAILABLE")  # consumed above
    finally:
        stack.stop()
    assert {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} == {
        k: v for k, v in saved.items() if k != "PYTEST_CURRENT_TEST"
    }


def test_unknown_reference_in_a_data_file_stops_the_stack(tmp_path: Path) -> None:
    data = tmp_path / "bad.json"
    data.write_text(
        json.dumps(
            {
                "format": "voucher-import/v1",
                "vouchers": [
                    {"serial": "x-1", "definition_id": "no-such-definition", "status": "UNASSIGNED"}
                ],
            }
        )
    )
    with pytest.raises(DataError) as caught:
        LocalStack(port=0, table_name="vouchers-data-files-bad", data_files=[str(data)]).start()
    assert "vouchers[0].definition_id: unknown definition" in "\n".join(caught.value.problems)
