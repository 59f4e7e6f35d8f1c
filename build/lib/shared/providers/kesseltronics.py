"""Kesseltronics car-wash terminal API adapter (HTTP/JSON over a pooled urllib3 client).

Kesseltronics' terminal API is not public; this is the contract we defined and that
infra/local_stack/provider_simulator.py implements (docs/dialects/activate_voucher.md):

    POST {endpoint}/v1/authorizations
    Authorization: Bearer <api_key>
    Idempotency-Key: <reference>
    {"reference": "...", "productCode": "...", "siteCode": "...", "validitySeconds": 900}

    200/201 {"authorizationCode": "KT-XXXX-XXXX", "expiresAt": "<ISO-8601>", "reference": "..."}

The same reference always gets the same code while that code is valid, so a retry after a
crash does not issue a second code.

One urllib3 PoolManager per container (botocore already loads urllib3, so it costs no import
time): a warm function reuses its TCP/TLS connection to the provider. No retries and no
redirects by urllib3 (a retry is the member's, with the same reference), and a hard overall
deadline: the connect and each read are bounded by the definition's timeout, and so is the
whole body (a server dripping bytes cannot hold a request past it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3

from shared.domain import format_instant, parse_instant
from shared.providers.base import (
    IssuedCode,
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

_POOL: urllib3.PoolManager | None = None
_POOL_LOCK = threading.Lock()


def shared_pool() -> urllib3.PoolManager:
    """The container's connection pool, created on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = urllib3.PoolManager(num_pools=4, maxsize=10, retries=False)
        return _POOL


class KesseltronicsAdapter:
    def __init__(self, credentials: Callable[[str], Credentials], pool: Any = None) -> None:
        self._credentials = credentials
        self._pool = pool

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
        body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {credentials.api_key}",
            "Idempotency-Key": request.reference,
        }
        timeout = config.timeout_seconds
        deadline = time.monotonic() + timeout
        pool = self._pool or shared_pool()
        try:
            response = pool.request(
                "POST",
                endpoint.rstrip("/") + PATH,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            try:
                status = int(response.status)
                answer = _read_bounded(response, deadline)
            finally:
                response.release_conn()
        except urllib3.exceptions.NewConnectionError:
            # refused: checked first, since urllib3's NewConnectionError is also a
            # ConnectTimeoutError (a historical quirk), yet nothing timed out. Nothing was sent.
            raise ProviderBadResponse(f"{NAME} refused the connection", nothing_issued=True) from None
        except urllib3.exceptions.ProtocolError as error:
            # dropped after the request was sent: the provider may have issued the code
            raise ProviderBadResponse(f"{NAME} unreachable ({type(error).__name__})") from None
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise ProviderTimeout(f"{NAME} did not answer within {timeout}s") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            raise ProviderBadResponse(f"{NAME} connection failed ({type(error).__name__})") from None
        if not 200 <= status < 300:
            # a 4xx refused the request (nothing issued); a 5xx may have failed after issuing
            refused = 400 <= status < 500
            message = f"{NAME} answered HTTP {status}"
            raise ProviderBadResponse(message, http_status=status, nothing_issued=refused)
        return _parse(answer, request.reference)

    def void_code(self, reference: str) -> None:
        """DELETE {endpoint}/v1/authorizations/{reference}: 2xx or 404 (nothing to void)."""
        status, _body = self._call("DELETE", PATH + "/" + quote(reference, safe=""))
        if not (200 <= status < 300 or status == 404):
            raise ProviderBadResponse(f"{NAME} answered HTTP {status} to a void", http_status=status)

    def issued_since(self, since: datetime) -> list[IssuedCode]:
        """GET {endpoint}/v1/authorizations?since=...: {"authorizations": [{reference, issuedAt, voided}]}."""
        status, body = self._call("GET", PATH + "?since=" + quote(format_instant(since), safe=""))
        if not 200 <= status < 300:
            raise ProviderBadResponse(f"{NAME} answered HTTP {status} to a listing", http_status=status)
        try:
            listed = json.loads(body.decode("utf-8"))["authorizations"]
            return [
                IssuedCode(
                    str(entry["reference"]), parse_instant(str(entry["issuedAt"])), bool(entry["voided"])
                )
                for entry in listed
            ]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise ProviderBadResponse(
                f"{NAME} answered an unreadable listing ({type(error).__name__})"
            ) from None

    def _call(self, method: str, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        """One bounded call to the credentials' endpoint (reconciliation: no definition)."""
        credentials = self._credentials(NAME)
        if not credentials.endpoint or urlsplit(credentials.endpoint).scheme not in {"http", "https"}:
            raise ProviderSetupError(f"no http(s) endpoint for {NAME} in the provider secret")
        pool = self._pool or shared_pool()
        try:
            response = pool.request(
                method,
                credentials.endpoint.rstrip("/") + path,
                headers={"Authorization": f"Bearer {credentials.api_key}", "Accept": "application/json"},
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            try:
                return int(response.status), _read_bounded(response, time.monotonic() + timeout)
            finally:
                response.release_conn()
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            raise ProviderBadResponse(f"{NAME} unreachable ({type(error).__name__})") from None


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
