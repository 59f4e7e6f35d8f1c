"""Thalamus v4 "set voucher as consumed", through the real handler with API Gateway events."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.runtime import hash_token
from shared.store import DynamoDBStore, Keys, WriteConflict
from tests.conftest import call, race, serial

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}


def path(voucher: str, item: str = "CARWASH", activity: str = "MILES") -> str:
    return f"/api/v4/operator/activity/{activity}/item/{item}/voucher/{voucher}"


def consume(
    voucher: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    item = kwargs.pop("item", "CARWASH")
    activity = kwargs.pop("activity", "MILES")
    return call(
        "consume_voucher",
        "PUT",
        path(voucher, item, activity),
        headers=ANNA if headers is None else headers,
        **kwargs,
    )


def stored(store: DynamoDBStore, n: int) -> dict[str, Any]:
    item = store.get(Keys.voucher(serial(n)))
    assert item is not None
    return item


class TestSuccess:
    def test_consumes_and_returns_the_updated_voucher(self, demo: DynamoDBStore) -> None:
        status, body, headers = consume(
            serial(1),
            {**ANNA, "Content-Type": "application/json"},
            body=json.dumps({"parameter1": "order-77", "parameter3": "till 4"}),
        )
        assert status == 200, body
        assert headers["Content-Type"] == "application/json"
        assert body["errors"] == {} and body["links"] == []
        data = body["data"]
        assert (data["activityCode"], data["voucherItemCode"], data["voucherCode"]) == (
            "MILES",
            "CARWASH",
            serial(1),
        )
        assert data["status"] == "CONSUMED"
        assert data["consumedBy"] == {"operator": "op-anna", "touchpoint": "BACKOFFICE"}
        assert data["parameters"] == {"parameter1": "order-77", "parameter2": None, "parameter3": "till 4"}
        assert data["consumedAt"].endswith("Z")
        item = stored(demo, 1)
        assert item["status"] == "REDEEMED" and item["version"] == 2
        assert item["consumption"]["parameters"] == {"parameter1": "order-77", "parameter3": "till 4"}
        events = [e for e in demo.voucher_events(serial(1)) if e["event_type"] == "CONSUMED"]
        assert len(events) == 1
        event = events[0]
        assert (event["from_status"], event["to_status"], event["actor_id"], event["channel"]) == (
            "AVAILABLE",
            "REDEEMED",
            "op-anna",
            "thalamus",
        )
        assert event["details"] == {
            "touchpoint": "BACKOFFICE",
            "parameters": {"parameter1": "order-77", "parameter3": "till 4"},
        }
        assert event["request_id"]

    def test_credentials_as_query_parameters(self, demo: DynamoDBStore) -> None:
        status, body, _ = consume(
            serial(2), {}, query="touchpoint=BACKOFFICE&token=demo-thalamus-operator-anna"
        )
        assert status == 200, body

    def test_header_wins_over_query(self, demo: DynamoDBStore) -> None:
        status, body, _ = consume(serial(2), ANNA, query="touchpoint=KIOSK&token=forged")
        assert status == 200, body

    def test_no_body_needs_no_content_type_and_null_body_is_empty(self, demo: DynamoDBStore) -> None:
        assert consume(serial(1))[0] == 200
        status, body, _ = consume(
            serial(2), {**ANNA, "Content-Type": "application/json; charset=utf-8"}, body="null"
        )
        assert status == 200 and body["data"]["parameters"] == {
            "parameter1": None,
            "parameter2": None,
            "parameter3": None,
        }

    def test_item_scoped_grant(self, demo: DynamoDBStore) -> None:
        otto = {"Thalamus-Token": "demo-thalamus-operator-otto", "Thalamus-Touchpoint": "BACKOFFICE"}
        assert consume(serial(11), otto, item="COFFEE")[0] == 200

    def test_activated_voucher_is_consumed_and_no_longer_activatable(self, demo: DynamoDBStore) -> None:
        assert consume(serial(6))[0] == 200
        assert stored(demo, 6)["status"] == "REDEEMED"

    def test_two_dynamodb_round_trips(self, demo: DynamoDBStore) -> None:
        calls: list[str] = []
        demo.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        assert consume(serial(1))[0] == 200
        assert calls == ["BatchGetItem", "TransactWriteItems"]


class TestErrors:
    @pytest.mark.parametrize(
        ("headers", "query", "status", "errors"),
        [
            ({"Thalamus-Touchpoint": "BACKOFFICE"}, "", 401, {"token": "InvalidToken"}),
            ({"Thalamus-Token": "demo-thalamus-operator-anna"}, "", 400, {"touchpoint": "Required"}),
            (
                {"Thalamus-Token": "forged-token-123456", "Thalamus-Touchpoint": "BACKOFFICE"},
                "",
                401,
                {"token": "InvalidToken"},
            ),
            (
                {"Thalamus-Token": "demo-thalamus-expired-session", "Thalamus-Touchpoint": "BACKOFFICE"},
                "",
                401,
                {"token": "InvalidToken"},
            ),
            (
                {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "KIOSK"},
                "",
                401,
                {"token": "InvalidToken"},
            ),
            (
                {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "NOPE"},
                "",
                401,
                {"touchpoint": "InvalidCode"},
            ),
            (
                {"Thalamus-Token": "demo-es-member-alice", "Thalamus-Touchpoint": "BACKOFFICE"},
                "",
                401,
                {"token": "InvalidToken"},
            ),
            (
                {"Thalamus-Token": "  ", "Thalamus-Touchpoint": "BACKOFFICE"},
                "",
                401,
                {"token": "InvalidToken"},
            ),
            ({}, "token=&touchpoint=BACKOFFICE", 401, {"token": "InvalidToken"}),
            (
                {"Thalamus-Token": "demo-thalamus-not-an-operator", "Thalamus-Touchpoint": "BACKOFFICE"},
                "",
                400,
                {"error.message": "NotAnOperator"},
            ),
        ],
    )
    def test_credentials(
        self, demo: DynamoDBStore, headers: dict[str, str], query: str, status: int, errors: dict[str, str]
    ) -> None:
        got, body, _ = consume(serial(1), headers, query=query)
        assert (got, body) == (status, {"links": [], "data": None, "errors": errors})
        assert stored(demo, 1)["status"] == "AVAILABLE"

    @pytest.mark.parametrize(
        ("n", "activity", "item", "key"),
        [
            (1, "NOPE", "CARWASH", "activityCode"),
            (18, "OTHER", "GIFT", "activityCode"),  # exists, but anna has no grant there
            (1, "MILES", "NOPE", "voucherItemCode"),
            (999, "MILES", "CARWASH", "voucherCode"),
            (11, "MILES", "CARWASH", "voucherCode"),  # exists, but under another item
        ],
    )
    def test_not_found(self, demo: DynamoDBStore, n: int, activity: str, item: str, key: str) -> None:
        status, body, _ = consume(serial(n), activity=activity, item=item)
        assert (status, body["errors"]) == (404, {key: "NotFound"})

    def test_no_permission_on_item_reads_as_not_found(self, demo: DynamoDBStore) -> None:
        otto = {"Thalamus-Token": "demo-thalamus-operator-otto", "Thalamus-Touchpoint": "BACKOFFICE"}
        status, body, _ = consume(serial(3), otto)  # CARWASH, already consumed: no oracle
        assert (status, body["errors"]) == (404, {"voucherItemCode": "NotFound"})

    @pytest.mark.parametrize(
        ("n", "code"), [(4, "InvalidStatus"), (5, "InvalidStatus"), (3, "InvalidState"), (9, "InvalidState")]
    )
    def test_status_and_state(self, demo: DynamoDBStore, n: int, code: str) -> None:
        before = stored(demo, n)
        status, body, _ = consume(serial(n))
        assert (status, body["errors"]) == (400, {"voucherCode": code})
        assert stored(demo, n) == before

    def test_second_consume_is_invalid_state(self, demo: DynamoDBStore) -> None:
        assert consume(serial(1))[0] == 200
        assert consume(serial(1))[1]["errors"] == {"voucherCode": "InvalidState"}
        assert len([e for e in demo.voucher_events(serial(1)) if e["event_type"] == "CONSUMED"]) == 1

    @pytest.mark.parametrize(
        ("content_type", "body", "errors"),
        [
            ("application/json", "{not json", {"body": "InvalidJson"}),
            ("application/json", b"\xff\xfe", {"body": "InvalidJson"}),
            ("text/plain", '{"parameter1": "x"}', {"Content-Type": "UnsupportedMediaType"}),
            (None, '{"parameter1": "x"}', {"Content-Type": "UnsupportedMediaType"}),
            ("application/json", "[1, 2]", {"body": "InvalidFormat"}),
            ("application/json", '{"parameter4": "x", "parameter1": "ok"}', {"parameter4": "UnknownField"}),
            ("application/json", '{"parameter1": 5}', {"parameter1": "InvalidFormat"}),
            ("application/json", json.dumps({"parameter2": "x" * 256}), {"parameter2": "InvalidFormat"}),
        ],
    )
    def test_body(
        self, demo: DynamoDBStore, content_type: str | None, body: str | bytes, errors: dict[str, str]
    ) -> None:
        headers = dict(ANNA)
        if content_type:
            headers["Content-Type"] = content_type
        status, payload, _ = consume(serial(1), headers, body=body)
        assert (status, payload["errors"]) == (400, errors)
        assert stored(demo, 1)["status"] == "AVAILABLE"

    def test_path_segment_too_long(self, demo: DynamoDBStore) -> None:
        status, body, _ = consume("x" * 129)
        assert (status, body["errors"]) == (400, {"voucherCode": "InvalidFormat"})


class TestRevocationAndFaults:
    def test_grant_revoked_after_login_is_refused_at_commit(self, demo: DynamoDBStore) -> None:
        demo.client.delete_item(
            TableName=demo.table_name, Key=_ser(Keys.operator_grant("op-anna", "MILES", "*"))
        )
        status, body, _ = consume(serial(1))
        assert (status, body["errors"]) == (404, {"voucherItemCode": "NotFound"})
        assert stored(demo, 1)["status"] == "AVAILABLE"

    def test_revoked_session(self, demo: DynamoDBStore) -> None:
        demo.client.update_item(
            TableName=demo.table_name,
            Key=_ser(Keys.session(hash_token("demo-thalamus-operator-anna"))),
            UpdateExpression="SET revoked = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
        assert consume(serial(1))[0] == 401

    def test_transaction_conflict_is_retried(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        original = demo.transact
        attempts: list[int] = []

        def flaky(items: Any) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise WriteConflict("conflict")
            original(items)

        monkeypatch.setattr(demo, "transact", flaky)
        assert consume(serial(1))[0] == 200
        assert len(attempts) == 2
        assert len([e for e in demo.voucher_events(serial(1)) if e["event_type"] == "CONSUMED"]) == 1

    def test_endless_conflict_is_a_retryable_409(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(demo, "transact", lambda items: (_ for _ in ()).throw(WriteConflict("x")))
        status, body, _ = consume(serial(1))
        assert (status, body["errors"]) == (409, {"voucherCode": "ConcurrentModification"})
        assert stored(demo, 1)["status"] == "AVAILABLE"
        monkeypatch.undo()
        assert consume(serial(1))[0] == 200  # the retry the 409 invites succeeds

    def test_throttling_is_503(self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch) -> None:
        from botocore.stub import Stubber

        stub = Stubber(demo.client)
        for _ in range(demo._max_call_attempts):  # throttled on every attempt the store makes
            stub.add_client_error("batch_get_item", service_error_code="ThrottlingException")
        with stub:
            status, body, headers = consume(serial(1))
        assert (status, body["errors"]) == (503, {"error.message": "ServiceUnavailable"})
        assert headers["Retry-After"] == "1"
        assert stored(demo, 1)["status"] == "AVAILABLE"  # nothing half-written
        assert consume(serial(1))[0] == 200  # and a retry succeeds

    def test_unexpected_failure_is_500_without_internals(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def boom(*_: Any, **__: Any) -> None:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(demo, "batch_get", boom)
        status, body, _ = consume(serial(1))
        assert (status, body) == (
            500,
            {"links": [], "data": None, "errors": {"error.message": "InternalError"}},
        )
        assert "secret internal detail" not in json.dumps(body)

    def test_tokens_never_reach_the_logs(self, demo: DynamoDBStore, captured_logs: Any) -> None:
        consume(serial(1))
        consume(serial(1), {}, query="token=demo-thalamus-operator-anna&touchpoint=BACKOFFICE")
        consume(serial(1), {"Thalamus-Token": "forged-secret-value-1", "Thalamus-Touchpoint": "BACKOFFICE"})
        logs = captured_logs.text()
        assert logs.count("request finished") == 3
        for secret in (
            "demo-thalamus-operator-anna",
            "forged-secret-value-1",
            hash_token("demo-thalamus-operator-anna"),
        ):
            assert secret not in logs


def _ser(key: dict[str, str]) -> dict[str, Any]:
    from shared.store import serialize

    return serialize(key)


@pytest.mark.race
def test_race_many_operators_one_winner(server_store: DynamoDBStore) -> None:
    results = race(16, lambda _i: consume(serial(1)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] + [400] * 15, statuses
    assert all(r[1]["errors"] == {"voucherCode": "InvalidState"} for r in results if r[0] == 400)
    item = stored(server_store, 1)
    assert (item["status"], item["version"]) == ("REDEEMED", 2)
    assert len([e for e in server_store.voucher_events(serial(1)) if e["event_type"] == "CONSUMED"]) == 1


# --------------------------------------------------------------------------- fuzz

SEGMENT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=140).map(
    lambda s: s.replace("/", "%2F")
)


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    voucher=SEGMENT.filter(bool),
    token=st.one_of(st.none(), st.text(max_size=40), st.just("demo-thalamus-operator-anna")),
    touchpoint=st.one_of(st.none(), st.text(max_size=20), st.just("BACKOFFICE")),
    content_type=st.one_of(
        st.none(), st.sampled_from(["application/json", "text/plain", "application/json;charset=x"])
    ),
    body=st.one_of(
        st.none(),
        st.binary(max_size=64),
        st.dictionaries(
            st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=300)), max_size=4
        ).map(json.dumps),
    ),
)
def test_fuzz_never_5xx_always_thalamus_envelope(
    demo: DynamoDBStore,
    voucher: str,
    token: str | None,
    touchpoint: str | None,
    content_type: str | None,
    body: Any,
) -> None:
    headers: dict[str, str] = {}
    if token is not None:
        headers["Thalamus-Token"] = token
    if touchpoint is not None:
        headers["Thalamus-Touchpoint"] = touchpoint
    if content_type is not None:
        headers["Content-Type"] = content_type
    from infra.local_stack.apigw import build_event, invoke

    built = build_event("PUT", path(voucher), headers=headers, body=body)
    if built is None:  # e.g. an empty segment: API Gateway would not route it either
        return
    response = invoke("consume_voucher", built[1])
    payload = json.loads(response["body"])
    assert response["statusCode"] < 500, payload
    assert set(payload) == {"links", "data", "errors"}
    assert all(isinstance(v, str) for v in payload["errors"].values())
    assert (response["statusCode"] == 200) == (payload["errors"] == {})


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ("[" * 15000, {"body": "InvalidJson"}),
        ('{"parameter1": ' + "[" * 5000, {"body": "InvalidJson"}),
        ('{"parameter1": "\\ud800"}', {"parameter1": "InvalidFormat"}),
        ('{"parameter1": "a\\u0000b"}', {"parameter1": "InvalidFormat"}),
        ('{"\\ud800x": "1"}', {"?x": "UnknownField"}),
    ],
)
def test_hostile_bodies_get_a_clear_400(demo: DynamoDBStore, body: str, errors: dict[str, str]) -> None:
    """Found in review: deep nesting raised RecursionError (500) and lone surrogates broke the
    write or the response encoding."""
    from infra.local_stack.apigw import build_event, invoke

    built = build_event(
        "PUT", path(serial(1)), headers={**ANNA, "Content-Type": "application/json"}, body=body
    )
    assert built is not None
    response = invoke("consume_voucher", built[1])
    response["body"].encode("utf-8")  # always encodable
    assert (response["statusCode"], json.loads(response["body"])["errors"]) == (400, errors)
    assert stored(demo, 1)["status"] == "AVAILABLE"
