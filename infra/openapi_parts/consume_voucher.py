"""OpenAPI part for consume_voucher: Thalamus v4 "set voucher as consumed" (operator).

Mirrors shared/dialects/thalamus.py exactly: the credentials (header wins over the query
parameter), the optional JSON body of parameter1..3, the `{links, data, errors}` envelope
and every error code with the HTTP status the dialect gives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from infra.openapi_models import (
    REPLAYED_HEADER,
    OneOf,
    answered,
    error_responses,
    idempotency_key_header,
    omittable,
    ref,
)
from shared.dialects import thalamus
from shared.domain import (
    Contention,
    DomainError,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    NotAnOperator,
    NotFound,
    Unauthenticated,
    VoucherInvalidated,
    VoucherRedeemed,
)

PATH = "/api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}"

# An activated PAC voucher of the demo data (the activation examples use 001)
_SERIAL = "00000000-0000-4000-8000-000000000006"


# --------------------------------------------------------------------------- bodies (models)

Parameter = Annotated[str, Field(max_length=thalamus.MAX_PARAMETER_LENGTH)]

# The request body: exactly thalamus.PARAMETER_FIELDS, each optional (null is the same as
# absent), nothing else (any other field is UnknownField).
ThalamusConsumeParameters = create_model(
    "ThalamusConsumeParameters",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Free-form consumption parameters stored with the consumption",
    **{name: (Parameter | None, None) for name in thalamus.PARAMETER_FIELDS},  # type: ignore[call-overload]
)

# In the response every parameter is present, null when it was not sent.
ThalamusConsumedParameters = create_model(
    "ThalamusConsumedParameters",
    **{name: (Parameter | None, ...) for name in thalamus.PARAMETER_FIELDS},  # type: ignore[call-overload]
)


class ThalamusLink(BaseModel):
    """Hypermedia link (the service currently returns none)"""

    model_config = ConfigDict(extra="allow")

    rel: str = omittable()
    href: str = omittable()


class ThalamusConsumer(BaseModel):
    operator: str
    touchpoint: str


class ThalamusConsumedVoucher(BaseModel):
    activityCode: str
    voucherItemCode: str
    voucherCode: str
    status: Annotated[str, OneOf(thalamus.STATUS.values())] = Field(
        description="Thalamus view of the voucher's lifecycle status (CONSUMED after success)"
    )
    productName: str | None
    itemType: str | None = Field(description="PHYSICAL_ITEM, VIRTUAL_ITEM or VIRTUAL_VOUCHER_ITEM")
    expirationDate: datetime | None
    consumedAt: datetime = omittable()
    consumedBy: ThalamusConsumer = omittable()
    parameters: ThalamusConsumedParameters = omittable()  # type: ignore[valid-type]


class ThalamusConsumeResponse(BaseModel):
    links: list[ThalamusLink]
    data: ThalamusConsumedVoucher
    errors: dict[str, Any] = Field(max_length=0, description="Always empty on success")


class ThalamusErrorResponse(BaseModel):
    links: list[ThalamusLink]
    data: dict[str, Any] | None = Field(description="Always null on errors")
    errors: dict[str, str] = Field(
        min_length=1,
        description=(
            "Flat object: the part of the request at fault (a field name or a dotted key "
            "such as `error.message`) -> a Thalamus error code"
        ),
    )


SCHEMAS = [ThalamusConsumeParameters, ThalamusConsumeResponse, ThalamusErrorResponse]

# --------------------------------------------------------------------------- operation


def _code(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": thalamus.MAX_CODE_LENGTH},
        "example": example,
    }


def _refused(error: DomainError) -> thalamus.ThalamusError:
    return thalamus.domain_error(error)


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
                    "schema": {"type": "string", "maxLength": thalamus.MAX_TOKEN_LENGTH},
                    "example": "demo-thalamus-operator-anna",
                },
                {
                    "name": "Thalamus-Touchpoint",
                    "in": "header",
                    "required": False,
                    "description": "Touchpoint code (required here or as the `touchpoint` query parameter)",
                    "schema": {"type": "string", "maxLength": thalamus.MAX_CODE_LENGTH},
                    "example": "BACKOFFICE",
                },
                {
                    "name": "token",
                    "in": "query",
                    "required": False,
                    "description": "Operator-session token, when the header is not sent",
                    "schema": {"type": "string", "maxLength": thalamus.MAX_TOKEN_LENGTH},
                },
                {
                    "name": "touchpoint",
                    "in": "query",
                    "required": False,
                    "description": "Touchpoint code, when the header is not sent",
                    "schema": {"type": "string", "maxLength": thalamus.MAX_CODE_LENGTH},
                },
                {
                    "name": "Content-Type",
                    "in": "header",
                    "required": False,
                    "description": (
                        f"`{thalamus.MEDIA_TYPE}` when a body is sent (anything else: UnsupportedMediaType)"
                    ),
                    "schema": {"type": "string", "enum": [thalamus.MEDIA_TYPE]},
                },
                idempotency_key_header(),
            ],
            "requestBody": {
                "required": False,
                "description": (
                    f"Optional consumption parameters (at most {thalamus.MAX_BODY_BYTES // 1024} KiB)"
                ),
                "content": {
                    thalamus.MEDIA_TYPE: {
                        "schema": ref(ThalamusConsumeParameters),
                        "example": {"parameter1": "lane 3"},
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The voucher is now consumed",
                    "headers": REPLAYED_HEADER,
                    "content": {
                        "application/json": {
                            "schema": ref(ThalamusConsumeResponse),
                            "example": answered("consume_voucher", "success.json"),
                        }
                    },
                },
                **error_responses(
                    ThalamusErrorResponse,
                    {
                        400: "Invalid request, or the voucher cannot be consumed in its state",
                        401: "Missing, unknown, expired or revoked token, or an unknown touchpoint",
                        404: "Unknown activity, catalog item or voucher (or not visible to this operator)",
                        409: "The voucher kept changing concurrently; retry",
                        422: "The Idempotency-Key was first used by this operator for another request",
                        500: "Unexpected failure (no details are disclosed)",
                        503: "The data store stayed unavailable until the request had to answer: outcome "
                        "unknown (a consume whose answers were lost may have committed); retry "
                        "(Retry-After), with the same Idempotency-Key to get the first answer",
                    },
                    {
                        "alreadyConsumed": _refused(VoucherRedeemed()),
                        "voidedOrExpired": _refused(VoucherInvalidated()),
                        "notAnOperator": _refused(NotAnOperator()),
                        # the parser's answers (thalamus.parse_*)
                        "touchpointMissing": thalamus.ThalamusError({"touchpoint": "Required"}),
                        "badPathValue": thalamus.ThalamusError({"voucherCode": "InvalidFormat"}),
                        "notJson": thalamus.ThalamusError({"Content-Type": "UnsupportedMediaType"}),
                        "malformedJson": thalamus.ThalamusError({"body": "InvalidJson"}),
                        "unknownField": thalamus.ThalamusError({"parameter4": "UnknownField"}),
                        "badParameter": thalamus.ThalamusError({"parameter1": "InvalidFormat"}),
                        "badIdempotencyKey": _refused(IdempotencyKeyInvalid()),
                        "badToken": _refused(Unauthenticated(field="token")),
                        "badTouchpoint": _refused(Unauthenticated(field="touchpoint")),
                        "voucher": _refused(NotFound(what="voucherCode")),
                        "item": _refused(NotFound(what="voucherItemCode")),
                        "activity": _refused(NotFound(what="activityCode")),
                        "contention": _refused(Contention()),
                        "keyReused": _refused(IdempotencyKeyReused()),
                        "internal": thalamus.internal_error(),
                        "unavailable": thalamus.unavailable(),
                    },
                ),
            },
        }
    }
}
