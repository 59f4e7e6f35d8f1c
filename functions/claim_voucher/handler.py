"""POST|PUT /claim-voucher

Spaaza "claim-voucher", the inverse of unclaim: parse (dialect) -> claim (use case) -> respond.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import spaaza
from shared.domain import utcnow
from shared.runtime import RUNTIME, ApiRequest
from shared.usecases.unclaim import claim_voucher

logger = Logger(service="claim_voucher")
metrics = endpoint.serialize_flushes(Metrics(service="claim_voucher"))


def _claim(request: ApiRequest) -> dict[str, Any]:
    command = spaaza.parse_command(request)
    result = claim_voucher(RUNTIME.store(), command, policy=RUNTIME.settings().commit_policy())
    logger.append_keys(auth_mode=result.mode.value, chain_id=result.chain_id)
    return spaaza.success_response(result, utcnow(), "claim-voucher")


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=spaaza, logger=logger, metrics=metrics, work=_claim)
