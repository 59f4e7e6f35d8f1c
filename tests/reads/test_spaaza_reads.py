"""Spaaza claim-voucher (the inverse of unclaim) and get-user-vouchers, through the real
handlers; racing claims on both engines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.store import DynamoDBStore
from tests.conftest import call, race, serial
from tests.reads.conftest import Calls

ADMIN = {"X-Spaaza-Session-User-Id": "900", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1"}
ADMIN2 = {"X-Spaaza-Session-User-Id": "901", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain2"}
USER = {
    "X-Spaaza-Session-User-Id": "1001",
    "X-Spaaza-Session-Key": "demo-spaaza-user-alice",
    "X-Spaaza-MyPrice-App-Hostname": "demo.myprice.app",
}
PRIVILEGED = {
    "Authorization": "Bearer demo-spaaza-privileged-partner",
    "X-Spaaza-MyPrice-App-Hostname": "demo.myprice.app",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def claim(body: str, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, Any, Any]:
    return call(
        "claim_voucher",
        method,
        "/claim-voucher",
        headers={**(ADMIN if headers is None else headers), **FORM},
        body=body,
    )


def unclaim(body: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    return call(
        "unclaim_voucher",
        "POST",
        "/unclaim-voucher",
        headers={**(ADMIN if headers is None else headers), **FORM},
        body=body,
    )


def user_vouchers(query: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    return call(
        "get_user_vouchers",
        "GET",
        "/get-user-vouchers",
        headers=ADMIN if headers is None else headers,
        query=query,
    )


def events(store: DynamoDBStore, n: int) -> list[str]:
    return [e.event_type for e in store.history(serial(n))]


# --------------------------------------------------------------------------- claim-voucher


def test_claim_a_generated_voucher(demo: Any, calls: Calls) -> None:
    status, body, _ = claim("voucher_id=40013&user_id=1001&chain_id=1")
    assert status == 200 and calls.count == 3  # two reads, one transaction
    results = body["results"]
    assert (results["voucher_status"], results["result_type"], results["user_id"]) == (
        "claimed",
        "claim-voucher",
        1001,
    )
    assert body["result"] == {"code": 1, "status": "ok"}
    assert events(demo, 13) == ["IMPORTED", "CLAIMED"]
    assert demo.history(serial(13))[-1].channel == "spaaza"


def test_unclaim_then_claim_then_unclaim_writes_three_events(demo: Any) -> None:
    for action, expected in ((unclaim, "generated"), (claim, "claimed"), (unclaim, "generated")):
        status, body, _ = action("voucher_id=40577&user_id=1001&chain_id=1")
        assert status == 200 and body["results"]["voucher_status"] == expected
    assert events(demo, 11) == ["IMPORTED", "UNCLAIMED", "CLAIMED", "UNCLAIMED"]
    history = demo.history(serial(11))
    assert [(e.from_status, e.to_status) for e in history[1:]] == [
        ("CLAIMED", "AVAILABLE"),
        ("AVAILABLE", "CLAIMED"),
        ("CLAIMED", "AVAILABLE"),
    ]


@pytest.mark.parametrize(
    ("body", "headers", "name", "status"),
    [
        ("voucher_id=40577&user_id=1001&chain_id=1", ADMIN, "voucher_already_claimed", 400),
        ("voucher_id=40014&user_id=1001&chain_id=1", ADMIN, "voucher_already_redeemed", 400),
        ("voucher_id=40024&user_id=1001&chain_id=1", ADMIN, "voucher_invalidated", 400),
        ("voucher_id=40017&user_id=1001&chain_id=1", ADMIN, "voucher_not_found", 404),  # bob's
        ("voucher_id=40018&user_id=1001&chain_id=1", ADMIN, "voucher_not_found", 404),  # other chain
        ("voucher_id=40013&user_id=1001", ADMIN, "missing_parameter", 400),  # admin >= 1.5.3
        ("voucher_id=40013", PRIVILEGED, "missing_parameter", 400),
        ("voucher_id=40013&user_id=1001&chain_id=2", ADMIN, "permission_denied_or_non_existent", 403),
        ("voucher_key=xyz&user_id=1001&chain_id=1", ADMIN, "invalid_parameter", 400),
        ("user_id=1001&chain_id=1", ADMIN, "missing_parameter", 400),
    ],
)
def test_claim_errors_in_the_unclaim_envelope(
    demo: Any, body: str, headers: dict[str, str], name: str, status: int
) -> None:
    got, answer, _ = claim(body, headers)
    assert (got, answer["error"]["name"], answer["result"]) == (status, name, {"code": 2, "status": "error"})


def test_claim_of_an_expired_voucher_says_claimed(demo: Any) -> None:
    unclaim_expired = demo.client.update_item(  # make voucher 15 (expired) generated
        TableName=demo.table_name,
        Key={"pk": {"S": f"VOUCHER#{serial(15)}"}, "sk": {"S": "VOUCHER"}},
        UpdateExpression="SET #s = :a",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":a": {"S": "AVAILABLE"}},
    )
    assert unclaim_expired
    status, body, _ = claim("voucher_id=40015&user_id=1001&chain_id=1")
    assert (status, body["error"]["name"]) == (400, "voucher_expired")
    assert body["error"]["description"] == "The voucher has expired and cannot be claimed"


def test_end_user_claims_own_voucher_but_not_a_locked_one(demo: Any) -> None:
    assert unclaim("voucher_id=40012&user_id=1001&chain_id=1")[0] == 200  # locked: admin may
    status, body, _ = claim("voucher_id=40012", USER)
    assert (status, body["error"]["name"]) == (403, "voucher_locked")
    assert "claim it" in body["error"]["description"]
    status, body, _ = claim("voucher_id=40013", USER, method="PUT")
    assert status == 200 and body["results"]["voucher_status"] == "claimed"


@pytest.mark.race
def test_racing_claims_have_one_winner(server_store: DynamoDBStore, engine: str) -> None:
    results = race(8, lambda _i: claim("voucher_id=40013&user_id=1001&chain_id=1"))
    statuses = sorted(r[0] for r in results)
    assert statuses.count(200) == 1, results
    assert {r[1]["error"]["name"] for r in results if r[0] != 200} <= {
        "voucher_already_claimed",
        "concurrent_modification",
    }
    assert [e.event_type for e in server_store.history(serial(13))] == ["IMPORTED", "CLAIMED"]


# --------------------------------------------------------------------------- get-user-vouchers


def test_admin_lists_a_users_vouchers_of_its_chain(demo: Any, calls: Calls) -> None:
    status, body, _ = user_vouchers("chain_id=1&member_number=M-1001")
    assert status == 200 and calls.count == 3
    results = body["results"]
    assert (results["user_id"], results["chain_id"], results["result_type"]) == (1001, 1, "get-user-vouchers")
    listed = results["basket_vouchers"]
    assert results["honour_vouchers"] == [] and results["var_price_vouchers"] == []
    ids = {v["voucher_id"] for v in listed}
    assert {40001, 40577, 40013, 40014} <= ids and 40018 not in ids  # 40018: carol, chain 2
    assert all(set(v) >= {"voucher_key", "voucher_status", "voucher_expiry_datetime_utc"} for v in listed)
    assert "user_id" not in listed[0] and results["next_page_token"] is None


def test_user_and_privileged_list_and_filter(demo: Any) -> None:
    status, body, _ = user_vouchers("voucher_status=claimed", USER)
    assert status == 200 and body["results"]["basket_vouchers"]
    assert {v["voucher_status"] for v in body["results"]["basket_vouchers"]} == {"claimed"}
    status, body, _ = user_vouchers("user_id=1001", PRIVILEGED)
    assert status == 200 and body["results"]["user_id"] == 1001
    assert user_vouchers("voucher_status=used", USER)[1]["error"]["name"] == "invalid_parameter"


def test_pages(demo: Any) -> None:
    seen: list[int] = []
    token = ""
    for _ in range(30):
        status, body, _ = user_vouchers(
            "chain_id=1&user_id=1001&limit=3" + (f"&page_token={token}" if token else "")
        )
        assert status == 200
        seen += [v["voucher_id"] for v in body["results"]["basket_vouchers"]]
        token = body["results"]["next_page_token"]
        if token is None:
            break
    _, everything, _ = user_vouchers("chain_id=1&user_id=1001")
    assert sorted(map(str, seen)) == sorted(
        map(str, (v["voucher_id"] for v in everything["results"]["basket_vouchers"]))
    )


def test_no_oracle_for_users_the_admin_may_not_see(demo: Any, calls: Calls) -> None:
    """A user that does not exist and one of another chain: the same answer, the same calls."""
    answers = set()
    for query in ("chain_id=1&user_id=999999", "chain_id=1&member_number=M-2001", "chain_id=1&user_id=2001"):
        calls.reset()
        status, body, _ = user_vouchers(query)
        answers.add((status, json.dumps(body), tuple(calls.operations)))
    assert len(answers) == 1, answers
    (status, _, operations) = answers.pop()
    assert status == 403 and operations == ("BatchGetItem", "Query", "BatchGetItem")


def test_list_errors(demo: Any) -> None:
    assert user_vouchers("member_number=M-1001")[1]["error"]["name"] == "missing_parameter"  # no chain_id
    assert user_vouchers("chain_id=1")[1]["error"]["name"] == "missing_parameter"  # no end user
    assert user_vouchers("chain_id=2&user_id=1001")[0] == 403  # no grant on chain 2
    assert user_vouchers("chain_id=1&user_id=1001", {})[0] == 401
    assert user_vouchers("chain_id=1&user_id=1001&page_token=zzz")[1]["error"]["name"] == "invalid_parameter"
    status, body, _ = call(
        "get_user_vouchers",
        "GET",
        "/get-user-vouchers",
        headers={**ADMIN, **FORM},
        query="chain_id=1&user_id=1001",
        body="x=1",
    )
    assert (status, body["error"]["name"]) == (400, "invalid_parameter")
