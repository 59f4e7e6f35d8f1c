"""GET /console/members/{member_id}/issuances/{voucher_id}

ES Loyalty console (this implementation's path): a customer-service representative views one
issuance of a named member with its audit trail from every channel — never the live code,
nor a code recorded as unused. Every view is logged with the CSR's id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import es_issuances, es_loyalty
from shared.domain import Session
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.issuances import console_issuance

logger = Logger(service="console_issuance")
metrics = endpoint.serialize_flushes(Metrics(service="console_issuance"))


def _csr(session: Session) -> None:
    """Every console view is logged with the CSR's id, refused ones included."""
    logger.append_keys(csr_id=session.principal_id)


def _view(request: ApiRequest) -> dict[str, Any]:
    token = es_issuances.parse_token(request)
    member_id = es_issuances.parse_member_id(request)
    definition_id, serial = es_loyalty.parse_voucher_id(request)
    result = console_issuance(
        RUNTIME.store(), hash_token(token), member_id, definition_id, serial, on_viewer=_csr
    )
    logger.info(
        "console view",
        extra={"member_id": member_id, "voucher_serial": serial},
    )
    return es_issuances.detail_response(result)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=es_issuances, logger=logger, metrics=metrics, work=_view)
