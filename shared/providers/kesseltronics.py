"""Kesseltronics car-wash terminal API adapter (HTTP/JSON over urllib, stdlib only).

Kesseltronics' terminal API is not public; this is the contract we defined and that
infra/local_stack/provider_simulator.py implements (docs/dialects/activate_voucher.md):

    POST {endpoint}/v1/authorizations
    Authorization: Bearer <api_key>
    Idempotency-Key: <reference>
    {"reference": "...", "productCode": "...", "siteCode": "...", "validitySeconds": 900}

    200/201 {"authorizationCode": "KT-XXXX-XXXX", "expiresAt": "<ISO-8601>", "reference": "..."}

The same reference always gets the same code while that code is valid, so a retry after a
crash does not issue a second code.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.domain import parse_instant
from shared.providers.base import (
    ProviderBadResponse,
    ProviderCode,
    ProviderRequest,
    ProviderSetupError,
    ProviderTimeout,
)
from shared.providers.credentials import Credentials

NAME = "KESSELTRONICS"
PATH = "/v1/authorizations"
MAX_BODY_BYTES = 64 * 1024
MAX_CODE_LENGTH = 128


class KesseltronicsAdapter:
    def __init__(
        self,
        credentials: Callable[[str], Credentials],
        opener: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self._credentials = credentials
        self._open = opener

    def prepare(self) -> None:
        self._credentials(NAME)  # cached by Powertools parameters: issue_code reuses it

    def issue_code(self, request: ProviderRequest) -> ProviderCode:
        config = request.config
        credentials = self._credentials(NAME)
        endpoint = config.endpoint or credentials.endpoint
        if not endpoint:
            raise ProviderSetupError(f"no endpoint for {NAME}: neither the definition nor the secret has one")
        if urlsplit(endpoint).scheme not in {"http", "https"}:
            raise ProviderSetupError(f"{NAME} endpoint must be an http(s) URL")
        payload = {
            "reference": request.reference,
            "productCode": config.product_code,
            "siteCode": config.site_code,
            "validitySeconds": config.code_validity_seconds,
        }
        http_request = urllib.request.Request(  # noqa: S310 - scheme checked above
            endpoint.rstrip("/") + PATH,
            data=json.dumps({k: v for k, v in payload.items() if v is not None}).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {credentials.api_key}",
                "Idempotency-Key": request.reference,
            },
        )
        timeout = config.timeout_seconds
        deadline = time.monotonic() + timeout
        try:
            with self._open(http_request, timeout=timeout) as response:
                status = int(getattr(response, "status", 200))
                body = _read_bounded(response, deadline)
        except urllib.error.HTTPError as error:
            error.close()
            raise ProviderBadResponse(f"{NAME} answered HTTP {error.code}", http_status=error.code) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise ProviderTimeout(f"{NAME} did not answer within {timeout}s") from None
            raise ProviderBadResponse(f"{NAME} unreachable ({type(error.reason).__name__})") from None
        except TimeoutError:
            raise ProviderTimeout(f"{NAME} did not answer within {timeout}s") from None
        except (http.client.HTTPException, OSError, ValueError) as error:
            raise ProviderBadResponse(f"{NAME} connection failed ({type(error).__name__})") from None
        if not 200 <= status < 300:
            raise ProviderBadResponse(f"{NAME} answered HTTP {status}", http_status=status)
        return _parse(body, request.reference)


def _read_bounded(response: Any, deadline: float) -> bytes:
    """Read the body in chunks: each read is bounded by the socket timeout, and the whole
    read by the deadline (a server dripping bytes cannot hold us past the timeout)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(8192)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValueError("response body too large")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("response body not complete within the timeout")


def _parse(body: bytes, reference: str) -> ProviderCode:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProviderBadResponse(f"{NAME} answered with a body that is not JSON") from None
    if not isinstance(document, dict):
        raise ProviderBadResponse(f"{NAME} answered with JSON that is not an object")
    code = document.get("authorizationCode")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE_LENGTH or not code.isprintable():
        raise ProviderBadResponse(f"{NAME} answered without a usable authorizationCode")
    echoed = document.get("reference")
    if echoed is not None and echoed != reference:
        raise ProviderBadResponse(f"{NAME} answered for another reference")
    expires_raw = document.get("expiresAt")
    expires_at = None
    if expires_raw is not None:
        if not isinstance(expires_raw, str):
            raise ProviderBadResponse(f"{NAME} answered with an unreadable expiresAt")
        try:
            expires_at = parse_instant(expires_raw)
        except ValueError:
            raise ProviderBadResponse(f"{NAME} answered with an unreadable expiresAt") from None
    return ProviderCode(authorization_code=code.strip(), expires_at=expires_at)
