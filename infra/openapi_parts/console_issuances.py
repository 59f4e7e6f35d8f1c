"""OpenAPI part for console_issuances: the CSR console lists a member's issuances."""

from __future__ import annotations

from typing import Any

from infra.openapi_models import answered, ref
from infra.openapi_parts._es_reads import BEARER, NEXT_TOKEN, QUERY, errors
from shared.domain import Forbidden

PATH = "/console/members/{member_id}/issuances"
MEMBER = {
    "name": "member_id",
    "in": "path",
    "required": True,
    "description": "The member's account id",
    "schema": {"type": "string", "pattern": "^[^\\s/?#%\\\\]{1,128}$"},
    "example": "alice",
}
NOT_FOUND = "Unknown member (or, for one issuance, unknown issuance): they read alike"

PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "summary": "A member's issuances, for a customer-service representative (console)",
            "description": (
                "What the member would list, with activation status, provider and code expiry, but "
                "never the authorization code. Console sessions only (members and others: 403); "
                "every view is logged with the CSR's id. This implementation's path (the console API "
                "is not public): see docs/dialects/list_issuances.md."
            ),
            "parameters": [MEMBER, {**BEARER, "example": "Bearer demo-es-console-csr"}, *QUERY],
            "responses": {
                "200": {
                    "description": "One page of the member's issuances",
                    "headers": NEXT_TOKEN,
                    "content": {
                        "application/json": {
                            "schema": ref("EsIssuanceList"),
                            "example": answered("console_issuances", "success.json"),
                        }
                    },
                },
                **errors(None, Forbidden, NOT_FOUND),
            },
        }
    }
}
