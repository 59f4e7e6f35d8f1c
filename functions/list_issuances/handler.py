"""GET /client/users/{correlation_id}/issuances

ES Loyalty "Issuances": the member's own issuances (the account comes from the token), one
page: parse (dialect) -> list (use case) -> the ES list, the next page's token in a header.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import es_issuances
from shared.domain import utcnow
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.issuances import member_issuances

logger = Logger(service="list_issuances")
metrics = endpoint.serialize_flushes(Metrics(service="list_issuances"))


def _list(request: ApiRequest) -> dict[str, Any]:
    logger.set_correlation_id(es_issuances.parse_correlation_id(request))
    token = es_issuances.parse_token(request)
    now = utcnow()
    wanted = es_issuances.parse_filter(request, now)
    result = member_issuances(RUNTIME.store(), hash_token(token), wanted, clock=lambda: now)
    logger.append_keys(listed=len(result.page.items))
    return es_issuances.list_response(result, console=False)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=es_issuances, logger=logger, metrics=metrics, work=_list)
