"""GET /api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}

Thalamus v4: an operator views a voucher (read only): parse (dialect) -> view (use case) ->
the voucher in the envelope consume answers with.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import thalamus
from shared.domain import utcnow
from shared.runtime import RUNTIME
from shared.usecases.thalamus import view_voucher

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(thalamus, logger, metrics) as answer:
        request = answer.read(event, context)
        result = view_voucher(RUNTIME.store(), thalamus.parse_command(request, consume=False))
        answer.ok(thalamus.success_response(result, utcnow()))
    return answer.response
