"""Data layer: keys, hydration, transactions and their failure mapping.

moto never returns UnprocessedKeys, TransactionConflict or throttling, so those paths are
driven with botocore's Stubber on a real client."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from shared.domain import ActivationGuard, AuditEvent, Status
from shared.ports import (
    ConditionFailed,
    GrantHeld,
    GuardClaim,
    GuardHeld,
    NoLiveActivation,
    OperatorGrantRef,
    OutcomeUnknown,
    SessionLive,
    SessionRef,
    StateChange,
    StoreUnavailable,
    VoucherAt,
    VoucherRef,
    WriteConflict,
)
from shared.store import DynamoDBStore, Keys, decode, encode, serialize
from shared.store.schema import VOUCHER
from shared.table_schema import TABLE
from tests.conftest import guard_fields, serial

NOW = datetime(2026, 6, 1, tzinfo=UTC)
_VOUCHER = {**Keys.voucher("a"), "serial": "a", "definition_id": "d", "status": "CLAIMED", "version": 2}


@pytest.fixture
def stubbed() -> tuple[DynamoDBStore, Stubber, list[float]]:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    sleeps: list[float] = []
    return DynamoDBStore(client, "t", sleep=sleeps.append), Stubber(client), sleeps


def test_batch_get_retries_unprocessed_keys_with_backoff(stubbed: Any) -> None:
    store, stub, sleeps = stubbed
    a, b = Keys.voucher("a"), Keys.voucher("b")
    stub.add_response(
        "batch_get_item",
        {
            "Responses": {"t": [serialize({**a, "n": 1})]},
            "UnprocessedKeys": {"t": {"Keys": [serialize(b)], "ConsistentRead": True}},
        },
        {"RequestItems": {"t": {"Keys": [serialize(a), serialize(b)], "ConsistentRead": True}}},
    )
    stub.add_response(
        "batch_get_item",
        {"Responses": {"t": [serialize({**b, "n": 2})]}},
        {"RequestItems": {"t": {"Keys": [serialize(b)], "ConsistentRead": True}}},
    )
    with stub:
        found = store.batch_get([a, b, a])  # duplicates are sent once
    assert {k[0]: v["n"] for k, v in found.items()} == {"VOUCHER#a": 1, "VOUCHER#b": 2}
    assert len(sleeps) == 1 and sleeps[0] > 0
    stub.assert_no_pending_responses()


def test_batch_get_gives_up_with_store_unavailable(stubbed: Any) -> None:
    store, stub, sleeps = stubbed
    key = Keys.voucher("a")
    for _ in range(6):
        stub.add_response(
            "batch_get_item",
            {"Responses": {"t": []}, "UnprocessedKeys": {"t": {"Keys": [serialize(key)]}}},
            {"RequestItems": ANY},
        )
    with stub, pytest.raises(StoreUnavailable):
        store.batch_get([key])
    assert len(sleeps) == 5 and sleeps == sorted(sleeps[:-1]) + sleeps[-1:]


def test_batch_get_splits_more_than_100_keys(stubbed: Any) -> None:
    store, stub, _ = stubbed
    keys = [Keys.voucher(str(i)) for i in range(150)]
    stub.add_response("batch_get_item", {"Responses": {"t": []}}, {"RequestItems": ANY})
    stub.add_response("batch_get_item", {"Responses": {"t": []}}, {"RequestItems": ANY})
    with stub:
        assert store.batch_get(keys) == {}
    stub.assert_no_pending_responses()


def test_throttling_maps_to_store_unavailable(stubbed: Any) -> None:
    store, stub, _ = stubbed
    for _ in range(store._max_call_attempts):
        stub.add_client_error("get_item", service_error_code="ProvisionedThroughputExceededException")
    with stub, pytest.raises(StoreUnavailable) as caught:
        store.get(Keys.voucher("a"))
    assert not isinstance(caught.value, OutcomeUnknown)  # a read: nothing can have been written


def test_one_throttled_attempt_is_sent_again(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_client_error("get_item", service_error_code="ThrottlingException")
    stub.add_response("get_item", {})
    with stub:
        assert store.get(Keys.voucher("a")) is None


@pytest.mark.parametrize("operation", ["get_item", "transact_write_items"])
def test_a_connection_that_keeps_failing_is_unavailable_and_a_write_unknown(operation: str) -> None:
    """Every attempt's connection fails (botocore's ConnectionClosedError, as for a reset or a
    truncated answer): never a bare botocore error (a 500), and for a write OutcomeUnknown,
    since the request may have reached the table."""
    from botocore.exceptions import ConnectionClosedError

    class Dead:
        calls = 0

        def __getattr__(self, _name: str) -> Any:
            def fail(**_kwargs: Any) -> Any:
                Dead.calls += 1
                raise ConnectionClosedError(endpoint_url="http://127.0.0.1:9")

            return fail

    store = DynamoDBStore(Dead(), "t", sleep=lambda _s: None)
    expected = OutcomeUnknown if operation == "transact_write_items" else StoreUnavailable
    with pytest.raises(expected) as caught:
        if operation == "get_item":
            store.get(Keys.voucher("a"))
        else:
            store.transact([{"ConditionCheck": {}}])
    assert isinstance(caught.value, StoreUnavailable)
    assert (operation == "transact_write_items") == isinstance(caught.value, OutcomeUnknown)
    assert Dead.calls == store._max_call_attempts


def test_no_attempt_starts_that_could_not_end_before_the_deadline() -> None:
    from botocore.exceptions import ReadTimeoutError

    calls: list[str] = []

    class Slow:
        def __getattr__(self, name: str) -> Any:
            def fail(**_kwargs: Any) -> Any:
                calls.append(name)
                raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9")

            return fail

    store = DynamoDBStore(Slow(), "t", sleep=lambda _s: None, remaining=lambda: 2.0)
    with pytest.raises(OutcomeUnknown):
        store.transact([{"ConditionCheck": {}}])
    assert calls == ["transact_write_items"]  # 2 s left: one more 3 s attempt could not end in time


def test_a_resent_transaction_that_meets_its_own_event_is_committed(stubbed: Any) -> None:
    """moto ignores ClientRequestToken, and DynamoDB forgets it after 10 minutes: a resent
    commit whose first attempt committed then fails its conditions, and among them the put of
    its own event (an id new to this write). That is proof of the commit, not a conflict."""
    from botocore.exceptions import ConnectionClosedError

    store, stub, _ = stubbed
    original = store.client.transact_write_items
    attempts: list[int] = []

    def lost_then_cancelled(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1:9")
        return original(**kwargs)

    moved_on = serialize({**_VOUCHER, "status": "AVAILABLE", "version": 3})
    _cancel(
        stub,
        [
            {"Code": "ConditionalCheckFailed", "Item": moved_on},  # the voucher: at the version it wrote
            {"Code": "ConditionalCheckFailed"},  # its own event: already there
            {"Code": "None"},
            {"Code": "None"},
        ],
    )
    with stub:
        store.client.transact_write_items = lost_then_cancelled
        store.commit(_change())  # no ConditionFailed: the write is ours
    assert len(attempts) == 2


def _cancel(stub: Stubber, reasons: list[dict[str, Any]]) -> None:
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        response_meta={},
        modeled_fields={"CancellationReasons": reasons},
    )


def _change() -> StateChange:
    before = decode(VOUCHER, _VOUCHER)
    return StateChange(
        before,
        replace(before, status=Status.AVAILABLE, version=3),
        AuditEvent("a", "UNCLAIMED", "spaaza", "k", "p", "CLAIMED", "AVAILABLE", NOW, "r"),
        conditions=(SessionLive("h"), GrantHeld(OperatorGrantRef("op", "A", "*"))),
    )


OK = {"Code": "None"}
FAILED = {"Code": "ConditionalCheckFailed"}


@pytest.mark.parametrize(
    ("reasons", "guard"),
    [
        (
            [{**FAILED, "Item": serialize({**_VOUCHER, "status": "REDEEMED", "version": 3})}, OK, OK, OK],
            VoucherAt("a", 2, "CLAIMED"),
        ),
        ([OK, OK, FAILED, OK], SessionLive("h")),
        ([OK, OK, OK, FAILED], GrantHeld(OperatorGrantRef("op", "A", "*"))),
    ],
)
def test_cancellation_reasons_map_to_the_failing_guard(stubbed: Any, reasons: Any, guard: Any) -> None:
    store, stub, _ = stubbed
    _cancel(stub, reasons)
    with stub, pytest.raises(ConditionFailed) as caught:
        store.commit(_change())
    assert caught.value.condition == guard  # the typed guard itself, never a role string
    if isinstance(guard, VoucherAt):
        assert caught.value.current.status is Status.REDEEMED and caught.value.current.version == 3


def test_transaction_conflict_and_throttling(stubbed: Any) -> None:
    store, stub, _ = stubbed
    _cancel(stub, [{"Code": "TransactionConflict"}, OK, OK, OK])
    _cancel(stub, [{"Code": "ThrottlingError"}, OK, OK, OK])
    with stub:
        with pytest.raises(WriteConflict):
            store.commit(_change())
        with pytest.raises(StoreUnavailable):
            store.commit(_change())


def test_other_client_errors_are_not_swallowed(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_client_error("transact_write_items", service_error_code="ValidationException")
    with stub, pytest.raises(ClientError):
        store.commit(_change())


def test_transactions_carry_a_client_request_token(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_response("transact_write_items", {}, {"TransactItems": ANY, "ClientRequestToken": ANY})
    with stub:
        store.commit(_change())


# --------------------------------------------------------------------------- against moto


def test_table_is_built_from_the_shared_schema(store: DynamoDBStore) -> None:
    described = store.client.describe_table(TableName=store.table_name)["Table"]
    expected = TABLE.create_table_kwargs(store.table_name)
    assert described["KeySchema"] == expected["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["gsi1"]
    ttl = store.client.describe_time_to_live(TableName=store.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TABLE.ttl_attribute


def test_voucher_item_round_trip_and_owner_index(demo: DynamoDBStore) -> None:
    found = demo.batch_get([Keys.voucher(serial(11))])
    voucher = decode(VOUCHER, next(iter(found.values())))
    assert voucher.voucher_id == 40577 and voucher.status is Status.CLAIMED
    item = encode(VOUCHER, voucher)
    assert item["gsi1pk"] == "MEMBER#alice"
    assert "expires_at" not in item  # the TTL attribute must never be set on a voucher
    owned = {o.serial for o in DynamoDBStore(demo.client, demo.table_name).vouchers_of("bob")}
    assert serial(8) in owned and serial(11) not in owned


def test_conditional_transition_applies_once(demo: DynamoDBStore) -> None:
    v = demo.read([VoucherRef(serial(11))])[VoucherRef(serial(11))]
    assert v is not None
    event = AuditEvent(v.serial, "UNCLAIMED", "spaaza", "k", "p", v.status.value, "AVAILABLE", NOW, "r")
    change = StateChange(v, replace(v, status=Status.AVAILABLE, version=v.version + 1), event)
    demo.commit(change)
    with pytest.raises(ConditionFailed) as caught:
        demo.commit(change)
    assert caught.value.condition == VoucherAt.of(v) and caught.value.current is not None
    assert caught.value.current.version == v.version + 1


def test_activation_guard_is_exclusive_until_it_expires(demo: DynamoDBStore) -> None:
    v = demo.read([VoucherRef(serial(11))])[VoucherRef(serial(11))]
    assert v is not None

    def claim(owner: str, at: datetime) -> GuardClaim:
        return GuardClaim(
            ActivationGuard(v.serial, owner, "r", at, at + timedelta(seconds=5)), VoucherAt.of(v)
        )

    demo.commit(claim("me", NOW))
    with pytest.raises(ConditionFailed) as caught:
        demo.commit(claim("other", NOW + timedelta(seconds=1)))
    assert caught.value.condition == NoLiveActivation(v.serial) and caught.value.current.owner == "me"
    demo.commit(claim("other", NOW + timedelta(seconds=6)))  # ours expired: taken over
    demo.release_guard(GuardHeld(v.serial, "me"))  # not ours any more: left alone
    assert guard_fields(demo, v.serial)["owner"] == "other"  # type: ignore[index]
    demo.release_guard(GuardHeld(v.serial, "other"))
    assert guard_fields(demo, v.serial) is None


def test_session_check_fails_for_expired_session(demo: DynamoDBStore) -> None:
    demo.client.put_item(
        TableName=demo.table_name,
        Item=serialize(
            {
                **Keys.session("h"),
                "kind": "spaaza_admin",
                "principal_id": "p",
                "expires_at": int((NOW - timedelta(seconds=1)).timestamp()),
            }
        ),
    )
    v = demo.read([VoucherRef(serial(11))])[VoucherRef(serial(11))]
    assert v is not None
    event = AuditEvent(v.serial, "UNCLAIMED", "spaaza", "k", "p", v.status.value, "AVAILABLE", NOW, "r")
    change = StateChange(
        v, replace(v, status=Status.AVAILABLE, version=v.version + 1), event, (SessionLive("h"),)
    )
    with pytest.raises(ConditionFailed) as caught:
        demo.commit(change)
    assert caught.value.condition == SessionLive("h")
    assert demo.read([SessionRef("h"), VoucherRef(v.serial)])[VoucherRef(v.serial)] == v  # nothing written
    assert len(demo.voucher_events(v.serial)) == 1  # only the import's event
