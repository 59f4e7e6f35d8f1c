"""The delivery's ports on real infrastructure: SQS queues, an HTTP sender, secrets, and the
settings of the delivery function (one model, read once per container)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.runtime import ConfigurationError
from shared.webhooks.delivery import RetryPolicy
from shared.webhooks.target import PinnedSender

SECRET_CACHE_SECONDS = 300


@dataclass(frozen=True)
class DeliverySettings:
    table_name: str
    retry_queue_url: str
    dead_letter_queue_url: str
    allow_private: bool = False  # the local stack only: receivers on this machine
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeliverySettings:
        env = os.environ if env is None else env
        missing = [n for n in ("TABLE_NAME", "WEBHOOK_RETRY_QUEUE_URL", "WEBHOOK_DLQ_URL") if not env.get(n)]
        if missing:
            raise ConfigurationError(f"{', '.join(missing)} not set")
        try:
            policy = RetryPolicy(
                base_seconds=float(env.get("WEBHOOK_RETRY_BASE_SECONDS", "5")),
                max_age_seconds=float(env.get("WEBHOOK_RETRY_MAX_AGE_SECONDS", str(24 * 3600))),
            )
            timeout = float(env.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
        except ValueError as error:
            raise ConfigurationError("WEBHOOK_* durations must be numbers") from error
        return cls(
            table_name=env["TABLE_NAME"],
            retry_queue_url=env["WEBHOOK_RETRY_QUEUE_URL"],
            dead_letter_queue_url=env["WEBHOOK_DLQ_URL"],
            allow_private=env.get("WEBHOOK_ALLOW_PRIVATE", "").lower() == "true",
            policy=policy,
            timeout_seconds=timeout,
        )


class SqsQueue:
    def __init__(self, client: Any, url: str) -> None:
        self.client, self.url = client, url

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body, DelaySeconds=delay_seconds)


class HttpSender(PinnedSender):
    """The delivery's sender: one POST to the address that was checked, one deadline for the
    whole attempt, at most a few KB of the answer read (shared/webhooks/target.py)."""


def read_secret(name: str) -> str:
    """The subscriber's signing secret (Secrets Manager, cached per container)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)
    if not isinstance(value, str) or not value:
        raise ValueError("webhook secret is empty")
    return value
