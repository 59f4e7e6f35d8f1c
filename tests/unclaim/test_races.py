"""Real races through the handlers against moto's HTTP server (one table per test)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import DynamoDBStore, Keys
from tests.conftest import call, race, serial
from tests.unclaim.helpers import ALICE, ID11, error_of, unclaim

pytestmark = pytest.mark.race

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}


def events(store: DynamoDBStore, n: int) -> list[dict[str, Any]]:
    found = [e for e in store.voucher_events(serial(n)) if e["event_type"] != "IMPORTED"]
    return sorted(found, key=lambda e: e["at"])


def test_twelve_unclaims_one_winner(server_store: DynamoDBStore) -> None:
    results = race(12, lambda _i: unclaim(ALICE, {"voucher_id": ID11}))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r[0] for r in results) == [200] + [400] * 11, [r[1] for r in results]
    assert all(error_of(r)[2] == "voucher_not_claimed" for r in results if r[0] != 200)
    item = server_store.get(Keys.voucher(serial(11)))
    assert item is not None and (item["status"], item["version"]) == ("AVAILABLE", 2)
    (event,) = events(server_store, 11)
    assert (event["event_type"], event["from_status"], event["to_status"]) == (
        "UNCLAIMED",
        "CLAIMED",
        "AVAILABLE",
    )


@pytest.mark.parametrize("round_", range(3))
def test_unclaim_against_thalamus_consume(server_store: DynamoDBStore, round_: int) -> None:
    """Unclaim (CLAIMED -> AVAILABLE) and consume (any usable -> REDEEMED) on voucher 11:
    consume always wins in the end; the unclaim either came first (both succeed, two events
    chained CLAIMED -> AVAILABLE -> REDEEMED) or second (refused: already redeemed)."""

    def act(i: int) -> Any:
        if i == 0:
            return unclaim(ALICE, {"voucher_id": ID11}, method="PUT" if round_ % 2 else "POST")
        return call(
            "consume_voucher",
            "PUT",
            f"/api/v4/operator/activity/MILES/item/COFFEE/voucher/{serial(11)}",
            headers=ANNA,
        )

    unclaimed, consumed = race(2, act)
    assert not isinstance(unclaimed, BaseException) and not isinstance(consumed, BaseException)
    assert consumed[0] == 200, consumed[1]
    item = server_store.get(Keys.voucher(serial(11)))
    assert item is not None and item["status"] == "REDEEMED"
    history = [(e["event_type"], e["from_status"], e["to_status"]) for e in events(server_store, 11)]
    if unclaimed[0] == 200:
        assert history == [("UNCLAIMED", "CLAIMED", "AVAILABLE"), ("CONSUMED", "AVAILABLE", "REDEEMED")]
        assert item["version"] == 3
    else:
        assert error_of(unclaimed)[2] == "voucher_already_redeemed"
        assert history == [("CONSUMED", "CLAIMED", "REDEEMED")]
        assert item["version"] == 2
