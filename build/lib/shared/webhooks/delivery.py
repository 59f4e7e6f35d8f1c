"""Deliver webhook events: sign, POST, and on failure retry later, then dead-letter.

One `Delivery` is one event for one subscriber; it is what is retried and what the
dead-letter queue keeps, whole (the event as first built, the subscriber, the attempt count
and when the first attempt was made), so a replay re-sends the same bytes' content with the
same `id`.

Retries: the first attempt is made as the stream batch is handled; a failure (no answer, a
timeout, any status but 2xx) goes to the retry queue with the service's one backoff
(shared/retry.py's equal jitter under a ceiling of base * 2^attempt, capped at SQS's 15
minutes), and is tried again from there until
`max_age_seconds` after the first attempt; then it goes to the dead-letter queue. A 410 Gone
is final at once (the receiver says the endpoint is retired). Redirects are not followed (a
signed event goes only where the subscriber said).

At least once, not exactly once: a receiver that processed an event but whose answer was lost
gets it again with the same `id`; receivers deduplicate on it (docs/webhooks.md).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from shared.retry import Backoff
from shared.webhooks.signing import HEADER, signature_header
from shared.webhooks.subscribers import Subscriber, UnsafeUrl, check_resolved

USER_AGENT = "voucher-service-webhooks/1"
MAX_SQS_DELAY = 900


class Sender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the HTTP status; raise OSError-like errors for no answer."""
        ...


class Queue(Protocol):
    def send(self, body: str, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = MAX_SQS_DELAY
    max_age_seconds: float = 24 * 3600

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> int:
        """Whole seconds (SQS's DelaySeconds) after `attempt` failed attempts, at least one:
        the one backoff with a ceiling of base * 2^attempt."""
        wait = Backoff(self.base_seconds, self.cap_seconds).delay(attempt + 1, rng)
        return max(1, min(MAX_SQS_DELAY, round(wait)))


@dataclass(frozen=True)
class Delivery:
    subscriber_id: str
    chain_id: int
    url: str
    secret_name: str
    event: dict[str, Any]
    attempt: int = 0  # attempts made so far
    first_attempt_at: float = field(default=0.0)
    last_error: str | None = None

    @staticmethod
    def of(subscriber: Subscriber, event: dict[str, Any]) -> Delivery:
        return Delivery(
            subscriber.subscriber_id, subscriber.chain_id, subscriber.url, subscriber.secret_name, event
        )

    def to_message(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_message(body: str) -> Delivery:
        return Delivery(**json.loads(body))


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Outcome:
    delivered: list[Delivery] = field(default_factory=list)
    retrying: list[Delivery] = field(default_factory=list)
    dead: list[Delivery] = field(default_factory=list)


@dataclass
class Deliverer:
    sender: Sender
    secret: Callable[[str], str]  # secret name -> signing secret
    retry_queue: Queue
    dead_letters: Queue
    policy: RetryPolicy = RetryPolicy()
    check_addresses: bool = True  # AWS mode: resolve and refuse private addresses each time
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random

    def attempt(self, delivery: Delivery) -> tuple[bool, str | None, bool]:
        """(delivered, error, final): one signed POST."""
        try:
            if self.check_addresses:
                check_resolved(delivery.url)
            body = body_of(delivery.event)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                HEADER: signature_header(self.secret(delivery.secret_name), body, int(self.clock())),
                "Voucher-Event-Id": delivery.event["id"],
                "Voucher-Delivery-Attempt": str(delivery.attempt + 1),
            }
            status = self.sender.post(delivery.url, body, headers)
        except UnsafeUrl as error:
            return False, f"refused: {error}", True
        except Exception as error:  # no answer: timeout, refused, reset, TLS, secret unreadable
            return False, type(error).__name__, False
        if 200 <= status < 300:
            return True, None, False
        return False, f"HTTP {status}", status == 410

    def run(
        self,
        deliveries: Iterable[Delivery],
        outcome: Outcome | None = None,
        out_of_time: Callable[[], bool] = lambda: False,
    ) -> Outcome:
        """One attempt each; every failure is queued for a retry or dead-lettered, so the
        caller never has to re-run a batch (which would re-send what was delivered). Once
        `out_of_time()` (slow receivers ate the invocation), the rest go to the retry queue
        untried, due at once, so one slow receiver never times out a whole stream batch."""
        outcome = outcome or Outcome()
        for delivery in deliveries:
            if out_of_time():
                self.retry_queue.send(delivery.to_message(), 0)
                outcome.retrying.append(delivery)
                continue
            now = self.clock()
            started = delivery.first_attempt_at or now
            ok, error, final = self.attempt(delivery)
            after = Delivery(
                **{
                    **asdict(delivery),
                    "attempt": delivery.attempt + 1,
                    "first_attempt_at": started,
                    "last_error": error,
                }
            )
            if ok:
                outcome.delivered.append(after)
            elif final or now - started >= self.policy.max_age_seconds:
                self.dead_letters.send(after.to_message())
                outcome.dead.append(after)
            else:
                self.retry_queue.send(after.to_message(), self.policy.delay(after.attempt, self.rng))
                outcome.retrying.append(after)
        return outcome
