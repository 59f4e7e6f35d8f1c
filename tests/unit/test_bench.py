"""The bench measures what it says: its warm-latency rows compare each handler with its own
calls made raw, and a raw side that errors stops the bench instead of timing an error.

An earlier bench swallowed every error of its raw replays, so its "raw" side timed rejected
requests and the overhead figures were an artefact. The bench sets its own environment at
import (credentials, table name), so it runs in a subprocess here, on moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, contextlib, io, sys
from botocore.exceptions import ClientError
import tests.bench.__main__ as bench

def rows(break_raw_side):
    env = bench.Environment(extra=bench.WARMUP + 8, engine="moto")
    try:
        if break_raw_side:  # the twin's table disappears: every raw replay must fail
            raw = env.stores["bench-raw"]
            raw.client.delete_table(TableName=raw.table_name)
        with contextlib.redirect_stdout(io.StringIO()):
            return bench.warm_latency(env, 1)
    finally:
        env.close()

result = {"rows": rows(False)}
try:
    rows(True)
    result["broken"] = "no error"
except ClientError as error:
    result["broken"] = error.response["Error"]["Code"]
print(json.dumps(result))
"""


def test_warm_latency_measures_each_side_and_fails_loudly_when_its_raw_side_errors() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {row["case"]: row for row in result["rows"]}
    assert set(rows) == {
        "consume_voucher success",
        "activate_voucher first activation (+1 provider call)",
        "activate_voucher idempotent replay",
        "unclaim_voucher success",
    }
    for row in rows.values():
        # one measured pair per case (three for the replay), after the uncounted warm-up
        assert row["iterations"] == (3 if "replay" in row["case"] else 1)
        assert row["handler_p50_ms"] > 0 and row["raw_p50_ms"] > 0
    activation = rows["activate_voucher first activation (+1 provider call)"]
    assert 0 < activation["provider_p50_ms"] < activation["raw_p50_ms"]
    assert "provider_p50_ms" not in rows["consume_voucher success"]
    # the raw replay's error surfaces as botocore raised it, not as a timing
    assert result["broken"] == "ResourceNotFoundException"


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_the_cost_floor_keeps_each_guarantee_at_its_cheapest_price_and_never_exceeds_the_design() -> None:
    """A consume as recorded: one consistent read of session + voucher, then one transaction
    (voucher Update, event Put, ConditionChecks on session and grant). The floor keeps the
    two reads at the eventually consistent price, both re-checks (2 RRU each), the voucher
    Update at the transactional 2 WRU, and the event at 1 WRU as if a stream consumer wrote it."""
    from tests.bench.capacity import Recording, guarantee_floor, usd_per_million

    consume: list[tuple[str, dict[str, Any]]] = [
        (
            "BatchGetItem",
            {
                "RequestItems": {
                    "t": {
                        "Keys": [_key("SESSION#h", "SESSION"), _key("VOUCHER#1", "VOUCHER")],
                        "ConsistentRead": True,
                    }
                }
            },
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Update": {"Key": _key("VOUCHER#1", "VOUCHER")}},
                    {"Put": {"Item": {**_key("VOUCHER#1", "EVENT#2026#e1"), "kind": {"S": "CONSUMED"}}}},
                    {"ConditionCheck": {"Key": _key("SESSION#h", "SESSION")}},
                    {"ConditionCheck": {"Key": _key("OPERATOR#o", "GRANT")}},
                ]
            },
        ),
    ]
    assert guarantee_floor(consume) == (5.0, 3.0)
    assert usd_per_million(*guarantee_floor(consume)) == 2.5
    assert Recording(calls=consume).model() == (6.0, 4.0)  # the design as built: $3.25

    # the activation adds its guard claim, a plain conditional write that stays 1 WRU
    activation = [consume[0], ("UpdateItem", {"Key": _key("VOUCHER#1", "VOUCHER")}), consume[1]]
    assert guarantee_floor(activation) == (5.0, 4.0)

    # a transaction left with one write and nothing to check would be a plain write
    lone: list[tuple[str, dict[str, Any]]] = [
        ("TransactWriteItems", {"TransactItems": [{"Update": {"Key": _key("VOUCHER#1", "VOUCHER")}}]})
    ]
    assert guarantee_floor(lone) == (0.0, 1.0)
    for calls in (consume, activation, lone):
        floor, built = guarantee_floor(calls), Recording(calls=calls).model()
        assert usd_per_million(*floor) <= usd_per_million(*built)


def _index_entries(store: Any, member: str) -> list[dict[str, Any]]:
    """The member's whole gsi1 entries (keys and projected attributes): what DynamoDB bills."""
    answer = store.client.query(
        TableName=store.table_name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": f"MEMBER#{member}"}},
        Select="ALL_PROJECTED_ATTRIBUTES",
    )
    items: list[dict[str, Any]] = answer["Items"]
    return items


def test_a_query_is_billed_on_what_it_read_in_4_kb_blocks_index_entries_included(demo: Any) -> None:
    """The list endpoints' index Query asks for three attributes, but DynamoDB bills it on the
    index entries it read (keys and projected attributes): the Recorder sizes that page again,
    unrecorded, so a member with many vouchers costs what their entries weigh, not one block."""
    import math

    from tests.bench.capacity import Recorder, item_size

    store: Any = demo
    recorder = Recorder(store.client)
    owned, recording = recorder.record(lambda: store.vouchers_of("alice"))
    assert recording.round_trips == 1 and len(owned) == 20  # the demo's busiest member
    entries = _index_entries(store, "alice")
    assert len(entries) == len(owned)
    assert recording.read_bytes == {0: sum(item_size(e) for e in entries)}
    assert recording.read_bytes[0] > 4096  # more than the one block the model used to assume
    assert recording.model() == (0.5 * math.ceil(recording.read_bytes[0] / 4096), 0.0)

    # a table Query without a projection read the whole items it returned, consistently
    serial = owned[0].serial
    events, history = recorder.record(lambda: store.voucher_events(serial))
    full = store.client.query(
        TableName=store.table_name,
        KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
        ExpressionAttributeValues={":p": {"S": f"VOUCHER#{serial}"}, ":e": {"S": "EVENT#"}},
        ConsistentRead=True,
    )["Items"]
    assert events and history.read_bytes == {0: sum(item_size(i) for i in full)}
    assert history.model() == (1.0 * max(1, math.ceil(history.read_bytes[0] / 4096)), 0.0)
    # and timing paths can turn the sizing call off
    _, timed = recorder.record(lambda: store.vouchers_of("alice"), size_queries=False)
    assert timed.read_bytes == {} and timed.model() == (0.5, 0.0)


def test_a_filtered_query_is_sized_on_what_it_read_before_the_filter_and_a_failed_one_is_left_alone(
    demo: Any,
) -> None:
    """DynamoDB bills a Query on the items it read, before its filter: a filter that keeps
    nothing still costs the page it examined. A Query that fails keeps its own error."""
    from botocore.exceptions import ClientError

    from tests.bench.capacity import Recorder, item_size

    store: Any = demo
    recorder = Recorder(store.client)
    query = {
        "TableName": store.table_name,
        "IndexName": "gsi1",
        "KeyConditionExpression": "#g = :g",
        "FilterExpression": "#d = :nothing",
        "ProjectionExpression": "#s",
        "ExpressionAttributeNames": {"#g": "gsi1pk", "#d": "definition_id", "#s": "serial"},
        "ExpressionAttributeValues": {":g": {"S": "MEMBER#alice"}, ":nothing": {"S": "no-such-definition"}},
    }
    answer, recording = recorder.record(lambda: store.client.query(**query))
    assert answer["Count"] == 0 and answer["ScannedCount"] == 20
    entries = _index_entries(store, "alice")
    assert recording.read_bytes == {0: sum(item_size(e) for e in entries)} and recording.round_trips == 1

    sent: list[str] = []
    store.client.meta.events.register("before-call.dynamodb.Query", lambda **kw: sent.append("Query"))
    broken = {**query, "TableName": "no-such-table"}
    try:
        recorder.record(lambda: store.client.query(**broken))
        raise AssertionError("a query on a missing table answered")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert sent == ["Query"]  # no sizing query after a failed one


def test_a_list_pages_index_read_is_sized_on_the_entries_it_used(demo: Any) -> None:
    """A page's index Query reads from its position with a Limit: the Recorder's sizing keeps
    the key condition and the Limit, so it bills the entries the page read, and
    list_page_reads counts them against the vouchers the page examined."""
    from shared.usecases.listing import page_of
    from tests.bench.capacity import Recorder, item_size, list_page_reads

    store: Any = demo
    recorder = Recorder(store.client)
    first, _ = recorder.record(lambda: page_of(store, member_id="alice", limit=4))
    page, recording = recorder.record(lambda: page_of(store, member_id="alice", limit=4, after=first.after))
    entries = _index_entries(store, "alice")  # in gsi1's order, which is the list's
    used = entries[4:9]  # after the first page: its 4 and the one that says more remain
    assert [item.voucher.serial for item in page.items] == [e["serial"]["S"] for e in used[:4]]
    reads = list_page_reads(recording)
    assert reads == {
        "index_queries": 1,
        "index_entries_read": 5,
        "vouchers_examined": 4,
        "index_bytes": sum(item_size(e) for e in used),
        "index_rru": 0.5,
        "index_floor_rru": 0.5,
        "ok": True,
    }
    whole, _ = recorder.record(lambda: store.vouchers_of("alice"))
    assert len(whole) == len(entries) == 20  # and an unbounded read reads them all
