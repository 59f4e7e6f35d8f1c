"""The webhook rules without an engine: pairing stream records, the public event form, the
retry policy, URL checks, and the importer's refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.importer import validate
from infra.importer.model import cross_check
from shared.store.codec import serialize
from shared.webhooks.delivery import Deliverer, Delivery, RetryPolicy
from shared.webhooks.events import pending_events, webhook_event
from shared.webhooks.signing import HEADER, verify
from shared.webhooks.subscribers import Subscriber, UnsafeUrl, check_url
from tests.conftest import demo_document

AT = "2026-12-06T11:55:00.059Z"
SERIAL = "00000000-0000-4000-8000-000000000001"


def voucher_image(version: int = 2, at: str = AT, **extra: Any) -> dict[str, Any]:
    return {
        "pk": f"VOUCHER#{SERIAL}",
        "sk": "VOUCHER",
        "type": "voucher",
        "serial": SERIAL,
        "definition_id": "carwash",
        "status": "REDEEMED",
        "version": version,
        "owner_member_id": "alice",
        "chain_id": 1,
        "valid_until": "2099-12-31T23:59:59.000Z",
        "updated_at": at,
        "activation": {
            "activated_at": AT,
            "provider": "KESSELTRONICS",
            "reference": "ref-1",
            "authorization_code": "SECRET-CODE-123",
            "code_expiry": AT,
            "previous_status": "CLAIMED",
        },
        **extra,
    }


def event_image(event_type: str = "CONSUMED", at: str = AT, **extra: Any) -> dict[str, Any]:
    return {
        "pk": f"VOUCHER#{SERIAL}",
        "sk": f"EVENT#{at}#abc",
        "type": "event",
        "event_id": "abc",
        "serial": SERIAL,
        "event_type": event_type,
        "channel": "thalamus",
        "actor_kind": "thalamus_user",
        "actor_id": "op-anna",
        "from_status": "AVAILABLE",
        "to_status": "REDEEMED",
        "at": at,
        "request_id": "req-1",
        **extra,
    }


def record(image: dict[str, Any], name: str = "INSERT") -> dict[str, Any]:
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": serialize(image)}}


def test_an_event_pairs_with_the_voucher_image_its_transaction_wrote() -> None:
    older = voucher_image(version=1, at="2026-12-06T11:00:00.000Z")
    pending = pending_events(
        [record(older, "MODIFY"), record(voucher_image(), "MODIFY"), record(event_image())]
    )
    assert len(pending) == 1 and pending[0].voucher is not None
    event = webhook_event(pending[0].event, pending[0].voucher)
    assert event["id"] == "evt_abc" and event["type"] == "voucher.consumed"
    assert event["sequence"] == 2 and event["data"]["voucher_is_current"] is False
    assert event["created"] == 1796558100  # 2026-12-06T11:55:00Z


def test_an_event_whose_voucher_is_not_in_the_batch_asks_for_it_and_keeps_its_sequence() -> None:
    (pending,) = pending_events([record(event_image(version=2))])
    assert pending.voucher is None and pending.voucher_key == {"pk": f"VOUCHER#{SERIAL}", "sk": "VOUCHER"}
    current = voucher_image(version=5, at="2026-12-07T00:00:00.000Z")  # read later, moved on since
    event = webhook_event(pending.event, current)
    assert event["sequence"] == 2 and event["data"]["voucher_is_current"] is True


def test_loader_events_and_other_items_are_never_published() -> None:
    records = [
        record(event_image("IMPORTED")),
        record(event_image("REPLACED")),
        record(event_image(), "MODIFY"),  # an event item is written once: a MODIFY is not news
        record({"pk": "SESSION#x", "sk": "SESSION", "type": "session"}),
        {"eventName": "REMOVE", "dynamodb": {"OldImage": serialize(voucher_image())}},
    ]
    assert pending_events(records) == []


def test_no_authorization_code_in_any_event() -> None:
    unused = event_image(
        "ACTIVATION_CODE_UNUSED",
        from_status="CLAIMED",
        to_status="CLAIMED",
        details={"provider": "KESSELTRONICS", "reference": "r", "authorization_code": "SECRET-CODE-123"},
    )
    for e in (event_image("ACTIVATED"), unused):
        out = webhook_event(e, voucher_image())
        assert "SECRET-CODE-123" not in json.dumps(out) and "authorization_code" not in json.dumps(out)
    assert webhook_event(unused, voucher_image(version=7))["sequence"] is None  # changed no voucher


def test_dynamodb_locals_untyped_empty_map_is_read_as_an_empty_map() -> None:
    raw = record(event_image(details={"touchpoint": "BACKOFFICE", "parameters": {"x": "y"}}))
    raw["dynamodb"]["NewImage"]["details"]["M"]["parameters"] = {}  # what DynamoDB Local 3.x sends
    (pending,) = pending_events([raw])
    assert pending.event["details"] == {"touchpoint": "BACKOFFICE", "parameters": {}}


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self.sent.append((body, delay_seconds))


class FakeSender:
    def __init__(self, *statuses: int | Exception) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.requests.append((url, body, headers))
        status = self.statuses.pop(0)
        if isinstance(status, Exception):
            raise status
        return status


def delivery() -> Delivery:
    subscriber = Subscriber("s1", 1, "https://hooks.example.com/v", ("*",), "voucher/test/webhooks/s1")
    return Delivery.of(subscriber, webhook_event(event_image(), voucher_image()))


def deliverer(sender: FakeSender, clock: list[float]) -> tuple[Deliverer, FakeQueue, FakeQueue]:
    retry, dead = FakeQueue(), FakeQueue()
    policy = RetryPolicy(base_seconds=5, max_age_seconds=3600)
    d = Deliverer(sender, lambda _n: "whsec_unit", retry, dead, policy, False, lambda: clock[0], lambda: 1.0)
    return d, retry, dead


def test_a_failure_is_retried_with_backoff_until_the_window_closes_then_dead_lettered() -> None:
    clock = [1000.0]
    sender = FakeSender(500, TimeoutError(), 503, 200)
    d, retry, dead = deliverer(sender, clock)
    d.run([delivery()])
    (body, delay), *_ = retry.sent
    assert delay == 10  # full jitter's ceiling after one attempt: 5 * 2^1 (rng = 1.0)
    again = Delivery.from_message(body)
    assert again.attempt == 1 and again.first_attempt_at == 1000.0 and again.last_error == "HTTP 500"
    clock[0] = 1100.0
    d.run([again])
    assert Delivery.from_message(retry.sent[-1][0]).last_error == "TimeoutError"
    clock[0] = 1000.0 + 3600  # the window has closed: the next failure is final
    d.run([Delivery.from_message(retry.sent[-1][0])])
    assert len(dead.sent) == 1 and Delivery.from_message(dead.sent[0][0]).attempt == 3
    # every request was signed over its exact body, with the event id in a header
    for _url, sent_body, headers in sender.requests:
        signed_at = int(headers[HEADER].split(",")[0].removeprefix("t="))
        assert verify("whsec_unit", sent_body, headers[HEADER], now=signed_at) == signed_at
        assert headers["Voucher-Event-Id"] == "evt_abc"


def test_410_gone_is_final_and_a_2xx_is_delivered() -> None:
    d, retry, _dead = deliverer(FakeSender(410, 204), [0.0])
    outcome = d.run([delivery(), delivery()])
    assert len(outcome.dead) == 1 and len(outcome.delivered) == 1 and retry.sent == []


def test_the_retry_delay_stays_within_its_ceiling_and_sqs_limits() -> None:
    policy = RetryPolicy(base_seconds=5)
    assert all(policy.delay(n, lambda: 0.0) >= 1 for n in range(30))
    assert all(policy.delay(n, lambda: 1.0) <= 900 for n in range(30))
    assert policy.delay(3, lambda: 0.5) == 30  # ceiling 5 s * 2^3 = 40, equal jitter: 20 + 0.5 * 20
    assert policy.delay(3, lambda: 0.0) == 20  # never under half the ceiling


@pytest.mark.parametrize(
    ("url", "allow_private", "ok"),
    [
        ("https://hooks.example.com/x", False, True),
        ("http://hooks.example.com/x", False, False),  # not https
        ("http://127.0.0.1:9300/webhooks", True, True),  # the local stack's receiver
        ("http://127.0.0.1:9300/webhooks", False, False),
        ("http://hooks.example.com/x", True, False),  # http only to loopback, even locally
        ("https://10.0.0.5/x", False, False),  # private
        ("https://169.254.169.254/latest/meta-data", False, False),  # link-local: the metadata service
        ("https://[::1]/x", False, False),
        ("https://printer.local/x", False, False),
        ("https://user:pw@hooks.example.com/x", False, False),  # credentials in a URL are logged
        ("ftp://hooks.example.com/x", True, False),
    ],
)
def test_subscriber_urls(url: str, allow_private: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_private=allow_private) == url
    else:
        with pytest.raises(UnsafeUrl):
            check_url(url, allow_private=allow_private)


def test_the_importer_refuses_bad_subscribers() -> None:
    doc = demo_document()
    good = doc["webhook_subscribers"][0]
    doc["webhook_subscribers"] = [
        {**good, "subscriber_id": "plain-http", "url": "http://hooks.example.com/x"},
        {**good, "subscriber_id": "bad-type", "event_types": ["voucher.exploded"]},
        {**good, "subscriber_id": "bad-secret-name", "secret_name": "prod/other-service/key"},
    ]
    _parsed, problems = validate(doc)
    text = "\n".join(problems)
    assert "webhook_subscribers[0].url" in text and "webhook_subscribers[1].event_types" in text
    assert "webhook_subscribers[2].secret_name" in text
    # references are checked once the fields are sound: a chain neither the file nor the table has
    doc["webhook_subscribers"] = [{**good, "chain_id": 99}, good, {**good, "url": good["url"] + "/2"}]
    _parsed, problems = validate(doc)
    assert "webhook_subscribers[0].chain_id: unknown chain" in problems
    assert any(p.startswith("webhook_subscribers[2]") for p in problems)  # same (chain, id) twice


def test_importing_into_aws_refuses_a_loopback_subscriber() -> None:
    parsed, problems = validate(demo_document())  # the demo's receiver is http://127.0.0.1:9300
    assert parsed is not None and not problems
    refused = cross_check(parsed, aws_mode=True)
    assert any("webhook_subscribers[0].url" in p for p in refused)


def test_the_documented_verification_snippet_accepts_a_delivery_and_rejects_a_replay() -> None:
    """Run docs/webhooks.md's snippet as written on the exact bytes the deliverer signs."""
    import re
    import time
    from pathlib import Path

    from shared.webhooks.delivery import body_of
    from shared.webhooks.signing import signature_header

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    snippet = re.search(r"<!-- verification-snippet -->\n```python\n(.*?)```", doc, re.S)
    assert snippet is not None
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)  # noqa: S102 - our own documentation, under test
    check = namespace["verify_webhook"]
    body = body_of(delivery().event)
    now = int(time.time())
    assert check("whsec_unit", body, signature_header("whsec_unit", body, now)) is True
    assert check("whsec_unit", body, signature_header("whsec_unit", body, now - 301)) is False  # replayed
    assert check("whsec_unit", body + b" ", signature_header("whsec_unit", body, now)) is False
    assert check("whsec_other", body, signature_header("whsec_unit", body, now)) is False


def test_out_of_time_the_rest_go_to_the_retry_queue_untried() -> None:
    sender = FakeSender(200)
    d, retry, dead = deliverer(sender, [0.0])
    calls = iter([False, True, True])
    outcome = d.run([delivery(), delivery(), delivery()], out_of_time=lambda: next(calls))
    assert len(sender.requests) == 1 and len(outcome.delivered) == 1
    assert [delay for _body, delay in retry.sent] == [0, 0] and dead.sent == []
    assert all(Delivery.from_message(body).attempt == 0 for body, _ in retry.sent)  # not counted


def test_replay_leaves_a_message_that_is_not_a_delivery_and_says_so(aws: None) -> None:
    import boto3

    from infra.webhook_redrive import replay_dead_letters

    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="not a delivery")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"subscriber_id": "s1"}))  # fields missing
    sqs.send_message(QueueUrl=url, MessageBody=delivery().to_message())
    d, _retry, _dead = deliverer(FakeSender(200), [0.0])
    tally = replay_dead_letters(sqs, url, d, empty_polls=1)
    assert (tally.delivered, tally.failed) == (1, 2)
    assert all("not a webhook delivery" in e for e in tally.errors)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "2"
