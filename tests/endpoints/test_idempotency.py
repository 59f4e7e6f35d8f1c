"""Idempotency-Key on every state-changing operation (IETF httpapi draft "The Idempotency-Key
HTTP Header Field", Stripe's practice), through the real handlers: a repeat gets the first
answer again, byte for byte, with `Idempotent-Replayed: true`; the same key with another
request is refused (422, the dialect's envelope); keys are the caller's own; a refusal keeps
nothing; a bad key is the dialect's 400; without a key nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import DynamoDBStore
from tests.conftest import call, serial

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
OTTO = {"Thalamus-Token": "demo-thalamus-operator-otto", "Thalamus-Touchpoint": "BACKOFFICE"}
ADMIN1 = {
    "X-Spaaza-Session-User-Id": "900",
    "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
    "Content-Type": "application/x-www-form-urlencoded",
}


def consume(
    n: int, headers: dict[str, str] = ANNA, key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    sent = dict(headers) | ({"Idempotency-Key": key} if key is not None else {})
    return call(
        "consume_voucher",
        "PUT",
        f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(n)}",
        headers=sent,
    )


def spaaza(
    op: str, voucher_id: int, key: str | None = None, method: str = "PUT"
) -> tuple[int, Any, dict[str, str]]:
    sent = dict(ADMIN1) | ({"Idempotency-Key": key} if key is not None else {})
    body = f"voucher_id={voucher_id}&user_id=1001&chain_id=1"
    return call(f"{op}_voucher", method, f"/{op}-voucher", headers=sent, body=body)


def events(store: DynamoDBStore, n: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in store.voucher_events(serial(n)) if e["event_type"] == kind]


def test_a_repeated_consume_gets_the_first_answer_again(demo: DynamoDBStore) -> None:
    first = consume(1, key="order-1001")
    again = consume(1, key="order-1001")
    assert first[0] == 200 and "Idempotent-Replayed" not in first[2]
    assert (again[0], again[1]) == (first[0], first[1])
    assert again[2]["Idempotent-Replayed"] == "true"
    assert len(events(demo, 1, "CONSUMED")) == 1
    # without the key the same request is judged on the voucher as it is now: already consumed
    assert consume(1)[1]["errors"] == {"voucherCode": "InvalidState"}


def test_the_draft_string_form_and_the_bare_form_are_the_same_key(demo: DynamoDBStore) -> None:
    first = consume(1, key='"abc-\\"q\\"-1"')
    again = consume(1, key='abc-"q"-1')
    assert again[2].get("Idempotent-Replayed") == "true" and again[1] == first[1]


def test_the_same_key_for_another_request_is_422_and_writes_nothing(demo: DynamoDBStore) -> None:
    assert consume(1, key="k-1")[0] == 200
    status, body, _ = consume(5, key="k-1")
    assert (status, body["errors"]) == (422, {"Idempotency-Key": "UsedForAnotherRequest"})
    assert events(demo, 5, "CONSUMED") == []


def test_keys_are_the_callers_own(demo: DynamoDBStore) -> None:
    """Otto's key "shared" is not Anna's: his request is judged, never given her answer, and
    nothing in his answer tells whether she used that key."""
    assert consume(1, key="shared")[0] == 200
    status, body, headers = consume(1, OTTO, key="shared")
    assert "Idempotent-Replayed" not in headers
    assert (status, body) == consume(1, OTTO)[:2]  # judged like any request of his


def test_a_refused_first_request_keeps_nothing_and_a_repeat_is_judged_again(demo: DynamoDBStore) -> None:
    first = consume(3, key="k-refused")  # voucher 3 is REDEEMED
    again = consume(3, key="k-refused")
    assert first[0] == again[0] == 400 and "Idempotent-Replayed" not in again[2]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ('""', "an empty string"),
        ("x" * 256, "over 255 characters"),
        ("caf\u00e9", "not ASCII"),
        ('"open', "a quote that does not close"),
        ('"a\\b"', "a bad escape"),
    ],
)
def test_a_bad_key_is_each_dialects_400(demo: DynamoDBStore, raw: str, why: str) -> None:
    status, body, _ = consume(1, key=raw)
    assert (status, body["errors"]) == (400, {"Idempotency-Key": "InvalidFormat"}), why
    status, body, _ = spaaza("unclaim", 40577, key=raw)
    assert (status, body["error"]["code"], body["error"]["name"]) == (400, 916, "invalid_idempotency_key"), (
        why
    )
    assert events(demo, 1, "CONSUMED") == [] and events(demo, 11, "UNCLAIMED") == []


def test_a_key_sent_twice_is_a_400(demo: DynamoDBStore) -> None:
    headers = [*ANNA.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    status, body, _ = call(
        "consume_voucher",
        "PUT",
        f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(1)}",
        headers=headers,
    )
    assert (status, body["errors"]) == (400, {"Idempotency-Key": "InvalidFormat"})


def test_a_255_character_key_is_accepted(demo: DynamoDBStore) -> None:
    assert consume(1, key="k" * 255)[0] == 200


def test_spaaza_unclaim_and_claim_replay_in_both_methods(demo: DynamoDBStore) -> None:
    first = spaaza("unclaim", 40577, key="u-1")
    again = spaaza("unclaim", 40577, key="u-1")
    assert first[0] == 200 and (again[0], again[1]) == (first[0], first[1])
    assert again[2]["Idempotent-Replayed"] == "true"
    # the same key with POST is another request (the method is part of it)
    status, body, _ = spaaza("unclaim", 40577, key="u-1", method="POST")
    assert (status, body["error"]["code"]) == (422, 917)
    claimed = spaaza("claim", 40577, key="c-1", method="POST")
    assert claimed[0] == 200
    assert spaaza("claim", 40577, key="c-1", method="POST")[1] == claimed[1]
    assert len(events(demo, 11, "UNCLAIMED")) == 1 and len(events(demo, 11, "CLAIMED")) == 1


def test_es_activation_replays_the_first_answer_with_its_code(activation_env: Any) -> None:
    headers = {"Authorization": "Bearer demo-es-member-alice", "Idempotency-Key": "act-1"}
    path = f"/client/users/corr-1/voucher/carwash::{serial(1)}/activate"
    first = call("activate_voucher", "POST", path, headers=headers)
    again = call("activate_voucher", "POST", path, headers=headers)
    assert first[0] == 200 and "idempotent" not in first[1]
    assert (again[0], again[1]) == (first[0], first[1])  # not the replay form: the first answer
    assert again[2]["Idempotent-Replayed"] == "true"
    other = call(
        "activate_voucher",
        "POST",
        f"/client/users/corr-1/voucher/carwash::{serial(5)}/activate",
        headers=headers,
    )
    assert (other[0], other[1]["errorCode"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    bad = call("activate_voucher", "POST", path, headers={**headers, "Idempotency-Key": ""})
    assert (bad[0], bad[1]["errorCode"]) == (400, "INVALID_IDEMPOTENCY_KEY")
