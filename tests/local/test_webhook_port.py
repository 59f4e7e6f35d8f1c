"""`--webhook-port`: the demo webhook receiver listens where the option says, and the demo
subscriber's URL in the table follows it, so a state change is delivered there. Its own module:
a second stack in one process would re-point the first one's handlers (module fixtures)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from infra.local_stack.__main__ import banner, parse_args
from infra.local_stack.server import LocalStack
from tests.local.helpers import request

pytestmark = pytest.mark.http


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moved() -> Iterator[tuple[LocalStack, int]]:
    port = _free_port()
    stack = LocalStack(port=0, table_name="vouchers-webhook-port", webhook_port=port).start()
    try:
        yield stack, port
    finally:
        stack.stop()


def test_the_receiver_and_the_demo_subscriber_move_to_the_given_port(moved: tuple[LocalStack, int]) -> None:
    stack, port = moved
    url = f"http://127.0.0.1:{port}/webhooks"
    assert stack.receiver is not None and stack.receiver.url == url
    assert f"Webhook receiver  : {url}   (--webhook-port" in banner(stack)
    items = stack.store.client.scan(TableName=stack.table_name)["Items"]
    assert [i["url"]["S"] for i in items if i.get("type", {}).get("S") == "webhook_subscriber"] == [url]


def test_a_state_change_is_delivered_to_the_moved_receiver(moved: tuple[LocalStack, int]) -> None:
    stack, _port = moved
    assert stack.receiver is not None
    before = len(stack.receiver.events)
    status, body, _ = request(
        stack.url,
        "PUT",
        "/unclaim-voucher",
        headers=[
            ("X-Spaaza-Session-User-Id", "900"),
            ("X-Spaaza-Session-Key", "demo-spaaza-admin-chain1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body="voucher_id=40577&user_id=1001&chain_id=1",
    )
    assert status == 200, body
    deadline = time.monotonic() + 30
    while len(stack.receiver.events) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(stack.receiver.events) > before


def test_the_option_refuses_a_port_a_url_cannot_name() -> None:
    assert parse_args(["--webhook-port", "9400"]).webhook_port == 9400
    assert parse_args([]).webhook_port is None
    with pytest.raises(SystemExit):
        parse_args(["--webhook-port", "0"])
