"""ES Loyalty "Issuances" (Customer Experience API) and this implementation's console views
of them: query parameters, the issuance object, the console's history entries.

Errors are the activation endpoint's (`{"errorCode", "message", "correlationId"}`, 401 with
a Bearer challenge): a bad parameter is a 400 whose errorCode names it.
docs/dialects/list_issuances.md lists every parameter, field and code, the console's included.

What a console never sees: a live authorization code (the member must be at the terminal),
nor one recorded with an ACTIVATION_CODE_UNUSED event.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.dialects import answer, es_loyalty
from shared.dialects.es_loyalty import STATUS, Answer, EsError, correlation_of, status_of
from shared.domain import (
    AuditEvent,
    ConsoleUser,
    DomainError,
    Effective,
    Forbidden,
    NotFound,
    format_instant,
)
from shared.runtime import ApiRequest, json_response
from shared.usecases.console_issuance import IssuanceDetail
from shared.usecases.issuances import IssuanceFilter, IssuancePage, activatable
from shared.usecases.listing import Listed, Position

DEFAULT_LIMIT = 20
MAX_LIMIT = 100  # "If the number > 100, then the API returns the first 100"
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
MAX_UNTIL_DAYS = 36500
LOCALES = frozenset({"en-CA", "en-US", "fr-CA", "EN", "FR"})
ISSUANCE_TYPES = frozenset({"VOUCHER"})
# ES issuance status -> the lifecycle states it stands for (see es_loyalty.STATUS)
STATUS_FILTER: dict[str, frozenset[Effective]] = {
    wire: frozenset(e for e, w in STATUS.items() if w == wire) for wire in sorted(set(STATUS.values()))
}
REWARD_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
BUSINESS_UNIT = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MEMBER_ID = re.compile(r"[^\s/?#%\\]{1,128}")
BOOLEAN = {"true": True, "false": False}
PARAMETERS = frozenset(
    {
        "type",
        "status",
        "from",
        "to",
        "until",
        "limit",
        "maxResults",
        "businessUnit",
        "locale",
        "rewardType",
        "activatable",
        "nextToken",
    }
)
# Every errorCode these endpoints answer, with its HTTP status (the OpenAPI document
# enumerates exactly these; a test checks every code raised here is in it).
ERRORS: dict[str, int] = {
    "INVALID_CORRELATION_ID": 400,
    "INVALID_MEMBER_ID": 400,
    "INVALID_VOUCHER_ID": 400,
    "UNKNOWN_PARAMETER": 400,
    "INVALID_TYPE": 400,
    "INVALID_STATUS": 400,
    "INVALID_LIMIT": 400,
    "INVALID_FROM": 400,
    "INVALID_TO": 400,
    "INVALID_UNTIL": 400,
    "INVALID_DATE_RANGE": 400,
    "INVALID_BUSINESS_UNIT": 400,
    "INVALID_LOCALE": 400,
    "INVALID_REWARD_TYPE": 400,
    "INVALID_ACTIVATABLE": 400,
    "INVALID_NEXT_TOKEN": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
ERROR_CODES = tuple(ERRORS)
# es_loyalty's answers, but for who may read whom and what is not there
ANSWERS: dict[type[DomainError], Answer] = {
    **es_loyalty.ANSWERS,
    ConsoleUser: ("FORBIDDEN", "Console users list a member's issuances through the console API."),
    Forbidden: ("FORBIDDEN", "Only customer-service console users may view other members."),
    NotFound: ("NOT_FOUND", "No such member or issuance."),
}
_STATUSES = {**es_loyalty.ERRORS, **ERRORS}  # the codes it answers, and es_loyalty's it falls back on
NEXT_TOKEN_HEADER = "X-Next-Token"  # noqa: S105 - a header name
SECRET_DETAILS = frozenset({"authorization_code"})


def _bad(code: str, message: str, request: ApiRequest) -> EsError:
    return EsError(400, code, message, request=request)


# --------------------------------------------------------------------------- errors


def domain_error(error: DomainError, request: ApiRequest | None = None) -> EsError:
    return es_loyalty.es_error(answer(ANSWERS, error), request, statuses=_STATUSES)


unavailable = es_loyalty.unavailable
internal_error = es_loyalty.internal_error
parse_correlation_id = es_loyalty.parse_correlation_id
parse_token = es_loyalty.parse_token


# --------------------------------------------------------------------------- parsing


def _single(request: ApiRequest, name: str, code: str) -> str | None:
    values = {v.strip() for v in request.query.get(name) or [] if v.strip()}
    if len(values) > 1:
        raise _bad(code, f"{name} is given more than once with different values.", request)
    return values.pop() if values else None


def _integer(request: ApiRequest, name: str, low: int, high: int, code: str) -> int | None:
    value = _single(request, name, code)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", value) or not low <= int(value) <= high:
        raise _bad(code, f"{name} must be an integer from {low} to {high}.", request)
    return int(value)


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse_filter(request: ApiRequest, now: datetime) -> IssuanceFilter:
    """Every query parameter, validated; an unknown one is an error (a misspelt filter must
    not silently list everything)."""
    unknown = sorted(set(request.query) - PARAMETERS)
    if unknown:
        raise _bad("UNKNOWN_PARAMETER", f"Unknown query parameter: {unknown[0][:64]}.", request)
    kind = _single(request, "type", "INVALID_TYPE")
    if kind is not None and kind.upper() not in ISSUANCE_TYPES:
        raise _bad("INVALID_TYPE", 'type must be "voucher" (the only issuance type).', request)
    statuses: set[Effective] = set()
    for raw in request.query.get("status") or []:
        for part in raw.split(","):
            wire = part.strip().upper()
            if not wire:
                continue
            if wire not in STATUS_FILTER:
                raise _bad(
                    "INVALID_STATUS",
                    "status must be one of " + ", ".join(sorted(STATUS_FILTER)) + ".",
                    request,
                )
            statuses |= STATUS_FILTER[wire]
    limits = {
        n
        for name in ("limit", "maxResults")
        if (n := _integer(request, name, 1, 10**9, "INVALID_LIMIT")) is not None
    }
    if len(limits) > 1:
        raise _bad("INVALID_LIMIT", "limit and maxResults disagree; send one of them.", request)
    limit = min(limits.pop(), MAX_LIMIT) if limits else DEFAULT_LIMIT
    start = _integer(request, "from", 0, MAX_EPOCH_MS, "INVALID_FROM")
    end = _integer(request, "to", 0, MAX_EPOCH_MS, "INVALID_TO")
    until = _integer(request, "until", 1, MAX_UNTIL_DAYS, "INVALID_UNTIL")
    issued_from = _instant(start) if start is not None else None
    issued_to = _instant(end) if end is not None else None
    if until is not None:
        if issued_to is not None:
            raise _bad("INVALID_UNTIL", "Send either to or until, not both.", request)
        issued_to = (issued_from or now) + timedelta(days=until)
    if issued_from is not None and issued_to is not None and issued_from > issued_to:
        raise _bad("INVALID_DATE_RANGE", "from is after to.", request)
    units = {
        u.strip() for raw in request.query.get("businessUnit") or [] for u in raw.split(",") if u.strip()
    }
    if any(BUSINESS_UNIT.fullmatch(u) is None for u in units):
        raise _bad("INVALID_BUSINESS_UNIT", "businessUnit must be a business unit name.", request)
    locale = _single(request, "locale", "INVALID_LOCALE")
    if locale is not None and locale.strip('"') not in LOCALES:
        raise _bad("INVALID_LOCALE", "locale must be one of " + ", ".join(sorted(LOCALES)) + ".", request)
    reward_type = _single(request, "rewardType", "INVALID_REWARD_TYPE")
    if reward_type is not None and REWARD_TYPE.fullmatch(reward_type) is None:
        raise _bad("INVALID_REWARD_TYPE", "rewardType must be a reward type such as DISCOUNT.", request)
    flag = _single(request, "activatable", "INVALID_ACTIVATABLE")
    if flag is not None and flag.lower() not in BOOLEAN:
        raise _bad("INVALID_ACTIVATABLE", "activatable must be true or false.", request)
    token = _single(request, "nextToken", "INVALID_NEXT_TOKEN")
    after = Position.from_token(token) if token is not None else None
    if token is not None and after is None:
        raise _bad("INVALID_NEXT_TOKEN", "nextToken is not a token this API returned.", request)
    return IssuanceFilter(
        limit=limit,
        after=after,
        statuses=frozenset(statuses),
        reward_type=reward_type,
        business_units=frozenset(units),
        issued_from=issued_from,
        issued_to=issued_to,
        activatable=BOOLEAN[flag.lower()] if flag is not None else None,
    )


def parse_member_id(request: ApiRequest) -> str:
    value = request.path_params.get("member_id", "")
    if MEMBER_ID.fullmatch(value) is None or not value.isprintable():
        raise _bad("INVALID_MEMBER_ID", "member_id must be 1 to 128 characters without spaces.", request)
    return value


# --------------------------------------------------------------------------- bodies


def _epoch_ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def issuance(listed: Listed, now: datetime, *, show_live_code: bool) -> dict[str, Any]:
    voucher, definition = listed.voucher, listed.definition
    activation = voucher.activation
    shown: dict[str, Any] | None = None
    if activation is not None:
        live = activation.is_live(now) and status_of(voucher, now) == "ACTIVATED"
        shown = {
            "activatedAt": format_instant(activation.activated_at),
            "provider": activation.provider,
            "codeExpiry": format_instant(activation.code_expiry),
            "codeLive": live,
        }
        if live and show_live_code:
            shown["authorizationCode"] = activation.authorization_code
    return {
        "accountID": voucher.owner_member_id,
        "metadataType": "ISSUANCE",
        "issuanceType": "VOUCHER",
        "businessUnit": definition.business_unit,
        "issuanceCode": definition.product_name,
        "issuedDate": _iso(voucher.issued_at),
        "issuedDateEpoch": _epoch_ms(voucher.issued_at),
        "expiryDate": _iso(voucher.expires_at),
        "expiryDateEpoch": _epoch_ms(voucher.expires_at),
        "voucherId": voucher.es_voucher_id,
        "definitionId": definition.definition_id,
        "rewardType": definition.reward_type,
        "productName": definition.product_name,
        "status": status_of(voucher, now),
        "activatable": activatable(voucher, definition, now),
        "activation": shown,
    }


def list_response(result: IssuancePage, *, console: bool) -> dict[str, Any]:
    body = [issuance(i, result.now, show_live_code=not console) for i in result.page.items]
    headers = {"Cache-Control": "no-store"}
    if result.page.after is not None:
        headers[NEXT_TOKEN_HEADER] = result.page.after.token()
    return json_response(200, body, headers)


def _details(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _details(v) for k, v in value.items() if k not in SECRET_DETAILS}
    if isinstance(value, list):
        return [_details(v) for v in value]
    return value


def history_entry(event: AuditEvent) -> dict[str, Any]:
    details = _details(event.details)
    where = f" at touchpoint {details['touchpoint']}" if details.get("touchpoint") else ""
    who = f"{event.actor_kind} {event.actor_id}"
    return {
        "eventType": event.event_type,
        "channel": event.channel,
        "principalKind": event.actor_kind,
        "principalId": event.actor_id,
        "fromStatus": event.from_status,
        "toStatus": event.to_status,
        "at": format_instant(event.at),
        "atEpoch": _epoch_ms(event.at),
        "requestId": event.request_id,
        "correlationId": event.correlation_id,
        "description": f"{event.event_type} by {who}{where} via {event.channel}",
        "details": details,
    }


def detail_response(result: IssuanceDetail) -> dict[str, Any]:
    body = issuance(Listed(result.voucher, result.definition), result.now, show_live_code=False)
    body["history"] = [history_entry(e) for e in result.history]
    return json_response(200, body, {"Cache-Control": "no-store"})


__all__ = [
    "EsError",
    "correlation_of",
    "detail_response",
    "domain_error",
    "internal_error",
    "list_response",
    "parse_filter",
    "parse_member_id",
    "unavailable",
]
