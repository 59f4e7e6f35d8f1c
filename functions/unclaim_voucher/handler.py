"""POST|PUT /unclaim-voucher

Spaaza "unclaim-voucher": parse (dialect) -> unclaim (use case) -> respond.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import spaaza
from shared.domain import utcnow
from shared.runtime import RUNTIME
from shared.usecases.spaaza_move import unclaim_voucher

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(spaaza, logger, metrics) as answer:
        request = answer.read(event, context)
        command = spaaza.parse_command(request)
        idempotency = endpoint.idempotency_for(request, spaaza.success_response, spaaza.FINGERPRINT_HEADERS)
        policy = RUNTIME.settings().commit_policy()
        result = unclaim_voucher(RUNTIME.store(), command, policy=policy, idempotency=idempotency)
        logger.append_keys(auth_mode=result.target.mode.value, chain_id=result.target.chain_id)
        answer.ok(endpoint.respond(idempotency, lambda: spaaza.success_response(result, utcnow())))
    return answer.response
