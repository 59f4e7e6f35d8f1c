"""The delivery's ports on real infrastructure: SQS queues, an HTTP sender, secrets, and the
settings of the delivery function (one model, read once per container)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.runtime import ConfigurationError
from shared.webhooks.delivery import RetryPolicy

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


class HttpSender:
    """urllib3 (already in the package, under botocore): pooled, no redirects, no retries of
    its own (the retry queue is the retry), bounded connect and read time."""

    def __init__(self, timeout_seconds: float) -> None:
        import urllib3

        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(3.0, timeout_seconds), read=timeout_seconds),
            retries=False,
        )

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        response = self._pool.request("POST", url, body=body, headers=headers, redirect=False)
        return int(response.status)


def read_secret(name: str) -> str:
    """The subscriber's signing secret (Secrets Manager, cached per container)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)
    if not isinstance(value, str) or not value:
        raise ValueError("webhook secret is empty")
    return value
