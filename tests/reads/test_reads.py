"""The read side through the real handlers: ES member issuances, the CSR console, the
Thalamus operator view. Round trips are counted at the DynamoDB client."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from shared.domain import AuditEvent, utcnow
from shared.ports import Record
from shared.store import DynamoDBStore, Keys, serialize
from tests.conftest import call, serial
from tests.reads.conftest import Calls

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
OTTO = {"Thalamus-Token": "demo-thalamus-operator-otto", "Thalamus-Touchpoint": "BACKOFFICE"}
ALICE = {"Authorization": "Bearer demo-es-member-alice"}
GHOST = {"Authorization": "Bearer demo-es-ghost-member"}
CSR = {"Authorization": "Bearer demo-es-console-csr"}
ADMIN = {"X-Spaaza-Session-User-Id": "900", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1"}
LIST = "/client/users/corr-1/issuances"


def view_path(n: int, item: str = "CARWASH") -> str:
    return f"/api/v4/operator/activity/MILES/item/{item}/voucher/{serial(n)}"


def issuances(query: str = "", headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    return call("list_issuances", "GET", LIST, headers=ALICE if headers is None else headers, query=query)


def all_pages(query: str, headers: dict[str, str] | None = None, path: str = LIST) -> list[dict[str, Any]]:
    function = "list_issuances" if path == LIST else "console_issuances"
    seen: list[dict[str, Any]] = []
    token = None
    for _ in range(50):
        q = query + (f"&nextToken={token}" if token else "")
        status, body, head = call(
            function, "GET", path, headers=ALICE if headers is None else headers, query=q
        )
        assert status == 200, body
        seen += body
        token = head.get("X-Next-Token")
        if token is None:
            return seen
    raise AssertionError("paging never ended")


def alice_serials(demo: DynamoDBStore) -> set[str]:
    return {o.serial for o in demo.vouchers_of("alice")}


# --------------------------------------------------------------------------- Thalamus view


def test_operator_views_a_voucher_in_one_round_trip_then_sees_its_consumption(
    demo: Any, calls: Calls
) -> None:
    status, body, _ = call("view_voucher", "GET", view_path(1), headers=ANNA)
    assert status == 200 and calls.count == 1
    assert body["errors"] == {} and body["data"]["status"] == "ACTIVE"
    assert body["data"]["voucherCode"] == serial(1) and "consumedAt" not in body["data"]

    assert call("consume_voucher", "PUT", view_path(1), headers=ANNA)[0] == 200
    status, body, _ = call("view_voucher", "GET", view_path(1), headers=ANNA)
    assert status == 200 and body["data"]["status"] == "CONSUMED"
    assert body["data"]["consumedBy"] == {"operator": "op-anna", "touchpoint": "BACKOFFICE"}


def test_operator_view_refuses_as_consume_does(demo: Any, calls: Calls) -> None:
    """No permission reads as not found, exactly as for consume; same single round trip."""
    answers = []
    for headers, n, item in ((OTTO, 1, "CARWASH"), (ANNA, 999, "CARWASH"), (ANNA, 1, "NOPE")):
        calls.reset()
        view = call("view_voucher", "GET", view_path(n, item), headers=headers)
        assert calls.count == 1
        consume = call("consume_voucher", "PUT", view_path(n, item), headers=headers)
        answers.append((view[0], view[1]))
        assert (view[0], view[1]) == (consume[0], consume[1])
    assert all(status == 404 for status, _ in answers)
    assert call("view_voucher", "GET", view_path(1), headers={})[0] == 401
    assert call("view_voucher", "GET", view_path(1), query="token=x&touchpoint=BACKOFFICE")[0] == 401


# --------------------------------------------------------------------------- ES member issuances


def test_member_lists_own_issuances_newest_first_in_three_round_trips(demo: Any, calls: Calls) -> None:
    status, body, headers = issuances("maxResults=100")
    assert status == 200 and calls.count == 3
    assert calls.operations == ["BatchGetItem", "Query", "BatchGetItem"]
    assert {i["voucherId"].split("::")[1] for i in body} == alice_serials(demo)
    assert "X-Next-Token" not in headers and headers["Cache-Control"] == "no-store"
    issued = [i["issuedDateEpoch"] for i in body if i["issuedDateEpoch"] is not None]
    assert issued == sorted(issued, reverse=True)
    first = body[0]
    assert first["accountID"] == "alice" and first["metadataType"] == "ISSUANCE"
    assert first["issuanceType"] == "VOUCHER" and first["issuedDate"].endswith("Z")
    assert set(first) >= {"businessUnit", "issuanceCode", "expiryDate", "expiryDateEpoch", "rewardType"}


def test_pages_cover_every_issuance_exactly_once(demo: Any) -> None:
    pages = all_pages("maxResults=4")
    ids = [i["voucherId"] for i in pages]
    assert len(ids) == len(set(ids)) == len(alice_serials(demo))
    _, first, _ = issuances("limit=4")
    assert len(first) == 4


def test_limit_above_100_is_100_and_default_is_20(demo: Any, calls: Calls) -> None:
    for n in range(200, 310):  # 110 more vouchers for alice
        demo.client.put_item(
            TableName=demo.table_name,
            Item={
                "pk": {"S": f"VOUCHER#{serial(n)}"},
                "sk": {"S": "VOUCHER"},
                "type": {"S": "voucher"},
                "serial": {"S": serial(n)},
                "definition_id": {"S": "coffee"},
                "status": {"S": "AVAILABLE"},
                "version": {"N": "1"},
                "owner_member_id": {"S": "alice"},
                **serialize(Keys.owner("alice", None, serial(n))),
            },
        )
    calls.reset()
    assert len(issuances()[1]) == 20
    vouchers_read = [pk for pk in calls.keys_read() if pk.startswith("VOUCHER#")]
    assert len(vouchers_read) == 20  # a plain page reads its own vouchers, not 100
    calls.reset()
    assert len(issuances("status=AVAILABLE&limit=5")[1]) == 5
    # a filtered page reads its `limit` candidates, then only the shortfall the filter left,
    # scaled by the share it kept: what it examined, never a fixed read-ahead of 100
    examined = [pk for pk in calls.keys_read() if pk.startswith("VOUCHER#")]
    assert 5 <= len(examined) <= 10 and len(examined) == len(set(examined))
    status, body, headers = issuances("maxResults=500")
    assert (status, body, headers) == issuances("maxResults=100")
    # one batch read holds 100 keys: the 7 definitions of alice's vouchers and 93 vouchers
    assert len(body) == 93 and "X-Next-Token" in headers
    assert len({i["voucherId"] for i in all_pages("maxResults=500")}) == len(alice_serials(demo)) > 100


def test_status_reward_type_and_activatable_filters(demo: Any) -> None:
    redeemed = [i["voucherId"] for i in all_pages("status=REDEEMED")]
    assert redeemed and all(i.startswith(("carwash::", "coffee::")) for i in redeemed)
    assert {i["status"] for i in all_pages("status=redeemed,expired")} == {"REDEEMED", "EXPIRED"}
    pac = all_pages("rewardType=PRODUCT_AUTHORIZATION_CODE&activatable=true&type=voucher")
    assert pac and all(i["rewardType"] == "PRODUCT_AUTHORIZATION_CODE" and i["activatable"] for i in pac)
    ids = {i["voucherId"] for i in pac}
    assert f"carwash::{serial(1)}" in ids  # available
    assert f"carwash::{serial(6)}" not in ids  # its code is live
    assert f"carwash-unconfigured::{serial(10)}" not in ids  # no provider
    assert f"carwash::{serial(5)}" not in ids  # expired
    assert {i["businessUnit"] for i in all_pages("businessUnit=CAFE")} == {"CAFE"}


def test_issued_window(demo: Any) -> None:
    everything = all_pages("")
    dated = sorted(i["issuedDateEpoch"] for i in everything if i["issuedDateEpoch"])
    low, high = dated[2], dated[5]
    window = all_pages(f"from={low}&to={high}")
    assert sorted(i["issuedDateEpoch"] for i in window) == dated[2:6]
    days = all_pages(f"from={low}&until=3650")
    assert min(i["issuedDateEpoch"] for i in days) == low


def test_live_code_only_to_the_member(demo: Any) -> None:
    (mine,) = [i for i in all_pages("status=ACTIVATED") if i["voucherId"].endswith(serial(6))]
    assert mine["activation"]["codeLive"] is True and mine["activation"]["authorizationCode"]
    (csr,) = [
        i
        for i in all_pages("status=ACTIVATED", CSR, "/console/members/alice/issuances")
        if i["voucherId"].endswith(serial(6))
    ]
    assert csr["activation"]["codeLive"] is True and "authorizationCode" not in csr["activation"]
    _, detail, _ = call(
        "console_issuance", "GET", f"/console/members/alice/issuances/carwash::{serial(6)}", headers=CSR
    )
    assert "authorizationCode" not in json.dumps(detail) and mine["activation"][
        "authorizationCode"
    ] not in json.dumps(detail)


def test_ghost_members_may_list_console_users_may_not(demo: Any, calls: Calls) -> None:
    status, body, _ = issuances(headers=GHOST)
    assert status == 200 and [i["accountID"] for i in body] == ["ghost"]
    calls.reset()
    status, body, _ = issuances(headers=CSR)
    assert (status, body["errorCode"], calls.count) == (403, "FORBIDDEN", 1)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("stauts=AVAILABLE", "UNKNOWN_PARAMETER"),
        ("type=offer", "INVALID_TYPE"),
        ("status=USED", "INVALID_STATUS"),
        ("maxResults=0", "INVALID_LIMIT"),
        ("maxResults=ten", "INVALID_LIMIT"),
        ("limit=5&maxResults=6", "INVALID_LIMIT"),
        ("from=-1", "INVALID_FROM"),
        ("to=99999999999999999", "INVALID_TO"),
        ("until=0", "INVALID_UNTIL"),
        ("to=1000&until=2", "INVALID_UNTIL"),
        ("from=2000&to=1000", "INVALID_DATE_RANGE"),
        ("businessUnit=a%20b", "INVALID_BUSINESS_UNIT"),
        ("locale=de-DE", "INVALID_LOCALE"),
        ("rewardType=pac", "INVALID_REWARD_TYPE"),
        ("activatable=yes", "INVALID_ACTIVATABLE"),
        ("nextToken=garbage", "INVALID_NEXT_TOKEN"),
        ("nextToken=W10", "INVALID_NEXT_TOKEN"),
        ("rewardType=A&rewardType=B", "INVALID_REWARD_TYPE"),
    ],
)
def test_bad_parameters_are_400_with_a_code_naming_them(demo: Any, query: str, code: str) -> None:
    status, body, _ = issuances(query)
    assert (status, body["errorCode"], body["correlationId"]) == (400, code, "corr-1")


def test_authentication_errors_as_activation(demo: Any) -> None:
    status, body, headers = issuances(headers={})
    assert status == 401 and body["errorCode"] == "UNAUTHORIZED" and "Bearer" in headers["WWW-Authenticate"]
    assert issuances(headers={"Authorization": "Bearer demo-es-expired-session"})[0] == 401
    assert issuances(headers={"Authorization": "Bearer demo-spaaza-user-alice"})[0] == 401
    status, body, _ = call("list_issuances", "GET", "/client/users/bad%20id/issuances", headers=ALICE)
    assert (status, body["errorCode"]) == (400, "INVALID_CORRELATION_ID")


def test_read_your_writes_across_dialects(demo: Any) -> None:
    """Consumed by an operator: REDEEMED in the member's list (at once: the state is read from
    the table, never from the index), consumed in the operator's view, redeemed in
    get-user-vouchers, and the CSR sees the CONSUMED event."""
    assert call("consume_voucher", "PUT", view_path(1), headers=ANNA)[0] == 200
    (listed,) = [i for i in all_pages("") if i["voucherId"] == f"carwash::{serial(1)}"]
    assert listed["status"] == "REDEEMED" and listed["activatable"] is False
    assert call("view_voucher", "GET", view_path(1), headers=ANNA)[1]["data"]["status"] == "CONSUMED"
    _, spaaza, _ = call(
        "get_user_vouchers", "GET", "/get-user-vouchers", headers=ADMIN, query="chain_id=1&user_id=1001"
    )
    (mine,) = [v for v in spaaza["results"]["basket_vouchers"] if v["voucher_id"] == 40001]
    assert mine["voucher_status"] == "redeemed"
    _, detail, _ = call(
        "console_issuance", "GET", f"/console/members/alice/issuances/carwash::{serial(1)}", headers=CSR
    )
    consumed = detail["history"][-1]
    assert (consumed["eventType"], consumed["channel"], consumed["principalId"]) == (
        "CONSUMED",
        "thalamus",
        "op-anna",
    )
    assert (consumed["fromStatus"], consumed["toStatus"]) == ("AVAILABLE", "REDEEMED")
    assert "at touchpoint BACKOFFICE via thalamus" in consumed["description"]
    assert detail["status"] == "REDEEMED" and [e["eventType"] for e in detail["history"]] == [
        "IMPORTED",
        "CONSUMED",
    ]


# --------------------------------------------------------------------------- console


def test_console_refuses_other_principals_in_one_round_trip(demo: Any, calls: Calls) -> None:
    for headers in (ALICE, GHOST):
        for path in (
            "/console/members/alice/issuances",
            f"/console/members/nobody/issuances/carwash::{serial(1)}",
        ):
            calls.reset()
            function = "console_issuances" if path.endswith("issuances") else "console_issuance"
            status, body, _ = call(function, "GET", path, headers=headers)
            assert (status, body["errorCode"], calls.count) == (403, "FORBIDDEN", 1)
    assert call("console_issuances", "GET", "/console/members/alice/issuances", headers={})[0] == 401


def test_unknown_member_and_unknown_voucher_read_alike(demo: Any, calls: Calls) -> None:
    answers = set()
    for path in (
        f"/console/members/nobody/issuances/carwash::{serial(1)}",  # no such member
        f"/console/members/alice/issuances/carwash::{serial(999)}",  # no such voucher
        f"/console/members/alice/issuances/carwash::{serial(8)}",  # bob's
        f"/console/members/alice/issuances/coffee::{serial(1)}",  # wrong definition
    ):
        calls.reset()
        status, body, _ = call("console_issuance", "GET", path, headers=CSR)
        answers.add((status, json.dumps(body), calls.count))
    assert answers == {
        (
            404,
            json.dumps(
                {"errorCode": "NOT_FOUND", "message": "No such member or issuance.", "correlationId": None}
            ),
            1,
        )
    }
    status, body, _ = call("console_issuances", "GET", "/console/members/nobody/issuances", headers=CSR)
    assert (status, body["errorCode"]) == (404, "NOT_FOUND")


def test_console_detail_is_two_round_trips_and_hides_unused_codes(demo: Any, calls: Calls) -> None:
    demo.commit(
        Record(
            AuditEvent(
                serial=serial(1),
                event_type="ACTIVATION_CODE_UNUSED",
                channel="es_loyalty",
                actor_kind="es_member",
                actor_id="alice",
                from_status="AVAILABLE",
                to_status="AVAILABLE",
                at=utcnow() + timedelta(seconds=1),
                request_id="r-1",
                correlation_id="corr-1",
                details={
                    "provider": "KESSELTRONICS",
                    "reference": "x:v1",
                    "authorization_code": "KT-SECRET-1",
                },
            )
        )
    )
    calls.reset()
    status, body, _ = call(
        "console_issuance", "GET", f"/console/members/alice/issuances/carwash::{serial(1)}", headers=CSR
    )
    assert status == 200 and calls.count == 2
    assert "KT-SECRET-1" not in json.dumps(body)
    unused = body["history"][-1]
    assert unused["eventType"] == "ACTIVATION_CODE_UNUSED" and unused["details"] == {
        "provider": "KESSELTRONICS",
        "reference": "x:v1",
    }


def test_every_console_view_is_logged_with_the_csr_id(demo: Any, captured_logs: Any) -> None:
    call("console_issuances", "GET", "/console/members/alice/issuances", headers=CSR)
    call("console_issuance", "GET", f"/console/members/nobody/issuances/carwash::{serial(1)}", headers=CSR)
    lines = [json.loads(line) for line in captured_logs.text().splitlines() if line.startswith("{")]
    finished = [
        r for r in lines if r.get("message") == "request finished" and r["service"].startswith("console")
    ]
    assert [(r["status"], r.get("csr_id")) for r in finished] == [(200, "csr-1"), (404, "csr-1")]
    assert "demo-es-console-csr" not in captured_logs.text()
