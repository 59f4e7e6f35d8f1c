"""No provider code is ever minted unrecorded: the guard claim writes the provider reference
on the voucher before the provider is called, so even when every write after the call fails
(the commit, and the write that would expire the guard), the reference is on the voucher, a
retry at the same version gets the same code, and the transition that moves the voucher on
without it announces it unused. Nothing to alarm on, and no code to find in a log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from shared.domain import utcnow
from shared.ports import (
    GuardClaim,
    GuardHeld,
    GuardRef,
    OutcomeUnknown,
    StoreUnavailable,
    VoucherRef,
    Write,
)
from shared.providers import ProviderCode, ProviderRequest
from shared.retry import CommitPolicy
from shared.usecases.activation import activate_voucher
from shared.usecases.thalamus import consume_voucher
from tests.fakes.memory_store import InMemoryStore
from tests.fakes.provider import FakeProvider
from tests.fakes.store_proxy import StoreProxy
from tests.unit.test_usecases_on_both_stores import activate, consume, serial

QUICK = CommitPolicy(wait_seconds=0.0, sleep=lambda _s: None)


@dataclass
class Unreachable(StoreProxy):
    """The in-memory store, whose writes fail once `down` is set (except the guard claim)."""

    down: bool = False

    def commit(self, write: Write) -> None:
        if self.down and not isinstance(write, GuardClaim):
            raise OutcomeUnknown("every answer lost")
        super().commit(write)

    def release_guard(self, guard: GuardHeld) -> None:
        raise StoreUnavailable("unreachable")

    def expire_guard(self, guard: GuardHeld) -> None:
        raise StoreUnavailable("unreachable")


@pytest.fixture
def store() -> Unreachable:
    from infra.importer import validate
    from infra.importer.loader import build_groups
    from tests.conftest import demo_document

    parsed, _ = validate(demo_document())
    assert parsed is not None
    items = [i for g in build_groups(parsed) for i in (*g.items, *([g.event] if g.event else []))]
    return Unreachable(InMemoryStore.from_items(items))


def test_every_write_after_the_provider_call_fails_and_the_reference_is_still_on_the_voucher(
    store: Unreachable,
) -> None:
    def outage(_request: ProviderRequest) -> None:
        store.down = True  # DynamoDB goes away while the provider issues the code

    provider = FakeProvider(ProviderCode("KT-1"), during=outage)
    with pytest.raises(OutcomeUnknown):
        activate_voucher(store, activate(1), adapters=lambda _n: provider, policy=QUICK)
    guard = store.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))]
    assert guard is not None and guard.reference == provider.requests[0].reference  # written by the claim
    store.down = False
    later = utcnow() + timedelta(minutes=5)  # the guard has expired on its own
    consume_voucher(store, consume(1), policy=QUICK, clock=lambda: later)
    announced = [e for e in store.history(serial(1)) if e.event_type == "ACTIVATION_CODE_UNUSED"]
    assert [e.details["reference"] for e in announced] == [provider.requests[0].reference]
    voucher = store.inner.read([VoucherRef(serial(1))])[VoucherRef(serial(1))]
    assert voucher is not None and voucher.status.value == "REDEEMED"
