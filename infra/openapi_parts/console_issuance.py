"""OpenAPI part for console_issuance: the CSR console views one issuance and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from infra.openapi_models import ref
from infra.openapi_parts._es_reads import (
    BEARER,
    ISSUANCE_EXAMPLE,
    VOUCHER_ID,
    EsIssuance,
    _Closed,
    errors,
)
from infra.openapi_parts.console_issuances import MEMBER, NOT_FOUND
from shared.domain import Forbidden

PATH = "/console/members/{member_id}/issuances/{voucher_id}"

_HISTORY: list[dict[str, Any]] = [
    {
        "eventType": "IMPORTED",
        "channel": "import",
        "principalKind": "importer",
        "principalId": "importer",
        "fromStatus": None,
        "toStatus": "AVAILABLE",
        "at": "2026-01-01T09:00:00.000Z",
        "atEpoch": 1767258000000,
        "requestId": "import",
        "correlationId": None,
        "description": "IMPORTED by importer importer via import",
        "details": {},
    },
    {
        "eventType": "CONSUMED",
        "channel": "thalamus",
        "principalKind": "thalamus_user",
        "principalId": "op-anna",
        "fromStatus": "AVAILABLE",
        "toStatus": "REDEEMED",
        "at": "2026-03-01T10:30:00.000Z",
        "atEpoch": 1772361000000,
        "requestId": "c6b1f0de-1d4e-4c4b-9a55-4d1f0e4c2a10",
        "correlationId": None,
        "description": "CONSUMED by thalamus_user op-anna at touchpoint BACKOFFICE via thalamus",
        "details": {"touchpoint": "BACKOFFICE", "parameters": {}},
    },
]

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
                            "example": {
                                **ISSUANCE_EXAMPLE,
                                "status": "REDEEMED",
                                "activatable": False,
                                "history": _HISTORY,
                            },
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
