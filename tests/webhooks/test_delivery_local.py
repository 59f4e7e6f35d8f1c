"""Webhooks end to end on DynamoDB Local: requests through the local HTTP stack commit
transitions; the table's stream (polled as Lambda's event source mapping would) drives the
real delivery function, which signs and POSTs to receivers on loopback ports.

One stack for the module: the receivers and subscribers are loaded once (the delivery
function keeps a chain's subscribers for a minute), and each test acts on vouchers of its own
and counts only their events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local_stack.server import LocalStack
from infra.local_stack.webhook_receiver import Receiver
from shared.webhooks.signing import HEADER, SignatureError, signature_header, verify
from tests.webhooks.helpers import (
    SECRETS,
    audit_event_ids,
    claimed,
    consumable,
    consume,
    document,
    receiver,
    serial,
    spaaza,
    subscriber,
    unchained,
    wait_for,
    webhook_stack,
)

pytestmark = pytest.mark.http

RACE_CONSUME = list(range(1, 9))  # 8 vouchers every thread tries to consume
RACE_FLIP = [9, 10]  # 2 claimed vouchers every thread unclaims and claims back
DOWN = [20, 21, 22]
CHAIN_2 = [30]
NO_CHAIN = [40]


@pytest.fixture(scope="module")
def env(dynamodb_local: str) -> Iterator[tuple[LocalStack, dict[str, Receiver]]]:
    """A stack on DynamoDB Local's stream, with its receivers. (moto's server delivers the
    README's curls too, but under this race its stream came up short: docs/webhooks.md.)"""
    hooks = {"chain-1": receiver("chain-1"), "chain-2": receiver("chain-2"), "consumed-only": receiver("x")}
    vouchers = [
        *(consumable(n) for n in RACE_CONSUME + DOWN),
        *(claimed(n) for n in RACE_FLIP),
        *(claimed(n, chain_id=2) for n in CHAIN_2),
        *(unchained(n) for n in NO_CHAIN),
    ]
    subscribers = [
        subscriber("chain-1", 1, hooks["chain-1"].url),
        subscriber("chain-2", 2, hooks["chain-2"].url),
        subscriber("consumed-only", 1, hooks["consumed-only"].url, ["voucher.consumed"]),
    ]
    try:
        with webhook_stack(dynamodb_local, "webhooks-delivery-test") as local:
            local.load_document(document(vouchers, subscribers), name="webhook test data")
            yield local, hooks
    finally:
        for r in hooks.values():
            r.stop()


@pytest.fixture
def stack(env: tuple[LocalStack, dict[str, Receiver]]) -> LocalStack:
    return env[0]


@pytest.fixture
def hooks(env: tuple[LocalStack, dict[str, Receiver]]) -> dict[str, Receiver]:
    return env[1]


def mine(received: Receiver, serials: list[str]) -> list[dict[str, Any]]:
    return [e for e in received.events if e["data"]["voucher"]["serial"] in serials]


@pytest.mark.race
def test_every_committed_transition_of_a_16_thread_race_is_delivered_exactly_once(
    stack: LocalStack, hooks: dict[str, Receiver]
) -> None:
    barrier = threading.Barrier(16)
    answers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        got = [consume(stack, n) for n in RACE_CONSUME]
        for _ in range(3):
            for n in RACE_FLIP:
                got += [spaaza(stack, "unclaim", n), spaaza(stack, "claim", n)]
        with lock:
            answers.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(200) >= len(RACE_CONSUME) + 2  # the race had winners...
    assert 500 not in answers and 502 not in answers  # ...and every loser a dialect answer

    serials = [serial(n) for n in RACE_CONSUME + RACE_FLIP]
    expected = audit_event_ids(stack, serials)
    assert len(expected) == answers.count(200)  # one audit event per winner
    chain_1 = hooks["chain-1"]
    assert wait_for(lambda: len(mine(chain_1, serials)) >= len(expected))
    got = [e["id"] for e in mine(chain_1, serials)]
    assert sorted(got) == sorted(expected)  # each committed transition, none other
    assert len(set(got)) == len(got) and chain_1.duplicates == 0 and chain_1.refused == 0

    # a receiver orders one voucher's events by `sequence`, whatever the arrival order
    for s in serials:
        sequences = sorted(e["sequence"] for e in mine(chain_1, [s]))
        assert sequences == list(range(2, 2 + len(sequences)))

    # the subscriber of consumptions only got exactly those
    only = hooks["consumed-only"]
    assert wait_for(lambda: len(mine(only, serials)) >= len(RACE_CONSUME))
    assert {e["type"] for e in mine(only, serials)} == {"voucher.consumed"}
    assert len(mine(only, serials)) == len(RACE_CONSUME)


def test_a_delivered_event_verifies_and_carries_no_authorization_code(
    stack: LocalStack, hooks: dict[str, Receiver]
) -> None:
    chain_1 = hooks["chain-1"]
    assert wait_for(lambda: bool(mine(chain_1, [serial(1)])))
    event = mine(chain_1, [serial(1)])[0]
    assert event["type"] == "voucher.consumed" and event["id"].startswith("evt_")
    data = event["data"]
    assert data["voucher"]["status"] == "REDEEMED" and data["from_status"] == "AVAILABLE"
    assert data["channel"] == "thalamus" and data["principal"] == {"kind": "thalamus_user", "id": "op-anna"}
    assert "authorization_code" not in repr(event)
    assert event["chain_id"] == 1 and isinstance(event["created"], int)


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_back(
    stack: LocalStack, hooks: dict[str, Receiver]
) -> None:
    chain_1 = hooks["chain-1"]
    chain_1.status = 503
    before = chain_1.attempts
    try:
        for n in DOWN:
            assert consume(stack, n) == 200
        # each was tried and refused (and tried again from the retry queue)
        assert wait_for(lambda: chain_1.attempts >= before + 2 * len(DOWN))
        assert mine(chain_1, [serial(n) for n in DOWN]) == []
    finally:
        chain_1.status = 200
    serials = [serial(n) for n in DOWN]
    assert wait_for(lambda: len(mine(chain_1, serials)) == len(DOWN))
    assert sorted(e["id"] for e in mine(chain_1, serials)) == sorted(audit_event_ids(stack, serials))
    assert stack.relay.dead_letters() == []


def test_a_subscriber_never_receives_another_chains_events(
    stack: LocalStack, hooks: dict[str, Receiver]
) -> None:
    assert spaaza(stack, "unclaim", CHAIN_2[0], chain_id=2) == 200
    assert consume(stack, NO_CHAIN[0], item="CARWASH-NP") == 200
    chain_2 = hooks["chain-2"]
    assert wait_for(lambda: len(mine(chain_2, [serial(CHAIN_2[0])])) == 1)
    assert [e["chain_id"] for e in chain_2.events] == [2]  # nothing of chain 1's race
    assert mine(hooks["chain-1"], [serial(CHAIN_2[0])]) == []
    # a voucher of no chain has nobody to tell: its transition committed, no one heard of it
    assert len(audit_event_ids(stack, [serial(NO_CHAIN[0])])) == 1
    assert all(mine(r, [serial(NO_CHAIN[0])]) == [] for r in hooks.values())


def test_the_documented_verification_rejects_forgeries_and_replays() -> None:
    body = b'{"id":"evt_1","type":"voucher.consumed"}'
    secret = SECRETS["chain-1"]
    header = signature_header(secret, body, timestamp=1_800_000_000)
    assert verify(secret, body, header, now=1_800_000_010) == 1_800_000_000
    with pytest.raises(SignatureError, match="tolerance"):  # the same request, 6 minutes later
        verify(secret, body, header, now=1_800_000_000 + 360)
    with pytest.raises(SignatureError, match="does not match"):
        verify(secret, body.replace(b"consumed", b"activated"), header, now=1_800_000_010)
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_someone_else", body, header, now=1_800_000_010)
    with pytest.raises(SignatureError):
        verify(secret, body, None)
    assert HEADER == "Voucher-Signature"
