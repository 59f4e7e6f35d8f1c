"""OpenAPI part for unclaim_voucher: Spaaza "unclaim-voucher" (POST and PUT /unclaim-voucher).

Mirrors shared/dialects/spaaza.py exactly: the three authentications (user and admin
session headers, privileged bearer token), X-Spaaza-API-Version, form parameters in an
urlencoded or multipart body or in the query string (the body wins), the
`{result, results}` / `{result, error}` envelopes and every error code with its HTTP status.
"""

from __future__ import annotations

import copy
from typing import Any

PATH = "/unclaim-voucher"

KEY = "a8c34c86c136e5ddf0ad374e140aa1e3504ebbf23d76d84788677268fd99b809"

# name -> (code, HTTP status, when)
ERRORS: dict[str, tuple[int, int, str]] = {
    "no_valid_session": (
        6,
        401,
        "Missing, unknown, expired or revoked session, user-id mismatch, other kind",
    ),
    "permission_denied_or_non_existent": (
        68,
        403,
        "No write access to the chain, app of another chain, unknown end user, or a user naming another user",
    ),
    "voucher_not_found": (183, 404, "No such voucher for this end user in this chain"),
    "no_myprice_app": (269, 400, "App hostname header missing (user/privileged auth) or naming no app"),
    "missing_parameter": (900, 400, "A required parameter is missing"),
    "invalid_parameter": (
        901,
        400,
        "A parameter or the body is malformed, or third_party_id is unused by the chain",
    ),
    "unsupported_media_type": (902, 415, "A body that is neither urlencoded nor multipart/form-data"),
    "invalid_api_version": (903, 400, "X-Spaaza-API-Version is not major.minor.fix"),
    "identifier_mismatch": (
        904,
        400,
        "Several identifiers name different vouchers/users, or chain_id contradicts",
    ),
    "voucher_not_claimed": (905, 400, "The voucher is not claimed"),
    "voucher_already_redeemed": (906, 400, "The voucher is redeemed (final)"),
    "voucher_invalidated": (907, 400, "The voucher is invalidated (final)"),
    "voucher_expired": (908, 400, "The voucher is past its expiry"),
    "voucher_locked": (909, 403, "A locked voucher, with user auth"),
    "end_user_not_allowed": (
        910,
        403,
        "Campaign with allows_end_user_to_claim_voucher=false, with user auth",
    ),
    "voucher_activation_code_live": (911, 400, "A provider activation code is live at a terminal"),
    "concurrent_modification": (912, 409, "The voucher kept changing concurrently; retry (Retry-After: 1)"),
    "service_unavailable": (913, 503, "The data store is unavailable after retries; retry (Retry-After: 1)"),
    "internal_error": (914, 500, "Unexpected failure (no details are disclosed)"),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_example(name: str) -> dict[str, Any]:
    code, _, when = ERRORS[name]
    return {
        "summary": when,
        "value": {
            "result": {"code": 2, "status": "error"},
            "error": {"code": code, "name": name, "description": when},
        },
    }


def _responses() -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for name, (_, status, _) in ERRORS.items():
        by_status.setdefault(status, []).append(name)
    responses: dict[str, Any] = {
        "200": {
            "description": "The voucher is unclaimed: it is `generated` again",
            "content": {
                "application/json": {"schema": _ref("SpaazaUnclaimVoucherResponse"), "example": _SUCCESS}
            },
        }
    }
    for status in sorted(by_status):
        names = by_status[status]
        headers = (
            {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
            if status in (409, 503)
            else None
        )
        response: dict[str, Any] = {
            "description": "; ".join(f"{ERRORS[n][0]} {n}" for n in names),
            "content": {
                "application/json": {
                    "schema": _ref("SpaazaErrorResponse"),
                    "examples": {n: _error_example(n) for n in names},
                }
            },
        }
        if headers:
            response["headers"] = headers
        responses[str(status)] = response
    return responses


_SUCCESS = {
    "result": {"code": 1, "status": "ok"},
    "results": {
        "voucher_key": KEY,
        "voucher_id": 40577,
        "voucher_status": "generated",
        "voucher_locked": False,
        "campaign_id": 3,
        "campaign_type": "cashback",
        "campaign_title": "20 EUR voucher for every 200 EUR spent",
        "voucher_expiry_datetime_utc": "2099-12-31 23:59:59",
        "voucher_expiry_seconds_remaining": 2307070318,
        "voucher_currency_id": 2,
        "voucher_currency_symbol": "\u20ac",
        "voucher_amount_original": 20,
        "voucher_amount_redeemed": 0,
        "voucher_amount": 20,
        "voucher_text": "Your new voucher, enjoy!",
        "voucher_third_party_id": 3914599659,
        "user_id": 1001,
        "user_entity_card": {"type": "regular", "code": "1001"},
        "result_type": "unclaim-voucher",
    },
}


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


_FORM_FIELDS: dict[str, dict[str, Any]] = {
    "chain_id": {
        "type": "integer",
        "minimum": 1,
        "description": (
            "Mandatory with admin auth from API 1.5.3; optional otherwise (must then be the app's chain)"
        ),
    },
    "user_id": {"type": "integer", "minimum": 1, "description": "End user's Spaaza user id"},
    "member_number": {
        "type": "string",
        "maxLength": 255,
        "description": "End user's member number (>= 1.5.3)",
    },
    "username": {
        "type": "string",
        "format": "email",
        "maxLength": 254,
        "description": "End user's email (>= 1.5.3)",
    },
    "authentication_point_identifier": {
        "type": "string",
        "maxLength": 255,
        "description": "End user's identity in a third-party authentication system (>= 1.5.3)",
    },
    "auxiliary_identifier": {
        "type": "string",
        "maxLength": 255,
        "description": "End user's auxiliary identity (>= 1.5.3)",
    },
    "voucher_key": {
        "type": "string",
        "pattern": "^[0-9a-fA-F]{64}$",
        "description": "The voucher key (64 hex characters; upper case is accepted)",
    },
    "voucher_id": {"type": "integer", "minimum": 1, "description": "The voucher id"},
    "third_party_id": {
        "type": "integer",
        "minimum": 1,
        "description": "The voucher's third-party id (chains with uses_third_party_voucher_id only)",
    },
}


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
        ),
        _header(
            "X-Spaaza-Session-Key",
            "Session key (user/admin auth); legacy: session-key",
            "demo-spaaza-user-alice",
        ),
        _header(
            "X-Spaaza-MyPrice-App-Hostname",
            "App hostname: mandatory with user and privileged auth, ignored with admin auth; "
            "legacy: X-MyPrice-App-Hostname",
            "demo.myprice.app",
        ),
        _header(
            "Authorization",
            "`Bearer <token>` of a privileged client: selects privileged auth",
            "Bearer demo-spaaza-privileged-partner",
        ),
        _header(
            "X-Spaaza-API-Version",
            "major.minor.fix, header name in any case; default 1.6.3",
            "1.6.3",
            {"type": "string", "pattern": "^[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}$"},
        ),
        *(_query(name, schema) for name, schema in _FORM_FIELDS.items()),
    ],
    "requestBody": {
        "required": False,
        "description": "Form fields (at most 64 KiB); may be base64-encoded by API Gateway",
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": _ref("SpaazaUnclaimVoucherForm"),
                "example": {"voucher_key": KEY, "user_id": 1001, "chain_id": 1},
            },
            "multipart/form-data": {
                "schema": _ref("SpaazaUnclaimVoucherForm"),
                "example": {"voucher_id": 40577, "member_number": "M-1001", "chain_id": 1},
            },
        },
    },
    "responses": _responses(),
}

_POST = {**copy.deepcopy(_OPERATION), "operationId": "unclaimVoucherPost"}
_PUT = {**copy.deepcopy(_OPERATION), "operationId": "unclaimVoucherPut"}

PATHS: dict[str, Any] = {PATH: {"post": _POST, "put": _PUT}}

SCHEMAS: dict[str, Any] = {
    "SpaazaUnclaimVoucherForm": {
        "type": "object",
        "description": (
            "One of voucher_key, voucher_id, third_party_id names the voucher (several must agree). "
            "Admin and privileged auth also name the end user by one or more of user_id, "
            "member_number, username, authentication_point_identifier, auxiliary_identifier "
            "(API >= 1.5.3; before, only user_id). Unknown fields are ignored; blank fields are absent."
        ),
        "properties": copy.deepcopy(_FORM_FIELDS),
    },
    "SpaazaResult": {
        "type": "object",
        "required": ["code", "status"],
        "properties": {
            "code": {"type": "integer", "enum": [1, 2], "description": "1 ok, 2 error"},
            "status": {"type": "string", "enum": ["ok", "error"]},
        },
    },
    "SpaazaUnclaimedVoucher": {
        "type": "object",
        "required": list(_SUCCESS["results"]),
        "properties": {
            "voucher_key": {"type": "string", "nullable": True},
            "voucher_id": {"type": "integer", "nullable": True},
            "voucher_status": {"type": "string", "enum": ["generated"]},
            "voucher_locked": {"type": "boolean"},
            "campaign_id": {"type": "integer", "nullable": True},
            "campaign_type": {"type": "string", "nullable": True},
            "campaign_title": {"type": "string", "nullable": True},
            "voucher_expiry_datetime_utc": {
                "type": "string",
                "nullable": True,
                "pattern": "^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$",
                "description": "UTC, YYYY-MM-DD HH:MM:SS; null when the voucher never expires",
            },
            "voucher_expiry_seconds_remaining": {"type": "integer", "minimum": 0, "nullable": True},
            "voucher_currency_id": {"type": "integer", "nullable": True},
            "voucher_currency_symbol": {"type": "string", "nullable": True},
            "voucher_amount_original": {"type": "number"},
            "voucher_amount_redeemed": {"type": "number"},
            "voucher_amount": {"type": "number", "description": "original - redeemed"},
            "voucher_text": {"type": "string", "nullable": True},
            "voucher_third_party_id": {"type": "integer", "nullable": True},
            "user_id": {"type": "integer", "nullable": True},
            "user_entity_card": {
                "type": "object",
                "required": ["type", "code"],
                "properties": {
                    "type": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
            },
            "result_type": {"type": "string", "enum": ["unclaim-voucher"]},
        },
    },
    "SpaazaUnclaimVoucherResponse": {
        "type": "object",
        "required": ["result", "results"],
        "properties": {"result": _ref("SpaazaResult"), "results": _ref("SpaazaUnclaimedVoucher")},
    },
    "SpaazaError": {
        "type": "object",
        "required": ["code", "name", "description"],
        "properties": {
            "code": {"type": "integer", "enum": sorted(code for code, _, _ in ERRORS.values())},
            "name": {"type": "string", "enum": list(ERRORS)},
            "description": {"type": "string"},
        },
    },
    "SpaazaErrorResponse": {
        "type": "object",
        "required": ["result", "error"],
        "properties": {"result": _ref("SpaazaResult"), "error": _ref("SpaazaError")},
    },
}
