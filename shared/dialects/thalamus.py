"""Thalamus REST API v4 wire format (operator "set voucher as consumed").

Envelope: {"links": [...], "data": {...}, "errors": {...}}; `errors` is a flat object
mapping the part of the request at fault to a Thalamus error code, whose HTTP status is
ERRORS' (docs/dialects/consume_voucher.md has the complete mapping).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.dialects import answer
from shared.domain import (
    Contention,
    DomainError,
    Effective,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    NotAnOperator,
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
from shared.runtime import ApiRequest, hash_token, json_response
from shared.usecases.thalamus import CatalogVoucher, OperatorCommand

PARAMETER_FIELDS = ("parameter1", "parameter2", "parameter3")
# the headers that change what a consume asks (an Idempotency-Key's fingerprint; the token
# is not one: a key is already the caller's own)
FINGERPRINT_HEADERS = ("thalamus-touchpoint",)
MAX_PARAMETER_LENGTH = 255
MAX_CODE_LENGTH = 128
MAX_TOKEN_LENGTH = 512
MAX_BODY_BYTES = 16 * 1024
MEDIA_TYPE = "application/json"  # the only body media type
PATH_FIELDS = {
    "activity_code": "activityCode",
    "voucher_item_code": "voucherItemCode",
    "voucher_code": "voucherCode",
}


# Every Thalamus error code and its HTTP status (an answer naming several parts of the
# request has one status: those codes share it)
ERRORS: dict[str, int] = {
    "Required": 400,
    "InvalidFormat": 400,
    "InvalidJson": 400,
    "UnknownField": 400,
    "UnsupportedMediaType": 400,
    "NotAnOperator": 400,
    "InvalidState": 400,
    "InvalidStatus": 400,
    "InvalidToken": 401,
    "InvalidCode": 401,
    "NotFound": 404,
    "ConcurrentModification": 409,
    "UsedForAnotherRequest": 422,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}


class ThalamusError(WireError):
    """A response in Thalamus form: the flat `errors` object, with its codes' HTTP status."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.status = max(ERRORS[code] for code in errors.values())
        self.errors = errors

    def to_response(self) -> dict[str, Any]:
        # a 503 is retryable (the store was unreachable, or a write's outcome could not be
        # learned in time): say when, as the other two dialects do
        headers = {"Retry-After": "1"} if self.status == 503 else None
        return json_response(self.status, {"links": [], "data": None, "errors": self.errors}, headers)

    def outcome(self) -> str:
        return ",".join(sorted(set(self.errors.values())))


def _first(request: ApiRequest, header: str, query: str) -> str | None:
    """Header wins over query parameter when both are sent (documented rule)."""
    value = request.headers.get(header)
    if value is not None and value.strip():
        return value.strip()
    values = request.query.get(query) or []
    for candidate in values:
        if candidate.strip():
            return candidate.strip()
    return None


def parse_credentials(request: ApiRequest) -> tuple[str, str]:
    """(touchpoint, token). Missing token: 401 InvalidToken; missing touchpoint: 400 Required."""
    token = _first(request, "Thalamus-Token", "token")
    if token is None:
        raise ThalamusError({"token": "InvalidToken"})
    touchpoint = _first(request, "Thalamus-Touchpoint", "touchpoint")
    if touchpoint is None:
        raise ThalamusError({"touchpoint": "Required"})
    if len(touchpoint) > MAX_CODE_LENGTH or not touchpoint.isprintable():
        raise ThalamusError({"touchpoint": "InvalidCode"})
    if len(token) > MAX_TOKEN_LENGTH or not token.isprintable():
        raise ThalamusError({"token": "InvalidToken"})
    return touchpoint, token


def parse_path(request: ApiRequest) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    values: list[str] = []
    for name, wire in PATH_FIELDS.items():
        value = request.path_params.get(name, "")
        if not value:
            errors[wire] = "Required"
        elif len(value) > MAX_CODE_LENGTH or not value.isprintable():
            errors[wire] = "InvalidFormat"
        values.append(value)
    if errors:
        raise ThalamusError(errors)
    return values[0], values[1], values[2]


def parse_parameters(request: ApiRequest) -> dict[str, str]:
    """The optional JSON body: only parameter1..3, strings of at most 255 characters."""
    body = request.body
    if body is None or not body.strip():
        return {}
    if request.media_type() != MEDIA_TYPE:
        raise ThalamusError({"Content-Type": "UnsupportedMediaType"})
    if len(body) > MAX_BODY_BYTES:
        raise ThalamusError({"body": "InvalidFormat"})
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurd nesting
        raise ThalamusError({"body": "InvalidJson"}) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ThalamusError({"body": "InvalidFormat"})
    errors: dict[str, str] = {}
    parameters: dict[str, str] = {}
    for key, value in document.items():
        if key not in PARAMETER_FIELDS:
            errors[_printable(key)[:64]] = "UnknownField"
        elif value is None:
            continue
        elif not isinstance(value, str) or len(value) > MAX_PARAMETER_LENGTH or not _storable(value):
            errors[key] = "InvalidFormat"
        else:
            parameters[key] = value
    if errors:
        raise ThalamusError(errors)
    return parameters


def parse_command(request: ApiRequest, *, consume: bool) -> OperatorCommand:
    """The operator's request as the use case takes it (a view sends no parameters)."""
    touchpoint, token = parse_credentials(request)
    activity_code, item_code, voucher_code = parse_path(request)
    return OperatorCommand(
        activity_code=activity_code,
        item_code=item_code,
        voucher_code=voucher_code,
        touchpoint=touchpoint,
        token_hash=hash_token(token),
        request_id=request.request_id,
        parameters=parse_parameters(request) if consume else {},
    )


def _storable(value: str) -> bool:
    """Printable text that is valid Unicode (no lone surrogates, no control characters)."""
    return value.isprintable() and not any("\ud800" <= c <= "\udfff" for c in value)


def _printable(value: str) -> str:
    """An unknown field name as it can safely be echoed back."""
    return "".join(c if c.isprintable() and not "\ud800" <= c <= "\udfff" else "?" for c in value)


STATUS = {
    Effective.UNASSIGNED: "NOT_ISSUED",
    Effective.AVAILABLE: "ACTIVE",
    Effective.CLAIMED: "ACTIVE",
    Effective.ACTIVATED: "ACTIVE",
    Effective.REDEEMED: "CONSUMED",
    Effective.INVALIDATED: "VOIDED",
    Effective.EXPIRED: "EXPIRED",
}


def status_of(voucher: Voucher, now: datetime) -> str:
    """The voucher's Thalamus status at `now`."""
    return STATUS[effective_status(voucher, now)]


# The answer to each refusal, by the error's nearest class (shared.dialects.answer); the two
# that name the part of the request at fault are answered in domain_error.
ANSWERS: dict[type[DomainError], dict[str, str]] = {
    NotAnOperator: {"error.message": "NotAnOperator"},
    VoucherInvalidated: {"voucherCode": "InvalidStatus"},
    VoucherExpired: {"voucherCode": "InvalidStatus"},
    VoucherRedeemed: {"voucherCode": "InvalidState"},
    VoucherNotIssued: {"voucherCode": "InvalidState"},
    Contention: {"voucherCode": "ConcurrentModification"},
    IdempotencyKeyInvalid: {"Idempotency-Key": "InvalidFormat"},
    IdempotencyKeyReused: {"Idempotency-Key": "UsedForAnotherRequest"},
    DomainError: {"error.message": "InvalidState"},
}
UNAVAILABLE = {"error.message": "ServiceUnavailable"}
INTERNAL = {"error.message": "InternalError"}


def domain_error(error: DomainError, request: ApiRequest | None = None) -> ThalamusError:
    """The one mapping from domain outcomes to Thalamus codes."""
    if isinstance(error, Unauthenticated):
        field = error.details.get("field", "token")
        return ThalamusError({field: "InvalidCode" if field == "touchpoint" else "InvalidToken"})
    if isinstance(error, NotFound):
        return ThalamusError({error.details.get("what", "voucherCode"): "NotFound"})
    return ThalamusError(dict(answer(ANSWERS, error)))


def unavailable(request: ApiRequest | None = None) -> ThalamusError:
    return ThalamusError(dict(UNAVAILABLE))


def internal_error(request: ApiRequest | None = None) -> ThalamusError:
    return ThalamusError(dict(INTERNAL))


def success_response(result: CatalogVoucher, now: datetime) -> dict[str, Any]:
    voucher = result.voucher
    consumption = voucher.consumption
    data: dict[str, Any] = {
        "activityCode": voucher.activity_code,
        "voucherItemCode": voucher.item_code,
        "voucherCode": voucher.serial,
        "status": status_of(voucher, now),
        "productName": result.product_name,
        "itemType": result.item_type,
        "expirationDate": format_instant(voucher.expires_at) if voucher.expires_at else None,
    }
    if consumption is not None:
        data["consumedAt"] = format_instant(consumption.consumed_at)
        data["consumedBy"] = {"operator": consumption.operator_id, "touchpoint": consumption.touchpoint}
        data["parameters"] = {k: consumption.parameters.get(k) for k in PARAMETER_FIELDS}
    return json_response(200, {"links": [], "data": data, "errors": {}})
