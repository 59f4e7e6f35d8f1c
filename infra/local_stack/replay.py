"""Replay stored API Gateway events through the real handlers and compare each status with
the one its manifest expects.

    python -m infra.local_stack.replay [FILES...]     (default: events/**/*.json)

Every event runs against a fresh table (moto in-process, `mock_aws`) holding the demo data
as the real importer builds it, with the provider simulator and its secret available, so
events never see each other's writes. Exit 1 on any mismatch, unroutable event or event
without a manifest entry.

Do not call `replay()` in a process where a LocalStack is running: `mock_aws` resets moto's
in-process state, which the local stack's moto server shares.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local_stack import apigw
from infra.local_stack.server import (
    DEMO_FILE,
    PROVIDER_NAME,
    ROOT,
    SECRET_NAME,
    SIMULATOR_API_KEY,
    read_import_files,
    reset_handler_state,
)

EVENTS_DIR = ROOT / "events"
MANIFEST = "manifest.json"
REGION = "eu-west-1"


@dataclass(frozen=True)
class Result:
    path: str
    function: str | None
    expected: int | None
    actual: int | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.function is not None and self.expected is not None and self.expected == self.actual


def event_files(root: Path = EVENTS_DIR) -> list[Path]:
    """Every stored event (events/<function>/<case>.json), manifests excluded."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if p.name != MANIFEST)


def expected_status(path: Path) -> tuple[int | None, str]:
    """(status, "") from the event's directory manifest, or (None, why not)."""
    manifest_path = path.parent / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no {MANIFEST} next to it"
    except ValueError as error:
        return None, f"{manifest_path}: invalid JSON: {error}"
    entry = manifest.get(path.name) if isinstance(manifest, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
        return None, f"no entry with a status for {path.name} in {MANIFEST}"
    return int(entry["status"]), ""


def error_detail(body: Any) -> str:
    """The first error code in a response body, whatever the dialect."""
    try:
        payload = json.loads(body) if isinstance(body, str | bytes) and body else body
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    for key in ("errorCode", "error_code", "code"):
        if isinstance(payload.get(key), str | int):
            return str(payload[key])
    errors = payload.get("errors")
    if isinstance(errors, dict) and errors:
        name, value = next(iter(errors.items()))
        return f"{name}: {value}"
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict):
            for key in ("code", "name", "message"):
                if key in first:
                    return str(first[key])
        return str(first)
    error = payload.get("error")
    if isinstance(error, dict):  # Spaaza: {"code": 906, "name": "voucher_already_redeemed", ...}
        parts = [str(error[key]) for key in ("code", "name") if error.get(key) is not None]
        if parts:
            return " ".join(parts)
        if "message" in error:
            return str(error["message"])
    if isinstance(error, str | int):
        return str(error)
    if isinstance(payload.get("message"), str):
        return payload["message"]
    return ""


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def replay(paths: Iterable[str | Path] | None = None) -> list[Result]:
    """Replay each event against fresh demo data; one Result per file, in order."""
    files = [Path(p) for p in paths] if paths is not None else event_files()
    if not files:
        return []
    import boto3
    from moto import mock_aws

    from infra.importer import build_groups
    from shared.store import serialize
    from shared.table_schema import create_table

    # The importer's own item builder (infra.importer.build_groups): the items `load` would
    # write. They go in with BatchWriteItem: moto deep-copies every table on each
    # TransactWriteItems, which would make a fresh load per event take half a second.
    ((_, demo),) = read_import_files([DEMO_FILE])
    demo_items = [
        serialize(item)
        for group in build_groups(demo)
        for item in [*group.items, *([group.event] if group.event is not None else [])]
    ]
    from infra.local_stack.provider_simulator import ProviderSimulator

    simulator = ProviderSimulator(api_key=SIMULATOR_API_KEY, host="127.0.0.1", port=0)
    simulator.start()
    env: dict[str, str | None] = {
        "AWS_ENDPOINT_URL_DYNAMODB": None,
        "AWS_ENDPOINT_URL_SECRETSMANAGER": None,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": None,
        "AWS_ENDPOINT_URL": None,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PROVIDER_SECRET_NAME": SECRET_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "VoucherService",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL") or "WARNING",
    }
    results: list[Result] = []
    try:
        with _environment(env), mock_aws():
            reset_handler_state()  # clients and cached secrets made outside this mock are stale
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name=SECRET_NAME,
                SecretString=json.dumps(
                    {PROVIDER_NAME: {"api_key": SIMULATOR_API_KEY, "endpoint": str(simulator.url)}}
                ),
            )
            for path in files:
                results.append(_replay_one(path, dynamodb, demo_items, simulator, create_table))
    finally:
        reset_handler_state()
        simulator.stop()
    return results


def _put_items(dynamodb: Any, table: str, items: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _replay_one(
    path: Path, dynamodb: Any, demo_items: Sequence[dict[str, Any]], simulator: Any, create_table: Any
) -> Result:
    from shared.runtime import RUNTIME, Settings
    from shared.store import DynamoDBStore

    shown = _display(path)
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return Result(shown, None, None, None, f"unreadable event: {error}")
    function = apigw.function_for_event(event) if isinstance(event, dict) else None
    expected, why = expected_status(path)
    if function is None:
        return Result(shown, None, expected, None, "unroutable: no route for its resource and httpMethod")
    if path.parent.name != function and path.resolve().parent.parent == EVENTS_DIR:
        why = f"stored under {path.parent.name}/ but targets {function}"
        return Result(shown, function, expected, None, why)
    if expected is None:
        return Result(shown, function, None, None, why)
    table = f"replay-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb, table)
    try:
        _put_items(dynamodb, table, demo_items)
        simulator.reset()
        with _environment({"TABLE_NAME": table}):
            # The handlers' runtime gets this table and the replay's DynamoDB client (making a
            # boto3 client per event would double the replay time).
            settings = Settings.from_env()
            store = DynamoDBStore(dynamodb, table, immutable_ttl=settings.immutable_cache_seconds)
            RUNTIME.reset(store=store, settings=settings)
            try:
                response = apigw.invoke(function, event)
            except Exception as error:  # a handler must never raise; report it as such
                why = f"handler raised {type(error).__name__}: {error}"
                return Result(shown, function, expected, None, why)
            finally:
                RUNTIME.reset()
        status = response.get("statusCode") if isinstance(response, dict) else None
        if not isinstance(status, int):
            return Result(shown, function, expected, None, "malformed proxy response")
        return Result(shown, function, expected, status, error_detail(response.get("body")))
    finally:
        dynamodb.delete_table(TableName=table)


def format_table(results: Sequence[Result]) -> str:
    header = ("file", "function", "expected", "actual", "result", "detail")
    rows = [
        (
            r.path,
            r.function or "-",
            str(r.expected) if r.expected is not None else "-",
            str(r.actual) if r.actual is not None else "-",
            "OK" if r.ok else "MISMATCH",
            r.detail,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


_SINK: list[Any] = []


def _sink() -> Any:
    """/dev/null for handler output, opened once and never closed: loggers created while it
    is stdout keep a reference to it."""
    if not _SINK:
        _SINK.append(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    return _SINK[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_stack.replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="*", help="event files (default: events/**/*.json)")
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] if args.files else event_files()
    if not files:
        print("no event files found", file=sys.stderr)
        return 1
    # Handler logs and EMF metric lines go to stdout: keep them out of the table.
    real_stdout = sys.stdout
    sys.stdout = _sink()
    try:
        results = replay(files)
    finally:
        sys.stdout = real_stdout
    print(format_table(results))
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} events replayed to their manifest status")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
