"""OpenAPI part for get_user_vouchers: Spaaza "get-user-vouchers" (user, admin, privileged)."""

from __future__ import annotations

import copy
from typing import Any

from infra.openapi_parts.claim_voucher import SCHEMAS as CLAIM_SCHEMAS
from infra.openapi_parts.unclaim_voucher import PATH as UNCLAIM_PATH
from infra.openapi_parts.unclaim_voucher import PATHS as UNCLAIM
from shared.dialects import spaaza

PATH = "/get-user-vouchers"
_END_USER = {"chain_id", *spaaza.END_USER_PARAMETERS}
_UNCLAIM = UNCLAIM[UNCLAIM_PATH]["post"]
_VOUCHER = copy.deepcopy(_UNCLAIM["responses"]["200"]["content"]["application/json"]["example"]["results"])
for _user_field in ("user_id", "user_entity_card", "result_type"):
    _VOUCHER.pop(_user_field)
_VOUCHER["voucher_status"] = "claimed"


def _parameters() -> list[dict[str, Any]]:
    kept = []
    for parameter in copy.deepcopy(_UNCLAIM["parameters"]):
        if parameter["in"] == "query" and parameter["name"] not in _END_USER:
            continue
        if parameter["in"] == "query":
            parameter["description"] = parameter["description"].split(" (also accepted")[0]
        kept.append(parameter)
    return [
        *kept,
        {
            "name": "voucher_status",
            "in": "query",
            "required": False,
            "description": "Only vouchers in these statuses (comma-separated)",
            "schema": {"type": "string", "example": "generated,claimed"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size (default and at most {spaaza.MAX_LIST_LIMIT})",
            "schema": {"type": "integer", "minimum": 1},
        },
        {
            "name": "page_token",
            "in": "query",
            "required": False,
            "description": "The next_page_token of the previous page",
            "schema": {"type": "string"},
        },
    ]


def _responses() -> dict[str, Any]:
    responses = copy.deepcopy(_UNCLAIM["responses"])
    for status, response in responses.items():
        examples = response.get("content", {}).get("application/json", {}).get("examples")
        if examples:  # only the errors a read can meet
            for name in list(examples):
                if name.startswith("voucher_") or name in (
                    "concurrent_modification",
                    "unsupported_media_type",
                ):
                    examples.pop(name)
        if status != "200":
            response["content"]["application/json"]["schema"] = {
                "$ref": "#/components/schemas/SpaazaClaimErrorResponse"
            }
    responses = {
        s: r for s, r in responses.items() if s == "200" or r["content"]["application/json"]["examples"]
    }
    responses["200"] = {
        "description": "One page of the user's vouchers in the acting chain, grouped",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/SpaazaUserVouchersResponse"},
                "example": {
                    "result": {"code": 1, "status": "ok"},
                    "results": {
                        "user_id": 1001,
                        "chain_id": 1,
                        "user_entity_card": {"type": "regular", "code": "1001"},
                        "basket_vouchers": [_VOUCHER],
                        "honour_vouchers": [],
                        "var_price_vouchers": [],
                        "next_page_token": None,
                        "result_type": "get-user-vouchers",
                    },
                },
            }
        },
    }
    return responses


PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "summary": "A user's vouchers (Spaaza)",
            "description": (
                "The vouchers of the named end user (user auth: the session's own) in the acting "
                "chain, newest issue first, grouped as Spaaza groups them (basket, honour, var_price: "
                "the campaign's voucher_group). Same authentication modes, headers, API-version rules "
                "and end-user identifiers as unclaim-voucher; parameters in the query string. A page "
                "may hold fewer than `limit` vouchers while next_page_token is set. "
                "See docs/dialects/get_user_vouchers.md."
            ),
            "parameters": _parameters(),
            "responses": _responses(),
        }
    }
}

_voucher_schema = copy.deepcopy(CLAIM_SCHEMAS["SpaazaClaimedVoucher"])
for _user_field in ("user_id", "user_entity_card", "result_type"):
    _voucher_schema["properties"].pop(_user_field)
_voucher_schema["required"] = [r for r in _voucher_schema["required"] if r in _voucher_schema["properties"]]
_voucher_schema["properties"]["voucher_status"] = {"type": "string", "enum": list(spaaza.VOUCHER_STATUSES)}
_list = {"type": "array", "items": {"$ref": "#/components/schemas/SpaazaListedVoucher"}}

SCHEMAS: dict[str, Any] = {
    "SpaazaListedVoucher": _voucher_schema,
    "SpaazaUserVouchers": {
        "type": "object",
        "required": [
            "user_id",
            "chain_id",
            "user_entity_card",
            *(f"{g}_vouchers" for g in spaaza.VOUCHER_GROUPS),
            "next_page_token",
            "result_type",
        ],
        "properties": {
            "user_id": {"type": "integer", "nullable": True},
            "chain_id": {"type": "integer"},
            "user_entity_card": copy.deepcopy(
                CLAIM_SCHEMAS["SpaazaClaimedVoucher"]["properties"]["user_entity_card"]
            ),
            **{f"{g}_vouchers": copy.deepcopy(_list) for g in spaaza.VOUCHER_GROUPS},
            "next_page_token": {"type": "string", "nullable": True},
            "result_type": {"type": "string", "enum": ["get-user-vouchers"]},
        },
    },
    "SpaazaUserVouchersResponse": {
        "type": "object",
        "required": ["result", "results"],
        "properties": {
            "result": {"$ref": "#/components/schemas/SpaazaResult"},
            "results": {"$ref": "#/components/schemas/SpaazaUserVouchers"},
        },
    },
}
