"""GET /console/members/{member_id}/issuances

ES Loyalty console (this implementation's path): a customer-service representative lists a
named member's issuances — activation status, provider, code expiry, never the live code.
Every view is logged with the CSR's id.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import es_issuances
from shared.domain import Session, utcnow
from shared.runtime import RUNTIME, hash_token
from shared.usecases.issuances import console_issuances

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
        now = utcnow()
        wanted = es_issuances.parse_filter(request, now)
        store = RUNTIME.store()
        result = console_issuances(
            store, hash_token(token), member_id, wanted, clock=lambda: now, on_viewer=_csr
        )
        logger.info("console view", extra={"member_id": member_id, "listed": len(result.page.items)})
        answer.ok(es_issuances.list_response(result, console=True))
    return answer.response
