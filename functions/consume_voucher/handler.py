"""PUT /api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}

Thalamus v4 "set voucher as consumed": parse (dialect) -> consume (use case) -> respond.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import thalamus
from shared.domain import utcnow
from shared.runtime import RUNTIME
from shared.usecases.thalamus import consume_voucher

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(thalamus, logger, metrics) as answer:
        request = answer.read(event, context)
        command = thalamus.parse_command(request, consume=True)
        idempotency = endpoint.idempotency_for(
            request, thalamus.success_response, thalamus.FINGERPRINT_HEADERS
        )
        policy = RUNTIME.settings().commit_policy()
        result = consume_voucher(RUNTIME.store(), command, policy=policy, idempotency=idempotency)
        answer.ok(endpoint.respond(idempotency, lambda: thalamus.success_response(result, utcnow())))
    return answer.response
