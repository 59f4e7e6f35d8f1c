"""Shared pieces of the ES read parts (list_issuances, console_issuances, console_issuance):
the issuance object, the history entry, the list's query parameters and the error body, all
built from shared/dialects/es_issuances.py's own constants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from infra.openapi_models import OneOf, error_responses, omittable
from shared.dialects import es_issuances as es
from shared.dialects.es_loyalty import EsError
from shared.domain import DomainError, NotFound, Unauthenticated
from shared.runtime import ApiRequest

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


def _request(correlation: str | None, query: dict[str, list[str]] | None = None) -> ApiRequest:
    path = {"correlation_id": correlation} if correlation else {}
    return ApiRequest.from_event({"pathParameters": path, "multiValueQueryStringParameters": query})


def _parsed(correlation: str | None, query: dict[str, list[str]]) -> EsError:
    """What es_issuances.parse_filter answers to this query string."""
    try:
        es.parse_filter(_request(correlation, query), datetime.now(UTC))
    except EsError as error:
        return error
    raise ValueError(f"parse_filter accepted {query}")


def errors(correlation: str | None, refused: type[DomainError], not_found: str | None) -> dict[str, Any]:
    """The error responses of a read: `refused` is the 403 (a token of the wrong kind),
    `not_found` the 404's description (None: no 404)."""
    at = _request(correlation)
    examples = {
        "unknownParameter": _parsed(correlation, {"stauts": ["AVAILABLE"]}),
        "invalidStatus": _parsed(correlation, {"status": ["ACTIVE"]}),
        "unauthorized": es.domain_error(Unauthenticated(), at),
        "forbidden": es.domain_error(refused(), at),
        "internal": es.internal_error(at),
        "unavailable": es.unavailable(at),
    }
    descriptions = {
        400: "A malformed path or query parameter (errorCode names it)",
        401: "Missing, unknown, expired or revoked token",
        403: "A token of the wrong kind",
        500: "Unexpected error",
        503: "The database stayed unavailable; retry",
    }
    if not_found:
        examples["notFound"] = es.domain_error(NotFound(), at)
        descriptions[404] = not_found
    headers = {
        401: {
            "WWW-Authenticate": {"description": "Bearer challenge (RFC 6750)", "schema": {"type": "string"}}
        },
        503: {"Retry-After": {"description": "Seconds", "schema": {"type": "string"}}},
    }
    return error_responses(EsReadError, descriptions, examples, headers)


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
