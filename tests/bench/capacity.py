"""Consumed capacity, cost per request, the baseline design and library import costs, for
`make bench`. Everything here is measured in the same run as the rows it sits beside.

Capacity comes two ways, both printed:
  * what the engine reports: every DynamoDB call is sent with ReturnConsumedCapacity=TOTAL
    (a botocore hook; the service itself never asks for it) and the answers are summed;
  * DynamoDB's on-demand billing rules applied to the same recorded calls: a strongly
    consistent read of an item up to 4 KB is 1 read request unit, an eventually consistent
    one 0.5; a write of an item up to 1 KB is 1 write request unit; inside TransactWriteItems
    a write costs 2 and a ConditionCheck 2 read units. (DynamoDB Local reports plain units and
    does not double transactional ones, so the billing model is what the cost uses; the bench
    measures the largest item in the table so the "up to 1 KB / 4 KB" premise is checked.)
"""

from __future__ import annotations

import copy
import json
import math
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

# On-demand request prices used for the cost column: AWS's published us-east-1 prices for
# DynamoDB Standard tables after the price reduction of 2024-11-01, read on 2026-12-01.
PRICES: dict[str, Any] = {
    "region": "us-east-1",
    "as_of": "2024-11-01 (read 2026-12-01)",
    "usd_per_million_read_request_units": 0.125,
    "usd_per_million_write_request_units": 0.625,
}


@dataclass
class Recording:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    engine_units: float = 0.0
    read_bytes: dict[int, int] = field(default_factory=dict)  # call index -> bytes a Query read
    scanned: dict[int, int] = field(default_factory=dict)  # call index -> entries a Query read

    @property
    def round_trips(self) -> int:
        return len(self.calls)

    def model(self) -> tuple[float, float]:
        rru = wru = 0.0
        for index, (name, params) in enumerate(self.calls):
            r, w = billing_units(name, params, self.read_bytes.get(index))
            rru, wru = rru + r, wru + w
        return rru, wru

    def cost_per_million(self) -> float:
        return usd_per_million(*self.model())


def billing_units(name: str, params: dict[str, Any], read_bytes: int | None = None) -> tuple[float, float]:
    """(read, write) request units of one call under on-demand billing, items <= 1 KB. A Query
    is billed on the total size of what it read, in 4 KB blocks (`read_bytes`, measured by the
    Recorder; one block when unknown)."""
    consistent = 1.0 if params.get("ConsistentRead") else 0.5
    if name == "GetItem":
        return consistent, 0.0
    if name == "BatchGetItem":
        keys = sum(
            len(t["Keys"]) * (1.0 if t.get("ConsistentRead") else 0.5)
            for t in params["RequestItems"].values()
        )
        return keys, 0.0
    if name == "Query":
        return consistent * query_blocks(read_bytes), 0.0
    if name in ("PutItem", "UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    if name == "TransactWriteItems":
        reads = writes = 0.0
        for item in params["TransactItems"]:
            if "ConditionCheck" in item:
                reads += 2.0
            else:
                writes += 2.0
        return reads, writes
    return 0.0, 0.0


def query_blocks(read_bytes: int | None) -> int:
    """4 KB blocks a Query is billed for (at least one, even when it finds nothing)."""
    return max(1, math.ceil((read_bytes or 0) / 4096))


def guarantee_floor(
    calls: list[tuple[str, dict[str, Any]]], read_bytes: dict[int, int] | None = None
) -> tuple[float, float]:
    """(read, write) request units that any design must pay for what these recorded calls
    guarantee, however it is built: a lower bound, generous to the alternative at each step.

    * Each item read is still read (the decision and the audit's "who" need it), but at the
      eventually consistent price, 0.5 RRU, as if staleness cost nothing.
    * A write outside a transaction (the activation's guard claim) stays 1 WRU: without it two
      concurrent activations could both call the provider and mint a code nobody records.
    * A ConditionCheck stays 2 RRU: only a transaction can condition a write on another item,
      which is what re-checking the caller's session and grant at commit is.
    * The audit event (an EVENT# item) costs 1 WRU, as if a stream consumer wrote it after the
      fact, outside the transaction, and as if the voucher item carried its fields for free.
    * Every other write in a transaction stays 2 WRU, the transactional price (1 WRU if the
      transaction were left with that one write and nothing to check).

    If this floor is above the baseline's cost, the cost goal is out of reach for every
    design that keeps the audit as records of its own, the re-check at commit and the
    activation guard. One design escapes it: the history kept inside the voucher item itself,
    which costs no write of its own while the item stays under 1 KB, but grows without bound
    (a Spaaza claim/unclaim cycle) and doubles every later write once past 1 KB; the floor
    assumes bounded items, and docs/performance.md prices that design separately."""
    from shared.store.keys import Keys

    rru = wru = 0.0
    for index, (name, params) in enumerate(calls):
        if name == "BatchGetItem":
            rru += 0.5 * sum(len(t["Keys"]) for t in params["RequestItems"].values())
        elif name == "GetItem":
            rru += 0.5
        elif name == "Query":
            rru += 0.5 * query_blocks((read_bytes or {}).get(index))
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            wru += 1.0
        elif name == "TransactWriteItems":
            items = [next(iter(item.items())) for item in params["TransactItems"]]
            checks = sum(1 for kind, _ in items if kind == "ConditionCheck")
            writes = [body for kind, body in items if kind != "ConditionCheck"]
            events = [b for b in writes if _sort_key(b).startswith(Keys.event_prefix())]
            others = len(writes) - len(events)
            rru += 2.0 * checks
            wru += 1.0 * len(events) + (2.0 if checks or others > 1 else 1.0) * others
    return rru, wru


def _sort_key(body: dict[str, Any]) -> str:
    key = body.get("Key") or body.get("Item") or {}
    return str(key.get("sk", {}).get("S", ""))


def usd_per_million(rru: float, wru: float) -> float:
    read, write = PRICES["usd_per_million_read_request_units"], PRICES["usd_per_million_write_request_units"]
    return float(rru * read + wru * write)


class Recorder:
    """Hooks on one client: every call's name and parameters, and the capacity the engine reports."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.current: Recording | None = None
        self.size_queries = True
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._params, unique_id="bench-capacity-params")
        events.register("after-call.dynamodb", self._after, unique_id="bench-capacity-after")

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.current is None:
            return
        if model.name in (
            "GetItem",
            "BatchGetItem",
            "Query",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "TransactWriteItems",
        ):
            params["ReturnConsumedCapacity"] = "TOTAL"
        self.current.calls.append((model.name, copy.deepcopy(params)))

    def _after(self, parsed: dict[str, Any], model: Any, http_response: Any = None, **_: Any) -> None:
        if self.current is None:
            return
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.current.engine_units += float(entry.get("CapacityUnits", 0.0))
        failed = http_response is not None and http_response.status_code >= 300
        if model.name == "Query" and self.current.calls and not failed:
            self.current.scanned[len(self.current.calls) - 1] = int(
                parsed.get("ScannedCount", parsed.get("Count", 0))
            )
        if model.name == "Query" and self.current.calls and self.size_queries and not failed:
            index = len(self.current.calls) - 1
            read = self._query_bytes(self.current.calls[index][1], parsed)
            if read is not None:
                self.current.read_bytes[index] = read

    def _query_bytes(self, params: dict[str, Any], parsed: dict[str, Any]) -> int | None:
        """Bytes a Query read, by DynamoDB's item size rules (None when they cannot be told,
        and the call is then billed one block). A table Query with no projection and no filter
        returned whole items, exactly what it read. Otherwise the same page is read again,
        unrecorded: an index Query is billed on its index entries (keys and projected
        attributes), which ALL_PROJECTED_ATTRIBUTES returns, and a filter is applied after the
        read, so the sizing query leaves it out (Limit, ExclusiveStartKey and the 1 MB page
        apply before a filter, so the page read is the same). This table has no local
        secondary index, whose reads of non-projected attributes would add base-item fetches."""
        legacy = {"AttributesToGet", "QueryFilter", "KeyConditions", "ConditionalOperator"}
        if legacy & params.keys():
            return None
        plain = not ({"IndexName", "ProjectionExpression", "FilterExpression", "Select"} & params.keys())
        if plain:
            return sum(item_size(item) for item in parsed.get("Items", []))
        drop = {
            "ProjectionExpression",
            "FilterExpression",
            "Select",
            "ReturnConsumedCapacity",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        }
        sizing = {k: v for k, v in params.items() if k not in drop}
        condition = str(params.get("KeyConditionExpression", ""))
        names = {
            k: v
            for k, v in params.get("ExpressionAttributeNames", {}).items()
            if k in re.findall(r"#\w+", condition)
        }
        values = {
            k: v
            for k, v in params.get("ExpressionAttributeValues", {}).items()
            if k in re.findall(r":\w+", condition)
        }
        if names:
            sizing["ExpressionAttributeNames"] = names
        if values:
            sizing["ExpressionAttributeValues"] = values
        sizing["Select"] = "ALL_PROJECTED_ATTRIBUTES" if "IndexName" in params else "ALL_ATTRIBUTES"
        current, self.current = self.current, None
        try:
            entries = self.client.query(**sizing)
        except ClientError:
            return None  # the sizing failed, not the service's call: bill it one block
        finally:
            self.current = current
        if "ScannedCount" in parsed and entries.get("Count") != parsed["ScannedCount"]:
            return None  # the table moved between the two reads: not a size to bill on
        return sum(item_size(item) for item in entries.get("Items", []))

    def record(self, action: Callable[[], Any], *, size_queries: bool = True) -> tuple[Any, Recording]:
        """Run `action`, recording its calls. `size_queries=False` where the action is being
        timed: sizing a Query costs a call of its own."""
        self.size_queries = size_queries
        self.current = Recording()
        try:
            result = action()
            return result, self.current
        finally:
            recording, self.current = self.current, None
            del recording


def item_size(value: dict[str, Any]) -> int:
    """DynamoDB's documented item size: attribute names in UTF-8 plus each value (strings in
    UTF-8, numbers about one byte per two digits plus one, booleans and nulls one byte, lists
    and maps three bytes plus one per element plus their contents)."""

    def size(v: dict[str, Any]) -> int:
        ((kind, inner),) = v.items()
        if kind in ("S", "B"):
            return len(inner.encode()) if isinstance(inner, str) else len(inner)
        if kind == "N":
            return len(inner.lstrip("-").replace(".", "")) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(1 + size(x) for x in inner)
        if kind == "M":
            return 3 + sum(1 + len(k.encode()) + size(x) for k, x in inner.items())
        if kind in ("SS", "NS", "BS"):
            return sum(len(str(x).encode()) for x in inner)
        return 0

    return sum(len(k.encode()) + size(v) for k, v in value.items())


def largest_item_bytes(client: Any, table: str) -> int:
    """The largest item of the table by DynamoDB's size rules: the "up to 1 KB" premise."""
    pages = client.get_paginator("scan").paginate(TableName=table)
    return max((item_size(item) for page in pages for item in page["Items"]), default=0)


# --------------------------------------------------------------------------- the baseline design


class Baseline:
    """The same three operations done the common way: Powertools Idempotency's persistence
    record (its own table) around the seed's read and one conditional write; no audit item,
    no credential checks in the write, no activation guard."""

    def __init__(self, client: Any, table: str, simulator: Any) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.typing import LambdaContext

        self.client, self.table, self.simulator = client, table, simulator
        idempotency_table = table + "-idempotency"
        try:
            client.create_table(
                TableName=idempotency_table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            )
        except ClientError as error:  # a second instance (the whole bill's) shares the table
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
        layer = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client)
        config = IdempotencyConfig(expires_after_seconds=3600)
        context = LambdaContext()
        context._function_name, context._aws_request_id = "baseline", "bench"
        context.get_remaining_time_in_millis = lambda: 10_000  # type: ignore[method-assign]
        config.register_lambda_context(context)

        def key(serial: str) -> dict[str, Any]:
            return {"pk": {"S": f"VOUCHER#{serial}"}, "sk": {"S": "VOUCHER"}}

        @idempotent_function(data_keyword_argument="request", persistence_store=layer, config=config)
        def consume(request: dict[str, str]) -> dict[str, str]:
            client.get_item(TableName=table, Key=key(request["serial"]), ConsistentRead=True)
            client.update_item(
                TableName=table,
                Key=key(request["serial"]),
                UpdateExpression="SET #s = :to, #v = #v + :one",
                ConditionExpression="#s IN (:a, :c, :x)",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
                ExpressionAttributeValues={
                    ":to": {"S": "REDEEMED"},
                    ":one": {"N": "1"},
                    ":a": {"S": "AVAILABLE"},
                    ":c": {"S": "CLAIMED"},
                    ":x": {"S": "ACTIVATED"},
                },
            )
            return {"status": "REDEEMED"}

        @idempotent_function(data_keyword_argument="request", persistence_store=layer, config=config)
        def activate(request: dict[str, str]) -> dict[str, str]:
            client.batch_get_item(
                RequestItems={
                    table: {
                        "Keys": [
                            key(request["serial"]),
                            {"pk": {"S": "DEF#carwash"}, "sk": {"S": "DEFINITION"}},
                        ],
                        "ConsistentRead": True,
                    }
                }
            )
            code = simulator_code(simulator, request["serial"])
            client.update_item(
                TableName=table,
                Key=key(request["serial"]),
                UpdateExpression="SET #s = :to, #v = #v + :one, #a = :code",
                ConditionExpression="#s IN (:a2, :c)",
                ExpressionAttributeNames={"#s": "status", "#v": "version", "#a": "activation_code"},
                ExpressionAttributeValues={
                    ":to": {"S": "ACTIVATED"},
                    ":one": {"N": "1"},
                    ":code": {"S": code},
                    ":a2": {"S": "AVAILABLE"},
                    ":c": {"S": "CLAIMED"},
                },
            )
            return {"authorizationCode": code}

        @idempotent_function(data_keyword_argument="request", persistence_store=layer, config=config)
        def unclaim(request: dict[str, str]) -> dict[str, str]:
            client.get_item(TableName=table, Key=key(request["serial"]), ConsistentRead=True)
            client.update_item(
                TableName=table,
                Key=key(request["serial"]),
                UpdateExpression="SET #s = :to, #v = #v + :one",
                ConditionExpression="#s = :c",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
                ExpressionAttributeValues={
                    ":to": {"S": "AVAILABLE"},
                    ":one": {"N": "1"},
                    ":c": {"S": "CLAIMED"},
                },
            )
            return {"voucher_status": "generated"}

        self.operations: dict[str, Callable[..., Any]] = {
            "consume_voucher success": consume,
            "activate_voucher first activation (+1 provider call)": activate,
            "unclaim_voucher success": unclaim,
        }


def simulator_code(simulator: Any, reference: str) -> str:
    import urllib.request

    request = urllib.request.Request(
        simulator.url + "/v1/authorizations",
        data=json.dumps({"reference": reference, "productCode": "CW-BASIC", "validitySeconds": 900}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {simulator.api_key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["authorizationCode"])


# --------------------------------------------------------------------------- import costs

IMPORT_ROWS = {
    "Powertools Tracer": "from aws_lambda_powertools import Tracer\nTracer(service='bench')",
    "REST resolver with validation": (
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "APIGatewayRestResolver(enable_validation=True)"
    ),
    "Powertools Idempotency": (
        "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent"
    ),
    "Powertools Parser": "from aws_lambda_powertools.utilities.parser import BaseModel, parse",
    "one pydantic model": "import pydantic\nclass M(pydantic.BaseModel):\n    a: int\nM(a=1)",
}

SNIPPET = """
import sys, time
sys.path.insert(0, {root!r})
import importlib
importlib.import_module("functions.consume_voucher.handler")
from shared.runtime import RUNTIME
RUNTIME.store()
t0 = time.perf_counter()
{extra}
print((time.perf_counter() - t0) * 1000)
"""


def fresh_interpreter_ms(code: str, root: Path, env: dict[str, str]) -> float:
    """Run `code` in a new interpreter; it prints the milliseconds it measured, last."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=str(root)
    )
    return float(out.stdout.strip().splitlines()[-1])


def import_costs(root: Path, runs: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """Extra milliseconds each library adds on top of a function's own cold start (the consume
    function imported and initialised first, in the same fresh interpreter; median of runs)."""

    def sample(extra: str) -> float:
        return fresh_interpreter_ms(SNIPPET.format(root=str(root), extra=extra), root, env)

    rows = []
    for name, extra in IMPORT_ROWS.items():
        try:
            sample(extra)  # warm the file cache
        except subprocess.CalledProcessError as error:
            rows.append({"library": name, "extra_ms": None, "note": error.stderr.strip().splitlines()[-1]})
            continue
        values = [sample(extra) for _ in range(runs)]
        rows.append({"library": name, "extra_ms": round(statistics.median(values), 1), "runs": runs})
    return rows


def per_million(value: float) -> str:
    return f"${value:.2f}" if not math.isnan(value) else "-"


# --------------------------------------------------------------------------- capacity plan

PARTITION_RRU_PER_S = 3000  # DynamoDB's per-partition limits (a single item can never exceed them)
PARTITION_WRU_PER_S = 1000
TABLE_ON_DEMAND_QUOTA = 40000  # default per-table on-demand throughput quota (RRU/s and WRU/s), adjustable
LAMBDA_CONCURRENCY = 1000  # default regional account concurrency; the stack reserves none

KEY_PATTERNS = {
    "SESSION#": "the caller's session",
    "TOUCHPOINT#": "the Thalamus touchpoint",
    "ACTIVITY#": "the activity / catalog item",
    "DEF#": "the voucher definition",
    "APP#": "the Spaaza app",
    "CHAIN#": "the Spaaza chain",
    "OPERATOR#": "the operator's grant",
    "SPAAZA_ADMIN#": "the admin's chain grant",
    "MEMBER#": "the member",
    "MEMBERID#": "an end-user alias",
    "VOUCHERID#": "a voucher alias",
    "VOUCHER#": "the voucher (its item, guard, events)",
}


def per_key_units(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, list[float]]:
    """{key pattern: [RRU, WRU]} one request puts on the busiest partition of each kind it
    touches (a list reads many vouchers: each is its own partition, so the voucher row is the
    most any one voucher's partition gets, not the page's sum)."""
    per_partition: dict[str, list[float]] = {}

    def add(key: dict[str, Any], rru: float, wru: float) -> None:
        entry = per_partition.setdefault(key["pk"]["S"], [0.0, 0.0])
        entry[0] += rru
        entry[1] += wru

    for name, params in calls:
        if name == "BatchGetItem":
            for table in params["RequestItems"].values():
                for key in table["Keys"]:
                    add(key, 1.0 if table.get("ConsistentRead") else 0.5, 0.0)
        elif name == "GetItem":
            add(params["Key"], 1.0 if params.get("ConsistentRead") else 0.5, 0.0)
        elif name == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                key = body.get("Key") or {k: body["Item"][k] for k in ("pk", "sk")}
                add(key, 2.0, 0.0) if kind == "ConditionCheck" else add(key, 0.0, 2.0)
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            add(params.get("Key") or {k: params["Item"][k] for k in ("pk", "sk")}, 0.0, 1.0)
    units: dict[str, list[float]] = {}
    for pk, (rru, wru) in per_partition.items():
        pattern = next((name for prefix, name in KEY_PATTERNS.items() if pk.startswith(prefix)), pk)
        entry = units.setdefault(pattern, [0.0, 0.0])
        entry[0], entry[1] = max(entry[0], rru), max(entry[1], wru)
    return units


def capacity_plan(results: dict[str, Any], stages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Hot keys against the partition limits, and what saturates first at 10x/100x/1,000x the
    load the local HTTP stack sustained in this run, from this run's figures only."""
    hot = []
    for row in results["round_trips"]:
        if "per_key" not in row:
            continue
        for pattern, (rru, wru) in sorted(row["per_key"].items()):
            limits = [PARTITION_RRU_PER_S / rru] if rru else []
            limits += [PARTITION_WRU_PER_S / wru] if wru else []
            hot.append(
                {
                    "request": f"{row['function']} {row['case']}",
                    "key": pattern,
                    "rru": rru,
                    "wru": wru,
                    "max_per_s_on_one_key": round(min(limits)),
                }
            )
    successes = [r for r in results["round_trips"] if "per_key" in r]
    worst_rru = max(r["read_units"] for r in successes)
    worst_wru = max(r["write_units"] for r in successes)
    latency = max(r["handler_p50_ms"] for r in results["warm_latency_dynamodb_local"])
    base = next(h["requests_per_s"] for h in results["http_load"] if h["engine"] == "dynamodb-local")
    prod = stages.get("prod", {})
    load = []
    for factor in (10, 100, 1000):
        rps = base * factor
        ceilings = {
            f"API Gateway stage throttle (prod {prod.get('throttle_rate_limit')} req/s)": float(
                prod.get("throttle_rate_limit") or math.inf
            ),
            f"Lambda concurrency ({LAMBDA_CONCURRENCY} at {latency} ms per request)": LAMBDA_CONCURRENCY
            / (latency / 1000),
            f"table on-demand quota ({TABLE_ON_DEMAND_QUOTA} RRU/s at {worst_rru} RRU per request)": (
                TABLE_ON_DEMAND_QUOTA / worst_rru
            ),
            f"table on-demand quota ({TABLE_ON_DEMAND_QUOTA} WRU/s at {worst_wru} WRU per request)": (
                TABLE_ON_DEMAND_QUOTA / worst_wru
            ),
        }
        over = sorted((cap, name) for name, cap in ceilings.items() if rps > cap)
        load.append(
            {
                "factor": factor,
                "requests_per_s": round(rps),
                "saturates_first": over[0][1] if over else "nothing listed",
                "all_exceeded": [name for _cap, name in over],
            }
        )
    return {
        "base_requests_per_s": base,
        "hot_keys": hot,
        "limits": [
            {"limit": name, "saturates_at_requests_per_s": round(cap)} for name, cap in ceilings.items()
        ],
        "load": load,
    }


def list_page_reads(recording: Any) -> dict[str, Any]:
    """What a list page read of the owner index against what it examined. Each index Query is
    paired with the batch after it (the vouchers it examined). Its floor is the entries that
    batch examined plus the one that says whether more remain, at the entries' measured size,
    in 4 KB blocks (0.5 RRU each). A Query may read a few entries more: it is sent before the
    definitions that share the batch's 100 keys are known; the goal (index RRU <= floor) says
    whether those cost a block in this run."""

    def vouchers(params: dict[str, Any]) -> int:
        return sum(
            1
            for t in params["RequestItems"].values()
            for key in t["Keys"]
            if key["pk"]["S"].startswith("VOUCHER#")
        )

    queries, entries, examined, index_bytes, index_rru, floor = 0, 0, 0, 0, 0.0, 0.0
    for i, (name, params) in enumerate(recording.calls):
        if name != "Query" or "IndexName" not in params:
            continue
        read, size = recording.scanned.get(i, 0), recording.read_bytes.get(i, 0)
        batch = next((p for n, p in recording.calls[i + 1 :] if n == "BatchGetItem"), None)
        batched = vouchers(batch) if batch else 0
        used = min(read, batched + 1)
        queries, entries, examined = queries + 1, entries + read, examined + batched
        index_bytes += size
        index_rru += billing_units(name, params, size)[0]
        floor += 0.5 * query_blocks(size * used // read if read else 0)
    return {
        "index_queries": queries,
        "index_entries_read": entries,
        "vouchers_examined": examined,
        "index_bytes": index_bytes,
        "index_rru": index_rru,
        "index_floor_rru": floor,
        "ok": index_rru <= floor,
    }
