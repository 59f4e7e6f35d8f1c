"""Settling provider codes (functions/settle_codes): what the provider issued and no voucher
carries is announced once and voided; what a voucher carries, or may still carry, is left
alone. Through the real scheduled handler, against the provider simulator's listing and void
calls."""

from __future__ import annotations

import contextlib
from typing import Any

from shared.store import Keys, serialize
from tests.activation.conftest import ActivationEnv, activate
from tests.conftest import serial

# an operator's manual repair: a new version, the guard (and its reference) gone
REPAIR = "SET #v = #v + :one REMOVE guard_owner, guard_expires_at_ms, guard_reference, guard_acquired_at"


def settle() -> dict[str, Any]:
    from functions.settle_codes.handler import lambda_handler
    from infra.local_stack.apigw import LambdaContext

    context = LambdaContext(function_name="SettleCodes", timeout_seconds=120)
    report: dict[str, Any] = lambda_handler({"id": "schedule-1"}, context)["KESSELTRONICS"]
    return report


def unused(env: ActivationEnv, n: int) -> list[str]:
    return [
        e["details"]["reference"]
        for e in env.store.voucher_events(serial(n))
        if e["event_type"] == "ACTIVATION_CODE_UNUSED"
    ]


def voided(env: ActivationEnv) -> set[str]:
    return {ref for ref, entry in env.sim.stats()["by_reference"].items() if entry["voided"]}


def consume(n: int) -> int:
    from tests.conftest import call

    headers = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
    path = f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(n)}"
    return call("consume_voucher", "PUT", path, headers=headers)[0]


def test_a_carried_code_is_left_alone(env: ActivationEnv) -> None:
    assert activate(1)[0] == 200
    report = settle()
    assert (report["listed"], report["carried"], report["announced"], report["voided"]) == (1, 1, 0, 0)
    assert voided(env) == set() and unused(env, 1) == []


def test_a_lost_answer_is_pending_until_the_voucher_moves_on_then_voided(env: ActivationEnv) -> None:
    env.sim.set_mode("lost", 1)
    assert activate(1)[0] == 502  # the code was issued; its answer never arrived
    report = settle()
    assert (report["pending"], report["announced"], report["voided"]) == (1, 0, 0)  # a retry may carry it
    assert consume(1) == 200  # moves on: the consume announces it, in its own transaction
    assert unused(env, 1) == [f"{serial(1)}:v1"]
    report = settle()
    assert (report["announced"], report["voided"]) == (0, 1)  # already announced: only voided
    assert voided(env) == {f"{serial(1)}:v1"} and unused(env, 1) == [f"{serial(1)}:v1"]
    assert settle()["listed"] == 0  # a voided code is settled for good


def test_a_code_no_voucher_can_carry_is_announced_once_and_voided(env: ActivationEnv) -> None:
    """The voucher was changed outside the endpoints after the provider issued a code (the
    guard and its reference gone): only reconciliation can see it."""
    env.sim.set_mode("lost", 1)
    assert activate(1)[0] == 502
    env.store.client.update_item(  # an operator's manual repair, say
        TableName=env.store.table_name,
        Key=serialize(Keys.voucher(serial(1))),
        UpdateExpression=REPAIR,
        ExpressionAttributeNames={"#v": "version"},
        ExpressionAttributeValues=serialize({":one": 1}),
    )
    report = settle()
    assert (report["announced"], report["voided"]) == (1, 1)
    assert unused(env, 1) == [f"{serial(1)}:v1"]
    assert voided(env) == {f"{serial(1)}:v1"}


def test_two_runs_announce_once(env: ActivationEnv, monkeypatch: Any) -> None:
    """A run that dies after announcing and before voiding is followed by one that finds the
    marker: no second announcement."""
    env.sim.set_mode("lost", 1)
    assert activate(1)[0] == 502
    env.store.client.update_item(
        TableName=env.store.table_name,
        Key=serialize(Keys.voucher(serial(1))),
        UpdateExpression=REPAIR,
        ExpressionAttributeNames={"#v": "version"},
        ExpressionAttributeValues=serialize({":one": 1}),
    )
    from shared.providers.kesseltronics import KesseltronicsAdapter

    def dies(_self: Any, _reference: str) -> None:
        raise RuntimeError("the run died here")

    monkeypatch.setattr(KesseltronicsAdapter, "void_code", dies)
    with contextlib.suppress(RuntimeError):
        settle()
    monkeypatch.undo()
    report = settle()
    assert (report["announced"], report["voided"]) == (0, 1)
    assert unused(env, 1) == [f"{serial(1)}:v1"]


def test_a_reference_that_names_no_voucher_is_voided_not_announced(env: ActivationEnv) -> None:
    env.sim._issue("99999999-0000-4000-8000-000000000000:v1", 900)
    env.sim._issue("not-a-reference", 900)
    report = settle()
    assert (report["unknown"], report["announced"], report["voided"]) == (2, 0, 2)
    assert voided(env) == {"99999999-0000-4000-8000-000000000000:v1", "not-a-reference"}
