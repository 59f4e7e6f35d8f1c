"""What every handler needs at run time: settings from the environment, lazily created AWS
clients, the API Gateway event as a small typed request, and responses.

Deliberately free of pydantic and of Powertools' event handler: on the machines we measure
on, importing those adds 50-140 ms each to a cold start that is ~280 ms for boto3 alone
(see docs/performance.md), while each function serves exactly one route.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.ports import VoucherStore
from shared.retry import CommitPolicy


class ConfigurationError(Exception):
    """The function was deployed without a setting it needs."""


@dataclass(frozen=True)
class Settings:
    """Environment variables of a function, validated once per container. The only reader
    of the environment apart from Powertools (which reads its own POWERTOOLS_* variables)
    and botocore (AWS_ENDPOINT_URL_*, credentials)."""

    table_name: str
    provider_secret_name: str | None = None  # Secrets Manager: the activation providers' credentials
    activation_wait_seconds: float = 3.0  # how long a request waits out another's activation
    region: str = "eu-west-1"
    # how long a warm container keeps what only an import changes (shared/store/cache.py)
    immutable_cache_seconds: float = 60.0

    def commit_policy(self) -> CommitPolicy:
        return CommitPolicy(wait_seconds=self.activation_wait_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get("TABLE_NAME", "").strip()
        if not table:
            raise ConfigurationError("TABLE_NAME is not set")
        try:
            wait = float(env.get("ACTIVATION_WAIT_SECONDS", "3"))
        except ValueError as error:
            raise ConfigurationError("ACTIVATION_WAIT_SECONDS must be a number") from error
        if not 0 <= wait <= 20:
            raise ConfigurationError("ACTIVATION_WAIT_SECONDS must be within 0..20")
        try:
            cache = float(env.get("IMMUTABLE_CACHE_SECONDS", "60"))
        except ValueError as error:
            raise ConfigurationError("IMMUTABLE_CACHE_SECONDS must be a number") from error
        if not 0 <= cache <= 3600:
            raise ConfigurationError("IMMUTABLE_CACHE_SECONDS must be within 0..3600")
        return cls(
            table_name=table,
            provider_secret_name=env.get("PROVIDER_SECRET_NAME") or None,
            activation_wait_seconds=wait,
            immutable_cache_seconds=cache,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1",
        )


class Runtime:
    """Per-container singletons, created on first use (never at import: moto only mocks
    clients created after it starts, and tests swap them with `reset`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._store: VoucherStore | None = None
        self._clients: dict[str, Any] = {}

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                # Endpoint overrides (local stack, tests) come from the standard
                # AWS_ENDPOINT_URL_<SERVICE> variables that botocore reads itself.
                config = (
                    dynamodb_config()
                    if service == "dynamodb"
                    else Config(
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=2,
                        read_timeout=5,
                        tcp_keepalive=True,
                    )
                )
                self._clients[service] = boto3.session.Session().client(
                    service, region_name=self.settings().region, config=config
                )
            return self._clients[service]

    def store(self) -> VoucherStore:
        if self._store is None:
            from shared.store import DynamoDBStore

            settings = self.settings()
            self._store = DynamoDBStore(
                self.client("dynamodb"), settings.table_name, immutable_ttl=settings.immutable_cache_seconds
            )
            end_of_init()
        return self._store

    def reset(self, *, store: VoucherStore | None = None, settings: Settings | None = None) -> None:
        with self._lock:
            self._settings = settings
            self._store = store
            self._clients = {}


RUNTIME = Runtime()


def dynamodb_config() -> Any:
    """The DynamoDB client's botocore Config: one attempt per call. The store sends a call
    again itself (shared/store/dynamodb.py Table._call), bounded by the request's deadline,
    and learns what a write whose answer was lost did; botocore's own backoff (up to 7 s over
    4 attempts) could outlast a 10 s function. DynamoDB answers in milliseconds: 1 s to
    connect and 2 s to answer are generous (the store's ATTEMPT_SECONDS is their sum)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=1,
        read_timeout=2,
        tcp_keepalive=True,
        max_pool_connections=32,
    )


def end_of_init() -> None:
    """functions/__init__.py turned the garbage collector off for a Lambda init: the client now
    exists, so move what init built out of every future collection and turn it back on."""
    if os.environ.pop("VOUCHER_GC_DEFERRED", None):
        gc.freeze()
        gc.enable()


def hash_token(token: str) -> str:
    """Tokens are stored only as this hash. Tokens are random and high-entropy, so a plain
    SHA-256 (no salt, no stretching) is enough and lets us look a session up by key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- requests


class CaseInsensitiveDict(dict[str, str]):
    """Header map: HTTP header names are case-insensitive; clients vary the case."""

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        super().__init__()
        for k, v in (data or {}).items():
            self[k] = v

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass
class ApiRequest:
    """An API Gateway REST proxy event, reduced to what the dialects read."""

    method: str
    path: str
    resource: str
    path_params: dict[str, str]
    headers: CaseInsensitiveDict
    query: dict[str, list[str]]
    body: bytes | None
    request_id: str
    source_ip: str | None = None
    raw_headers: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any], context: Any = None) -> ApiRequest:
        headers = CaseInsensitiveDict()
        raw: dict[str, list[str]] = {}
        for name, values in (event.get("multiValueHeaders") or {}).items():
            if values:
                raw.setdefault(name.lower(), []).extend(str(v) for v in values)
        for name, value in (event.get("headers") or {}).items():
            if value is not None and name.lower() not in raw:
                raw[name.lower()] = [str(value)]
        for name, values in raw.items():
            headers[name] = values[0]
        query: dict[str, list[str]] = {}
        for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
            if values:
                query[name] = [str(v) for v in values]
        for name, value in (event.get("queryStringParameters") or {}).items():
            if value is not None and name not in query:
                query[name] = [str(value)]
        body_raw = event.get("body")
        body: bytes | None
        if body_raw is None or body_raw == "":
            body = None
        elif event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body_raw, validate=False)
            except (ValueError, TypeError):
                body = str(body_raw).encode("utf-8")
        else:
            body = str(body_raw).encode("utf-8")
        request_context = event.get("requestContext") or {}
        request_id = str(
            request_context.get("requestId") or getattr(context, "aws_request_id", None) or "local"
        )
        identity = request_context.get("identity") or {}
        return cls(
            method=str(event.get("httpMethod") or request_context.get("httpMethod") or "").upper(),
            path=str(event.get("path") or ""),
            resource=str(event.get("resource") or ""),
            path_params={k: str(v) for k, v in (event.get("pathParameters") or {}).items() if v is not None},
            headers=headers,
            query=query,
            body=body,
            request_id=request_id,
            source_ip=identity.get("sourceIp"),
            raw_headers=raw,
        )

    def media_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()

    def content_type_param(self, name: str) -> str | None:
        for part in (self.headers.get("content-type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == name:
                return value.strip().strip('"')
        return None


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        # ASCII-escaped like Spaaza's own samples ("\u20ac"); also keeps any odd character a
        # client sent and we echo back encodable.
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=True),
        "isBase64Encoded": False,
    }
