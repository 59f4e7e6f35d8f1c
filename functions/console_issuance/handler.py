"""GET /console/members/{member_id}/issuances/{voucher_id}

ES Loyalty console (this implementation's path): a customer-service representative views one
issuance of a named member with its audit trail from every channel — never the live code,
nor a code recorded as unused. Every view is logged with the CSR's id.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import es_issuances, es_loyalty
from shared.domain import Session
from shared.runtime import RUNTIME, hash_token
from shared.usecases.console_issuance import console_issuance

logger, metrics = endpoint.observability(__name__)


def _csr(session: Session) -> None:
    """Every console view is logged with the CSR's id, refused ones included."""
    logger.append_keys(csr_id=session.principal_id)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(es_issuances, logger, metrics) as answer:
        request = answer.read(event, context)
        token = es_issuances.parse_token(request)
        member_id = es_issuances.parse_member_id(request)
        definition_id, serial = es_loyalty.parse_es_voucher_id(request)
        store = RUNTIME.store()
        result = console_issuance(store, hash_token(token), member_id, definition_id, serial, on_viewer=_csr)
        logger.info("console view", extra={"member_id": member_id, "voucher_serial": serial})
        answer.ok(es_issuances.detail_response(result))
    return answer.response
