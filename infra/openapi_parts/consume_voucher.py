"""OpenAPI part for consume_voucher: Thalamus v4 "set voucher as consumed" (operator).

Mirrors shared/dialects/thalamus.py exactly: the credentials (header wins over the query
parameter), the optional JSON body of parameter1..3, the `{links, data, errors}` envelope
and every error code with the HTTP status the dialect gives it.
"""

from __future__ import annotations

from typing import Any

PATH = "/api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}"

_SERIAL = "00000000-0000-4000-8000-000000000001"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _code(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        "example": example,
    }


def _error(errors: dict[str, str]) -> dict[str, Any]:
    return {"value": {"links": [], "data": None, "errors": errors}}


def _error_response(description: str, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("ThalamusErrorResponse"), "examples": examples}},
    }


_CONSUMED_EXAMPLE = {
    "links": [],
    "data": {
        "activityCode": "MILES",
        "voucherItemCode": "CARWASH",
        "voucherCode": _SERIAL,
        "status": "CONSUMED",
        "productName": "Car Wash",
        "itemType": "VIRTUAL_VOUCHER_ITEM",
        "expirationDate": "2099-12-31T23:59:59.000Z",
        "consumedAt": "2025-01-15T10:30:00.000Z",
        "consumedBy": {"operator": "op-anna", "touchpoint": "BACKOFFICE"},
        "parameters": {"parameter1": "lane 3", "parameter2": None, "parameter3": None},
    },
    "errors": {},
}

PATHS: dict[str, Any] = {
    PATH: {
        "put": {
            "operationId": "consumeVoucher",
            "tags": ["thalamus"],
            "summary": "Set a voucher as consumed (Thalamus v4, operator)",
            "description": (
                "An operator, identified by an operator-session token issued for a touchpoint, "
                "marks one voucher of a catalog item as consumed. Credentials go either in the "
                "`Thalamus-Token`/`Thalamus-Touchpoint` headers or in the `token`/`touchpoint` "
                "query parameters; when both are sent the header wins. The voucher state change "
                "and its audit event are written in one transaction; of concurrent consumptions "
                "of one voucher exactly one succeeds, the others get `InvalidState` (or "
                "`ConcurrentModification` after bounded retries)."
            ),
            "parameters": [
                _code("activity_code", "Activity (loyalty programme) code", "MILES"),
                _code("voucher_item_code", "Catalog item code of the voucher", "CARWASH"),
                _code("voucher_code", "The voucher's code (serial)", _SERIAL),
                {
                    "name": "Thalamus-Token",
                    "in": "header",
                    "required": False,
                    "description": "Operator-session token (required here or as the `token` query parameter)",
                    "schema": {"type": "string", "maxLength": 512},
                    "example": "demo-thalamus-operator-anna",
                },
                {
                    "name": "Thalamus-Touchpoint",
                    "in": "header",
                    "required": False,
                    "description": "Touchpoint code (required here or as the `touchpoint` query parameter)",
                    "schema": {"type": "string", "maxLength": 128},
                    "example": "BACKOFFICE",
                },
                {
                    "name": "token",
                    "in": "query",
                    "required": False,
                    "description": "Operator-session token, when the header is not sent",
                    "schema": {"type": "string", "maxLength": 512},
                },
                {
                    "name": "touchpoint",
                    "in": "query",
                    "required": False,
                    "description": "Touchpoint code, when the header is not sent",
                    "schema": {"type": "string", "maxLength": 128},
                },
                {
                    "name": "Content-Type",
                    "in": "header",
                    "required": False,
                    "description": (
                        "`application/json` when a body is sent (anything else: UnsupportedMediaType)"
                    ),
                    "schema": {"type": "string", "enum": ["application/json"]},
                },
            ],
            "requestBody": {
                "required": False,
                "description": "Optional consumption parameters (at most 16 KiB)",
                "content": {
                    "application/json": {
                        "schema": _ref("ThalamusConsumeParameters"),
                        "example": {"parameter1": "lane 3"},
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The voucher is now consumed",
                    "content": {
                        "application/json": {
                            "schema": _ref("ThalamusConsumeResponse"),
                            "example": _CONSUMED_EXAMPLE,
                        }
                    },
                },
                "400": _error_response(
                    "Invalid request, or the voucher cannot be consumed in its state",
                    {
                        "alreadyConsumed": _error({"voucherCode": "InvalidState"}),
                        "voidedOrExpired": _error({"voucherCode": "InvalidStatus"}),
                        "notAnOperator": _error({"error.message": "NotAnOperator"}),
                        "touchpointMissing": _error({"touchpoint": "Required"}),
                        "badPathValue": _error({"voucherCode": "InvalidFormat"}),
                        "notJson": _error({"Content-Type": "UnsupportedMediaType"}),
                        "malformedJson": _error({"body": "InvalidJson"}),
                        "unknownField": _error({"parameter4": "UnknownField"}),
                        "badParameter": _error({"parameter1": "InvalidFormat"}),
                    },
                ),
                "401": _error_response(
                    "Missing, unknown, expired or revoked token, or an unknown touchpoint",
                    {
                        "badToken": _error({"token": "InvalidToken"}),
                        "badTouchpoint": _error({"touchpoint": "InvalidCode"}),
                    },
                ),
                "404": _error_response(
                    "Unknown activity, catalog item or voucher (or not visible to this operator)",
                    {
                        "voucher": _error({"voucherCode": "NotFound"}),
                        "item": _error({"voucherItemCode": "NotFound"}),
                        "activity": _error({"activityCode": "NotFound"}),
                    },
                ),
                "409": _error_response(
                    "The voucher kept changing concurrently; retry",
                    {"contention": _error({"voucherCode": "ConcurrentModification"})},
                ),
                "500": _error_response(
                    "Unexpected failure (no details are disclosed)",
                    {"internal": _error({"error.message": "InternalError"})},
                ),
                "503": _error_response(
                    "The data store is unavailable after retries; retry later",
                    {"unavailable": _error({"error.message": "ServiceUnavailable"})},
                ),
            },
        }
    }
}

_PARAMETER = {"type": "string", "maxLength": 255, "nullable": True}

SCHEMAS: dict[str, Any] = {
    "ThalamusConsumeParameters": {
        "type": "object",
        "description": "Free-form consumption parameters stored with the consumption",
        "additionalProperties": False,
        "properties": {
            "parameter1": {"type": "string", "maxLength": 255},
            "parameter2": {"type": "string", "maxLength": 255},
            "parameter3": {"type": "string", "maxLength": 255},
        },
    },
    "ThalamusLink": {
        "type": "object",
        "description": "Hypermedia link (the service currently returns none)",
        "additionalProperties": True,
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
    },
    "ThalamusConsumedVoucher": {
        "type": "object",
        "required": [
            "activityCode",
            "voucherItemCode",
            "voucherCode",
            "status",
            "productName",
            "itemType",
            "expirationDate",
        ],
        "properties": {
            "activityCode": {"type": "string"},
            "voucherItemCode": {"type": "string"},
            "voucherCode": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["NOT_ISSUED", "ACTIVE", "CONSUMED", "VOIDED", "EXPIRED"],
                "description": "Thalamus view of the voucher's lifecycle status (CONSUMED after success)",
            },
            "productName": {"type": "string", "nullable": True},
            "itemType": {
                "type": "string",
                "nullable": True,
                "description": "PHYSICAL_ITEM, VIRTUAL_ITEM or VIRTUAL_VOUCHER_ITEM",
            },
            "expirationDate": {"type": "string", "format": "date-time", "nullable": True},
            "consumedAt": {"type": "string", "format": "date-time"},
            "consumedBy": {
                "type": "object",
                "required": ["operator", "touchpoint"],
                "properties": {"operator": {"type": "string"}, "touchpoint": {"type": "string"}},
            },
            "parameters": {
                "type": "object",
                "required": ["parameter1", "parameter2", "parameter3"],
                "properties": {"parameter1": _PARAMETER, "parameter2": _PARAMETER, "parameter3": _PARAMETER},
            },
        },
    },
    "ThalamusConsumeResponse": {
        "type": "object",
        "required": ["links", "data", "errors"],
        "properties": {
            "links": {"type": "array", "items": _ref("ThalamusLink")},
            "data": _ref("ThalamusConsumedVoucher"),
            "errors": {"type": "object", "maxProperties": 0, "description": "Always empty on success"},
        },
    },
    "ThalamusErrorResponse": {
        "type": "object",
        "required": ["links", "data", "errors"],
        "properties": {
            "links": {"type": "array", "items": _ref("ThalamusLink")},
            "data": {"type": "object", "nullable": True, "description": "Always null on errors"},
            "errors": {
                "type": "object",
                "description": (
                    "Flat object: the part of the request at fault (a field name or a dotted key "
                    "such as `error.message`) -> a Thalamus error code"
                ),
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
            },
        },
    },
}
