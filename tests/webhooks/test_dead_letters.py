"""A receiver that always fails: every event ends in the dead-letter queue, whole, once the
retry window (2 s here, 24 h by default) has passed; the replay command re-delivers them
from the queue, or from a time range of the audit log, with their original ids."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from infra import webhook_redrive as replay
from infra.local_stack.server import LocalStack
from infra.local_stack.webhook_receiver import Receiver
from shared.domain import format_instant, utcnow
from shared.webhooks.delivery import Delivery
from tests.webhooks.helpers import (
    audit_event_ids,
    claimed,
    consumable,
    consume,
    document,
    receiver,
    serial,
    spaaza,
    subscriber,
    wait_for,
    webhook_stack,
)

pytestmark = pytest.mark.http

CONSUMED = [1, 2, 3]
UNCLAIMED = [4]


@pytest.fixture(scope="module")
def failing() -> Iterator[Receiver]:
    down = receiver("chain-1", status=500)
    yield down
    down.stop()


@pytest.fixture(scope="module")
def stack(dynamodb_local: str, failing: Receiver) -> Iterator[LocalStack]:
    vouchers = [*(consumable(n) for n in CONSUMED), *(claimed(n) for n in UNCLAIMED)]
    with webhook_stack(dynamodb_local, "webhooks-dlq-test", webhook_max_age_seconds=2.0) as local:
        local.load_document(document(vouchers, [subscriber("chain-1", 1, failing.url)]), name="dlq data")
        yield local


def replay_args(stack: LocalStack, *args: str) -> list[str]:
    return [
        *args,
        "--table",
        stack.table_name,
        "--queue-url",
        stack.relay.dead_letter_queue_url,
        "--endpoint-url",
        str(stack.moto_url),
        "--dynamodb-endpoint-url",
        stack.dynamodb_endpoint,
        "--region",
        "eu-west-1",
        "--allow-private",
    ]


def test_an_always_failing_receiver_ends_in_the_dlq_then_replay_delivers_it_all(
    stack: LocalStack, failing: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    started = format_instant(utcnow())
    assert all(consume(stack, n) == 200 for n in CONSUMED)
    assert spaaza(stack, "unclaim", UNCLAIMED[0]) == 200
    expected = sorted(audit_event_ids(stack, [serial(n) for n in CONSUMED + UNCLAIMED]))
    assert len(expected) == 4

    assert wait_for(lambda: len(stack.relay.dead_letters()) == len(expected), seconds=90)
    letters = [Delivery.from_message(body) for body in stack.relay.dead_letters()]
    assert sorted(d.event["id"] for d in letters) == expected
    for d in letters:  # kept whole: the event, who it was for, how often it was tried, why not
        assert d.subscriber_id == "chain-1" and d.attempt >= 2 and d.last_error == "HTTP 500"
        assert d.event["data"]["voucher"]["serial"] in {serial(n) for n in CONSUMED + UNCLAIMED}
        assert "secret" not in json.dumps(d.event)
    assert failing.events == []

    # still failing: the replay says so and leaves every letter where it is
    assert replay.main(replay_args(stack, "--dlq")) == 1
    assert "0 delivered, 4 not delivered" in capsys.readouterr().out

    failing.status = 200
    assert replay.main(replay_args(stack, "--dlq")) == 0
    assert "4 delivered, 0 not delivered" in capsys.readouterr().out
    assert sorted(e["id"] for e in failing.events) == expected
    assert stack.relay.dead_letters() == []

    # from the audit log: the same events again, same ids, so the receiver drops the copies
    assert replay.main(replay_args(stack, "--since", started)) == 0
    assert "4 delivered" in capsys.readouterr().out
    assert failing.duplicates == 4 and len(failing.events) == 4
    replayed_range = [e for e in failing.events if e["type"] == "voucher.unclaimed"]
    assert replayed_range and replayed_range[0]["sequence"] == 2


def test_replay_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        replay.main(["--since", "yesterday-ish", "--table", "t"])
    assert stopped.value.code == 2
    assert "not an instant" in capsys.readouterr().err
