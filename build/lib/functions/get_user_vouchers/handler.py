"""GET /get-user-vouchers

Spaaza "get-user-vouchers": parse (dialect) -> one page of the user's vouchers in the acting
chain (use case) -> the Spaaza envelope, grouped as Spaaza groups them.
"""

from __future__ import annotations

from typing import Any

from shared import endpoint
from shared.dialects import spaaza
from shared.runtime import RUNTIME
from shared.usecases.spaaza_vouchers import user_vouchers

logger, metrics = endpoint.observability(__name__)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(spaaza, logger, metrics) as answer:
        result = user_vouchers(RUNTIME.store(), spaaza.parse_list_command(answer.read(event, context)))
        logger.append_keys(auth_mode=result.mode.value, chain_id=result.chain_id)
        answer.ok(spaaza.list_response(result))
    return answer.response
