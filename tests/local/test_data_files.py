"""`make run ARGS="--data FILE"`: a user's file loads after the demo data, may name demo
records, and wins over them when the stack owns its table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.local_stack.__main__ import banner
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


def _redefine_chain_1(tmp_path: Path) -> Path:
    data = tmp_path / "redefine.json"
    data.write_text(
        json.dumps(
            {
                "format": "voucher-import/v1",
                "chains": [{"chain_id": 1, "name": "Not Yours", "app_hostnames": []}],
            }
        )
    )
    return data


def test_a_data_file_never_overwrites_a_table_the_stack_did_not_create(
    tmp_path: Path, dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's own engine (only AWS_ENDPOINT_URL_DYNAMODB set; moto still runs for Secrets
    Manager) holding the user's table: a conflicting --data file is refused, naming the records
    it would change, and nothing is written."""
    from shared.store import DynamoDBStore
    from shared.table_schema import create_table
    from tests.conftest import demo_document, engine_client, load_document

    client = engine_client(dynamodb_local)
    create_table(client, "users-own-table")
    load_document(DynamoDBStore(client, "users-own-table"), demo_document())
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    with pytest.raises(DataError) as caught:
        LocalStack(
            port=0, table_name="users-own-table", demo=False, data_files=[str(_redefine_chain_1(tmp_path))]
        ).start()
    problems = "\n".join(caught.value.problems)
    assert "CHAIN#1 / CHAIN" in problems and "conflict" in problems
    chain = DynamoDBStore(client, "users-own-table").get({"pk": "CHAIN#1", "sk": "CHAIN"})
    assert chain is not None and chain["name"] == "Demo Chain"  # untouched


def test_engines_auto_forced_and_without_java(monkeypatch: pytest.MonkeyPatch, dynamodb_local: str) -> None:
    from infra.local_stack import dynamodb_local as launcher
    from infra.local_stack.server import choose_engine

    assert choose_engine("auto") == "dynamodb-local"  # Java 17+ is here (the fixture proved it)
    assert choose_engine("moto") == "moto"
    monkeypatch.setattr(launcher, "java_ok", lambda *_a: False)
    assert choose_engine("auto") == "moto"
    with pytest.raises(launcher.DynamoDBLocalError):
        choose_engine("dynamodb-local")
    stack = LocalStack(port=0, table_name="vouchers-no-java", demo=False).start()
    try:
        assert stack.engine_name.startswith("moto (no Java 17+") and "moto" in banner(stack)
    finally:
        stack.stop()


def test_dynamodb_local_keeps_data_only_when_asked(tmp_path: Path, dynamodb_local: str) -> None:
    first = LocalStack(
        port=0, table_name="kept", engine="dynamodb-local", persist_dir=tmp_path / "db"
    ).start()
    try:
        assert "data kept in" in first.engine_name and first.owns_table
        first.store.client.put_item(TableName="kept", Item={"pk": {"S": "MARK"}, "sk": {"S": "MARK"}})
    finally:
        first.stop()
    again = LocalStack(
        port=0,
        table_name="kept",
        engine="dynamodb-local",
        persist_dir=tmp_path / "db",
        data_files=[str(_redefine_chain_1(tmp_path))],
    )
    with pytest.raises(DataError):  # the kept table is the user's now: a conflicting file is refused
        again.start()
    fresh = LocalStack(port=0, table_name="kept", engine="dynamodb-local", demo=False).start()
    try:  # in memory (the default): nothing of an earlier run is there
        assert "in memory" in fresh.engine_name
        assert fresh.store.get({"pk": "MARK", "sk": "MARK"}) is None
    finally:
        fresh.stop()
