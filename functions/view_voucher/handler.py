"""GET /api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}

Thalamus v4: an operator views a voucher (read only): parse (dialect) -> view (use case) ->
the voucher in the envelope consume answers with.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import thalamus
from shared.domain import utcnow
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.consume import ConsumeCommand
from shared.usecases.operator_view import view_voucher

logger = Logger(service="view_voucher")
metrics = endpoint.serialize_flushes(Metrics(service="view_voucher"))


def _view(request: ApiRequest) -> dict[str, Any]:
    touchpoint, token = thalamus.parse_credentials(request)
    activity_code, item_code, voucher_code = thalamus.parse_path(request)
    command = ConsumeCommand(
        activity_code=activity_code,
        item_code=item_code,
        voucher_code=voucher_code,
        touchpoint=touchpoint,
        token_hash=hash_token(token),
        parameters={},
        request_id=request.request_id,
    )
    return thalamus.success_response(view_voucher(RUNTIME.store(), command), utcnow())


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=thalamus, logger=logger, metrics=metrics, work=_view)
