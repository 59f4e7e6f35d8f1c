"""POST /client/users/{correlation_id}/voucher/{voucher_id}/activate

ES Loyalty "Activate Voucher": parse (dialect) -> activate (use case, provider adapter)
-> respond. Thin on purpose: Logger + Metrics only (no Tracer, no event resolver, no
pydantic). The provider's credentials are loaded only once a request is judged to need the
provider, before the guard is claimed (`ProviderAdapter.prepare`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared import endpoint
from shared.dialects import es_loyalty
from shared.domain import utcnow
from shared.providers import ProviderFailure, ProviderSetupError, adapter_for
from shared.runtime import RUNTIME
from shared.usecases.activation import activate_voucher

logger, metrics = endpoint.observability(__name__)
CLOCK = utcnow  # module attribute so tests can move time forward (guard expiry)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with endpoint.Answer(es_loyalty, logger, metrics) as answer:
        request = answer.read(event, context)
        command = es_loyalty.parse_command(request)
        es_voucher_id = request.path_params["voucher_id"]  # {definitionId}::{issuanceUuid}, as sent
        idempotency = endpoint.idempotency_for(
            request, lambda result, _now: es_loyalty.success_response(result, es_voucher_id)
        )
        logger.set_correlation_id(command.correlation_id)
        logger.append_keys(voucher_serial=command.serial)
        settings = RUNTIME.settings()
        adapters = partial(adapter_for, secret_name=settings.provider_secret_name)
        try:
            result = activate_voucher(
                RUNTIME.store(),
                command,
                policy=settings.commit_policy(),
                adapters=adapters,
                clock=CLOCK,
                metric=_count,
                idempotency=idempotency,
            )
        except ProviderSetupError as error:
            # Our deployment is wrong (secret missing/incomplete): not the member's fault.
            logger.error("activation provider is not set up", extra={"reason": str(error)})
            raise es_loyalty.internal_error(request) from None
        except ProviderFailure as error:
            logger.warning(
                "activation provider call failed", extra={"reason": error.message, "code": error.code}
            )
            raise
        logger.info(
            "voucher activation answered",
            extra={"idempotent": result.idempotent, "provider": result.activation.provider},
        )
        answer.ok(endpoint.respond(idempotency, lambda: es_loyalty.success_response(result, es_voucher_id)))
    return answer.response
