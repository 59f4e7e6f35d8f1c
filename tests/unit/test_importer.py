"""Import format and loader: validate everything first, load idempotently, never half-load."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.importer import load, validate
from infra.importer.__main__ import main
from shared.runtime import hash_token
from shared.store import DynamoDBStore, Keys
from tests.conftest import TABLE_NAME, demo_document, load_document, secret_putter, serial


def test_demo_file_is_valid() -> None:
    parsed, problems = validate(demo_document())
    assert problems == [] and parsed is not None


def test_every_problem_is_reported_with_its_path() -> None:
    doc = demo_document()
    doc["vouchers"][0]["definition_id"] = "nope"
    doc["vouchers"][1]["owner_member_id"] = "nobody"
    doc["sessions"][0]["principal"] = "ghost-operator"
    doc["members"][1]["user_id"] = doc["members"][0]["user_id"]
    doc["definitions"][0]["thalamus"]["activity_code"] = "NOPE"
    _, problems = validate(doc)
    joined = "\n".join(problems)
    for expected in (
        "vouchers[0].definition_id: unknown definition",
        "vouchers[1].owner_member_id: unknown member",
        "sessions[0].principal: unknown thalamus user",
        "members[1].user_id: duplicate",
        "definitions[0].thalamus.activity_code: unknown activity",
    ):
        assert expected in joined


def test_field_level_errors_carry_paths() -> None:
    doc = demo_document()
    doc["vouchers"][2]["voucher_key"] = "not-hex"
    doc["vouchers"][3]["status"] = "LOST"
    doc["vouchers"][4]["valid_until"] = "2030-01-01T00:00:00"  # no time zone
    doc["sessions"][1]["token"] = "short"
    doc["surprise"] = 1
    _, problems = validate(doc)
    paths = {p.split(":")[0] for p in problems}
    assert {
        "vouchers[2].voucher_key",
        "vouchers[3].status",
        "vouchers[4].valid_until",
        "sessions[1].token",
        "surprise",
    } <= paths


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["vouchers"][0].update(status="ACTIVATED"), "activation is given exactly"),
        (lambda d: d["vouchers"][0].update(owner_member_id=None), "needs owner_member_id"),
        (lambda d: d["vouchers"][0].update(serial=d["vouchers"][1]["serial"]), "duplicate"),
        (lambda d: d["vouchers"][0].update(serial="00000000-0000-4000-8000-00000000000A"), "lower-case"),
        (lambda d: d["definitions"][0]["provider"].update(endpoint="http://example.com"), "https"),
        (lambda d: d["vouchers"][17].update(third_party_id=77), "does not use third-party"),
    ],
)
def test_rules(mutate: Any, fragment: str) -> None:
    doc = demo_document()
    mutate(doc)
    _, problems = validate(doc)
    assert any(fragment in p for p in problems), problems


def test_load_is_idempotent_and_stores_only_token_hashes(store: DynamoDBStore) -> None:
    parsed, _ = validate(demo_document())
    assert parsed is not None
    first = load(store, parsed, put_secret=secret_putter())
    assert first.created > 100 and first.written
    second = load(store, parsed, put_secret=secret_putter())
    assert (second.created, second.replaced, second.conflicts) == (0, 0, [])
    assert second.unchanged == first.created
    assert len(store.voucher_events(serial(1))) == 1  # one IMPORTED event, not two
    scan = json.dumps(store.client.scan(TableName=store.table_name)["Items"])
    assert "demo-thalamus-operator-anna" not in scan
    assert store.get(Keys.session(hash_token("demo-thalamus-operator-anna"))) is not None


def test_conflicts_write_nothing_unless_replace(store: DynamoDBStore) -> None:
    parsed, _ = validate(demo_document())
    assert parsed is not None
    load(store, parsed, put_secret=secret_putter())
    changed = demo_document()
    changed["vouchers"][0]["text"] = "changed"
    changed["chains"].append({"chain_id": 77, "name": "New"})
    parsed_changed, _ = validate(changed)
    assert parsed_changed is not None
    report = load(store, parsed_changed, put_secret=secret_putter())
    assert report.conflicts and not report.written
    assert store.get(Keys.chain(77)) is None  # never half-loaded
    report = load(store, parsed_changed, replace=True, put_secret=secret_putter())
    assert report.written and report.replaced >= 1
    assert store.get(Keys.voucher(serial(1)))["text"] == "changed"  # type: ignore[index]
    assert store.get(Keys.chain(77)) is not None


def test_cli_exit_codes(store: DynamoDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good_doc = demo_document()  # in AWS mode (no --endpoint-url) a subscriber needs https
    good_doc["webhook_subscribers"][0]["url"] = "https://hooks.example.com/vouchers"
    good.write_text(json.dumps(good_doc))
    bad_doc = json.loads(json.dumps(good_doc))
    bad_doc["vouchers"][0]["definition_id"] = "nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc))
    assert main([str(bad), "--table", TABLE_NAME, "--workers", "1"]) == 2
    assert "vouchers[0].definition_id" in capsys.readouterr().err
    assert main([str(good), "--table", TABLE_NAME, "--dry-run", "--workers", "1"]) == 0
    assert store.get(Keys.voucher(serial(1))) is None
    assert main([str(good), "--table", TABLE_NAME, "--workers", "1"]) == 0
    assert main([str(good), "--table", TABLE_NAME, "--workers", "1"]) == 0
    assert "created 0" in capsys.readouterr().out
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    stored = secrets.get_secret_value(SecretId="voucher/local/webhooks/demo-receiver")
    assert stored["SecretString"] == good_doc["webhook_subscribers"][0]["secret"]
    bad_doc["vouchers"][0]["definition_id"] = "coffee"
    bad.write_text(json.dumps(bad_doc))
    assert main([str(bad), "--table", TABLE_NAME, "--workers", "1"]) == 3


def incremental_document() -> dict[str, Any]:
    """New vouchers and sessions that only name records already in the table."""
    return {
        "format": "voucher-import/v1",
        "sessions": [
            {
                "kind": "thalamus_user",
                "principal": "op-otto",
                "token": "incremental-otto-token",
                "touchpoint": "KIOSK",
                "expires_at": "2099-01-01T00:00:00Z",
            },
            {
                "kind": "spaaza_user",
                "principal": "bob",
                "token": "incremental-bob-token",
                "expires_at": "2099-01-01T00:00:00Z",
            },
            {
                "kind": "spaaza_admin",
                "principal": "901",
                "token": "incremental-admin-token",
                "expires_at": "2099-01-01T00:00:00Z",
            },
        ],
        "vouchers": [
            {
                "serial": "inc-1",
                "definition_id": "coffee",
                "status": "CLAIMED",
                "owner_member_id": "bob",
                "voucher_id": 880001,
                "third_party_id": 880001,
            },
        ],
    }


def test_a_file_may_refer_to_records_already_in_the_table(demo: DynamoDBStore) -> None:
    from infra.importer.loader import validate_against

    parsed, problems, existing = validate_against(demo, incremental_document())
    assert problems == [] and parsed is not None
    report = load(demo, parsed, existing=existing, put_secret=secret_putter())
    assert report.written and not report.conflicts
    voucher = demo.get(Keys.voucher("inc-1"))
    assert voucher is not None
    assert (voucher["activity_code"], voucher["item_code"], voucher["chain_id"]) == ("MILES", "COFFEE", 1)
    otto = demo.get(Keys.session(hash_token("incremental-otto-token")))
    assert otto is not None and otto["grants"] == ["MILES#COFFEE"] and otto["is_operator"] is True
    bob = demo.get(Keys.session(hash_token("incremental-bob-token")))
    assert bob is not None and (bob["spaaza_user_id"], bob["app_hostname"]) == (1002, "demo.myprice.app")
    admin = demo.get(Keys.session(hash_token("incremental-admin-token")))
    assert admin is not None and admin["chains"] == [2]


def test_references_missing_from_file_and_table_are_reported(store: DynamoDBStore) -> None:
    from infra.importer.loader import validate_against

    _, problems, _ = validate_against(store, incremental_document())
    joined = "\n".join(problems)
    for expected in (
        "sessions[0].principal: unknown thalamus user",
        "sessions[0].touchpoint",
        "vouchers[0].definition_id",
    ):
        assert expected in joined


def test_replace_adds_a_grant_to_an_existing_operator(demo: DynamoDBStore) -> None:
    """Found in review: a group mixing identical and new items was written whole with
    attribute_not_exists, so --replace crashed on the identical principal item."""
    doc = demo_document()
    otto = next(u for u in doc["thalamus_users"] if u["user_id"] == "op-otto")
    otto["grants"].append({"activity_code": "MILES", "item_code": "CARWASH"})
    parsed, _ = validate(doc)
    assert parsed is not None
    assert not load(
        demo, parsed, put_secret=secret_putter()
    ).written  # the session snapshot differs: a conflict
    report = load(demo, parsed, replace=True, put_secret=secret_putter())
    assert report.written and report.created >= 1
    assert demo.get(Keys.operator_grant("op-otto", "MILES", "CARWASH")) is not None


def test_replacing_a_changed_voucher_bumps_its_version_and_audits_it(demo: DynamoDBStore) -> None:
    """Found in review: --replace reset version to 1 (reusing provider references) and wrote
    an IMPORTED event that hid the previous state."""
    from tests.conftest import call

    path = f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(1)}"
    headers = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
    assert call("consume_voucher", "PUT", path, headers=headers)[0] == 200
    parsed, _ = validate(demo_document())
    assert parsed is not None
    assert load(demo, parsed, replace=True, put_secret=secret_putter()).written
    voucher = demo.get(Keys.voucher(serial(1)))
    assert voucher is not None and (voucher["status"], voucher["version"]) == ("AVAILABLE", 3)
    replaced = [e for e in demo.voucher_events(serial(1)) if e["event_type"] == "REPLACED"]
    assert len(replaced) == 1 and replaced[0]["from_status"] == "REDEEMED"


def test_generated_voucher_keys_are_random_and_kept_by_a_reimport(store: DynamoDBStore) -> None:
    """Nothing secret is derived from a public identifier: a voucher imported without a
    voucher_key gets 256 random bits, and re-importing the same file keeps that key."""
    import hashlib

    document = demo_document()
    for voucher in document["vouchers"]:
        voucher.pop("voucher_key", None)
    load_document(store, document)
    keys = {serial(n): store.get(Keys.voucher(serial(n)))["voucher_key"] for n in (11, 12, 13)}  # type: ignore[index]
    for serial_, key in keys.items():
        assert len(key) == 64 and int(key, 16) >= 0
        assert key != hashlib.sha256(f"voucher-key:{serial_}".encode()).hexdigest()
    assert len(set(keys.values())) == 3
    load_document(store, document)  # idempotent: same keys, nothing rewritten
    assert {s: store.get(Keys.voucher(s))["voucher_key"] for s in keys} == keys  # type: ignore[index]
    assert len(store.voucher_events(serial(11))) == 1


def test_field_reference_and_duplicate_errors_come_in_one_pass(
    store: DynamoDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with a field error and a reference error and a duplicate lists all three in
    one run, at the document's own indexes; a reference to a record that is itself invalid
    is not a second error."""
    doc = demo_document()
    doc["webhook_subscribers"] = []
    doc["vouchers"][0]["status"] = "NOT-A-STATUS"  # field error at vouchers[0]
    doc["vouchers"][2]["definition_id"] = "nope"  # reference error after an invalid record
    doc["vouchers"][3]["serial"] = doc["vouchers"][1]["serial"]  # duplicate
    doc["members"][0]["email"] = "not an email"  # invalid member: vouchers naming it are fine
    path = tmp_path / "three.json"
    path.write_text(json.dumps(doc))
    assert main([str(path), "--table", TABLE_NAME, "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: vouchers[0].status:" in err
    assert f"{path}: vouchers[2].definition_id: unknown definition" in err
    assert f"{path}: vouchers[3].serial: duplicate" in err
    assert "members[0].email" in err and "unknown member" not in err
    assert store.get(Keys.voucher(doc["vouchers"][1]["serial"])) is None


def test_an_invalid_file_exits_2_whatever_the_table_and_creates_nothing(
    store: DynamoDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing table holds nothing to refer to: its in-file references are still checked,
    the exit stays 2 (not the table's 4), and --create-table creates nothing for it."""
    doc = demo_document()
    doc["webhook_subscribers"] = []
    doc["vouchers"][0]["status"] = "NOT-A-STATUS"
    doc["vouchers"][2]["definition_id"] = "nope"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main([str(path), "--table", "not-created", "--create-table", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "vouchers[0].status:" in err and "vouchers[2].definition_id: unknown definition" in err
    assert "not-created" not in boto3.client("dynamodb", region_name="eu-west-1").list_tables()["TableNames"]


def test_cli_reports_progress_and_records_of_each_kind(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four transactions at a time on a real engine server (moto's and DynamoDB Local): every
    voucher lands, progress reaches 100%, and the summary counts records of each kind."""
    import uuid

    from tests.conftest import engine_client

    doc = demo_document()
    doc["webhook_subscribers"] = []
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc))
    table = f"import-{uuid.uuid4().hex[:8]}"
    argv = [str(path), "--table", table, "--endpoint-url", engine, "--create-table", "--workers", "4"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    vouchers = len(doc["vouchers"])
    assert f"vouchers {vouchers}/{vouchers}" in captured.err and "(100%)" in captured.err
    # one count of items in every line (the check, the progress, the summary); audit events apart
    checked = int(re.search(r"checking (\d+) items", captured.err)[1])  # type: ignore[index]
    assert f"items {checked}/{checked}, audit events {vouchers}/{vouchers} (100%)" in captured.err
    assert (
        f"created {checked}, unchanged 0, replaced 0, conflicts 0 (items); audit events {vouchers}"
        in captured.out
    )
    kinds = {line.split(":")[1].split()[0] for line in captured.out.splitlines()[1:]}
    assert {"vouchers", "members", "definitions", "sessions", "chains"} <= kinds
    assert f"vouchers {vouchers:>8}: created {vouchers}" in captured.out
    store = DynamoDBStore(engine_client(engine), table)
    assert all(store.get(Keys.voucher(v["serial"])) is not None for v in doc["vouchers"])
    assert main(argv) == 0
    assert f"vouchers {vouchers:>8}: unchanged {vouchers}" in capsys.readouterr().out
    engine_client(engine).delete_table(TableName=table)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--table", "NoSuchTable"], "table 'NoSuchTable' does not exist"),
        (["--table", "T", "--endpoint-url", "http://127.0.0.1:9"], "cannot connect to DynamoDB"),
    ],
    ids=["unknown table", "unreachable endpoint"],
)
def test_cli_turns_aws_errors_into_one_line_and_exit_4(
    store: DynamoDBStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    doc = demo_document()
    doc["webhook_subscribers"] = []
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc))
    assert main([str(path), *argv]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_without_credentials_says_so_in_one_line(tmp_path: Path) -> None:
    """Outside moto (a fresh interpreter with no credentials anywhere): one line, exit 4."""
    import os
    import subprocess
    import sys

    doc = demo_document()
    doc["webhook_subscribers"] = []
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    command = [sys.executable, "-m", "infra.importer", str(path), "--table", "Vouchers"]
    done = subprocess.run(
        [*command, "--endpoint-url", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith("error: no AWS credentials") and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        (None, False),
        ("https://dynamodb.eu-west-1.amazonaws.com", False),  # AWS itself: AWS mode, flag or not
        ("http://10.0.0.5:8000", False),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:4566", True),
        ("http://[::1]:8000", True),
    ],
)
def test_aws_mode_is_decided_by_the_endpoint_not_by_the_flag(endpoint: str | None, local: bool) -> None:
    from infra.importer.__main__ import _local_endpoint

    assert _local_endpoint(endpoint) is local
