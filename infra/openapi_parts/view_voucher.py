"""OpenAPI part for view_voucher: Thalamus v4, an operator views a voucher (GET of the path
consume PUTs). Same credentials, permission rule and envelope as consume: its parameters and
responses are consume's, without the body and without the errors only a write can meet."""

from __future__ import annotations

import copy
from typing import Any

from infra.openapi_parts.consume_voucher import PATH
from infra.openapi_parts.consume_voucher import PATHS as CONSUME

_PUT = CONSUME[PATH]["put"]
_WRITE_ONLY_STATUSES = {"409"}
_WRITE_ONLY_EXAMPLES = (
    "alreadyConsumed",
    "voidedOrExpired",
    "notJson",
    "malformedJson",
    "unknownField",
    "badParameter",
)


def _get() -> dict[str, Any]:
    operation = copy.deepcopy(_PUT)
    operation.pop("requestBody", None)
    operation.pop("operationId", None)
    operation["summary"] = "View a voucher (Thalamus v4, operator)"
    operation["description"] = (
        "The voucher as consume would answer it (status, and the consumption if consumed), read "
        "only. Same credentials (`Thalamus-Token`/`Thalamus-Touchpoint` headers or `token`/"
        "`touchpoint` query parameters; the header wins) and the same permission rule: an operator "
        "without permission on the activity or item gets NotFound, exactly as for a missing one."
    )
    operation["parameters"] = [p for p in operation["parameters"] if p.get("name") != "Content-Type"]
    responses = {k: v for k, v in operation["responses"].items() if k not in _WRITE_ONLY_STATUSES}
    responses["200"] = {**responses["200"], "description": "The voucher"}
    examples = responses["400"]["content"]["application/json"]["examples"]
    for name in _WRITE_ONLY_EXAMPLES:  # a view has no body and meets no state error
        examples.pop(name, None)
    operation["responses"] = responses
    return operation


PATHS: dict[str, Any] = {PATH: {"get": _get()}}
