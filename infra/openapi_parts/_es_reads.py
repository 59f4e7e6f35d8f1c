"""Shared pieces of the ES read parts (list_issuances, console_issuances, console_issuance):
the issuance object, the history entry, the list's query parameters and the error body, all
built from shared/dialects/es_issuances.py's own constants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from infra.openapi_models import OneOf, omittable
from shared.dialects import es_issuances as es

VOUCHER_ID = "carwash::00000000-0000-4000-8000-000000000001"
BEARER = {
    "name": "Authorization",
    "in": "header",
    "required": True,
    "description": "`Bearer <access token>`",
    "schema": {"type": "string"},
}
NEXT_TOKEN = {
    es.NEXT_TOKEN_HEADER: {
        "description": "Present when more issuances follow: send it back as `nextToken`",
        "schema": {"type": "string"},
    }
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


QUERY = [
    _q("type", 'Issuance type: "voucher" (the only one; any case)', {"type": "string"}),
    _q(
        "status",
        "Only issuances in these statuses (comma-separated or repeated; any case)",
        {"type": "string", "example": "AVAILABLE"},
    ),
    _q(
        "from", "Issued at or after (epoch ms)", {"type": "integer", "minimum": 0, "maximum": es.MAX_EPOCH_MS}
    ),
    _q("to", "Issued at or before (epoch ms)", {"type": "integer", "minimum": 0, "maximum": es.MAX_EPOCH_MS}),
    _q(
        "until",
        "Days after `from` (or now): sets `to`; not with `to`",
        {"type": "integer", "minimum": 1, "maximum": es.MAX_UNTIL_DAYS},
    ),
    _q(
        "limit",
        f"Page size (default {es.DEFAULT_LIMIT}; above {es.MAX_LIMIT} the first {es.MAX_LIMIT})",
        {"type": "integer", "minimum": 1},
    ),
    _q("maxResults", "Same as limit (send one, or both equal)", {"type": "integer", "minimum": 1}),
    _q(
        "businessUnit",
        "Only these business units (comma-separated or repeated)",
        {"type": "string", "pattern": f"^{es.BUSINESS_UNIT.pattern}(,{es.BUSINESS_UNIT.pattern})*$"},
    ),
    _q("locale", "Accepted for compatibility", {"type": "string", "enum": sorted(es.LOCALES)}),
    _q(
        "rewardType",
        "Only this reward type, e.g. PRODUCT_AUTHORIZATION_CODE",
        {"type": "string", "pattern": f"^{es.REWARD_TYPE.pattern}$"},
    ),
    _q("activatable", "Only those that can (true) or cannot (false) be activated now", {"type": "boolean"}),
    _q("nextToken", "The X-Next-Token of the previous page", {"type": "string"}),
]


def _example(code: str, message: str, correlation: str | None) -> dict[str, Any]:
    return {"value": {"errorCode": code, "message": message, "correlationId": correlation}}


def error(description: str, examples: dict[str, dict[str, Any]], status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref("EsReadError"), "examples": examples}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "Bearer challenge (RFC 6750)", "schema": {"type": "string"}}
        }
    if status == 503:
        response["headers"] = {"Retry-After": {"description": "Seconds", "schema": {"type": "string"}}}
    return response


def errors(correlation: str | None, forbidden: str, not_found: str | None) -> dict[str, Any]:
    out = {
        "400": error(
            "A malformed path or query parameter (errorCode names it)",
            {
                "unknownParameter": _example(
                    "UNKNOWN_PARAMETER", "Unknown query parameter: stauts.", correlation
                ),
                "invalidStatus": _example(
                    "INVALID_STATUS",
                    "status must be one of " + ", ".join(sorted(es.STATUS_FILTER)) + ".",
                    correlation,
                ),
            },
            400,
        ),
        "401": error(
            "Missing, unknown, expired or revoked token",
            {
                "unauthorized": _example(
                    "UNAUTHORIZED", "The access token is invalid or expired.", correlation
                )
            },
            401,
        ),
        "403": error(
            "A token of the wrong kind", {"forbidden": _example("FORBIDDEN", forbidden, correlation)}, 403
        ),
        "500": error(
            "Unexpected error",
            {"internal": _example("INTERNAL_ERROR", "An unexpected error occurred.", correlation)},
            500,
        ),
        "503": error(
            "The database stayed unavailable; retry",
            {
                "unavailable": _example(
                    "SERVICE_UNAVAILABLE",
                    "The service is temporarily unavailable; retry shortly.",
                    correlation,
                )
            },
            503,
        ),
    }
    if not_found:
        out["404"] = error(
            not_found, {"notFound": _example("NOT_FOUND", "No such member or issuance.", correlation)}, 404
        )
    return out


ISSUANCE_EXAMPLE = {
    "accountID": "alice",
    "metadataType": "ISSUANCE",
    "issuanceType": "VOUCHER",
    "businessUnit": "CARWASH",
    "issuanceCode": "Car Wash",
    "issuedDate": "2026-01-01T09:00:00.000Z",
    "issuedDateEpoch": 1767258000000,
    "expiryDate": "2099-12-31T23:59:59.000Z",
    "expiryDateEpoch": 4102444799000,
    "voucherId": VOUCHER_ID,
    "definitionId": "carwash",
    "rewardType": "PRODUCT_AUTHORIZATION_CODE",
    "productName": "Car Wash",
    "status": "AVAILABLE",
    "activatable": True,
    "activation": None,
}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EsIssuanceActivation(_Closed):
    # nullable on the component itself: OpenAPI 3.0 validators ignore a `nullable` beside an allOf $ref
    model_config = ConfigDict(extra="forbid", json_schema_extra={"nullable": True})

    activatedAt: datetime
    provider: str
    codeExpiry: datetime
    codeLive: bool = Field(description="The code can still be used at the terminal")
    authorizationCode: str = omittable(
        description="Only to the member, only while the code is live; never to a console"
    )


class EsIssuance(_Closed):
    accountID: str
    metadataType: Literal["ISSUANCE"]
    issuanceType: Annotated[str, OneOf(sorted(es.ISSUANCE_TYPES))]
    businessUnit: str | None
    issuanceCode: str = Field(description="Short description (the product name)")
    issuedDate: datetime | None
    issuedDateEpoch: int | None
    expiryDate: datetime | None
    expiryDateEpoch: int | None
    voucherId: str = Field(description="{definitionId}::{issuanceUuid}: activate it with this")
    definitionId: str
    rewardType: str
    productName: str
    status: Annotated[str, OneOf(sorted(es.STATUS_FILTER))]
    activatable: bool = Field(description="A PAC voucher that can be activated now")
    activation: EsIssuanceActivation | None


class EsIssuanceList(RootModel[list[EsIssuance]]):
    root: list[EsIssuance] = Field(max_length=es.MAX_LIMIT)


class EsReadError(_Closed):
    errorCode: Annotated[str, OneOf(es.ERROR_CODES)]
    message: str
    correlationId: str | None


SCHEMAS = [EsIssuanceList, EsReadError]
