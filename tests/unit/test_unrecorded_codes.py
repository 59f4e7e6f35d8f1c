"""A provider code that cannot be recorded anywhere is the one loss the design cannot prevent
(the provider issued it; every write failed): it must reach on-call as a metric, which has an
alarm (infra/stacks/monitoring.py), and as a log line with what voids it, never the code."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import ports
from shared.domain import AuditEvent
from shared.usecases.activation_code import record_unused


class FailingStore:
    def __init__(self) -> None:
        self.attempts: list[Any] = []

    def commit(self, write: Any) -> None:
        self.attempts.append(write)
        raise ConnectionError("DynamoDB unreachable")


def _event() -> AuditEvent:
    return AuditEvent(
        serial="00000000-0000-4000-8000-000000000001",
        event_type="UNUSED_CODE",
        channel="es_loyalty",
        actor_kind="es_member",
        actor_id="alice",
        from_status="AVAILABLE",
        to_status="AVAILABLE",
        at=datetime(2026, 12, 6, tzinfo=UTC),
        request_id="req-1",
        details={"provider": "KESSELTRONICS", "reference": "KT-REF-42", "code": "SECRET-PAC-CODE"},
    )


def test_an_unrecordable_code_is_counted_and_logged_without_the_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics: list[str] = []
    store = FailingStore()
    with caplog.at_level(logging.ERROR):
        record_unused(store, ports.Record(_event()), metrics.append)  # type: ignore[arg-type]
    assert metrics == ["ProviderCodesUnused", "ProviderCodesUnrecorded"]
    assert len(store.attempts) == 1
    [line] = [r for r in caplog.records if r.getMessage() == "provider code not recorded"]
    assert (line.serial, line.reference, line.provider, line.request_id) == (  # type: ignore[attr-defined]
        "00000000-0000-4000-8000-000000000001",
        "KT-REF-42",
        "KESSELTRONICS",
        "req-1",
    )
    assert "SECRET-PAC-CODE" not in caplog.text


def test_a_recorded_code_is_only_counted_as_unused() -> None:
    metrics: list[str] = []

    class Store:
        def commit(self, write: Any) -> None:
            pass

    record_unused(Store(), ports.Record(_event()), metrics.append)  # type: ignore[arg-type]
    assert metrics == ["ProviderCodesUnused"]
