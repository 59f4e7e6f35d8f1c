"""ES Loyalty (Exchange Solutions) Customer Experience API wire format: "Activate Voucher".

Errors are `{"errorCode": "...", "message": "...", "correlationId": "..."}` with the HTTP
status of the vendor's error table; docs/dialects/activate_voucher.md has the full mapping.
The correlation id is read from the request each error answers (never kept between
requests: a warm function serves many callers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.dialects import answer
from shared.domain import (
    ConsoleUser,
    Contention,
    DomainError,
    Effective,
    GhostMember,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InvalidVoucherType,
    NotFound,
    Unauthenticated,
    Voucher,
    VoucherExpired,
    VoucherInvalidated,
    VoucherNotIssued,
    VoucherRedeemed,
    effective_status,
    format_instant,
)
from shared.endpoint import WireError
from shared.providers import ProviderBadResponse, ProviderNotConfigured, ProviderTimeout
from shared.runtime import ApiRequest, hash_token, json_response
from shared.usecases.activation import ActivateResult
from shared.usecases.es_rules import ActivateCommand

CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
VOUCHER_ID = re.compile(
    r"(?P<definition>[A-Za-z0-9_.-]{1,64})::"
    r"(?P<uuid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"
)
# Visible ASCII, no spaces: a superset of RFC 6750's b64token that admits every token the
# importer accepts (its session tokens are `[\x21-\x7e]+`).
BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")
MAX_TOKEN_LENGTH = 4096
WWW_AUTHENTICATE = 'Bearer realm="es-loyalty"'
RETRY_AFTER_SECONDS = "1"

# Every errorCode this dialect answers with, and its HTTP status (the vendor's error table;
# openapi.json's enum comes from here; a test checks every answer below against it).
ERRORS: dict[str, int] = {
    "INVALID_VOUCHER_ID": 400,
    "INVALID_CORRELATION_ID": 400,
    "INVALID_VOUCHER_TYPE": 400,
    "INVALID_IDEMPOTENCY_KEY": 400,
    "UNAUTHORIZED": 401,
    "CONSOLE_ACTIVATION_FORBIDDEN": 403,
    "GHOST_MEMBER_NOT_ALLOWED": 403,
    "VOUCHER_NOT_FOUND": 404,
    "VOUCHER_NOT_AVAILABLE": 409,
    "ACTIVATION_IN_PROGRESS": 409,
    "PROVIDER_NOT_CONFIGURED": 422,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "INTERNAL_ERROR": 500,
    "EXTERNAL_SERVICE_RESPONSE_ERROR": 502,
    "SERVICE_UNAVAILABLE": 503,
    "EXTERNAL_SERVICE_TIMEOUT": 504,
}
RETRYABLE = frozenset({"ACTIVATION_IN_PROGRESS", "SERVICE_UNAVAILABLE"})

Answer = tuple[str, str]  # (errorCode, message): the status is ERRORS[errorCode]
# What the parser and the edge answer (no DomainError behind them)
BAD_CORRELATION_ID: Answer = (
    "INVALID_CORRELATION_ID",
    "correlation_id must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-'.",
)
BAD_VOUCHER_ID: Answer = ("INVALID_VOUCHER_ID", "voucherId must be {definitionId}::{issuanceUuid}.")
NO_TOKEN: Answer = ("UNAUTHORIZED", "An OAuth bearer token is required.")
UNAVAILABLE: Answer = ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry shortly.")
INTERNAL: Answer = ("INTERNAL_ERROR", "An unexpected error occurred.")
_NOT_FOUND: Answer = ("VOUCHER_NOT_FOUND", "No such voucher under this account.")
# The answer to each refusal, by the error's nearest class (shared.dialects.answer); the
# OpenAPI examples (infra/openapi_parts/activate_voucher.py) are read from here too.
ANSWERS: dict[type[DomainError], Answer] = {
    Unauthenticated: ("UNAUTHORIZED", "The access token is invalid or expired."),
    ConsoleUser: (
        "CONSOLE_ACTIVATION_FORBIDDEN",
        "Console users may view activations but cannot activate on behalf of a member.",
    ),
    GhostMember: ("GHOST_MEMBER_NOT_ALLOWED", "Ghost members cannot activate vouchers."),
    NotFound: _NOT_FOUND,
    VoucherNotIssued: _NOT_FOUND,
    VoucherRedeemed: ("VOUCHER_NOT_AVAILABLE", "The voucher has already been redeemed."),
    VoucherInvalidated: ("VOUCHER_NOT_AVAILABLE", "The voucher has been invalidated."),
    VoucherExpired: ("VOUCHER_NOT_AVAILABLE", "The voucher has expired."),
    InvalidVoucherType: (
        "INVALID_VOUCHER_TYPE",
        "Only PRODUCT_AUTHORIZATION_CODE vouchers can be activated.",
    ),
    ProviderNotConfigured: (
        "PROVIDER_NOT_CONFIGURED",
        "The voucher definition has no activation provider configured.",
    ),
    ProviderTimeout: ("EXTERNAL_SERVICE_TIMEOUT", "The activation provider did not respond in time."),
    ProviderBadResponse: (
        "EXTERNAL_SERVICE_RESPONSE_ERROR",
        "The activation provider returned an invalid response.",
    ),
    IdempotencyKeyInvalid: (
        "INVALID_IDEMPOTENCY_KEY",
        "Idempotency-Key must be 1 to 255 visible ASCII characters, sent once.",
    ),
    IdempotencyKeyReused: ("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used for another request."),
    Contention: (
        "ACTIVATION_IN_PROGRESS",
        "Another activation of this voucher is in progress; retry shortly.",
    ),
    DomainError: ("VOUCHER_NOT_AVAILABLE", "The voucher cannot be activated."),
}

STATUS = {
    Effective.UNASSIGNED: "AVAILABLE",
    Effective.AVAILABLE: "AVAILABLE",
    Effective.CLAIMED: "AVAILABLE",
    Effective.ACTIVATED: "ACTIVATED",
    Effective.REDEEMED: "REDEEMED",
    Effective.INVALIDATED: "INVALIDATED",
    Effective.EXPIRED: "EXPIRED",
}


def status_of(voucher: Voucher, now: datetime) -> str:
    """The voucher's ES issuance status at `now`."""
    return STATUS[effective_status(voucher, now)]


def correlation_of(request: ApiRequest | None) -> str | None:
    """The correlation id an error echoes: the request's own, when it is well-formed."""
    value = request.path_params.get("correlation_id", "") if request is not None else ""
    return value if CORRELATION_ID.fullmatch(value) else None


class EsError(WireError):
    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        request: ApiRequest | None = None,
    ) -> None:
        super().__init__(error_code)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}
        self.correlation_id = correlation_of(request)

    def to_response(self) -> dict[str, Any]:
        body = {"errorCode": self.error_code, "message": self.message, "correlationId": self.correlation_id}
        return json_response(self.status, body, {"Cache-Control": "no-store", **self.headers})

    def outcome(self) -> str:
        return self.error_code


def es_error(
    reply: Answer,
    request: ApiRequest | None,
    *,
    token_presented: bool = True,
    statuses: Mapping[str, int] = ERRORS,
) -> EsError:
    """The answer with its status and the headers its code carries: a Bearer challenge on
    401 (`invalid_token` once a token was presented), Retry-After when retryable."""
    code, message = reply
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if code in RETRYABLE else {}
    if code == "UNAUTHORIZED":
        invalid = ', error="invalid_token"' if token_presented else ""
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE + invalid}
    return EsError(statuses[code], code, message, headers, request=request)


# --------------------------------------------------------------------------- parsing


def parse_correlation_id(request: ApiRequest) -> str:
    value = request.path_params.get("correlation_id", "")
    if not CORRELATION_ID.fullmatch(value):
        raise es_error(BAD_CORRELATION_ID, None)
    return value


def parse_token(request: ApiRequest) -> str:
    """The member's OAuth access token from `Authorization: Bearer <token>` (only there)."""
    header = (request.headers.get("authorization") or "").strip()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise es_error(NO_TOKEN, request, token_presented=False)
    if len(token) > MAX_TOKEN_LENGTH or not BEARER_TOKEN.fullmatch(token):
        raise es_error(ANSWERS[Unauthenticated], request)
    return token


def parse_es_voucher_id(request: ApiRequest) -> tuple[str, str]:
    """(definitionId, issuance uuid lower-cased) from `{definitionId}::{issuanceUuid}`."""
    value = request.path_params.get("voucher_id", "")
    match = VOUCHER_ID.fullmatch(value)
    if match is None:
        raise es_error(BAD_VOUCHER_ID, request)
    return match.group("definition"), match.group("uuid").lower()


def parse_command(request: ApiRequest) -> ActivateCommand:
    """The activation as the use case takes it, validated in ES's order: correlation id,
    token, voucher id."""
    correlation_id = parse_correlation_id(request)
    token = parse_token(request)
    definition_id, serial = parse_es_voucher_id(request)
    return ActivateCommand(correlation_id, definition_id, serial, hash_token(token), request.request_id)


def domain_error(error: DomainError, request: ApiRequest | None = None) -> EsError:
    """The one mapping from domain and provider outcomes to ES error codes (ANSWERS)."""
    return es_error(answer(ANSWERS, error), request)


def unavailable(request: ApiRequest | None = None) -> EsError:
    return es_error(UNAVAILABLE, request)


def internal_error(request: ApiRequest | None = None) -> EsError:
    return es_error(INTERNAL, request)


# --------------------------------------------------------------------------- success


def success_response(result: ActivateResult, es_voucher_id: str) -> dict[str, Any]:
    activation = result.activation
    body: dict[str, Any] = {
        "authorizationCode": activation.authorization_code,
        "voucherId": es_voucher_id,
        "status": "ACTIVATED",
        "provider": activation.provider,
        "productName": result.product_name,
        "activatedAt": format_instant(activation.activated_at),
        "codeExpiry": format_instant(activation.code_expiry),
    }
    if result.idempotent:
        body["idempotent"] = True
    return json_response(200, body, {"Cache-Control": "no-store"})
