"""EventBridge schedule -> settle provider codes (shared/usecases/settle_codes.py).

Every few minutes: for each provider the secret names, list what it issued in the look-back
window, announce (ACTIVATION_CODE_UNUSED, once) what no voucher carries and none can, and
void every announced code at the provider (the compensating call). A provider that cannot be
reached fails only its own part of the run (the next run covers the same window again).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared import endpoint
from shared.domain import utcnow
from shared.providers import ADAPTERS, ProviderFailure, ProviderSetupError, adapter_for
from shared.runtime import RUNTIME, end_of_init
from shared.usecases.settle_codes import settle_codes

logger, metrics = endpoint.observability(__name__)
LOOKBACK_HOURS = 48.0  # at least a code's longest validity: what may still be used at a terminal


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = RUNTIME.settings()
    hours = float(os.environ.get("SETTLE_LOOKBACK_HOURS", LOOKBACK_HOURS))
    since = utcnow() - timedelta(hours=hours)
    request_id = str(getattr(context, "aws_request_id", None) or event.get("id") or "settle")
    report: dict[str, Any] = {}
    store = RUNTIME.store()
    end_of_init()
    for name in ADAPTERS:
        adapter = adapter_for(name, secret_name=settings.provider_secret_name)
        assert adapter is not None
        try:
            settled = settle_codes(store, adapter, since, request_id=request_id)
        except (ProviderSetupError, ProviderFailure) as error:
            logger.error("provider codes not settled", extra={"provider": name, "reason": str(error)})
            metrics.add_metric(name="SettlementFailures", unit=MetricUnit.Count, value=1)
            report[name] = {"error": type(error).__name__}
            continue
        counts = {
            "listed": settled.listed,
            "pending": len(settled.pending),
            "carried": len(settled.carried),
            "announced": len(settled.announced),
            "voided": len(settled.voided),
            "unknown": len(settled.unknown),
        }
        metrics.add_metric(name="ProviderCodesAnnounced", unit=MetricUnit.Count, value=len(settled.announced))
        metrics.add_metric(name="ProviderCodesVoided", unit=MetricUnit.Count, value=len(settled.voided))
        logger.info("provider codes settled", extra={"provider": name, **counts})
        report[name] = counts
    return report
