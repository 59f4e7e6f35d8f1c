"""OpenAPI part for unclaim_voucher: Spaaza "unclaim-voucher" (POST and PUT /unclaim-voucher).

Mirrors shared/dialects/spaaza.py exactly: the three authentications (user and admin
session headers, privileged bearer token), X-Spaaza-API-Version, form parameters in an
urlencoded or multipart body or in the query string (the body wins), the
`{result, results}` / `{result, error}` envelopes and every error code with its HTTP status.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from infra.openapi_models import (
    REPLAYED_HEADER,
    OneOf,
    answered,
    idempotency_key_header,
    omittable,
    pattern,
    ref,
    schemas_of,
)
from shared.dialects import spaaza

PATH = "/unclaim-voucher"

KEY = "a8c34c86c136e5ddf0ad374e140aa1e3504ebbf23d76d84788677268fd99b809"

# name -> when it happens (code and HTTP status: shared.dialects.spaaza.ERRORS)
WHEN: dict[str, str] = {
    "no_valid_session": "Missing, unknown, expired or revoked session, user-id mismatch, other kind",
    "permission_denied_or_non_existent": (
        "No write access to the chain, app of another chain, unknown end user, or a user naming another user"
    ),
    "voucher_not_found": "No such voucher for this end user in this chain",
    "no_myprice_app": "App hostname header missing (user/privileged auth) or naming no app",
    "missing_parameter": "A required parameter is missing",
    "invalid_parameter": "A parameter or the body is malformed, or third_party_id is unused by the chain",
    "unsupported_media_type": "A body that is neither urlencoded nor multipart/form-data",
    "invalid_api_version": "X-Spaaza-API-Version is not major.minor.fix",
    "identifier_mismatch": "Several identifiers name different vouchers/users, or chain_id contradicts",
    "voucher_not_claimed": "The voucher is not claimed",
    "voucher_already_redeemed": "The voucher is redeemed (final)",
    "voucher_invalidated": "The voucher is invalidated (final)",
    "voucher_expired": "The voucher is past its expiry",
    "voucher_locked": "A locked voucher, with user auth",
    "end_user_not_allowed": "Campaign with allows_end_user_to_claim_voucher=false, with user auth",
    "voucher_activation_code_live": "A provider activation code is live at a terminal",
    "concurrent_modification": "The voucher kept changing concurrently; retry (Retry-After: 1)",
    "service_unavailable": (
        "The data store stayed unavailable until the request had to answer: outcome unknown; retry "
        "(Retry-After: 1), with the same Idempotency-Key to get the first answer"
    ),
    "internal_error": "Unexpected failure (no details are disclosed)",
    "voucher_already_claimed": "claim-voucher only: the voucher is already claimed",
    "invalid_idempotency_key": "Idempotency-Key empty, over 255 characters, sent twice, or not visible ASCII",
    "idempotency_key_reused": "The Idempotency-Key was first used by this caller for another request",
}
if set(WHEN) != set(spaaza.ERRORS):
    raise ValueError(f"WHEN must describe exactly spaaza.ERRORS: {sorted(set(WHEN) ^ set(spaaza.ERRORS))}")


def _error_example(name: str) -> dict[str, Any]:
    code, when = spaaza.ERRORS[name][0], WHEN[name]
    return {
        "summary": when,
        "value": {
            "result": {"code": 2, "status": "error"},
            "error": {"code": code, "name": name, "description": when},
        },
    }


def _responses() -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for name, (_, status) in spaaza.ERRORS.items():
        by_status.setdefault(status, []).append(name)
    responses: dict[str, Any] = {
        "200": {
            "description": "The voucher is unclaimed: it is `generated` again",
            "headers": REPLAYED_HEADER,
            "content": {
                "application/json": {
                    "schema": ref(SpaazaUnclaimVoucherResponse),
                    "example": answered("unclaim_voucher", "success_user_post_urlencoded.json"),
                }
            },
        }
    }
    for status in sorted(by_status):
        names = by_status[status]
        headers = (
            {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
            if set(names) & spaaza.RETRYABLE
            else None
        )
        response: dict[str, Any] = {
            "description": "; ".join(f"{spaaza.ERRORS[n][0]} {n}" for n in names),
            "content": {
                "application/json": {
                    "schema": ref(SpaazaErrorResponse),
                    "examples": {n: _error_example(n) for n in names},
                }
            },
        }
        if headers:
            response["headers"] = headers
        responses[str(status)] = response
    return responses


def _header(
    name: str, description: str, example: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
        "example": example,
    }


_SINCE = ".".join(str(n) for n in spaaza.NEW_IDENTIFIERS_SINCE)
_DEFAULT_VERSION = ".".join(str(n) for n in spaaza.DEFAULT_API_VERSION)

# --------------------------------------------------------------------------- bodies (models)

PositiveInt = Annotated[int, Field(ge=1, le=spaaza.MAX_INT)]
Text = Annotated[str, Field(max_length=spaaza.MAX_TEXT)]


class SpaazaUnclaimVoucherForm(BaseModel):
    """One of voucher_key, voucher_id, third_party_id names the voucher (several must agree). Admin and privileged auth also name the end user by one or more of user_id, member_number, username, authentication_point_identifier, auxiliary_identifier (API >= 1.5.3; before, only user_id). Unknown fields are ignored; blank fields are absent."""  # noqa: E501

    chain_id: PositiveInt = omittable(
        description=(
            f"Mandatory with admin auth from API {_SINCE}; optional otherwise (must then be the app's chain)"
        )
    )
    user_id: PositiveInt = omittable(description="End user's Spaaza user id")
    member_number: Text = omittable(description=f"End user's member number (>= {_SINCE})")
    username: str = omittable(
        max_length=spaaza.MAX_USERNAME,
        pattern=pattern(spaaza.EMAIL),
        json_schema_extra={"format": "email"},
        description=f"End user's email (>= {_SINCE})",
    )
    authentication_point_identifier: Text = omittable(
        description=f"End user's identity in a third-party authentication system (>= {_SINCE})"
    )
    auxiliary_identifier: Text = omittable(description=f"End user's auxiliary identity (>= {_SINCE})")
    voucher_key: str = omittable(
        pattern=pattern(spaaza.VOUCHER_KEY),
        description="The voucher key (64 hex characters; upper case is accepted)",
    )
    voucher_id: PositiveInt = omittable(description="The voucher id")
    third_party_id: PositiveInt = omittable(
        description="The voucher's third-party id (chains with uses_third_party_voucher_id only)"
    )


if set(SpaazaUnclaimVoucherForm.model_fields) != spaaza.PARAMETERS:
    raise ValueError("SpaazaUnclaimVoucherForm must have exactly the fields of spaaza.PARAMETERS")


class SpaazaResult(BaseModel):
    code: Literal[1, 2] = Field(description="1 ok, 2 error")
    status: Literal["ok", "error"]


class SpaazaUserEntityCard(BaseModel):
    type: str | None
    code: str | None


class SpaazaUnclaimedVoucher(BaseModel):
    voucher_key: str | None
    voucher_id: int | None
    voucher_status: Literal["generated"]
    voucher_locked: bool
    campaign_id: int | None
    campaign_type: str | None
    campaign_title: str | None
    voucher_expiry_datetime_utc: str | None = Field(
        pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
        description="UTC, YYYY-MM-DD HH:MM:SS; null when the voucher never expires",
    )
    voucher_expiry_seconds_remaining: Annotated[int, Field(ge=0)] | None
    voucher_currency_id: int | None
    voucher_currency_symbol: str | None
    voucher_amount_original: float
    voucher_amount_redeemed: float
    voucher_amount: float = Field(description="original - redeemed")
    voucher_text: str | None
    voucher_third_party_id: int | None
    user_id: int | None
    user_entity_card: SpaazaUserEntityCard
    result_type: Literal["unclaim-voucher"]


class SpaazaUnclaimVoucherResponse(BaseModel):
    result: SpaazaResult
    results: SpaazaUnclaimedVoucher


class SpaazaError(BaseModel):
    code: Annotated[int, OneOf(sorted(code for code, _ in spaaza.ERRORS.values()))]
    name: Annotated[str, OneOf(spaaza.ERRORS)]
    description: str


class SpaazaErrorResponse(BaseModel):
    result: SpaazaResult
    error: SpaazaError


SCHEMAS = [SpaazaUnclaimVoucherForm, SpaazaUnclaimVoucherResponse, SpaazaErrorResponse]

# Form fields are also accepted as query parameters: the same schemas.
_FORM_FIELDS: dict[str, dict[str, Any]] = schemas_of([SpaazaUnclaimVoucherForm])["SpaazaUnclaimVoucherForm"][
    "properties"
]


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    description = schema["description"] + " (also accepted in the query string; the body wins)"
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_OPERATION: dict[str, Any] = {
    "tags": ["spaaza"],
    "summary": "Unclaim a voucher (Spaaza)",
    "description": (
        "Moves a claimed voucher back to `generated`. Authentication: user (session headers of an "
        "end-user session + the app hostname header), admin (session headers of an admin session "
        "with write access to `chain_id`) or privileged (`Authorization: Bearer <token>` + the app "
        "hostname header). Locked vouchers and vouchers of campaigns that do not let end users "
        "claim can only be unclaimed with admin or privileged auth. Parameters are form fields "
        "(urlencoded or multipart) or query parameters; a body parameter wins over the same query "
        "parameter. The state change and its UNCLAIMED audit event are one transaction; of "
        "concurrent unclaims of one voucher exactly one succeeds. See docs/dialects/unclaim_voucher.md."
    ),
    "parameters": [
        _header(
            "X-Spaaza-Session-User-Id",
            "User id of the session (user/admin auth); legacy: session-user-id",
            "1001",
            {"type": "string", "pattern": pattern(spaaza.INTEGER)},
        ),
        _header(
            "X-Spaaza-Session-Key",
            "Session key (user/admin auth); legacy: session-key",
            "demo-spaaza-user-alice",
            {"type": "string", "minLength": 1, "maxLength": spaaza.MAX_TOKEN},
        ),
        _header(
            "X-Spaaza-MyPrice-App-Hostname",
            "App hostname: mandatory with user and privileged auth, ignored with admin auth; "
            "legacy: X-MyPrice-App-Hostname",
            "demo.myprice.app",
            {"type": "string", "pattern": pattern(spaaza.HOSTNAME)},
        ),
        _header(
            "Authorization",
            "`Bearer <token>` of a privileged client: selects privileged auth",
            "Bearer demo-spaaza-privileged-partner",
        ),
        _header(
            "X-Spaaza-API-Version",
            f"major.minor.fix, header name in any case; default {_DEFAULT_VERSION}",
            _DEFAULT_VERSION,
            {"type": "string", "pattern": pattern(spaaza.API_VERSION)},
        ),
        idempotency_key_header(),
        *(_query(name, schema) for name, schema in _FORM_FIELDS.items()),
    ],
    "responses": _responses(),
}


def form_body(example: dict[str, Any]) -> dict[str, Any]:
    """One operation's request body: the form model, each field's example set from `example`.

    Swagger UI fills a form from its fields' own examples (not from the media type's example)
    and otherwise invents values from the schema (`user_id=9223372036854776000`); a field left
    blank is sent blank, which the dialect reads as absent. So every field gets an example,
    blank where the call does not use it, through allOf: the component stays the model's."""
    fields = {name: {"example": example.get(name, "")} for name in _FORM_FIELDS}
    return {
        "required": False,
        "description": (
            f"Form fields (at most {spaaza.MAX_BODY_BYTES // 1024} KiB); may be base64-encoded by "
            "API Gateway. Blank fields are absent."
        ),
        "content": {
            media: {
                "schema": {"allOf": [ref(SpaazaUnclaimVoucherForm)], "properties": copy.deepcopy(fields)},
                "example": dict(example),
            }
            for media in spaaza.FORM_MEDIA_TYPES
        },
    }


# Demo vouchers of end user alice (user 1001, chain 1), one per operation, so that each can be
# executed once from /docs in any order: 011 and 023 are claimed, 013 and 025 are not.
UNCLAIM_POST_EXAMPLE = {"chain_id": 1, "user_id": 1001, "voucher_key": KEY}
UNCLAIM_PUT_EXAMPLE = {"chain_id": 1, "user_id": 1001, "voucher_id": 40023}
_POST = {
    **copy.deepcopy(_OPERATION),
    "operationId": "unclaimVoucherPost",
    "requestBody": form_body(UNCLAIM_POST_EXAMPLE),
}
_PUT = {
    **copy.deepcopy(_OPERATION),
    "operationId": "unclaimVoucherPut",
    "requestBody": form_body(UNCLAIM_PUT_EXAMPLE),
}

PATHS: dict[str, Any] = {PATH: {"post": _POST, "put": _PUT}}
