"""OpenAPI part for list_issuances: ES Loyalty "Issuances" (the member's own)."""

from __future__ import annotations

from typing import Any

from infra.openapi_models import answered, ref
from infra.openapi_parts._es_reads import BEARER, NEXT_TOKEN, QUERY, SCHEMAS, errors
from shared.domain import ConsoleUser

PATH = "/client/users/{correlation_id}/issuances"
_CORRELATION = "sess-7f3a9c"

PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "summary": "List the member's issuances (ES Loyalty)",
            "description": (
                "The issuances (vouchers) of the member the bearer token belongs to, newest issue "
                "first, one page at a time (`X-Next-Token`). Each carries its status now, whether it "
                "can be activated now and its activation (the authorization code only while live). "
                "Find the PAC vouchers to activate with `rewardType=PRODUCT_AUTHORIZATION_CODE&"
                "activatable=true`. A page may hold fewer than `limit` issuances while more follow. "
                "Ghost members may list. See docs/dialects/list_issuances.md."
            ),
            "parameters": [
                {
                    "name": "correlation_id",
                    "in": "path",
                    "required": True,
                    "description": "Session correlation id: echoed in errors",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                    "example": _CORRELATION,
                },
                {**BEARER, "example": "Bearer demo-es-member-alice"},
                *QUERY,
            ],
            "responses": {
                "200": {
                    "description": "One page of issuances",
                    "headers": NEXT_TOKEN,
                    "content": {
                        "application/json": {
                            "schema": ref("EsIssuanceList"),
                            "example": answered("list_issuances", "success_activatable_pac.json"),
                        }
                    },
                },
                **errors(_CORRELATION, ConsoleUser, None),
            },
        }
    }
}

__all__ = ["PATHS", "SCHEMAS"]
