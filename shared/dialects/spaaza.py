"""Spaaza API wire format ("unclaim-voucher", "claim-voucher", "get-user-vouchers").

Envelope: success is HTTP 200 `{"result": {"code": 1, "status": "ok"}, "results": {...}}`;
an error is an HTTP error status with `{"result": {"code": 2, "status": "error"},
"error": {"code": <int>, "name": "<snake_case>", "description": "..."}}`.

Spaaza's public codes are used where they fit (6, 68, 183, 269); the 900-914 range is this
implementation's own (docs/dialects/unclaim_voucher.md lists every code and when it happens; claim-voucher and
get-user-vouchers answer the same codes, plus 915 for a voucher that is already claimed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from shared.dialects import answer
from shared.domain import (
    Contention,
    DomainError,
    EndUserNotAllowed,
    Forbidden,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdentifierMismatch,
    NoApp,
    NotFound,
    ParameterNotUsable,
    ParameterRequired,
    Status,
    Unauthenticated,
    Voucher,
    VoucherAlreadyClaimed,
    VoucherCodeLive,
    VoucherExpired,
    VoucherInvalidated,
    VoucherLocked,
    VoucherNotClaimed,
    VoucherNotIssued,
    VoucherRedeemed,
    pre_activation_status,
)
from shared.endpoint import WireError
from shared.runtime import ApiRequest, hash_token, json_response
from shared.usecases.listing import Listed, Position
from shared.usecases.spaaza_move import Moved
from shared.usecases.spaaza_rules import Caller, VoucherRequest
from shared.usecases.spaaza_vouchers import UserVouchers, UserVouchersRequest

DEFAULT_API_VERSION = (1, 6, 3)  # what Spaaza's own Postman collection sends
# the headers that change what an unclaim or claim asks (an Idempotency-Key's fingerprint)
FINGERPRINT_HEADERS = ("x-spaaza-api-version", "x-spaaza-myprice-app-hostname")
NEW_IDENTIFIERS_SINCE = (1, 5, 3)  # chain_id mandatory for admins; four more end-user ids
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 200
MAX_TEXT = 255
MAX_USERNAME = 254  # an email address's limit (RFC 5321)
MAX_TOKEN = 512
MAX_INT = 2**63 - 1

END_USER_PARAMETERS = (
    "user_id",
    "member_number",
    "username",
    "authentication_point_identifier",
    "auxiliary_identifier",
)
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PARAMETERS = frozenset({"chain_id", *END_USER_PARAMETERS, "voucher_key", "voucher_id", "third_party_id"})
LIST_PARAMETERS = frozenset({"chain_id", *END_USER_PARAMETERS, "voucher_status", "limit", "page_token"})
VOUCHER_STATUSES = ("generated", "claimed", "redeemed", "invalidated")
VOUCHER_GROUPS = ("basket", "honour", "var_price")
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 100

API_VERSION = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})\.([0-9]{1,4})")
INTEGER = re.compile(r"[0-9]{1,19}")
VOUCHER_KEY = re.compile(r"[0-9a-fA-F]{64}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
HOSTNAME = re.compile(r"[A-Za-z0-9._:-]{1,253}")


# --------------------------------------------------------------------------- errors

# name -> (code, HTTP status)
ERRORS: dict[str, tuple[int, int]] = {
    "no_valid_session": (6, 401),
    "permission_denied_or_non_existent": (68, 403),
    "voucher_not_found": (183, 404),
    "no_myprice_app": (269, 400),
    "missing_parameter": (900, 400),
    "invalid_parameter": (901, 400),
    "unsupported_media_type": (902, 415),
    "invalid_api_version": (903, 400),
    "identifier_mismatch": (904, 400),
    "voucher_not_claimed": (905, 400),
    "voucher_already_redeemed": (906, 400),
    "voucher_invalidated": (907, 400),
    "voucher_expired": (908, 400),
    "voucher_locked": (909, 403),
    "end_user_not_allowed": (910, 403),
    "voucher_activation_code_live": (911, 400),
    "concurrent_modification": (912, 409),
    "service_unavailable": (913, 503),
    "internal_error": (914, 500),
    "voucher_already_claimed": (915, 400),
    "invalid_idempotency_key": (916, 400),
    "idempotency_key_reused": (917, 422),
}

RETRYABLE = frozenset({"concurrent_modification", "service_unavailable"})


class SpaazaError(WireError):
    """A response in Spaaza's error envelope."""

    def __init__(self, name: str, description: str) -> None:
        super().__init__(name)
        self.name = name
        self.code, self.status = ERRORS[name]
        self.description = description

    def to_response(self) -> dict[str, Any]:
        headers = {"Retry-After": "1"} if self.name in RETRYABLE else None
        body = {
            "result": {"code": 2, "status": "error"},
            "error": {"code": self.code, "name": self.name, "description": self.description},
        }
        return json_response(self.status, body, headers)

    def outcome(self) -> str:
        return self.name


def status_of(voucher: Voucher) -> str:
    """Spaaza has no expiry status (expiry is a date) and no 'activated' one (still claimed)."""
    status = voucher.status
    if status is Status.ACTIVATED:
        status = pre_activation_status(voucher)
    return {
        Status.UNASSIGNED: "generated",
        Status.AVAILABLE: "generated",
        Status.CLAIMED: "claimed",
        Status.REDEEMED: "redeemed",
        Status.INVALIDATED: "invalidated",
    }.get(status, "claimed")


def _verb(request: ApiRequest | None) -> str:
    return (
        "claim" if request is not None and request.path.rstrip("/").endswith("/claim-voucher") else "unclaim"
    )


def _required(error: DomainError, _request: ApiRequest | None) -> str:
    parameter = error.details.get("parameter")
    if parameter == "voucher_key":
        return "voucher_key, voucher_id or third_party_id is required"
    if parameter == "user_id":
        return "an end-user identifier is required (" + ", ".join(END_USER_PARAMETERS) + ")"
    return error.message


def _as_raised(error: DomainError, _request: ApiRequest | None) -> str:
    return error.message


# A description is the text, or a function of the error and the request it answers.
Describe = str | Callable[[DomainError, ApiRequest | None], str]
_DENIED = ("permission_denied_or_non_existent", "Permission denied or user does not exist")
INTERNAL = ("internal_error", "Internal error")
# The answer to each refusal, by the error's nearest class (shared.dialects.answer); a
# NotFound of a voucher and a NoApp for a missing header are answered in domain_error.
ANSWERS: dict[type[DomainError], tuple[str, Describe]] = {
    Unauthenticated: ("no_valid_session", "No valid session"),
    NotFound: _DENIED,
    Forbidden: _DENIED,
    NoApp: ("no_myprice_app", "no app for this hostname"),
    ParameterRequired: ("missing_parameter", _required),
    ParameterNotUsable: ("invalid_parameter", _as_raised),
    IdentifierMismatch: ("identifier_mismatch", _as_raised),
    VoucherRedeemed: ("voucher_already_redeemed", "The voucher has already been redeemed"),
    VoucherInvalidated: ("voucher_invalidated", "The voucher has been invalidated"),
    VoucherExpired: (
        "voucher_expired",
        lambda _e, request: f"The voucher has expired and cannot be {_verb(request)}ed",
    ),
    VoucherAlreadyClaimed: ("voucher_already_claimed", "The voucher is already claimed"),
    VoucherCodeLive: ("voucher_activation_code_live", "The voucher has a live activation code"),
    VoucherNotClaimed: ("voucher_not_claimed", "The voucher is not claimed"),
    VoucherNotIssued: ("voucher_not_claimed", "The voucher is not claimed"),
    VoucherLocked: (
        "voucher_locked",
        lambda _e, request: (
            f"The voucher is locked: only an admin or privileged client can {_verb(request)} it"
        ),
    ),
    EndUserNotAllowed: (
        "end_user_not_allowed",
        "The campaign does not allow end users to claim or unclaim its vouchers",
    ),
    Contention: ("concurrent_modification", "The voucher was being changed concurrently: retry"),
    IdempotencyKeyInvalid: (
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters, sent once",
    ),
    IdempotencyKeyReused: ("idempotency_key_reused", "This Idempotency-Key was used for another request"),
    DomainError: INTERNAL,
}


def domain_error(error: DomainError, request: ApiRequest | None = None) -> SpaazaError:
    """The one mapping from domain outcomes to Spaaza codes."""
    if isinstance(error, NotFound) and error.details.get("what") == "voucher":
        return SpaazaError("voucher_not_found", "Voucher not found")
    if isinstance(error, NoApp) and error.details.get("reason") == "missing":
        return SpaazaError("no_myprice_app", "the X-Spaaza-MyPrice-App-Hostname header is required")
    name, describe = answer(ANSWERS, error)
    return SpaazaError(name, describe if isinstance(describe, str) else describe(error, request))


def unavailable(request: ApiRequest | None = None) -> SpaazaError:
    return SpaazaError("service_unavailable", "Service temporarily unavailable: retry")


def internal_error(request: ApiRequest | None = None) -> SpaazaError:
    return SpaazaError(*INTERNAL)


# --------------------------------------------------------------------------- request parsing


def parse_api_version(request: ApiRequest) -> tuple[int, int, int]:
    """X-Spaaza-API-Version (any case). Absent or blank: DEFAULT_API_VERSION."""
    raw = request.headers.get("X-Spaaza-API-Version")
    if raw is None or not raw.strip():
        return DEFAULT_API_VERSION
    match = API_VERSION.fullmatch(raw.strip())
    if match is None:
        raise SpaazaError("invalid_api_version", "X-Spaaza-API-Version must be major.minor.fix, e.g. 1.6.3")
    major, minor, fix = (int(g) for g in match.groups())
    return major, minor, fix


def _header(request: ApiRequest, *names: str) -> str | None:
    for name in names:
        value = request.headers.get(name)
        if value is not None and value.strip():
            return str(value).strip()
    return None


def _token_ok(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN and token.isprintable()


def parse_credentials(request: ApiRequest) -> Caller:
    """A bearer Authorization header selects privileged auth; else the
    session headers (current or legacy spelling). Anything unusable: 401 no_valid_session."""
    no_session = SpaazaError("no_valid_session", "No valid session")
    hostname = _header(request, "X-Spaaza-MyPrice-App-Hostname", "X-MyPrice-App-Hostname")
    malformed_host = hostname is not None and HOSTNAME.fullmatch(hostname) is None
    app_hostname = None if malformed_host or hostname is None else hostname.lower()
    authorization = _header(request, "Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = token.strip()
            if not _token_ok(token):
                raise no_session
            return Caller(
                token_hash=hash_token(token),
                privileged=True,
                app_hostname=app_hostname,
                app_unreadable=malformed_host,
            )
    user_id = _header(request, "X-Spaaza-Session-User-Id", "session-user-id")
    key = _header(request, "X-Spaaza-Session-Key", "session-key")
    if user_id is None or key is None or INTEGER.fullmatch(user_id) is None or not _token_ok(key):
        raise no_session
    return Caller(
        token_hash=hash_token(key),
        privileged=False,
        user_id=int(user_id),
        app_hostname=app_hostname,
        app_unreadable=malformed_host,
    )


def _parse_urlencoded(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise SpaazaError(
            "invalid_parameter", "The form body is not valid UTF-8 form-urlencoded data"
        ) from None


def _parse_multipart(body: bytes, boundary: str | None) -> list[tuple[str, str]]:
    malformed = SpaazaError("invalid_parameter", "The multipart/form-data body is malformed")
    if boundary is None or _BOUNDARY.fullmatch(boundary) is None:
        raise SpaazaError("invalid_parameter", "multipart/form-data needs a valid boundary parameter")
    import email.parser
    import email.policy
    import email.utils

    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n\r\n'
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head.encode("ascii") + body)
        if message.defects or not message.is_multipart():
            raise malformed
        fields: list[tuple[str, str]] = []
        for part in message.iter_parts():
            if part.defects or part.is_multipart():
                raise malformed
            raw_name = part.get_param("name", header="content-disposition")
            name = email.utils.collapse_rfc2231_value(raw_name) if raw_name else None
            if name not in PARAMETERS:
                continue  # unknown fields (files included) are ignored, as in urlencoded bodies
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                raise malformed
            charset = part.get_content_charset() or "utf-8"
            fields.append((name, payload.decode(charset)))
            if len(fields) > MAX_FIELDS:
                raise malformed
        return fields
    except SpaazaError:
        raise
    except Exception:  # any parser/decoder failure is the client's malformed body
        raise malformed from None


def _leading_boundary(request: ApiRequest, body: bytes) -> str | None:
    """Spaaza's official PHP client sets `Content-Type: multipart/form-data` itself, without a
    boundary parameter, over a correct multipart body. Only in exactly that case (no boundary
    parameter at all, and the body opening with an RFC 2046 delimiter line `--<boundary>` CRLF)
    is the boundary taken from the body; anything looser stays a 901."""
    if request.content_type_param("boundary") is not None or not body.startswith(b"--"):
        return None
    line, crlf, _rest = body[2:].partition(b"\r\n")
    if not crlf:
        return None
    try:
        boundary = line.decode("ascii")
    except UnicodeDecodeError:
        return None
    return boundary if _BOUNDARY.fullmatch(boundary) else None


def body_fields(request: ApiRequest) -> list[tuple[str, str]]:
    """Form fields of the body: urlencoded or multipart; no body -> none; else 415."""
    body = request.body
    if body is None or not body.strip():
        return []
    media = request.media_type()
    if media not in FORM_MEDIA_TYPES:
        raise SpaazaError(
            "unsupported_media_type",
            "The body must be application/x-www-form-urlencoded or multipart/form-data",
        )
    if len(body) > MAX_BODY_BYTES:
        raise SpaazaError("invalid_parameter", f"The body exceeds {MAX_BODY_BYTES} bytes")
    if media == "multipart/form-data":
        return _parse_multipart(
            body, request.content_type_param("boundary") or _leading_boundary(request, body)
        )
    return _parse_urlencoded(body)


def _collapse(pairs: Iterable[tuple[str, str]], known: frozenset[str] = PARAMETERS) -> dict[str, str]:
    """Known parameters only; blank values are absent; a repeat must repeat the same value."""
    values: dict[str, str] = {}
    for name, raw in pairs:
        if name not in known:
            continue
        value = raw.strip()
        if not value:
            continue
        if name in values and values[name] != value:
            raise SpaazaError("invalid_parameter", f"{name} is given more than once with different values")
        values[name] = value
    return values


def collect_parameters(request: ApiRequest) -> dict[str, str]:
    """Query string and body parameters; a parameter in the body wins over the query string."""
    query = _collapse((name, value) for name, values in request.query.items() for value in values)
    body = _collapse(body_fields(request))
    return {**query, **body}


def _integer(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if INTEGER.fullmatch(value) is None or not 0 < int(value) <= MAX_INT:
        raise SpaazaError("invalid_parameter", f"{name} must be a positive integer")
    return int(value)


def _text(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if len(value) > MAX_TEXT or not value.isprintable():
        raise SpaazaError(
            "invalid_parameter", f"{name} must be printable text of at most {MAX_TEXT} characters"
        )
    return value


def parse_command(request: ApiRequest) -> VoucherRequest:
    """Everything the use case needs, validated. Order: API version, credentials, body/media
    type, parameter formats (the use case then checks what depends on the session)."""
    version = parse_api_version(request)
    credentials = parse_credentials(request)
    params = collect_parameters(request)
    new_identifiers = version >= NEW_IDENTIFIERS_SINCE
    end_user = _end_user(params, new_identifiers)
    voucher_key = params.get("voucher_key")
    if voucher_key is not None:
        if VOUCHER_KEY.fullmatch(voucher_key) is None:
            raise SpaazaError("invalid_parameter", "voucher_key must be 64 hexadecimal characters")
        voucher_key = voucher_key.lower()
    chain_id = _integer(params, "chain_id")
    voucher: dict[str, int | str] = {}
    if voucher_key is not None:
        voucher["voucher_key"] = voucher_key
    for name in ("voucher_id", "third_party_id"):
        number = _integer(params, name)
        if number is not None:
            voucher[name] = number
    return VoucherRequest(
        caller=credentials,
        request_id=request.request_id,
        chain_id=chain_id,
        end_user=end_user,
        voucher=voucher,
        admin_must_name_chain=new_identifiers,
        audit={"api_version": ".".join(str(n) for n in version)},
    )


def parse_list_command(request: ApiRequest) -> UserVouchersRequest:
    """get-user-vouchers: the query string only (a GET has no body); the same version,
    credential and identifier rules as unclaim, plus the list's own parameters."""
    version = parse_api_version(request)
    credentials = parse_credentials(request)
    if request.body is not None and request.body.strip():
        raise SpaazaError("invalid_parameter", "get-user-vouchers takes its parameters in the query string")
    params = _collapse(
        ((name, value) for name, values in request.query.items() for value in values), LIST_PARAMETERS
    )
    new_identifiers = version >= NEW_IDENTIFIERS_SINCE
    statuses: set[str] = set()
    for part in (params.get("voucher_status") or "").split(","):
        status = part.strip().lower()
        if not status:
            continue
        if status not in VOUCHER_STATUSES:
            raise SpaazaError("invalid_parameter", "voucher_status must be " + ", ".join(VOUCHER_STATUSES))
        statuses.add(status)
    limit = _integer(params, "limit")
    token = params.get("page_token")
    after = Position.from_token(token) if token is not None else None
    if token is not None and after is None:
        raise SpaazaError("invalid_parameter", "page_token is not a token this API returned")
    wanted = frozenset(statuses)
    return UserVouchersRequest(
        request=VoucherRequest(
            caller=credentials,
            request_id=request.request_id,
            chain_id=_integer(params, "chain_id"),
            end_user=_end_user(params, new_identifiers),
            admin_must_name_chain=new_identifiers,
        ),
        limit=min(limit, MAX_LIST_LIMIT) if limit is not None else DEFAULT_LIST_LIMIT,
        after=after,
        keep=(lambda v, _d: status_of(v) in wanted) if wanted else (lambda _v, _d: True),
        selective=bool(wanted),
    )


def _end_user(params: dict[str, str], new_identifiers: bool) -> dict[str, int | str]:
    end_user: dict[str, int | str] = {}
    user_id = _integer(params, "user_id")
    if user_id is not None:
        end_user["user_id"] = user_id
    if new_identifiers:  # before 1.5.3 these are unknown parameters
        for name in ("member_number", "authentication_point_identifier", "auxiliary_identifier"):
            text = _text(params, name)
            if text is not None:
                end_user[name] = text
        username = _text(params, "username")
        if username is not None:
            if len(username) > MAX_USERNAME or EMAIL.fullmatch(username) is None:
                raise SpaazaError("invalid_parameter", "username must be an email address")
            end_user["username"] = username.lower()
    return end_user


# --------------------------------------------------------------------------- responses


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def success_response(result: Moved, now: datetime, result_type: str = "unclaim-voucher") -> dict[str, Any]:
    results = {
        **voucher_fields(Listed(result.voucher, result.definition), now),
        "user_id": result.member.user_id,
        "user_entity_card": {"type": result.member.card_type, "code": result.member.card_code},
        "result_type": result_type,
    }
    return json_response(200, {"result": {"code": 1, "status": "ok"}, "results": results})


def list_response(result: UserVouchers) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {f"{g}_vouchers": [] for g in VOUCHER_GROUPS}
    for listed in result.page.items:
        group = (
            listed.definition.voucher_group if listed.definition.voucher_group in VOUCHER_GROUPS else "basket"
        )
        groups[f"{group}_vouchers"].append(voucher_fields(listed, result.now))
    member = result.member
    results = {
        "user_id": member.user_id,
        "chain_id": result.chain_id,
        "user_entity_card": {"type": member.card_type, "code": member.card_code},
        **groups,
        "next_page_token": result.page.after.token() if result.page.after is not None else None,
        "result_type": "get-user-vouchers",
    }
    return json_response(200, {"result": {"code": 1, "status": "ok"}, "results": results})


def voucher_fields(listed: Listed, now: datetime) -> dict[str, Any]:
    """The voucher's own fields, as unclaim, claim and get-user-vouchers all answer them."""
    voucher, definition = listed.voucher, listed.definition
    expires = voucher.expires_at
    original = _number(voucher.amount_original or 0)
    redeemed = _number(voucher.amount_redeemed or 0)
    expiry = expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if expires else None
    return {
        "voucher_key": voucher.voucher_key,
        "voucher_id": voucher.voucher_id,
        "voucher_status": status_of(voucher),
        "voucher_locked": bool(voucher.locked),
        "campaign_id": definition.campaign_id,
        "campaign_type": definition.campaign_type,
        "campaign_title": definition.campaign_title,
        "voucher_expiry_datetime_utc": expiry,
        "voucher_expiry_seconds_remaining": max(0, int((expires - now).total_seconds())) if expires else None,
        "voucher_currency_id": voucher.currency_id,
        "voucher_currency_symbol": voucher.currency_symbol,
        "voucher_amount_original": original,
        "voucher_amount_redeemed": redeemed,
        "voucher_amount": _number(round(original - redeemed, 6)),
        "voucher_text": voucher.text,
        "voucher_third_party_id": voucher.third_party_id,
    }
