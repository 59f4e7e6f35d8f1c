"""The fault suite: every state-changing path, with faults injected around the commit on both
engines (moto's server and DynamoDB Local) and at the provider, each history checked by
tests/faults/history.py.

What a client may be told, whatever was cut: the committed truth, or the dialect's retryable
error (never a 500); a retry of the same request then tells the truth. Nothing is applied
twice, no code a voucher carries is ever announced unused, and every code the provider
issued is carried, announced unused exactly once, or still held for a retry.

The seeded random schedule here is short (a few dozen requests); `make fuzz` runs a longer
one (FAULT_SCHEDULE_REQUESTS, FAULT_SCHEDULE_SEED).
"""

from __future__ import annotations

import functools
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from infra.local_stack.apigw import build_event, invoke
from shared.runtime import dynamodb_config
from tests.conftest import demo_document
from tests.faults.history import (
    OK,
    REFUSED,
    RETRYABLE,
    Event,
    Kind,
    Op,
    check_codes,
    check_voucher,
)
from tests.faults.injector import FaultInjector

pytestmark = pytest.mark.faults

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
ALICE = {"Authorization": "Bearer demo-es-member-alice"}
ADMIN = {
    "X-Spaaza-Session-User-Id": "900",
    "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
    "Content-Type": "application/x-www-form-urlencoded",
}
TW = "TransactWriteItems"
VOUCHERS = 160  # car-wash vouchers per table; each test takes fresh ones (Env.fresh)


def fault_serial(i: int) -> str:
    return f"fa000000-0000-4000-8000-{i:012d}"


def voucher_id(i: int) -> int:
    return 71000 + i


@dataclass
class Env:
    store: Any
    raw: Any  # a client without faults, to read what the table holds
    injector: FaultInjector
    sim: Any
    table: Any = None
    ops: dict[str, list[Op]] = field(default_factory=dict)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (serial, key) -> its first request
    initial: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self, status: str = "AVAILABLE") -> int:
        """A voucher no other test touched, in `status` (AVAILABLE or CLAIMED)."""
        i = self.table.next_index[status]
        assert i < VOUCHERS, "raise VOUCHERS"
        self.table.next_index[status] = i + 2
        self.initial[fault_serial(i)] = status
        return i

    # ---- requests, recorded as history operations

    def request(self, kind: Kind, i: int, method: str = "PUT", key: str | None = None) -> Op:
        serial = fault_serial(i)
        keyed = {"Idempotency-Key": key} if key is not None else {}
        if kind is Kind.CONSUME:
            built = build_event(
                method, f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial}", headers=ANNA | keyed
            )
            function = "consume_voucher"
        elif kind is Kind.ACTIVATE:
            path = f"/client/users/corr-faults/voucher/carwash::{serial}/activate"
            built = build_event("POST", path, headers=ALICE | keyed)
            function = "activate_voucher"
        else:
            body = f"voucher_id={voucher_id(i)}&user_id=1001&chain_id=1"
            built = build_event(method, f"/{kind.value}-voucher", headers=ADMIN | keyed, body=body)
            function = f"{kind.value}_voucher"
        assert built is not None
        _route, event = built
        request_id = event["requestContext"]["requestId"]
        start = time.monotonic()
        response = invoke(function, event)
        end = time.monotonic()
        op = classify(kind, request_id, start, end, response, self.sim)
        with self._lock:
            if key is not None:
                first = self.keys.setdefault((serial, key), request_id)
                if (response.get("headers") or {}).get("Idempotent-Replayed") == "true":
                    op = Op(**{**op.__dict__, "replays": first, "replay": False})
            self.ops.setdefault(serial, []).append(op)
        return op

    # ---- what the table and the provider hold

    def voucher_item(self, i: int) -> dict[str, Any]:
        item = self.store.get({"pk": f"VOUCHER#{fault_serial(i)}", "sk": "VOUCHER"})
        assert item is not None
        return dict(item)

    def events(self, serial: str) -> list[dict[str, Any]]:
        return [dict(e) for e in self.store.voucher_events(serial)]

    def check(self) -> list[str]:
        """Every voucher's history, and every provider code, through the checker."""
        self.injector.settle()
        violations: list[str] = []
        issued = {ref: e["authorizationCode"] for ref, e in self.sim.stats()["by_reference"].items()}
        carried: dict[str, str] = {}
        announced: list[str] = []
        pending: list[str] = []
        handed_out: list[tuple[str, str]] = []
        code_to_ref = {code: ref for ref, code in issued.items()}
        for serial, ops in self.ops.items():
            raw_events = self.events(serial)
            log = []
            for e in sorted(raw_events, key=lambda e: (int(e.get("version", 0)), e["sk"])):
                details = e.get("details") or {}
                if e["event_type"] == "IMPORTED":
                    continue
                log.append(
                    Event(
                        e["event_type"],
                        e["request_id"],
                        e.get("from_status"),
                        e["to_status"],
                        int(e["version"]) if "version" in e else None,
                        details.get("reference"),
                    )
                )
                if e["event_type"] == "ACTIVATION_CODE_UNUSED":
                    announced.append(details["reference"])
            item = self.store.get({"pk": f"VOUCHER#{serial}", "sk": "VOUCHER"})
            activation = (item or {}).get("activation")
            for event in log:
                if event.event_type == "ACTIVATED" and event.reference is not None:
                    carried[event.reference] = issued.get(event.reference, "?")
            if activation:
                carried[activation["reference"]] = activation["authorization_code"]
            if item and item.get("guard_owner"):
                pending.append(str(item.get("guard_reference")))
            ops_with_refs = []
            for op in ops:
                if op.kind is Kind.ACTIVATE and op.outcome == OK and op.code is not None:
                    reference = code_to_ref.get(op.code, "?")
                    handed_out.append((reference, op.code))
                    op = Op(**{**op.__dict__, "reference": reference})
                ops_with_refs.append(op)
            report = check_voucher(serial, self.initial.get(serial, "AVAILABLE"), ops_with_refs, log)
            violations += report.violations
        violations += check_codes(issued, carried, announced, pending, handed_out)
        if self.table is not None and self.table.streams:
            violations += self.check_stream()
        return violations

    def check_stream(self) -> list[str]:
        """Every committed transition (and announcement) of this test's vouchers is in the
        table's stream exactly once as a publishable event: what the delivery function turns
        into webhooks (DynamoDB Local only: moto's stream is not complete under load)."""
        from shared.webhooks.events import pending_events

        serials = set(self.ops)
        committed = [
            e["event_id"] for serial in serials for e in self.events(serial) if e["event_type"] != "IMPORTED"
        ]
        streamed: dict[str, int] = {}
        for pending in pending_events(self.table.stream_records()):
            if pending.event["serial"] in serials:
                streamed[pending.event["event_id"]] = streamed.get(pending.event["event_id"], 0) + 1
        problems = [f"committed event {i} is not in the stream" for i in committed if i not in streamed]
        problems += [f"event {i} is in the stream {n} times" for i, n in streamed.items() if n != 1]
        problems += [
            f"event {i} is in the stream, not in the audit log" for i in streamed if i not in committed
        ]
        return problems


def classify(kind: Kind, request_id: str, start: float, end: float, response: dict[str, Any], sim: Any) -> Op:
    """A dialect's answer as the checker reads it."""
    status = int(response["statusCode"])
    body = json.loads(response["body"]) if response.get("body") else {}
    text = json.dumps(body)[:160]
    retry_words = ("ConcurrentModification", "ACTIVATION_IN_PROGRESS", "concurrent_modification")
    if status == 200:
        outcome = OK
    elif status in (502, 503, 504) or (status == 409 and any(word in text for word in retry_words)):
        outcome = RETRYABLE
    elif 400 <= status < 500:
        outcome = REFUSED
    else:
        outcome = "broken"
    activated = outcome == OK and kind is Kind.ACTIVATE
    return Op(
        request_id,
        kind,
        start,
        end,
        outcome,
        code=body.get("authorizationCode") if activated else None,
        replay=activated and bool(body.get("idempotent")),
        answer=f"{status} {text}",
    )


@dataclass
class Table:
    """One table per engine per module (loading the demo data costs seconds): each test takes
    fresh vouchers from it."""

    secrets_endpoint: str  # moto's server: the provider secret lives there
    name: str
    raw: Any
    injector: FaultInjector
    sim: Any
    store: Any
    next_index: dict[str, int] = field(default_factory=lambda: {"AVAILABLE": 0, "CLAIMED": 1})
    streams: Any = None  # DynamoDB Local's stream client (None on moto)

    def stream_records(self) -> list[dict[str, Any]]:
        """Every record of the table's stream so far, in shard order."""
        arn = self.raw.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]
        records: list[dict[str, Any]] = []
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            ).get("ShardIterator")
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records += page["Records"]
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        return records


@pytest.fixture(scope="module", params=["moto", "dynamodb_local"])
def table(request: pytest.FixtureRequest, moto_server: str) -> Iterator[Table]:
    from aws_lambda_powertools.utilities import parameters

    from infra.local_stack.provider_simulator import ProviderSimulator
    from shared.runtime import RUNTIME
    from shared.store import DynamoDBStore
    from shared.table_schema import create_table
    from tests.conftest import engine_client

    endpoint = moto_server if request.param == "moto" else request.getfixturevalue("dynamodb_local")
    name = f"faults-{request.param.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    raw = engine_client(endpoint)
    create_table(raw, name)
    document = demo_document()
    template = next(v for v in document["vouchers"] if v["serial"].endswith("000000000001"))
    for i in range(VOUCHERS):
        voucher = {k: v for k, v in template.items() if k not in ("voucher_key", "third_party_id")}
        # even: AVAILABLE (consume, activate, claim); odd: CLAIMED (unclaim, consume)
        status = "AVAILABLE" if i % 2 == 0 else "CLAIMED"
        document["vouchers"].append(
            {**voucher, "serial": fault_serial(i), "voucher_id": voucher_id(i), "status": status}
        )
    _write_items(raw, name, document)

    injector = FaultInjector()
    faulty = injector.attach(
        boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=endpoint, config=dynamodb_config())
    )
    simulator = ProviderSimulator(api_key="faults-simulator-key", timeout_seconds=3.0).start()
    secret = f"voucher/faults/{name}"
    boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_server).create_secret(
        Name=secret,
        SecretString=json.dumps({"KESSELTRONICS": {"api_key": simulator.api_key, "endpoint": simulator.url}}),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server)
        patch.setenv("PROVIDER_SECRET_NAME", secret)
        patch.setenv("TABLE_NAME", name)
        parameters.clear_caches()
        try:
            streams = None
            if request.param == "dynamodb_local":
                from infra.local_stack.webhooks import ensure_stream

                ensure_stream(raw, name)
                streams = boto3.client("dynamodbstreams", region_name="eu-west-1", endpoint_url=endpoint)
            table = Table(moto_server, name, raw, injector, simulator, DynamoDBStore(faulty, name))
            table.streams = streams
            yield table
        finally:
            injector.settle()
            parameters.clear_caches()
            simulator.stop()
            RUNTIME.reset()
            raw.delete_table(TableName=name)


def _write_items(client: Any, name: str, document: dict[str, Any]) -> None:
    """The importer's items, written as they are (the importer's own checks and pacing cost
    tens of seconds on moto for this many vouchers; tests/unit/test_importer.py tests them)."""
    from infra.importer import validate
    from infra.importer.loader import build_groups
    from shared.store.codec import serialize

    parsed, problems = validate(document)
    assert parsed is not None and not problems, problems
    items = [i for g in build_groups(parsed) for i in (*g.items, *([g.event] if g.event else []))]
    for start in range(0, len(items), 25):
        request = {name: [{"PutRequest": {"Item": serialize(i)}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


@pytest.fixture
def env(table: Table, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    from shared.runtime import RUNTIME, Settings
    from shared.store import DynamoDBStore

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", table.secrets_endpoint)
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("PROVIDER_SECRET_NAME", f"voucher/faults/{table.name}")
    table.injector.clear()
    table.injector.settle()
    table.sim.reset()
    RUNTIME.reset(store=table.store, settings=Settings.from_env())
    yield Env(DynamoDBStore(table.raw, table.name), table.raw, table.injector, table.sim, table=table)
    table.injector.clear()
    table.injector.settle()


def assert_clean(env: Env) -> None:
    violations = env.check()
    assert not violations, "\n".join(violations)


# --------------------------------------------------------------------------- the cases

# (case id, operation the fault targets, action, count): "all" is more attempts than any
# request makes, so every answer of the call is lost
ALL = 50
COMMIT_FAULTS = [
    ("reset_before_once", TW, "reset_before", 1),
    ("reset_before_all", TW, "reset_before", ALL),
    ("reset_after_once", TW, "reset_after", 1),
    ("reset_after_three", TW, "reset_after", 3),
    ("reset_after_all", TW, "reset_after", ALL),
    ("truncate_all", TW, "truncate", ALL),
    ("answer_past_timeout", TW, "delay_after", 2),
    ("original_after_retry", TW, "delay_before", 1),
    ("throttled_all", TW, "throttle", ALL),
    ("read_fails_all", "BatchGetItem", "reset_after", ALL),
]


def _fault(env: Env, operation: str, action: str, count: int) -> None:
    env.injector.add(operation, action, count, delay=0.5)


@pytest.mark.parametrize(
    ("case", "operation", "action", "count"), COMMIT_FAULTS, ids=[c[0] for c in COMMIT_FAULTS]
)
@pytest.mark.parametrize("kind", [Kind.CONSUME, Kind.UNCLAIM, Kind.CLAIM], ids=lambda k: k.value)
def test_a_lost_answer_is_the_truth_or_retryable(
    env: Env, kind: Kind, case: str, operation: str, action: str, count: int
) -> None:
    i = env.fresh("CLAIMED" if kind is Kind.UNCLAIM else "AVAILABLE")
    _fault(env, operation, action, count)
    first = env.request(kind, i)
    env.injector.clear()
    env.injector.settle()
    # a client repeats a 503 as told (Retry-After): on a loaded machine the engine may still be
    # too slow for one request's deadline once the faults are gone, which is a retryable answer
    retry = _until_settled(lambda: env.request(kind, i))
    assert first.outcome != "broken", first.answer
    if first.outcome == OK:  # the first answer was the truth: the retry is judged on it
        assert retry.outcome == REFUSED, retry.answer
    else:  # nothing was committed, or the retry is judged on what was
        assert retry.outcome in (OK, REFUSED), retry.answer
    if count < ALL and action != "throttle":
        # the store's own resend learned the outcome within the request: the truth, at once
        assert first.outcome == OK, first.answer
    if count >= ALL:
        assert first.outcome == RETRYABLE, first.answer  # still unreachable when it had to answer
    assert_clean(env)


ACTIVATION_FAULTS = [
    *COMMIT_FAULTS,
    ("claim_reset_after_all", "UpdateItem", "reset_after", ALL),
    ("claim_reset_after_once", "UpdateItem", "reset_after", 1),
]


@pytest.mark.parametrize(
    ("case", "operation", "action", "count"), ACTIVATION_FAULTS, ids=[c[0] for c in ACTIVATION_FAULTS]
)
def test_an_activation_whose_commit_is_cut_keeps_its_code_for_the_retry(
    env: Env, case: str, operation: str, action: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.usecases.activation.GUARD_MARGIN_SECONDS", 0.0)  # held only for the call
    i = env.fresh()
    _fault(env, operation, action, count)
    first = env.request(Kind.ACTIVATE, i)
    env.injector.clear()
    env.injector.settle()
    retry = _until_settled(lambda: env.request(Kind.ACTIVATE, i))
    assert first.outcome != "broken", first.answer
    assert retry.outcome == OK, retry.answer
    if first.outcome == OK:
        assert first.code == retry.code
    env.request(Kind.CONSUME, i)  # the voucher moves on
    assert_clean(env)
    assert env.sim.stats()["issued"] <= 1  # one reference, one code, however often it was asked
    assert not [e for e in env.events(fault_serial(i)) if e["event_type"] == "ACTIVATION_CODE_UNUSED"]


PROVIDER_FAULTS = ["timeout", "lost", "late", "garbage", "error", "refuse"]


@pytest.mark.parametrize("mode", PROVIDER_FAULTS)
def test_a_code_issued_during_a_failed_provider_call_is_announced_once_the_voucher_moves_on(
    env: Env, mode: str
) -> None:
    i = env.fresh()
    env.sim.set_mode(mode, 1)
    first = env.request(Kind.ACTIVATE, i)
    assert first.outcome == RETRYABLE, first.answer
    consumed = _until_settled(lambda: env.request(Kind.CONSUME, i))  # the voucher moves on, no code
    assert consumed.outcome == OK, consumed.answer
    assert_clean(env)
    item = env.voucher_item(i)
    assert "guard_owner" not in item  # settled: nothing pending any longer
    announced = [e for e in env.events(fault_serial(i)) if e["event_type"] == "ACTIVATION_CODE_UNUSED"]
    issued = env.sim.stats()["issued"]
    # Whether a code was issued is unknown to the service in every mode here (the request was
    # sent; no usable answer came back): the reference is announced once, whatever happened.
    assert [e["details"]["reference"] for e in announced] == [f"{fault_serial(i)}:v1"]
    assert issued == (1 if mode in ("lost", "late") else 0)


def test_a_provider_that_refuses_the_connection_issued_nothing_and_nothing_is_announced(env: Env) -> None:
    i = env.fresh()
    env.sim.stop()  # its port now refuses connections: the request was never sent
    try:
        assert env.request(Kind.ACTIVATE, i).outcome == RETRYABLE
    finally:
        env.sim.start()
    assert _until_settled(lambda: env.request(Kind.CONSUME, i)).outcome == OK
    assert_clean(env)
    assert not [e for e in env.events(fault_serial(i)) if e["event_type"] == "ACTIVATION_CODE_UNUSED"]


def test_a_retry_after_a_lost_provider_answer_gets_that_very_code(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.usecases.activation.GUARD_MARGIN_SECONDS", 0.0)
    i = env.fresh()
    env.sim.set_mode("lost", 1)
    assert env.request(Kind.ACTIVATE, i).outcome == RETRYABLE
    retry = _until_settled(lambda: env.request(Kind.ACTIVATE, i))
    assert retry.outcome == OK and not retry.replay
    (entry,) = env.sim.stats()["by_reference"].values()
    assert retry.code == entry["authorizationCode"]
    env.request(Kind.CONSUME, i)
    assert_clean(env)
    assert not [e for e in env.events(fault_serial(i)) if e["event_type"] == "ACTIVATION_CODE_UNUSED"]


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_a_retry_with_the_same_key_after_every_answer_was_lost_gets_the_first_answer(
    env: Env, kind: Kind
) -> None:
    """The commit landed and every answer to it was lost: without a key a retry is judged on
    the new state (and looks refused); with the key it gets the answer the commit kept."""
    i = env.fresh("CLAIMED" if kind is Kind.UNCLAIM else "AVAILABLE")
    _fault(env, TW, "reset_after", ALL)
    first = env.request(kind, i, key=f"key-{kind.value}")
    env.injector.clear()
    assert first.outcome == RETRYABLE, first.answer  # outcome unknown
    retry = env.request(kind, i, key=f"key-{kind.value}")
    assert retry.outcome == OK and retry.replays == first.request_id, retry.answer
    assert_clean(env)


def _until_settled(request: Callable[[], Op], seconds: float = 12.0) -> Op:
    """Repeat a request while it is answered "retry" (a guard left in flight expires)."""
    deadline = time.monotonic() + seconds
    while True:
        op = request()
        if op.outcome != RETRYABLE or time.monotonic() > deadline:
            return op
        time.sleep(0.3)


# --------------------------------------------------------------------------- a random schedule


def test_a_seeded_random_schedule_of_faults_and_races(env: Env) -> None:
    """Threads send random operations at a few vouchers while random faults hit random calls;
    the checker then explains every voucher's history."""
    seed = int(os.environ.get("FAULT_SCHEDULE_SEED", "20261207"))
    total = int(os.environ.get("FAULT_SCHEDULE_REQUESTS", "36"))
    rng = random.Random(seed)
    vouchers = [env.fresh("AVAILABLE") for _ in range(3)] + [env.fresh("CLAIMED") for _ in range(3)]
    actions = ["reset_before", "reset_after", "truncate", "delay_after", "delay_before", "throttle"]
    operations = [TW, TW, "BatchGetItem", "UpdateItem"]
    plan = []
    for _ in range(total):
        plan.append(
            (
                rng.choice([Kind.CONSUME, Kind.ACTIVATE, Kind.UNCLAIM, Kind.CLAIM]),
                rng.choice(vouchers),
                rng.choice(operations),
                rng.choice(actions),
                rng.choice([1, 1, 2, ALL]),
                rng.choice(["normal", "normal", "normal", "lost", "timeout"]),
            )
        )
    lock = threading.Lock()

    def worker(w: int) -> None:
        for n, (kind, i, operation, action, count, provider) in enumerate(plan):
            if n % 3 != w:
                continue
            with lock:
                env.injector.add(operation, action, count, delay=0.3)
                if kind is Kind.ACTIVATE and provider != "normal":
                    env.sim.set_mode(provider, 1)
            env.request(kind, i)
            with lock:
                env.injector.clear()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    env.injector.clear()
    for i in vouchers:  # every voucher moves on: no reference stays unsettled
        _until_settled(functools.partial(env.request, Kind.CONSUME, i))
    assert_clean(env)
