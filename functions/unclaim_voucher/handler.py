"""POST|PUT /unclaim-voucher

Spaaza "unclaim-voucher": parse (dialect) -> unclaim (use case) -> respond.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import spaaza
from shared.domain import utcnow
from shared.runtime import RUNTIME, ApiRequest
from shared.usecases.unclaim import unclaim_voucher

# Service name as in shared/routes.py (= CDK's POWERTOOLS_SERVICE_NAME); namespace from the environment.
logger = Logger(service="unclaim_voucher")
metrics = endpoint.serialize_flushes(Metrics(service="unclaim_voucher"))


def _unclaim(request: ApiRequest) -> dict[str, Any]:
    command = spaaza.parse_command(request)
    result = unclaim_voucher(RUNTIME.store(), command, policy=RUNTIME.settings().commit_policy())
    logger.append_keys(auth_mode=result.mode.value, chain_id=result.chain_id)
    return spaaza.success_response(result, utcnow())


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=spaaza, logger=logger, metrics=metrics, work=_unclaim)
