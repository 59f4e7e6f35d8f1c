"""OpenAPI part for console_issuance: the CSR console views one issuance and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from infra.openapi_models import answered, ref
from infra.openapi_parts._es_reads import (
    BEARER,
    VOUCHER_ID,
    EsIssuance,
    _Closed,
    errors,
)
from infra.openapi_parts.console_issuances import MEMBER, NOT_FOUND
from shared.domain import Forbidden

PATH = "/console/members/{member_id}/issuances/{voucher_id}"

PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "summary": "One issuance of a member with its history, for a customer-service representative",
            "description": (
                "The issuance (never the authorization code) and its audit trail from every channel, "
                "oldest first: who (principal kind and id), channel, from and to status, when, request "
                "id. Codes recorded with ACTIVATION_CODE_UNUSED events are never shown. An unknown "
                "member, an unknown issuance and another member's issuance read alike (404)."
            ),
            "parameters": [
                MEMBER,
                {
                    "name": "voucher_id",
                    "in": "path",
                    "required": True,
                    "description": "`{definitionId}::{issuanceUuid}`",
                    "schema": {
                        "type": "string",
                        "pattern": (
                            "^[A-Za-z0-9_.-]{1,64}::[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                            "[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
                        ),
                    },
                    "example": VOUCHER_ID,
                },
                {**BEARER, "example": "Bearer demo-es-console-csr"},
            ],
            "responses": {
                "200": {
                    "description": "The issuance and its history",
                    "content": {
                        "application/json": {
                            "schema": ref("EsIssuanceDetail"),
                            "example": answered("console_issuance", "success.json"),
                        }
                    },
                },
                **errors(None, Forbidden, NOT_FOUND),
            },
        }
    }
}


class EsHistoryEntry(_Closed):
    eventType: str = Field(examples=["CONSUMED"])
    channel: Literal["import", "thalamus", "es_loyalty", "spaaza"]
    principalKind: str
    principalId: str
    fromStatus: str | None
    toStatus: str
    at: datetime
    atEpoch: int
    requestId: str
    correlationId: str | None
    description: str
    details: dict[str, Any]


class EsIssuanceDetail(EsIssuance):
    history: list[EsHistoryEntry]


SCHEMAS = [EsIssuanceDetail]
