"""POST /client/users/{correlation_id}/voucher/{voucher_id}/activate

ES Loyalty "Activate Voucher": parse (dialect) -> activate (use case, provider adapter)
-> respond. Thin on purpose: Logger + Metrics only (no Tracer, no event resolver, no
pydantic), and the provider's credentials are fetched lazily on the first provider call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared import endpoint
from shared.dialects import es_loyalty
from shared.domain import utcnow
from shared.providers import ProviderFailure, ProviderSetupError, adapter_for
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.activate import ActivateCommand, activate_voucher

# Service name as in shared/routes.py (= CDK's POWERTOOLS_SERVICE_NAME); namespace from the environment.
logger = Logger(service="activate_voucher")
metrics = endpoint.serialize_flushes(Metrics(service="activate_voucher"))
CLOCK = utcnow  # module attribute so tests can move time forward (guard expiry)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _activate(request: ApiRequest) -> dict[str, Any]:
    correlation_id = es_loyalty.parse_correlation_id(request)
    logger.set_correlation_id(correlation_id)
    token = es_loyalty.parse_token(request)
    definition_id, serial = es_loyalty.parse_voucher_id(request)
    logger.append_keys(voucher_serial=serial)
    settings = RUNTIME.settings()
    command = ActivateCommand(
        correlation_id=correlation_id,
        definition_id=definition_id,
        serial=serial,
        token_hash=hash_token(token),
        request_id=request.request_id,
    )
    try:
        result = activate_voucher(
            RUNTIME.store(),
            command,
            policy=settings.commit_policy(),
            adapters=partial(adapter_for, secret_name=settings.provider_secret_name),
            clock=CLOCK,
            metric=_count,
        )
    except ProviderSetupError as error:
        # Our deployment is wrong (secret missing/incomplete): not the member's fault.
        logger.error("activation provider is not set up", extra={"reason": str(error)})
        raise es_loyalty.internal_error(request) from None
    except ProviderFailure as error:
        logger.warning("activation provider call failed", extra={"reason": error.message, "code": error.code})
        raise
    logger.info(
        "voucher activation answered",
        extra={"idempotent": result.idempotent, "provider": result.activation.provider},
    )
    return es_loyalty.success_response(result, request.path_params["voucher_id"])


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=es_loyalty, logger=logger, metrics=metrics, work=_activate)
