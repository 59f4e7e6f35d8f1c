"""OpenAPI part for get_user_vouchers: Spaaza "get-user-vouchers" (user, admin, privileged)."""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import BaseModel, create_model

from infra.openapi_models import OneOf, answered, ref
from infra.openapi_parts.unclaim_voucher import PATH as UNCLAIM_PATH
from infra.openapi_parts.unclaim_voucher import PATHS as UNCLAIM
from infra.openapi_parts.unclaim_voucher import SpaazaResult, SpaazaUnclaimedVoucher, SpaazaUserEntityCard
from shared.dialects import spaaza

PATH = "/get-user-vouchers"
_END_USER = {"chain_id", *spaaza.END_USER_PARAMETERS}
_UNCLAIM = UNCLAIM[UNCLAIM_PATH]["post"]


# Demo end user alice: privileged auth must name the user; a user session may (its own id).
_QUERY_EXAMPLES = {"chain_id": 1, "user_id": 1001}


def _parameters() -> list[dict[str, Any]]:
    kept = []
    for parameter in copy.deepcopy(_UNCLAIM["parameters"]):
        if parameter["in"] == "query" and parameter["name"] not in _END_USER:
            continue
        if parameter["in"] == "query":
            parameter["description"] = parameter["description"].split(" (also accepted")[0]
            if parameter["name"] in _QUERY_EXAMPLES:
                parameter["example"] = _QUERY_EXAMPLES[parameter["name"]]
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
    for response in responses.values():
        examples = response.get("content", {}).get("application/json", {}).get("examples")
        if examples:  # only the errors a read can meet
            for name in list(examples):
                if name.startswith("voucher_") or name in (
                    "concurrent_modification",
                    "unsupported_media_type",
                ):
                    examples.pop(name)
    responses = {
        s: r for s, r in responses.items() if s == "200" or r["content"]["application/json"]["examples"]
    }
    responses["200"] = {
        "description": "One page of the user's vouchers in the acting chain, grouped",
        "content": {
            "application/json": {
                "schema": ref("SpaazaUserVouchersResponse"),
                "example": answered("get_user_vouchers", "success_user_claimed.json"),
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

_USER_FIELDS = ("user_id", "user_entity_card", "result_type")
SpaazaListedVoucher = create_model(  # type: ignore[call-overload]  # unclaim's voucher fields, no user's
    "SpaazaListedVoucher",
    __base__=BaseModel,
    **{
        name: (field.annotation, field)
        for name, field in SpaazaUnclaimedVoucher.model_fields.items()
        if name not in _USER_FIELDS and name != "voucher_status"
    },
    voucher_status=(Annotated[str, OneOf(spaaza.VOUCHER_STATUSES)], ...),
)


class SpaazaUserVouchers(BaseModel):
    user_id: int | None
    chain_id: int
    user_entity_card: SpaazaUserEntityCard
    basket_vouchers: list[SpaazaListedVoucher]  # type: ignore[valid-type]
    honour_vouchers: list[SpaazaListedVoucher]  # type: ignore[valid-type]
    var_price_vouchers: list[SpaazaListedVoucher]  # type: ignore[valid-type]
    next_page_token: str | None
    result_type: Literal["get-user-vouchers"]


if {f"{g}_vouchers" for g in spaaza.VOUCHER_GROUPS} - set(SpaazaUserVouchers.model_fields):
    raise ValueError("SpaazaUserVouchers must have a list per spaaza.VOUCHER_GROUPS")


class SpaazaUserVouchersResponse(BaseModel):
    result: SpaazaResult
    results: SpaazaUserVouchers


SCHEMAS = [SpaazaUserVouchersResponse]
