"""OpenAPI part for claim_voucher: Spaaza "claim-voucher", the inverse of unclaim. Same
authentication, headers, parameters and body encodings as unclaim (its part is the source),
its own result (`claimed`, `claim-voucher`) and one more error (915 voucher_already_claimed)."""

from __future__ import annotations

import copy
from typing import Any

from infra.openapi_parts.unclaim_voucher import PATH as UNCLAIM_PATH
from infra.openapi_parts.unclaim_voucher import PATHS as UNCLAIM
from infra.openapi_parts.unclaim_voucher import SCHEMAS as UNCLAIM_SCHEMAS
from shared.dialects.spaaza import ERRORS

PATH = "/claim-voucher"
_ERROR_SCHEMA = "SpaazaClaimErrorResponse"


def _rename_refs(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("$ref") == "#/components/schemas/SpaazaUnclaimVoucherResponse":
            return {"$ref": "#/components/schemas/SpaazaClaimVoucherResponse"}
        if value.get("$ref") == "#/components/schemas/SpaazaErrorResponse":
            return {"$ref": f"#/components/schemas/{_ERROR_SCHEMA}"}
        return {k: _rename_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename_refs(v) for v in value]
    return value


def _operation(method: str) -> dict[str, Any]:
    operation = _rename_refs(copy.deepcopy(UNCLAIM[UNCLAIM_PATH][method]))
    operation.pop("operationId", None)
    operation["summary"] = "Claim a voucher (Spaaza)"
    operation["description"] = (
        "Moves a `generated` voucher of the named end user to `claimed`: the inverse of unclaim-voucher, "
        "with its authentication modes, headers, API-version rules, identifiers, body encodings and "
        "error envelope. Locked vouchers and vouchers of campaigns with "
        "allows_end_user_to_claim_voucher=false can only be claimed with admin or privileged auth. "
        "The state change and its CLAIMED audit event are one transaction; of concurrent claims of "
        "one voucher exactly one succeeds, the others get 915 voucher_already_claimed."
    )
    responses = operation["responses"]
    ok = responses["200"]
    ok["description"] = "The voucher is claimed"
    example = copy.deepcopy(ok["content"]["application/json"]["example"])
    example["results"].update(voucher_status="claimed", result_type="claim-voucher")
    ok["content"]["application/json"]["example"] = example
    code, status = ERRORS["voucher_already_claimed"]
    examples = responses[str(status)]["content"]["application/json"]["examples"]
    examples["voucher_already_claimed"] = {
        "summary": "The voucher is already claimed",
        "value": {
            "result": {"code": 2, "status": "error"},
            "error": {
                "code": code,
                "name": "voucher_already_claimed",
                "description": "The voucher is already claimed",
            },
        },
    }
    examples.pop("voucher_not_claimed", None)
    return operation


PATHS: dict[str, Any] = {PATH: {"post": _operation("post"), "put": _operation("put")}}

_claimed = copy.deepcopy(UNCLAIM_SCHEMAS["SpaazaUnclaimedVoucher"])
_claimed["properties"]["voucher_status"] = {"type": "string", "enum": ["claimed"]}
_claimed["properties"]["result_type"] = {"type": "string", "enum": ["claim-voucher"]}
_error = copy.deepcopy(UNCLAIM_SCHEMAS["SpaazaError"])
_error["properties"]["code"]["enum"] = sorted(code for code, _ in ERRORS.values())
_error["properties"]["name"]["enum"] = list(ERRORS)

SCHEMAS: dict[str, Any] = {
    "SpaazaClaimedVoucher": _claimed,
    "SpaazaClaimVoucherResponse": {
        "type": "object",
        "required": ["result", "results"],
        "properties": {
            "result": {"$ref": "#/components/schemas/SpaazaResult"},
            "results": {"$ref": "#/components/schemas/SpaazaClaimedVoucher"},
        },
    },
    "SpaazaClaimError": _error,
    _ERROR_SCHEMA: {
        "type": "object",
        "required": ["result", "error"],
        "properties": {
            "result": {"$ref": "#/components/schemas/SpaazaResult"},
            "error": {"$ref": "#/components/schemas/SpaazaClaimError"},
        },
    },
}
