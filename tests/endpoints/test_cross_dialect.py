"""One voucher, three dialects: the endpoints apply the same lifecycle and stay consistent.

* a property test drives random operation sequences through the three real handlers and
  uses the domain rules as the oracle for every answer;
* a race: consume vs unclaim vs activation on one voucher, through moto's server, ends in one
  consistent history (each success wrote exactly one event, the events chain, the final
  state is the last event's)."""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.dialects.es_loyalty import status_of as es_status
from shared.domain import (
    DomainError,
    LiveActivation,
    Status,
    Voucher,
    decide_activate,
    decide_consume,
    decide_unclaim,
    utcnow,
)
from shared.store import DynamoDBStore, Keys, decode, encode, serialize
from shared.store.schema import VOUCHER
from tests.conftest import call, race, serial

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
ALICE_ES = {"Authorization": "Bearer demo-es-member-alice"}
ADMIN = {"X-Spaaza-Session-User-Id": "900", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1"}
USER = {
    "X-Spaaza-Session-User-Id": "1001",
    "X-Spaaza-Session-Key": "demo-spaaza-user-alice",
    "X-Spaaza-MyPrice-App-Hostname": "demo.myprice.app",
}
_numbers = itertools.count(500_000)


def new_voucher(store: DynamoDBStore, status: Status, locked: bool) -> tuple[str, int]:
    """A fresh carwash voucher of alice's, reachable through all three dialects."""
    n = next(_numbers)
    voucher = Voucher(
        serial=serial(n),
        definition_id="carwash",
        status=status,
        version=1,
        owner_member_id="alice",
        expires_at=utcnow() + timedelta(days=30),
        locked=locked,
        activity_code="MILES",
        item_code="CARWASH",
        voucher_id=n,
        chain_id=1,
        amount_original=20,
    )
    alias = {
        **Keys.voucher_alias("voucher_id", n),
        "serial": voucher.serial,
        "definition_id": "carwash",
        "chain_id": 1,
    }
    for item in (encode(VOUCHER, voucher), alias):
        store.client.put_item(TableName=store.table_name, Item=serialize(item))
    return voucher.serial, n


def stored(store: DynamoDBStore, serial_: str) -> Voucher:
    item = store.get(Keys.voucher(serial_))
    assert item is not None
    return decode(VOUCHER, item)


def transitions(store: DynamoDBStore, serial_: str) -> list[dict[str, Any]]:
    return [e for e in store.voucher_events(serial_) if e["event_type"] != "IMPORTED"]


def do(op: str, serial_: str, voucher_id: int) -> tuple[int, Any]:
    if op == "consume":
        path = f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial_}"
        status, body, _ = call("consume_voucher", "PUT", path, headers=ANNA)
    elif op == "activate":
        path = f"/client/users/prop-1/voucher/carwash::{serial_}/activate"
        status, body, _ = call("activate_voucher", "POST", path, headers=ALICE_ES)
    else:
        headers = dict(ADMIN if op == "unclaim_admin" else USER)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        form = f"voucher_id={voucher_id}" + ("&user_id=1001&chain_id=1" if op == "unclaim_admin" else "")
        status, body, _ = call("unclaim_voucher", "PUT", "/unclaim-voucher", headers=headers, body=form)
    return status, body


def expected_success(op: str, before: Voucher) -> bool:
    """The domain rules are the oracle: would this operation succeed on this state?"""
    now = utcnow()
    try:
        if op == "consume":
            decide_consume(before, now)
        elif op == "activate":
            decide_activate(before, now)
        else:
            decide_unclaim(before, now, end_user=op == "unclaim_user", allows_end_user_to_claim=True)
    except DomainError:
        return False
    return True


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    start=st.sampled_from([Status.AVAILABLE, Status.CLAIMED]),
    locked=st.booleans(),
    ops=st.lists(
        st.sampled_from(["consume", "activate", "unclaim_admin", "unclaim_user"]), min_size=1, max_size=6
    ),
)
def test_property_any_sequence_through_any_dialect(
    activation_env: DynamoDBStore, start: Status, locked: bool, ops: list[str]
) -> None:
    store = activation_env
    serial_, voucher_id = new_voucher(store, start, locked)
    successes = 0
    for op in ops:
        before = stored(store, serial_)
        status, body = do(op, serial_, voucher_id)
        assert status < 500, (op, status, body)
        should = expected_success(op, before)
        replay = (
            op == "activate" and isinstance(decide_activate(before, utcnow()), LiveActivation)
            if should
            else False
        )
        assert (status == 200) == should, (op, before.status, status, body)
        after = stored(store, serial_)
        if status == 200 and not replay:
            successes += 1
            assert after.version == before.version + 1
        else:
            assert after == before  # a refusal (or a replay) changes nothing
        if op == "activate" and status == 200:
            assert body["authorizationCode"] == after.activation.authorization_code  # type: ignore[union-attr]
            assert body.get("idempotent", False) is replay
        # the same voucher reads coherently through every dialect
        if after.status is Status.REDEEMED:
            assert es_status(after, utcnow()) == "REDEEMED"
    events = transitions(store, serial_)
    assert len(events) == successes == stored(store, serial_).version - 1


# --------------------------------------------------------------------------- the race


def _has_chain(events: list[dict[str, Any]], start: str, end: str) -> bool:
    for order in itertools.permutations(events):
        state = start
        if all(e["from_status"] == state and (state := e["to_status"]) for e in order) and state == end:
            return True
    return not events and start == end


@pytest.mark.race
def test_race_consume_unclaim_activate_one_consistent_history(server_activation_env: Any) -> None:
    store, simulator = server_activation_env
    serial_, voucher_id = serial(2), 40002  # carwash, CLAIMED, alice's
    ops = ["consume", "unclaim_admin", "activate"] * 4
    results = race(len(ops), lambda i: do(ops[i], serial_, voucher_id))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(status < 500 for status, _ in results), results
    final = stored(store, serial_)
    events = transitions(store, serial_)
    fresh_successes = [
        (op, body)
        for op, (status, body) in zip(ops, results, strict=True)
        if status == 200 and not body.get("idempotent")
    ]
    assert len(events) == len(fresh_successes) == final.version - 1
    assert sum(1 for op, _ in fresh_successes if op == "consume") <= 1
    assert sum(1 for op, _ in fresh_successes if op == "activate") <= 1  # a live code blocks re-activation
    assert _has_chain(events, "CLAIMED", final.status.value), (events, final.status)
    codes = {
        body["authorizationCode"]
        for (status, body), op in zip(results, ops, strict=True)
        if op == "activate" and status == 200
    }
    assert len(codes) <= 1
    assert simulator.calls <= 1
