"""The activation use case with fake provider adapters (no HTTP)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.domain import utcnow
from shared.providers import ProviderBadResponse, ProviderCode
from shared.retry import CommitPolicy
from shared.runtime import hash_token
from shared.usecases.activation import activate_voucher
from shared.usecases.es_rules import ActivateCommand
from tests.activation.conftest import ALICE, load_extended
from tests.conftest import guard_fields, plant_guard, serial
from tests.fakes.provider import FakeProvider


def command(n: int = 1) -> ActivateCommand:
    return ActivateCommand(
        correlation_id="corr-unit",
        definition_id="carwash",
        serial=serial(n),
        token_hash=hash_token(ALICE),
        request_id="req-1",
    )


@pytest.fixture
def loaded(store: Any) -> Any:
    load_extended(store)
    return store


def guard(store: Any) -> Any:
    return guard_fields(store, serial(1))


def test_already_expired_code_from_the_provider_is_a_bad_response(loaded: Any) -> None:
    fake = FakeProvider(ProviderCode("KT-OLD", expires_at=utcnow() - timedelta(seconds=1)))
    metrics: list[str] = []
    with pytest.raises(ProviderBadResponse):
        activate_voucher(loaded, command(), adapters=lambda _n: fake, metric=metrics.append)
    assert metrics == ["ProviderCalls", "ProviderFailures", "ProviderCodesUnsettled"]
    assert _left(loaded) == fake.requests[0].reference  # a code exists: kept for the retry


def test_unexpected_adapter_failure_ends_the_guard_and_keeps_its_reference(loaded: Any) -> None:
    fake = FakeProvider(RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        activate_voucher(loaded, command(), adapters=lambda _n: fake)
    assert _left(loaded) == fake.requests[0].reference  # whether it issued is unknown


def _left(store: Any) -> str | None:
    """The reference of the expired guard an activation left, or None."""
    fields = guard(store)
    assert fields is None or int(fields["expires_at_ms"]) == 0
    return None if fields is None else str(fields["reference"])


def test_code_expiry_defaults_to_the_definition_validity(loaded: Any) -> None:
    fake = FakeProvider(ProviderCode("KT-1"))
    now = utcnow()
    result = activate_voucher(loaded, command(), adapters=lambda _n: fake, clock=lambda: now)
    assert result.activation.code_expiry == now + timedelta(seconds=900)
    (request,) = fake.requests
    assert request.reference.startswith(serial(1) + ":v")
    assert request.config.product_code == "CW-BASIC"


def test_wait_of_zero_answers_in_progress_at_once(loaded: Any) -> None:
    from shared.domain import ActivationInProgress

    held_until = int((utcnow() + timedelta(seconds=30)).timestamp() * 1000)
    plant_guard(loaded, serial(1), "other", held_until)
    with pytest.raises(ActivationInProgress):
        activate_voucher(
            loaded,
            command(),
            adapters=lambda _n: FakeProvider(ProviderCode("KT-1")),
            policy=CommitPolicy(wait_seconds=0),
        )
