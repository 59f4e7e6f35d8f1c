"""GET /get-user-vouchers

Spaaza "get-user-vouchers": parse (dialect) -> one page of the user's vouchers in the acting
chain (use case) -> the Spaaza envelope, grouped as Spaaza groups them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import spaaza
from shared.runtime import RUNTIME, ApiRequest
from shared.usecases.spaaza_vouchers import user_vouchers

logger = Logger(service="get_user_vouchers")
metrics = endpoint.serialize_flushes(Metrics(service="get_user_vouchers"))


def _list(request: ApiRequest) -> dict[str, Any]:
    result = user_vouchers(RUNTIME.store(), spaaza.parse_list_command(request))
    logger.append_keys(auth_mode=result.mode.value, chain_id=result.chain_id)
    return spaaza.list_response(result)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=spaaza, logger=logger, metrics=metrics, work=_list)
