"""OpenAPI part for claim_voucher: Spaaza "claim-voucher", the inverse of unclaim. Same
authentication, headers, parameters, body encodings and error envelope as unclaim (its part
is the source), its own result (`claimed`, `claim-voucher`); 915 voucher_already_claimed is
in the shared error table."""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel

from infra.openapi_models import answered, ref
from infra.openapi_parts.unclaim_voucher import PATH as UNCLAIM_PATH
from infra.openapi_parts.unclaim_voucher import PATHS as UNCLAIM
from infra.openapi_parts.unclaim_voucher import SpaazaResult, SpaazaUnclaimedVoucher, form_body
from shared.dialects.spaaza import ERRORS

PATH = "/claim-voucher"

# Unclaimed demo vouchers of end user alice (013 and 025): see unclaim_voucher's examples.
EXAMPLES = {
    "post": {
        "chain_id": 1,
        "user_id": 1001,
        "voucher_key": "c25eccc3a7f827c8e93dec472327f4cf960f8fb5d7adfb80c645d374f91d8f5a",
    },
    "put": {
        "chain_id": 1,
        "user_id": 1001,
        "voucher_key": "42779909cce0b23727b75e535e02b8edd7ca31ccf555c092237b2e32fc9c2d08",
    },
}


class SpaazaClaimedVoucher(SpaazaUnclaimedVoucher):
    voucher_status: Literal["claimed"]  # type: ignore[assignment]
    result_type: Literal["claim-voucher"]  # type: ignore[assignment]


class SpaazaClaimVoucherResponse(BaseModel):
    result: SpaazaResult
    results: SpaazaClaimedVoucher


def _operation(method: str) -> dict[str, Any]:
    operation = copy.deepcopy(UNCLAIM[UNCLAIM_PATH][method])
    operation.pop("operationId", None)
    operation["requestBody"] = form_body(EXAMPLES[method])
    operation["summary"] = "Claim a voucher (Spaaza)"
    operation["description"] = (
        "Moves a `generated` voucher of the named end user to `claimed`: the inverse of unclaim-voucher, "
        "with its authentication modes, headers, API-version rules, identifiers, body encodings and "
        "error envelope. Locked vouchers and vouchers of campaigns with "
        "allows_end_user_to_claim_voucher=false can only be claimed with admin or privileged auth. "
        "The state change and its CLAIMED audit event are one transaction; of concurrent claims of "
        "one voucher exactly one succeeds, the others get 915 voucher_already_claimed. "
        "See docs/dialects/claim_voucher.md."
    )
    responses = operation["responses"]
    ok = responses["200"]["content"]["application/json"]
    responses["200"]["description"] = "The voucher is claimed"
    ok["schema"] = ref(SpaazaClaimVoucherResponse)
    ok["example"] = answered("claim_voucher", "success_user_put_urlencoded.json")
    examples = responses[str(ERRORS["voucher_not_claimed"][1])]["content"]["application/json"]["examples"]
    examples.pop("voucher_not_claimed", None)  # unclaim's; a claim answers 915 instead
    return operation


PATHS: dict[str, Any] = {PATH: {"post": _operation("post"), "put": _operation("put")}}
SCHEMAS = [SpaazaClaimVoucherResponse]
