"""The DynamoDB store against real engine servers: what only a real engine can answer.

Every guard's failure, mapped from the engine's own CancellationReasons (with the ALL_OLD
item where DynamoDB returns one), on moto's server and on Amazon's DynamoDB Local; and, on
DynamoDB Local only (moto ignores the token), a commit whose first response is lost and that
botocore retries with the same ClientRequestToken is applied once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.domain import ActivationGuard, AuditEvent, Status, utcnow
from shared.ports import (
    AdminGrantRef,
    ConditionFailed,
    GrantHeld,
    GuardClaim,
    GuardHeld,
    GuardRef,
    NoLiveActivation,
    Record,
    SessionLive,
    StateChange,
    VoucherAt,
    VoucherRef,
)
from shared.runtime import hash_token
from shared.store import DynamoDBStore, Keys, serialize
from shared.table_schema import TABLE
from tests.conftest import engine_client, serial

ALICE = hash_token("demo-spaaza-user-alice")


@pytest.fixture
def table(server_store: DynamoDBStore) -> DynamoDBStore:
    """The demo table, on each engine."""
    return server_store


def _voucher(store: DynamoDBStore, n: int) -> Any:
    return store.read([VoucherRef(serial(n))])[VoucherRef(serial(n))]


def _change(store: DynamoDBStore, n: int, *conditions: Any) -> StateChange:
    v = _voucher(store, n)
    now = utcnow()
    event = AuditEvent(v.serial, "UNCLAIMED", "spaaza", "k", "p", v.status.value, "AVAILABLE", now, "r")
    return StateChange(
        v, replace(v, status=Status.AVAILABLE, version=v.version + 1), event, tuple(conditions)
    )


def _guard(store: DynamoDBStore, n: int, owner: str, seconds: float = 30) -> GuardClaim:
    v = _voucher(store, n)
    now = utcnow()
    return GuardClaim(
        ActivationGuard(v.serial, owner, "ref", now, now + timedelta(seconds=seconds)), VoucherAt.of(v)
    )


def test_the_table_carries_the_cdk_tables_ttl_attribute(table: DynamoDBStore) -> None:
    ttl = table.client.describe_time_to_live(TableName=table.table_name)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == (TABLE.ttl_attribute, "ENABLED")
    # tests/infra/test_cdk_stacks.py asserts the synthesized table sets this same attribute


def test_a_changed_voucher_comes_back_as_voucher_at_with_its_current_value(table: DynamoDBStore) -> None:
    change = _change(table, 11)
    table.commit(change)
    with pytest.raises(ConditionFailed) as caught:
        table.commit(change)
    assert caught.value.condition == VoucherAt.of(change.before)
    assert caught.value.current == change.after  # ALL_OLD, decoded: exactly what was written


def test_a_revoked_session_comes_back_as_session_live(table: DynamoDBStore) -> None:
    table.client.update_item(
        TableName=table.table_name,
        Key=serialize(Keys.session(ALICE)),
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    with pytest.raises(ConditionFailed) as caught:
        table.commit(_change(table, 11, SessionLive(ALICE)))
    assert caught.value.condition == SessionLive(ALICE) and caught.value.current is None
    assert _voucher(table, 11).version == 1  # nothing written


def test_a_revoked_grant_comes_back_as_grant_held(table: DynamoDBStore) -> None:
    grant = GrantHeld(AdminGrantRef(900, 2))  # admin 900 has no grant on chain 2
    with pytest.raises(ConditionFailed) as caught:
        table.commit(_change(table, 11, SessionLive(ALICE), grant))
    assert caught.value.condition == grant


def test_an_activation_in_flight_comes_back_with_its_guard(table: DynamoDBStore) -> None:
    claim = _guard(table, 11, "activator")
    table.commit(claim)
    with pytest.raises(ConditionFailed) as caught:
        table.commit(_change(table, 11, NoLiveActivation(serial(11))))
    assert caught.value.condition == NoLiveActivation(serial(11))
    assert caught.value.current == claim.guard
    with pytest.raises(ConditionFailed) as taken:  # and nobody else may claim it meanwhile
        table.commit(_guard(table, 11, "someone-else"))
    assert taken.value.condition == NoLiveActivation(serial(11)) and taken.value.current.owner == "activator"


def test_an_expired_guard_blocks_nothing_and_the_write_that_clears_it_announces_its_reference(
    table: DynamoDBStore,
) -> None:
    claim = _guard(table, 11, "crashed", seconds=-1)
    table.commit(claim)
    with pytest.raises(ConditionFailed) as caught:  # the write must name the guard it saw ...
        table.commit(_change(table, 11, NoLiveActivation(serial(11))))
    assert caught.value.current == table.read([GuardRef(serial(11))])[GuardRef(serial(11))]
    table.commit(_change(table, 11, NoLiveActivation(serial(11), claim.guard)))  # ... and then holds
    assert _voucher(table, 11).status is Status.AVAILABLE
    assert table.read([GuardRef(serial(11))])[GuardRef(serial(11))] is None
    (unused,) = [e for e in table.history(serial(11)) if e.event_type == "ACTIVATION_CODE_UNUSED"]
    assert unused.details["reference"] == "ref"


def test_a_guard_lost_to_another_request_comes_back_as_guard_held(table: DynamoDBStore) -> None:
    table.commit(_guard(table, 11, "someone-else"))
    event = AuditEvent(
        serial(11), "ACTIVATION_CODE_UNUSED", "es_loyalty", "k", "p", "CLAIMED", "CLAIMED", utcnow(), "r"
    )
    with pytest.raises(ConditionFailed) as caught:
        table.commit(Record(event, release=GuardHeld(serial(11), "me")))
    assert caught.value.condition == GuardHeld(serial(11), "me")
    table.commit(Record(event, release=GuardHeld(serial(11), "someone-else")))
    assert table.read([GuardRef(serial(11))])[GuardRef(serial(11))] is None
    assert [e.event_type for e in table.history(serial(11))][-1] == "ACTIVATION_CODE_UNUSED"


def test_a_commit_retried_with_the_same_token_is_applied_once(
    server_store: DynamoDBStore, engine: str, request: pytest.FixtureRequest
) -> None:
    """The first response is lost (botocore is told to retry a call that DynamoDB applied):
    the retry carries the same ClientRequestToken, so DynamoDB applies the transaction once
    and answers success. moto ignores the token and applies it twice, so this is a real-engine
    test only."""
    if "dynamodb_local" not in request.node.name:
        pytest.skip("moto ignores ClientRequestToken: only a real engine can answer this")
    client = engine_client(engine)
    store = DynamoDBStore(client, server_store.table_name)
    tokens: list[str] = []

    def record(params: dict[str, Any], **_kwargs: Any) -> None:
        tokens.append(params["ClientRequestToken"])

    def lose_the_first_response(attempts: int, **_kwargs: Any) -> float | None:
        return 0.0 if attempts == 1 else None  # "retry now", once, although it succeeded

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    client.meta.events.register_first("needs-retry.dynamodb.TransactWriteItems", lose_the_first_response)
    sent: list[int] = []
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", lambda **_k: sent.append(1))
    change = _change(store, 11)
    store.commit(change)  # no ConditionFailed: the retry was recognised as the same transaction
    assert len(sent) == 2 and len(tokens) == 1  # two sends, one token
    assert _voucher(store, 11) == change.after  # version + 1, not + 2
    assert [e.event_type for e in store.history(serial(11))].count("UNCLAIMED") == 1
