"""GET /client/users/{correlation_id}/issuances

ES Loyalty "Issuances": the member's own issuances (the account comes from the token), one
page: parse (dialect) -> list (use case) -> the ES list, the next page's token in a header.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import es_issuances
from shared.domain import utcnow
from shared.runtime import RUNTIME, hash_token
from shared.usecases.issuances import member_issuances

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(es_issuances, logger, metrics) as answer:
        request = answer.read(event, context)
        logger.set_correlation_id(es_issuances.parse_correlation_id(request))
        token = es_issuances.parse_token(request)
        now = utcnow()
        wanted = es_issuances.parse_filter(request, now)
        result = member_issuances(RUNTIME.store(), hash_token(token), wanted, clock=lambda: now)
        logger.append_keys(listed=len(result.page.items))
        answer.ok(es_issuances.list_response(result, console=False))
    return answer.response
