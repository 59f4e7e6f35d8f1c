"""ES Loyalty "Activate Voucher" through the real handler, the demo data in moto and the
Kesseltronics simulator: success, replay, re-activation, every error row of the seed, and
what happens around provider failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.domain import parse_instant
from tests.activation.conftest import (
    ALICE,
    REFUSED,
    SPARE,
    UNKNOWN_PROVIDER,
    ActivationEnv,
    DynamoCalls,
    activate,
    es_voucher_id,
)
from tests.conftest import plant_guard, serial

SUCCESS_FIELDS = {
    "authorizationCode",
    "voucherId",
    "status",
    "provider",
    "productName",
    "activatedAt",
    "codeExpiry",
}


def assert_error(response: tuple[int, Any, dict[str, str]], status: int, code: str, correlation: Any) -> None:
    got_status, body, _headers = response
    assert (got_status, body["errorCode"]) == (status, code), body
    assert set(body) == {"errorCode", "message", "correlationId"}
    assert body["correlationId"] == correlation
    assert body["message"]


# --------------------------------------------------------------------------- success


def test_first_activation_calls_provider_once_and_commits_state_and_event(env: ActivationEnv) -> None:
    before = env.voucher_item(1)
    assert before is not None
    with DynamoCalls(env.store.client) as dynamo:
        status, body, headers = activate(1, correlation="sess-42.a:b_c-d")
    assert status == 200, body
    assert set(body) == SUCCESS_FIELDS  # no "idempotent" on a first activation
    assert body["voucherId"] == es_voucher_id(1)
    assert body["status"] == "ACTIVATED"
    assert body["provider"] == "KESSELTRONICS"
    assert body["productName"] == "Car Wash"
    assert body["authorizationCode"].startswith("KT-")
    assert body["activatedAt"].endswith("Z") and body["codeExpiry"].endswith("Z")
    assert parse_instant(body["codeExpiry"]) > parse_instant(body["activatedAt"])
    assert headers["Cache-Control"] == "no-store"
    # 3 round trips: the read, the guard claim (one conditional UpdateItem of the voucher), the commit
    assert dynamo.operations == ["BatchGetItem", "UpdateItem", "TransactWriteItems"]
    stats = env.sim.stats()
    assert (stats["calls"], stats["issued"]) == (1, 1)
    (reference,) = stats["by_reference"]
    assert reference == f"{serial(1)}:v{before['version']}"

    item = env.voucher_item(1)
    assert item is not None
    assert item["status"] == "ACTIVATED"
    assert item["version"] == before["version"] + 1
    activation = item["activation"]
    assert activation["authorization_code"] == body["authorizationCode"]
    assert activation["provider"] == "KESSELTRONICS"
    assert activation["previous_status"] == "AVAILABLE"
    assert activation["reference"] == reference
    assert activation["activated_at"] == body["activatedAt"]
    assert activation["code_expiry"] == body["codeExpiry"]
    (event,) = env.activated_events(1)
    assert event["channel"] == "es_loyalty"
    assert event["correlation_id"] == "sess-42.a:b_c-d"
    assert event["actor_id"] == "alice"
    assert (event["from_status"], event["to_status"]) == ("AVAILABLE", "ACTIVATED")
    assert event["details"] == {"provider": "KESSELTRONICS", "reference": reference}
    assert env.guard_held(1) is None  # the guard released in the same transaction


def test_replay_returns_same_code_with_one_read_no_provider_call_no_write(env: ActivationEnv) -> None:
    first_status, first, _ = activate(2)
    assert first_status == 200
    item_after_first = env.voucher_item(2)
    with DynamoCalls(env.store.client) as dynamo:
        status, body, _ = activate(2, correlation="another-correlation")
    assert status == 200
    assert body["idempotent"] is True
    assert {k: v for k, v in body.items() if k != "idempotent"} == first
    assert dynamo.operations == ["BatchGetItem"]
    assert env.sim.stats()["calls"] == 1
    assert env.voucher_item(2) == item_after_first
    assert len(env.activated_events(2)) == 1


def test_demo_live_activation_is_replayed(env: ActivationEnv) -> None:
    status, body, _ = activate(6)
    assert status == 200
    assert body["authorizationCode"] == "KT-DEMO-LIVE-0006"
    assert body["idempotent"] is True
    assert body["codeExpiry"] == "2099-12-31T23:59:59.000Z"
    assert env.sim.calls == 0
    assert env.activated_events(6) == []


def test_expired_code_is_reactivated_with_a_new_provider_call(env: ActivationEnv) -> None:
    before = env.voucher_item(7)
    assert before is not None and before["activation"]["authorization_code"] == "KT-DEMO-OLD-0007"
    status, body, _ = activate(7)
    assert status == 200, body
    assert "idempotent" not in body
    assert body["authorizationCode"] not in {"KT-DEMO-OLD-0007"}
    assert env.sim.stats()["issued"] == 1
    item = env.voucher_item(7)
    assert item is not None
    assert item["version"] == before["version"] + 1
    assert item["activation"]["reference"] == f"{serial(7)}:v{before['version']}"
    assert item["activation"]["previous_status"] == "CLAIMED"  # what it returns to, kept
    (event,) = env.activated_events(7)
    assert event["from_status"] == "ACTIVATED"


def test_upper_case_issuance_uuid_is_accepted_and_echoed_as_given(env: ActivationEnv) -> None:
    given = f"carwash::{serial(SPARE).upper()}"
    status, body, _ = activate(given)
    assert status == 200
    assert body["voucherId"] == given
    assert env.voucher_item(SPARE)["status"] == "ACTIVATED"


def test_a_request_body_is_ignored(env: ActivationEnv) -> None:
    status, body, _ = activate(1, body='{"memberId": "bob", "voucherId": "x"}')
    assert status == 200
    assert "idempotent" not in body


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "cases",
    [
        [
            ({}, False),
            ({"Authorization": ""}, False),
            ({"Authorization": "Bearer"}, False),
            ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, False),
            ({"Authorization": f"Token {ALICE}"}, False),
            ({"Authorization": "Bearer two words"}, True),
            ({"Authorization": "Bearer " + "a" * 5000}, True),
            ({"Authorization": "Bearer demo-es-expired-session"}, True),
            ({"Authorization": "Bearer never-issued-token-123456"}, True),
            ({"Authorization": "Bearer demo-spaaza-user-alice"}, True),  # another kind of session
            ({"Authorization": "Bearer demo-thalamus-operator-anna"}, True),
            ({"X-Member-Id": "alice"}, False),
        ],  # the account comes only from the token
    ],
)
def test_missing_or_invalid_token_is_401(
    env: ActivationEnv, cases: list[tuple[dict[str, str], bool]]
) -> None:
    for headers, presented in cases:
        response = activate(1, token=None, headers=headers, correlation="corr-401")
        assert_error(response, 401, "UNAUTHORIZED", "corr-401")
        challenge = response[2]["WWW-Authenticate"]
        assert challenge.startswith("Bearer"), headers
        assert ('error="invalid_token"' in challenge) is presented, headers
    assert env.sim.calls == 0


def test_bearer_scheme_is_case_insensitive(env: ActivationEnv) -> None:
    status, _body, _ = activate(1, token=None, headers={"authorization": f"bearer {ALICE}"})
    assert status == 200


def test_revoked_session_is_401(store: Any, simulator: Any) -> None:
    from tests.activation.conftest import extended_document
    from tests.conftest import load_document

    doc = extended_document()
    doc["sessions"].append(
        {
            "kind": "es_member",
            "principal": "alice",
            "token": "revoked-alice-token-0001",
            "expires_at": "2099-01-01T00:00:00Z",
            "revoked": True,
        }
    )
    load_document(store, doc)
    assert_error(activate(1, token="revoked-alice-token-0001"), 401, "UNAUTHORIZED", "corr-test-1")


def test_console_user_may_not_activate(env: ActivationEnv) -> None:
    assert_error(activate(1, token="demo-es-console-csr"), 403, "CONSOLE_ACTIVATION_FORBIDDEN", "corr-test-1")
    assert env.voucher_item(1)["status"] == "AVAILABLE"


def test_ghost_member_may_not_activate_even_own_voucher(env: ActivationEnv) -> None:
    assert_error(activate(22, token="demo-es-ghost-member"), 403, "GHOST_MEMBER_NOT_ALLOWED", "corr-test-1")
    assert env.sim.calls == 0


# --------------------------------------------------------------------------- request shape


@pytest.mark.parametrize(
    "malformed",
    [
        [
            "carwash",
            serial(1),
            f"carwash:{serial(1)}",
            f"carwash:::{serial(1)}",
            f"::{serial(1)}",
            "carwash::",
            "carwash::not-a-uuid",
            f"carwash::{serial(1).replace('-', '')}",
            f"carwash::{serial(1)}::x",
            f"car%20wash::{serial(1)}",
            f"carwash::{serial(1)}%0A",
            f"{'d' * 65}::{serial(1)}",
            f"carwash::{serial(1)[:-1]}g",
            f"carwash%2F..::{serial(1)}",
        ]
    ],
)
def test_malformed_voucher_id_is_400(env: ActivationEnv, malformed: list[str]) -> None:
    for given in malformed:
        assert_error(activate(given), 400, "INVALID_VOUCHER_ID", "corr-test-1")


def test_malformed_correlation_id_is_400(env: ActivationEnv) -> None:
    for correlation in ["has%20space", "a" * 129, "semi;colon", "slash%2Fin", "%C3%A9t%C3%A9"]:
        assert_error(activate(1, correlation=correlation), 400, "INVALID_CORRELATION_ID", None)


def test_correlation_id_of_128_characters_is_accepted(env: ActivationEnv) -> None:
    status, _body, _ = activate(1, correlation="c" * 128)
    assert status == 200


# --------------------------------------------------------------------------- preconditions


@pytest.mark.parametrize(
    "given",
    [
        f"carwash::{serial(999)}",  # no such voucher
        es_voucher_id(8),  # bob's voucher
        f"coffee::{serial(1)}",  # alice's voucher, wrong definition
        es_voucher_id(9),  # UNASSIGNED: nobody's
        es_voucher_id(18),  # carol's (another chain)
    ],
)
def test_voucher_not_under_this_account_is_404(env: ActivationEnv, given: str) -> None:
    response = activate(given)
    assert_error(response, 404, "VOUCHER_NOT_FOUND", "corr-test-1")
    missing = activate(f"carwash::{serial(999)}")
    assert response[1] == missing[1]  # indistinguishable from a missing voucher
    assert env.sim.calls == 0


@pytest.mark.parametrize(("n", "state"), [(3, "REDEEMED"), (4, "INVALIDATED"), (5, "EXPIRED")])
def test_unavailable_voucher_is_409(env: ActivationEnv, n: int, state: str) -> None:
    before = env.voucher_item(n)
    assert_error(activate(n), 409, "VOUCHER_NOT_AVAILABLE", "corr-test-1")
    assert env.voucher_item(n) == before
    assert env.sim.calls == 0


def test_non_pac_voucher_is_400_invalid_voucher_type(env: ActivationEnv) -> None:
    assert_error(activate(13), 400, "INVALID_VOUCHER_TYPE", "corr-test-1")
    assert_error(activate(11), 400, "INVALID_VOUCHER_TYPE", "corr-test-1")


def test_unavailable_is_judged_before_type(env: ActivationEnv) -> None:
    assert_error(activate(14), 409, "VOUCHER_NOT_AVAILABLE", "corr-test-1")  # redeemed coffee


@pytest.mark.parametrize("n", [10, UNKNOWN_PROVIDER])
def test_definition_without_usable_provider_is_422(env: ActivationEnv, n: int) -> None:
    assert_error(activate(n), 422, "PROVIDER_NOT_CONFIGURED", "corr-test-1")
    assert env.guard_held(n) is None
    assert env.sim.calls == 0


# --------------------------------------------------------------------------- provider failures


def _heal_definition(env: ActivationEnv, definition_id: str) -> None:
    """Point a failing definition at the healthy product code."""
    from shared.store import Keys, decode, encode, serialize
    from shared.store.schema import DEFINITION

    item = env.store.get(Keys.definition(definition_id))
    definition = decode(DEFINITION, item)
    assert definition.provider is not None
    healthy = type(definition.provider)(name="KESSELTRONICS", product_code="CW-BASIC", timeout_seconds=2.0)
    fixed = encode(DEFINITION, type(definition)(**{**definition.__dict__, "provider": healthy}))
    env.store.client.put_item(TableName=env.store.table_name, Item=serialize(fixed))


@pytest.mark.parametrize(
    ("n", "status", "code"),
    [
        (19, 504, "EXTERNAL_SERVICE_TIMEOUT"),
        (20, 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
        (21, 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
        (REFUSED, 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
    ],
)
def test_provider_failure_changes_nothing_and_a_retry_can_succeed(
    env: ActivationEnv, n: int, status: int, code: str
) -> None:
    before = env.voucher_item(n)
    assert_error(activate(n), status, code, "corr-test-1")
    assert without_guard(env.voucher_item(n)) == before
    assert env.activated_events(n) == []
    assert env.guard_held(n) is None  # ended: an immediate retry is not kept waiting
    # refused before it was sent: nothing issued; else the provider may hold a code for it
    assert env.left_reference(n) == (None if n == REFUSED else f"{serial(n)}:v1")
    _heal_definition(env, definition_of_serial(n))
    retry_status, body, _ = activate(n)
    assert retry_status == 200, body
    assert len(env.activated_events(n)) == 1


def without_guard(item: dict[str, Any] | None) -> dict[str, Any]:
    """The voucher item without the activation guard an ended activation may leave."""
    return {k: v for k, v in (item or {}).items() if not k.startswith("guard_")}


def definition_of_serial(n: int) -> str:
    from tests.activation.conftest import definition_of

    return definition_of(n)


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("garbage", 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
        ("error", 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
        ("refuse", 502, "EXTERNAL_SERVICE_RESPONSE_ERROR"),
    ],
)
def test_transient_provider_failure_then_immediate_retry_succeeds(
    env: ActivationEnv, mode: str, status: int, code: str
) -> None:
    env.sim.set_mode(mode, count=1)
    before = env.voucher_item(1)
    assert_error(activate(1), status, code, "corr-test-1")
    assert without_guard(env.voucher_item(1)) == before
    assert env.guard_held(1) is None
    assert env.left_reference(1) == f"{serial(1)}:v1"  # the request was sent: outcome unknown
    ok, body, _ = activate(1)
    assert ok == 200
    assert "idempotent" not in body
    stats = env.sim.stats()
    assert (stats["calls"], stats["issued"]) == (2, 1)
    assert env.guard_item(1) is None and env.unused_codes(1) == []  # the retry carries the reference


def test_transient_timeout_then_retry_succeeds(env: ActivationEnv) -> None:
    _heal_definition(env, "carwash-timeout")  # healthy product code, timeout kept short below
    from shared.store import Keys, serialize

    item = env.store.get(Keys.definition("carwash-timeout"))
    item["provider"]["timeout_seconds"] = 0.3
    env.store.client.put_item(TableName=env.store.table_name, Item=serialize(item))
    env.sim.set_mode("timeout", count=1)
    assert_error(activate(19), 504, "EXTERNAL_SERVICE_TIMEOUT", "corr-test-1")
    assert env.guard_held(19) is None
    status, _body, _ = activate(19)
    assert status == 200


def test_wrong_api_key_is_a_provider_response_error(env: ActivationEnv) -> None:
    import boto3

    boto3.client("secretsmanager", region_name="eu-west-1").put_secret_value(
        SecretId=env.secret_name,
        SecretString=json.dumps({"KESSELTRONICS": {"api_key": "wrong-key", "endpoint": env.sim.url}}),
    )
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    assert_error(activate(1), 502, "EXTERNAL_SERVICE_RESPONSE_ERROR", "corr-test-1")
    assert env.sim.issued == 0


@pytest.mark.parametrize(
    "secret",
    [None, {"OTHER": {"api_key": "k"}}, {"KESSELTRONICS": {"endpoint": "http://127.0.0.1:1"}}, "not json"],
)
def test_missing_provider_credentials_is_500_with_a_clear_log_line(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch, log_output: pytest.CaptureFixture[str], secret: Any
) -> None:
    import boto3

    if secret is None:
        from shared.runtime import RUNTIME, Settings

        monkeypatch.delenv("PROVIDER_SECRET_NAME")
        RUNTIME.reset(store=env.store, settings=Settings.from_env())  # a container deployed without it
    else:
        boto3.client("secretsmanager", region_name="eu-west-1").put_secret_value(
            SecretId=env.secret_name,
            SecretString=secret if isinstance(secret, str) else json.dumps(secret),
        )
    log_output.readouterr()
    response = activate(1)
    assert_error(response, 500, "INTERNAL_ERROR", "corr-test-1")
    assert response[1]["message"] == "An unexpected error occurred."
    out = log_output.readouterr().out
    assert "activation provider is not set up" in out
    assert env.guard_held(1) is None
    assert env.voucher_item(1)["status"] == "AVAILABLE"
    assert env.sim.calls == 0


def test_store_unavailable_is_503_with_retry_after(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.store import StoreUnavailable

    def throttled(*_args: Any, **_kwargs: Any) -> Any:
        raise StoreUnavailable("ProvisionedThroughputExceededException")

    monkeypatch.setattr(env.store, "batch_get", throttled)
    response = activate(1)
    assert_error(response, 503, "SERVICE_UNAVAILABLE", "corr-test-1")
    assert response[2]["Retry-After"] == "1"


def test_unexpected_failure_is_500_without_internals(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(env.store, "batch_get", broken)
    response = activate(1)
    assert_error(response, 500, "INTERNAL_ERROR", "corr-test-1")
    assert "secret internal detail" not in json.dumps(response[1])


# --------------------------------------------------------------------------- commit-time races


class Crash(BaseException):
    """The Lambda dies (timeout, out of memory): nothing in our code runs after it."""


def _is_commit(requests: Any) -> bool:
    """The activation's commit (it updates the voucher), not its guard claim (which only checks it)."""
    return any("Update" in r for r in requests)


def test_crash_after_provider_answer_retry_gets_the_same_code(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    from datetime import timedelta

    from functions.activate_voucher import handler
    from shared.domain import utcnow
    from shared.runtime import RUNTIME

    real_transact = env.store.transact
    crashes: list[bool] = []

    def crash_once(items: Any) -> None:
        if not crashes and _is_commit(items):
            crashes.append(True)
            raise Crash()
        real_transact(items)

    monkeypatch.setattr(env.store, "transact", crash_once)
    with pytest.raises(Crash):
        activate(1)
    (reference,) = env.sim.stats()["by_reference"]
    issued_code = env.sim.stats()["by_reference"][reference]["authorizationCode"]
    assert env.guard_item(1) is not None  # the guard outlives the crash
    assert env.voucher_item(1)["status"] == "AVAILABLE"

    # While the guard is live a retry waits, then answers 409 ACTIVATION_IN_PROGRESS.
    RUNTIME.reset(
        store=env.store, settings=dataclasses.replace(RUNTIME.settings(), activation_wait_seconds=0.2)
    )
    response = activate(1)
    assert_error(response, 409, "ACTIVATION_IN_PROGRESS", "corr-test-1")
    assert response[2]["Retry-After"] == "1"
    assert env.sim.calls == 1

    # Once the guard has expired, the retry reuses the reference and gets the same code.
    monkeypatch.setattr(handler, "CLOCK", lambda: utcnow() + timedelta(seconds=60))
    status, body, _ = activate(1)
    assert status == 200, body
    assert body["authorizationCode"] == issued_code
    stats = env.sim.stats()
    assert (stats["calls"], stats["issued"]) == (2, 1)
    assert len(env.activated_events(1)) == 1
    assert env.guard_held(1) is None


def test_write_conflict_retries_the_write_not_the_provider(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.store import WriteConflict

    real_transact = env.store.transact
    attempts: list[int] = []

    def conflict_once(items: Any) -> None:
        if _is_commit(items):
            attempts.append(1)
            if len(attempts) == 1:
                raise WriteConflict("TransactionConflict")
        real_transact(items)

    monkeypatch.setattr(env.store, "transact", conflict_once)
    status, body, _ = activate(1)
    assert status == 200, body
    assert len(attempts) == 2
    assert env.sim.calls == 1
    assert len(env.activated_events(1)) == 1


def test_write_conflict_via_cancellation_reasons_is_retried(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real mapping: a TransactionCanceledException with a TransactionConflict reason."""
    from botocore.exceptions import ClientError

    client = env.store.client
    real = client.transact_write_items
    calls: list[int] = []

    def conflicted(**kwargs: Any) -> Any:
        if not _is_commit(kwargs["TransactItems"]):
            return real(**kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 3,
                },
                "TransactWriteItems",
            )
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", conflicted)
    status, _body, _ = activate(1)
    assert status == 200
    assert len(calls) == 2
    assert env.sim.calls == 1


def _before_commit(env: ActivationEnv, monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Run `change` once between the provider's answer and our transaction."""
    real_transact = env.store.transact
    done: list[bool] = []

    def interleaved(items: Any) -> None:
        if not done and _is_commit(items):
            done.append(True)
            change()
        real_transact(items)

    monkeypatch.setattr(env.store, "transact", interleaved)


def test_voucher_consumed_meanwhile_is_409_and_nothing_written(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.store import Keys, serialize

    def consume() -> None:
        env.store.client.update_item(
            TableName=env.store.table_name,
            Key=serialize(Keys.voucher(serial(1))),
            UpdateExpression="SET #s = :s, #v = #v + :one",
            ExpressionAttributeNames={"#s": "status", "#v": "version"},
            ExpressionAttributeValues=serialize({":s": "REDEEMED", ":one": 1}),
        )

    _before_commit(env, monkeypatch, consume)
    assert_error(activate(1), 409, "VOUCHER_NOT_AVAILABLE", "corr-test-1")
    assert env.activated_events(1) == []
    assert "activation" not in env.voucher_item(1)
    # The provider had answered; the commit failed. Its reference stays on the voucher in the
    # expired guard (announcing it is the job of the transition that moves the voucher on; this
    # test moved it behind the service's back, so reconciliation would find it).
    assert env.unused_codes(1) == []
    assert env.left_reference(1) in env.sim.stats()["by_reference"]
    monkeypatch.undo()
    calls = env.sim.calls
    assert_error(activate(1), 409, "VOUCHER_NOT_AVAILABLE", "corr-test-1")  # a retry is told at once
    assert env.sim.calls == calls


def test_voucher_activated_meanwhile_answers_the_replay(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.store import Keys, serialize

    def other_activation() -> None:
        env.store.client.update_item(
            TableName=env.store.table_name,
            Key=serialize(Keys.voucher(serial(1))),
            UpdateExpression="SET #s = :s, #v = #v + :one, #a = :a",
            ExpressionAttributeNames={"#s": "status", "#v": "version", "#a": "activation"},
            ExpressionAttributeValues=serialize(
                {
                    ":s": "ACTIVATED",
                    ":one": 1,
                    ":a": {
                        "activated_at": "2026-01-01T00:00:00.000Z",
                        "provider": "KESSELTRONICS",
                        "code_expiry": "2099-01-01T00:00:00.000Z",
                        "authorization_code": "KT-OTHER-WINS",
                        "previous_status": "AVAILABLE",
                        "reference": "other",
                    },
                }
            ),
        )

    _before_commit(env, monkeypatch, other_activation)
    status, body, _ = activate(1)
    assert status == 200
    assert (body["authorizationCode"], body["idempotent"]) == ("KT-OTHER-WINS", True)
    assert env.activated_events(1) == []
    assert env.guard_held(1) is None
    assert env.left_reference(1) == f"{serial(1)}:v1"  # ours, never carried: kept for reconciliation


def test_session_revoked_before_commit_is_401(env: ActivationEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import hash_token
    from shared.store import Keys, serialize

    def revoke() -> None:
        env.store.client.update_item(
            TableName=env.store.table_name,
            Key=serialize(Keys.session(hash_token(ALICE))),
            UpdateExpression="SET revoked = :t",
            ExpressionAttributeValues=serialize({":t": True}),
        )

    _before_commit(env, monkeypatch, revoke)
    assert_error(activate(1), 401, "UNAUTHORIZED", "corr-test-1")
    assert env.voucher_item(1)["status"] == "AVAILABLE"
    assert env.activated_events(1) == []
    # The provider had answered: the code is not unused, since a later activation of the same
    # version reuses the reference (so gets the same code). It stays on the voucher until then.
    assert env.unused_codes(1) == []
    assert env.guard_held(1) is None and env.left_reference(1) == f"{serial(1)}:v1"


def test_guard_taken_over_before_commit_is_409_in_progress(
    env: ActivationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:

    def take_over() -> None:
        # Our guard "expired" and another request took it.
        plant_guard(env.store, serial(1), "someone-else", 1)

    _before_commit(env, monkeypatch, take_over)
    response = activate(1)
    assert_error(response, 409, "ACTIVATION_IN_PROGRESS", "corr-test-1")
    assert response[2]["Retry-After"] == "1"
    assert env.voucher_item(1)["status"] == "AVAILABLE"
    assert env.activated_events(1) == []


# --------------------------------------------------------------------------- logs and metrics


def _log_records(out: str) -> list[dict[str, Any]]:
    records = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_logs_carry_the_correlation_id_and_never_a_token_or_key(
    env: ActivationEnv, log_output: pytest.CaptureFixture[str]
) -> None:
    from shared.runtime import hash_token

    assert activate(1, correlation="corr-logs-77")[0] == 200
    env.sim.set_mode("error", count=1)
    assert activate(2, correlation="corr-logs-78")[0] == 502
    out = log_output.readouterr()
    text = out.out + out.err
    for secret in (ALICE, hash_token(ALICE), "sim-test-key-0123456789"):
        assert secret not in text
    logs = [r for r in _log_records(out.out) if "message" in r and "level" in r]
    assert logs
    assert {r.get("correlation_id") for r in logs} == {"corr-logs-77", "corr-logs-78"}
    assert any(r["message"] == "activation provider call failed" for r in logs)
    metrics_blobs = [r for r in _log_records(out.out) if "_aws" in r]
    names = {
        m["Name"] for blob in metrics_blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert {"ProviderCalls", "ProviderFailures", "Succeeded", "ServerErrors"} <= names


# --------------------------------------------------------------------------- request state


def test_a_warm_handler_never_answers_with_another_requests_correlation_id(env: ActivationEnv) -> None:
    """A warm function serves many callers: nothing of one request may reach another's answer."""
    from infra.local_stack.apigw import invoke

    assert activate(1, correlation="corr-previous-caller")[0] == 200
    for unreadable in ({"headers": 5, "httpMethod": "POST"}, {"pathParameters": [], "httpMethod": "POST"}):
        response = invoke("activate_voucher", unreadable)
        assert response["statusCode"] in (400, 500)
        assert "corr-previous-caller" not in response["body"]
        assert json.loads(response["body"])["correlationId"] is None
    # every later error carries its own request's correlation id, or none
    assert activate(1, token=None, correlation="corr-next-caller")[1]["correlationId"] == "corr-next-caller"
    status, body, _ = activate(1, token=None, correlation="bad correlation id")
    assert (status, body["correlationId"]) == (400, None)
