"""POST|PUT /claim-voucher

Spaaza "claim-voucher", the inverse of unclaim: parse (dialect) -> claim (use case) -> respond.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared import endpoint
from shared.dialects import spaaza
from shared.domain import utcnow
from shared.runtime import RUNTIME
from shared.usecases.spaaza_move import claim_voucher

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(spaaza, logger, metrics) as answer:
        request = answer.read(event, context)
        command = spaaza.parse_command(request)
        respond = partial(spaaza.success_response, result_type="claim-voucher")
        idempotency = endpoint.idempotency_for(request, respond, spaaza.FINGERPRINT_HEADERS)
        policy = RUNTIME.settings().commit_policy()
        result = claim_voucher(RUNTIME.store(), command, policy=policy, idempotency=idempotency)
        logger.append_keys(auth_mode=result.target.mode.value, chain_id=result.target.chain_id)
        answer.ok(endpoint.respond(idempotency, lambda: respond(result, utcnow())))
    return answer.response
