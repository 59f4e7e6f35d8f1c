"""Several invocations of one handler at once in one process (the local stack and the race
tests do that; a Lambda container never does) share Powertools' metric set: a flush must not
fail because another invocation's flush emptied the set under it (found under HTTP load on the
local stack as a 502 after the handler had answered)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit


def test_flushes_of_concurrent_invocations_are_atomic(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.consume_voucher import handler

    provider = handler.metrics.provider
    serialize = provider.serialize_metric_set

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # widen the window between the emptiness check and the serialization
        return serialize(*args, **kwargs)

    monkeypatch.setattr(provider, "serialize_metric_set", slow)
    monkeypatch.setattr("builtins.print", lambda *_a, **_k: None)  # the EMF lines
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def invocation() -> None:
        handler.metrics.add_metric(name="Succeeded", unit=MetricUnit.Count, value=1)
        barrier.wait()
        try:
            provider.flush_metrics()
        except BaseException as error:
            errors.append(error)

    with pytest.warns(UserWarning, match="No application metrics"):  # the second finds it empty
        threads = [threading.Thread(target=invocation) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
