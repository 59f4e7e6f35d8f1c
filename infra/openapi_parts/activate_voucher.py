"""OpenAPI part for activate_voucher: ES Loyalty "Activate Voucher" (PAC activation).

Mirrors shared/dialects/es_loyalty.py exactly: the bearer token (the only source of the
member's account), the path parameters' shapes, no request body, the success body and every
error code with the HTTP status the dialect gives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.openapi_models import (
    REPLAYED_HEADER,
    OneOf,
    answered,
    error_responses,
    idempotency_key_header,
    omittable,
    pattern,
    ref,
)
from shared.dialects import es_loyalty
from shared.domain import (
    ConsoleUser,
    Contention,
    DomainError,
    GhostMember,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InvalidVoucherType,
    NotFound,
    Unauthenticated,
    VoucherRedeemed,
)
from shared.providers import ProviderBadResponse, ProviderNotConfigured, ProviderTimeout
from shared.runtime import ApiRequest

PATH = "/client/users/{correlation_id}/voucher/{voucher_id}/activate"

_VOUCHER_ID = "carwash::00000000-0000-4000-8000-000000000001"
_CORRELATION = "sess-7f3a9c"


# --------------------------------------------------------------------------- bodies (models)


class EsActivationResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authorizationCode: str = Field(description="PAC returned by the provider")
    voucherId: str = Field(description="Echo of the path parameter")
    status: Literal["ACTIVATED"]
    provider: str = Field(examples=["KESSELTRONICS"])
    productName: str = Field(examples=["Car Wash"])
    activatedAt: datetime
    codeExpiry: datetime = Field(description="When the code is no longer usable at the terminal")
    idempotent: Literal[True] = omittable(
        description="Present (true) only when a live activation was returned, no provider call"
    )


class EsActivationError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    errorCode: Annotated[str, OneOf(es_loyalty.ERRORS)]
    message: str
    correlationId: str | None = Field(
        description="The path's correlation_id; null when it was itself invalid"
    )


SCHEMAS = [EsActivationResponse, EsActivationError]

# --------------------------------------------------------------------------- operation

_AT = ApiRequest.from_event({"pathParameters": {"correlation_id": _CORRELATION}})


def _refused(error: type[DomainError]) -> es_loyalty.EsError:
    return es_loyalty.domain_error(error(), _AT)


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds after which a retry may succeed",
        "schema": {"type": "string", "example": es_loyalty.RETRY_AFTER_SECONDS},
    }
}

PATHS: dict[str, Any] = {
    PATH: {
        "post": {
            "summary": "Activate a PAC voucher (ES Loyalty)",
            "description": (
                "Activates a Product Authorization Code voucher of the member identified by the "
                "bearer token through the voucher definition's external provider (Kesseltronics). "
                "Idempotent: while the issued code is live, repeated calls return the same code with "
                "`idempotent: true` and call nobody. After the code expires the voucher can be activated "
                "again (new provider call, new code). Concurrent calls for one voucher call the provider "
                "once; a call that cannot wait for the other one to finish gets 409 "
                "ACTIVATION_IN_PROGRESS with Retry-After. Checks, in order: token (401), console user "
                "(403), ghost member (403), voucher under this account (404), available (409), reward "
                "type (400), live activation replay (200), provider configured (422). "
                "Path syntax (400) is checked before the token is looked up."
            ),
            "parameters": [
                {
                    "name": "correlation_id",
                    "in": "path",
                    "required": True,
                    "description": "Session correlation id: echoed in errors, logged, in the audit event",
                    "schema": {"type": "string", "pattern": pattern(es_loyalty.CORRELATION_ID)},
                    "example": _CORRELATION,
                },
                {
                    "name": "voucher_id",
                    "in": "path",
                    "required": True,
                    "description": (
                        "`{definitionId}::{issuanceUuid}`; the UUID in any case (matched lower-case), "
                        "echoed as sent"
                    ),
                    "schema": {"type": "string", "pattern": pattern(es_loyalty.VOUCHER_ID)},
                    "example": _VOUCHER_ID,
                },
                {
                    "name": "Authorization",
                    "in": "header",
                    "required": True,
                    "description": (
                        "`Bearer <access token>` of an ES member session: the only source of the "
                        "member's account. Console (CSR) sessions get 403."
                    ),
                    "schema": {"type": "string"},
                    "example": "Bearer demo-es-member-alice",
                },
                idempotency_key_header(),
            ],
            "responses": {
                "200": {
                    "description": "Activated (or the live activation, replayed)",
                    "headers": REPLAYED_HEADER,
                    "content": {
                        "application/json": {
                            "schema": ref(EsActivationResponse),
                            "examples": {
                                "activated": {"value": answered("activate_voucher", "success.json")},
                                "replay": {
                                    "value": answered("activate_voucher", "replay_live_activation.json")
                                },
                            },
                        }
                    },
                },
                **error_responses(
                    EsActivationError,
                    {
                        400: "Malformed path parameter, or not a PAC voucher",
                        401: "Missing, malformed, unknown, expired or revoked token, or a token of another "
                        "API",
                        403: "Console user or ghost member",
                        404: "No such voucher under this account (missing, another account's, wrong "
                        "definition, never issued)",
                        409: "Voucher redeemed, invalidated or expired; or another activation of it is in "
                        "progress (retryable, with Retry-After)",
                        422: "The voucher definition has no (usable) activation provider, or the "
                        "Idempotency-Key was first used by this member for another request",
                        500: "Unexpected error (including missing provider credentials in our deployment)",
                        502: "Provider refused the connection or answered with an error or an unusable "
                        "body; nothing was changed, a retry may succeed",
                        503: "The database stayed throttled/unavailable until the request had to answer: "
                        "outcome unknown; retry (the same request answers the committed truth)",
                        504: "Provider did not answer within its timeout; nothing was changed, a retry may "
                        "succeed",
                    },
                    {
                        "invalidVoucherId": es_loyalty.es_error(es_loyalty.BAD_VOUCHER_ID, _AT),
                        # a malformed correlation id is not echoed
                        "invalidCorrelationId": es_loyalty.es_error(es_loyalty.BAD_CORRELATION_ID, None),
                        "invalidVoucherType": _refused(InvalidVoucherType),
                        "invalidIdempotencyKey": _refused(IdempotencyKeyInvalid),
                        "unauthorized": _refused(Unauthenticated),
                        "console": _refused(ConsoleUser),
                        "ghost": _refused(GhostMember),
                        "notFound": _refused(NotFound),
                        "notAvailable": _refused(VoucherRedeemed),
                        "inProgress": _refused(Contention),
                        "providerNotConfigured": _refused(ProviderNotConfigured),
                        "keyReused": _refused(IdempotencyKeyReused),
                        "internal": es_loyalty.internal_error(_AT),
                        "badResponse": _refused(ProviderBadResponse),
                        "unavailable": es_loyalty.unavailable(_AT),
                        "timeout": _refused(ProviderTimeout),
                    },
                    {
                        401: {
                            "WWW-Authenticate": {
                                "description": "Bearer challenge (RFC 6750)",
                                "schema": {"type": "string", "example": es_loyalty.WWW_AUTHENTICATE},
                            }
                        },
                        409: _RETRY_AFTER,
                        503: _RETRY_AFTER,
                    },
                ),
            },
        }
    }
}
