"""An activation racing a consume or an unclaim never mints a provider code nobody records.

Real races through the activate, consume and unclaim handlers on every engine (moto's
server and Amazon's DynamoDB Local), with the provider simulator slow so that the windows
between an activation's read, its guard claim, the provider call and its commit are wide.
After each trial the invariant is checked from the table and the simulator's own counters:

  * every code the provider issued is on the voucher or in an ACTIVATION_CODE_UNUSED event;
  * no code was issued for a state another request changed: if the consume committed first,
    the provider was never called; if the unclaim committed first, the only code is the one
    issued for the voucher's state after it.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from shared.store import DynamoDBStore, Keys, decode
from shared.store.schema import VOUCHER
from tests.conftest import guard_fields, race, serial
from tests.endpoints.test_cross_dialect import do

pytestmark = pytest.mark.race

TRIALS = 20
SLOW_SECONDS = 0.4


def _reset(store: DynamoDBStore, original: dict[str, Any], n: int) -> None:
    """The voucher as imported again: its item back, its guard and non-import events gone."""
    from shared.store import serialize

    store.client.put_item(TableName=store.table_name, Item=serialize(original))
    for event in store.voucher_events(serial(n)):
        if event["event_type"] != "IMPORTED":
            store.client.delete_item(
                TableName=store.table_name, Key=serialize({"pk": event["pk"], "sk": event["sk"]})
            )


def _check_codes(
    store: DynamoDBStore, simulator: Any, n: int
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    voucher = decode(VOUCHER, store.get(Keys.voucher(serial(n))))  # type: ignore[arg-type]
    events = store.voucher_events(serial(n))
    unused = {
        e["details"]["reference"]: e["details"]["authorization_code"]
        for e in events
        if e["event_type"] == "ACTIVATION_CODE_UNUSED"
    }
    issued = simulator.stats()["by_reference"]
    for reference, entry in issued.items():
        on_voucher = voucher.activation is not None and voucher.activation.reference == reference
        assert on_voucher or unused.get(reference) == entry["authorizationCode"], (reference, voucher, events)
        if on_voucher:
            assert (
                voucher.activation is not None
                and voucher.activation.authorization_code == entry["authorizationCode"]
            )
    assert guard_fields(store, serial(n)) is None  # every guard was released
    return voucher, events, issued


def _trial(op: str, n: int, voucher_id: int, i: int) -> list[Any]:
    delay = random.uniform(0, 2 * SLOW_SECONDS)  # sometimes before the claim, often during the call

    def act(k: int) -> Any:
        if k == 0:
            return do("activate", serial(n), voucher_id)
        time.sleep(delay if i % 4 else 0)
        return do(op, serial(n), voucher_id)

    return race(2, act)


def test_activation_racing_a_consume_mints_no_orphan_code(server_activation_env: Any) -> None:
    store, simulator = server_activation_env
    simulator.slow_seconds = SLOW_SECONDS
    original = store.get(Keys.voucher(serial(1)))  # alice's AVAILABLE car-wash voucher
    orders = {"consume first": 0, "activation first": 0}
    for i in range(TRIALS):
        _reset(store, original, 1)
        simulator.reset()
        simulator.set_mode("slow")
        (activated, consumed) = _trial("consume", 1, 40001, i)
        assert not isinstance(activated, BaseException) and not isinstance(consumed, BaseException)
        assert activated[0] < 500 and consumed[0] < 500, (activated, consumed)
        voucher, events, issued = _check_codes(store, simulator, 1)
        consumes = [e for e in events if e["event_type"] == "CONSUMED"]
        assert len(consumes) <= 1, consumes
        consume_event = consumes[0] if consumes else None
        if consumed[0] == 200:
            assert consume_event is not None and voucher.status.value == "REDEEMED"
            if consume_event["from_status"] == "AVAILABLE":  # the consume committed first
                orders["consume first"] += 1
                assert issued == {}, "a code was issued for a voucher already consumed"
                assert activated[0] == 409
            else:
                orders["activation first"] += 1
                assert consume_event["from_status"] == "ACTIVATED" and activated[0] == 200
        else:  # the consume waited past its bound: the activation won, nothing consumed
            assert consumed == (409, consumed[1]) and consume_event is None
            assert activated[0] == 200 and voucher.status.value == "ACTIVATED"
    assert sum(orders.values()) >= TRIALS // 2, orders


def test_activation_racing_an_unclaim_mints_no_orphan_code(server_activation_env: Any) -> None:
    store, simulator = server_activation_env
    simulator.slow_seconds = SLOW_SECONDS
    original = store.get(Keys.voucher(serial(2)))  # alice's CLAIMED car-wash voucher
    for i in range(TRIALS):
        _reset(store, original, 2)
        simulator.reset()
        simulator.set_mode("slow")
        (activated, unclaimed) = _trial("unclaim_admin", 2, 40002, i)
        assert not isinstance(activated, BaseException) and not isinstance(unclaimed, BaseException)
        assert activated[0] < 500 and unclaimed[0] < 500, (activated, unclaimed)
        voucher, events, issued = _check_codes(store, simulator, 2)
        kinds = [
            (e["event_type"], e["from_status"])
            for e in sorted(events, key=lambda e: e["at"])
            if e["event_type"] != "IMPORTED"
        ]
        if unclaimed[0] == 200:  # the unclaim committed first: the activation was judged after it
            assert kinds[0] == ("UNCLAIMED", "CLAIMED"), kinds
            if activated[0] == 200:
                assert set(issued) == {f"{serial(2)}:v2"} and voucher.status.value == "ACTIVATED"
                assert ("ACTIVATED", "AVAILABLE") in kinds
            else:
                assert issued == {}
        else:  # the activation won: the unclaim saw the live code, or waited past its bound
            assert activated[0] == 200 and voucher.status.value == "ACTIVATED"
            assert unclaimed[0] in (400, 409) and ("ACTIVATED", "CLAIMED") in kinds
