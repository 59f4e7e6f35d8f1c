"""GET /console/members/{member_id}/issuances

ES Loyalty console (this implementation's path): a customer-service representative lists a
named member's issuances — activation status, provider, code expiry, never the live code.
Every view is logged with the CSR's id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import es_issuances
from shared.domain import Session, utcnow
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.issuances import console_issuances

logger = Logger(service="console_issuances")
metrics = endpoint.serialize_flushes(Metrics(service="console_issuances"))


def _csr(session: Session) -> None:
    """Every console view is logged with the CSR's id, refused ones included."""
    logger.append_keys(csr_id=session.principal_id)


def _list(request: ApiRequest) -> dict[str, Any]:
    token = es_issuances.parse_token(request)
    member_id = es_issuances.parse_member_id(request)
    now = utcnow()
    wanted = es_issuances.parse_filter(request, now)
    result = console_issuances(
        RUNTIME.store(), hash_token(token), member_id, wanted, clock=lambda: now, on_viewer=_csr
    )
    logger.info(
        "console view",
        extra={"member_id": member_id, "listed": len(result.page.items)},
    )
    return es_issuances.list_response(result, console=True)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=es_issuances, logger=logger, metrics=metrics, work=_list)
