"""Data layer: keys, hydration, transactions and their failure mapping.

moto never returns UnprocessedKeys, TransactionConflict or throttling, so those paths are
driven with botocore's Stubber on a real client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from shared.domain import Status, Transition
from shared.store import (
    ConditionFailed,
    Keys,
    StoreUnavailable,
    VoucherStore,
    WriteConflict,
    item_to_voucher,
    serialize,
    voucher_to_item,
)
from shared.table_schema import TABLE
from tests.conftest import serial

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def stubbed() -> tuple[VoucherStore, Stubber, list[float]]:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    sleeps: list[float] = []
    return VoucherStore(client, "t", sleep=sleeps.append), Stubber(client), sleeps


def test_hydrate_retries_unprocessed_keys_with_backoff(stubbed: Any) -> None:
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
        found = store.hydrate([a, b, a])  # duplicates are sent once
    assert {k[0]: v["n"] for k, v in found.items()} == {"VOUCHER#a": 1, "VOUCHER#b": 2}
    assert len(sleeps) == 1 and sleeps[0] > 0
    stub.assert_no_pending_responses()


def test_hydrate_gives_up_with_store_unavailable(stubbed: Any) -> None:
    store, stub, sleeps = stubbed
    key = Keys.voucher("a")
    for _ in range(6):
        stub.add_response(
            "batch_get_item",
            {"Responses": {"t": []}, "UnprocessedKeys": {"t": {"Keys": [serialize(key)]}}},
            {"RequestItems": ANY},
        )
    with stub, pytest.raises(StoreUnavailable):
        store.hydrate([key])
    assert len(sleeps) == 5 and sleeps == sorted(sleeps[:-1]) + sleeps[-1:]


def test_hydrate_splits_more_than_100_keys(stubbed: Any) -> None:
    store, stub, _ = stubbed
    keys = [Keys.voucher(str(i)) for i in range(150)]
    stub.add_response("batch_get_item", {"Responses": {"t": []}}, {"RequestItems": ANY})
    stub.add_response("batch_get_item", {"Responses": {"t": []}}, {"RequestItems": ANY})
    with stub:
        assert store.hydrate(keys) == {}
    stub.assert_no_pending_responses()


def test_throttling_maps_to_store_unavailable(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_client_error("get_item", service_error_code="ProvisionedThroughputExceededException")
    with stub, pytest.raises(StoreUnavailable):
        store.get(Keys.voucher("a"))


def _cancel(stub: Stubber, reasons: list[dict[str, Any]]) -> None:
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        response_meta={},
        modeled_fields={"CancellationReasons": reasons},
    )


def _tx(store: VoucherStore) -> list[Any]:
    v = item_to_voucher(
        {**Keys.voucher("a"), "serial": "a", "definition_id": "d", "status": "CLAIMED", "version": 2}
    )
    return [
        store.tx_transition(v, Transition(Status.CLAIMED, Status.AVAILABLE, 2), now=NOW),
        store.tx_session_live("h", NOW),
        store.tx_exists("grant", Keys.operator_grant("op", "A", "*")),
    ]


@pytest.mark.parametrize(
    ("reasons", "role"),
    [
        (
            [
                {"Code": "ConditionalCheckFailed", "Item": serialize({"status": "REDEEMED"})},
                {"Code": "None"},
                {"Code": "None"},
            ],
            "voucher",
        ),
        ([{"Code": "None"}, {"Code": "ConditionalCheckFailed"}, {"Code": "None"}], "session"),
        ([{"Code": "None"}, {"Code": "None"}, {"Code": "ConditionalCheckFailed"}], "grant"),
    ],
)
def test_cancellation_reasons_map_to_the_failing_role(stubbed: Any, reasons: Any, role: str) -> None:
    store, stub, _ = stubbed
    _cancel(stub, reasons)
    with stub, pytest.raises(ConditionFailed) as caught:
        store.transact(_tx(store))
    assert caught.value.role == role
    if role == "voucher":
        assert caught.value.item == {"status": "REDEEMED"}


def test_transaction_conflict_and_throttling(stubbed: Any) -> None:
    store, stub, _ = stubbed
    _cancel(stub, [{"Code": "TransactionConflict"}, {"Code": "None"}, {"Code": "None"}])
    _cancel(stub, [{"Code": "ThrottlingError"}, {"Code": "None"}, {"Code": "None"}])
    with stub:
        with pytest.raises(WriteConflict):
            store.transact(_tx(store))
        with pytest.raises(StoreUnavailable):
            store.transact(_tx(store))


def test_other_client_errors_are_not_swallowed(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_client_error("transact_write_items", service_error_code="ValidationException")
    with stub, pytest.raises(ClientError):
        store.transact(_tx(store))


def test_transactions_carry_a_client_request_token(stubbed: Any) -> None:
    store, stub, _ = stubbed
    stub.add_response("transact_write_items", {}, {"TransactItems": ANY, "ClientRequestToken": ANY})
    with stub:
        store.transact(_tx(store))


# --------------------------------------------------------------------------- against moto


def test_table_is_built_from_the_shared_schema(store: VoucherStore) -> None:
    described = store.client.describe_table(TableName=store.table)["Table"]
    expected = TABLE.create_table_kwargs(store.table)
    assert described["KeySchema"] == expected["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["gsi1"]
    ttl = store.client.describe_time_to_live(TableName=store.table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TABLE.ttl_attribute


def test_voucher_item_round_trip_and_owner_index(demo: VoucherStore) -> None:
    found = demo.hydrate([Keys.voucher(serial(11))])
    voucher = item_to_voucher(next(iter(found.values())))
    assert voucher.voucher_id == 40577 and voucher.status is Status.CLAIMED
    item = voucher_to_item(voucher)
    assert item["gsi1pk"] == "MEMBER#alice"
    assert "expires_at" not in item  # the TTL attribute must never be set on a voucher
    owned = {v.serial for v in demo.member_vouchers("bob")}
    assert serial(8) in owned and serial(11) not in owned


def test_conditional_transition_applies_once(demo: VoucherStore) -> None:
    v = item_to_voucher(next(iter(demo.hydrate([Keys.voucher(serial(11))]).values())))
    t = Transition(v.status, Status.AVAILABLE, v.version)
    demo.transact([demo.tx_transition(v, t, now=NOW)])
    with pytest.raises(ConditionFailed) as caught:
        demo.transact([demo.tx_transition(v, t, now=NOW)])
    assert caught.value.role == "voucher" and caught.value.item is not None
    assert caught.value.item["version"] == v.version + 1


def test_activation_lock_is_exclusive_until_it_expires(store: VoucherStore) -> None:
    assert store.acquire_activation_lock("s", "me", "r", NOW, 5) is None
    held = store.acquire_activation_lock("s", "other", "r", NOW + timedelta(seconds=1), 5)
    assert held is not None and held["owner"] == "me"
    assert store.acquire_activation_lock("s", "other", "r", NOW + timedelta(seconds=6), 5) is None
    store.release_activation_lock("s", "me")  # not ours any more: left alone
    assert store.get(Keys.activation_lock("s"))["owner"] == "other"  # type: ignore[index]
    store.release_activation_lock("s", "other")
    assert store.get(Keys.activation_lock("s")) is None


def test_session_check_fails_for_expired_session(store: VoucherStore) -> None:
    store.client.put_item(
        TableName=store.table,
        Item=serialize({**Keys.session("h"), "expires_at": int((NOW - timedelta(seconds=1)).timestamp())}),
    )
    with pytest.raises(ConditionFailed) as caught:
        store.transact([store.tx_session_live("h", NOW)])
    assert caught.value.role == "session"
