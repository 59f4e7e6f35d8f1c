"""The business rules of every state-changing use case, run against both implementations of
the port: in memory (no database) and DynamoDB, on moto in-process and on Amazon's DynamoDB
Local. The same assertions, the same round-trip counts through the port."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from shared.domain import (
    ActivationInProgress,
    Contention,
    IdentifierMismatch,
    NotFound,
    Unauthenticated,
    VoucherRedeemed,
    utcnow,
)
from shared.ports import (
    ConditionFailed,
    GuardRef,
    Ref,
    SessionLive,
    Snapshot,
    VoucherRef,
    Write,
    WriteConflict,
)
from shared.providers import ProviderBadResponse, ProviderCode, ProviderRequest
from shared.retry import CommitPolicy
from shared.runtime import hash_token
from shared.usecases.activation import activate_voucher
from shared.usecases.es_rules import ActivateCommand
from shared.usecases.spaaza_move import unclaim_voucher
from shared.usecases.spaaza_rules import Caller, VoucherRequest
from shared.usecases.thalamus import OperatorCommand, consume_voucher
from tests.conftest import demo_document, load_document, serial
from tests.fakes.memory_store import InMemoryStore
from tests.fakes.provider import FakeProvider
from tests.fakes.store_proxy import StoreProxy

QUICK = CommitPolicy(wait_seconds=0.0, sleep=lambda _s: None)


@dataclass
class Counted(StoreProxy):
    """The port, counting the round trips a use case makes through it."""

    reads: int = 0
    writes: int = 0
    fail_commits: list[BaseException] = field(default_factory=list)

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        self.reads += 1
        return super().read(refs)

    def commit(self, write: Write) -> None:
        self.writes += 1
        if self.fail_commits:
            raise self.fail_commits.pop(0)
        super().commit(write)

    @property
    def round_trips(self) -> int:
        return self.reads + self.writes


@pytest.fixture(params=["memory", "dynamodb", "dynamodb_local"])
def port(request: pytest.FixtureRequest) -> Iterator[Counted]:
    if request.param == "memory":
        from infra.importer import validate
        from infra.importer.loader import build_groups

        parsed, problems = validate(demo_document())
        assert parsed is not None and not problems
        items = [item for g in build_groups(parsed) for item in (*g.items, *([g.event] if g.event else []))]
        yield Counted(InMemoryStore.from_items(items))
    elif request.param == "dynamodb":
        store = request.getfixturevalue("store")
        load_document(store, demo_document())
        yield Counted(store)
    else:
        import uuid

        from shared.store import DynamoDBStore
        from shared.table_schema import create_table
        from tests.conftest import engine_client

        client = engine_client(request.getfixturevalue("dynamodb_local"))
        name = f"usecases-{uuid.uuid4().hex[:8]}"
        create_table(client, name)
        store = DynamoDBStore(client, name, sleep=lambda _s: None)
        load_document(store, demo_document())
        yield Counted(store)
        client.delete_table(TableName=name)


def _voucher(port: Counted, n: int) -> Any:
    return port.inner.read([VoucherRef(serial(n))])[VoucherRef(serial(n))]


def _events(port: Counted, n: int, kind: str) -> list[Any]:
    return [e for e in port.history(serial(n)) if e.event_type == kind]


# --------------------------------------------------------------------------- consume


def consume(n: int, token: str = "demo-thalamus-operator-anna", item: str = "CARWASH") -> OperatorCommand:
    return OperatorCommand(
        "MILES", item, serial(n), "BACKOFFICE", hash_token(token), "r1", {"parameter1": "x"}
    )


def test_consume_commits_state_and_event_in_two_round_trips(port: Counted) -> None:
    result = consume_voucher(port, consume(1), policy=QUICK)
    assert result.voucher.status.value == "REDEEMED" and result.product_name == "Car Wash"
    assert port.round_trips == 2
    assert _voucher(port, 1) == result.voucher
    (event,) = _events(port, 1, "CONSUMED")
    assert (event.actor_id, event.from_status, event.details["touchpoint"]) == (
        "op-anna",
        "AVAILABLE",
        "BACKOFFICE",
    )


def test_consume_twice_is_refused_the_second_time(port: Counted) -> None:
    consume_voucher(port, consume(1), policy=QUICK)
    with pytest.raises(VoucherRedeemed):
        consume_voucher(port, consume(1), policy=QUICK)
    assert len(_events(port, 1, "CONSUMED")) == 1


def test_no_permission_reads_as_not_found(port: Counted) -> None:
    with pytest.raises(NotFound) as caught:
        consume_voucher(port, consume(1, token="demo-thalamus-operator-otto"), policy=QUICK)
    assert caught.value.details["what"] == "voucherItemCode"


def test_a_revoked_session_at_commit_is_unauthenticated_and_writes_nothing(port: Counted) -> None:
    port.fail_commits.append(ConditionFailed(SessionLive(hash_token("demo-thalamus-operator-anna"))))
    with pytest.raises(Unauthenticated):
        consume_voucher(port, consume(1), policy=QUICK)
    assert _voucher(port, 1).status.value == "AVAILABLE"


def test_conflicts_are_retried_then_answered_as_contention(port: Counted) -> None:
    port.fail_commits.append(WriteConflict("x"))
    consume_voucher(port, consume(1), policy=QUICK)
    assert port.writes == 2
    port.fail_commits.extend(WriteConflict("x") for _ in range(QUICK.max_attempts))
    with pytest.raises(Contention):
        consume_voucher(port, consume(8), policy=QUICK)
    assert _voucher(port, 8).status.value == "AVAILABLE"


def test_consume_does_not_commit_under_an_activation_in_flight(port: Counted) -> None:
    fake = FakeProvider(ProviderCode("KT-1"))

    def consume_meanwhile(_request: ProviderRequest) -> None:
        with pytest.raises(ActivationInProgress):
            consume_voucher(port, consume(1), policy=QUICK)

    fake.during = consume_meanwhile
    activate_voucher(port, activate(1), adapters=lambda _n: fake, policy=QUICK)
    assert _voucher(port, 1).status.value == "ACTIVATED"
    assert _events(port, 1, "CONSUMED") == []
    consume_voucher(port, consume(1), policy=QUICK)  # the guard is released: now it may
    assert _voucher(port, 1).activation.authorization_code == "KT-1"  # the code stays recorded


# --------------------------------------------------------------------------- activate


def activate(n: int, token: str = "demo-es-member-alice") -> ActivateCommand:
    return ActivateCommand("corr", "carwash", serial(n), hash_token(token), "r2")


def test_first_activation_three_round_trips_one_provider_call_then_replay_one(port: Counted) -> None:
    fake = FakeProvider(ProviderCode("KT-1"))
    first = activate_voucher(port, activate(1), adapters=lambda _n: fake, policy=QUICK)
    assert (first.idempotent, first.activation.authorization_code, port.round_trips) == (False, "KT-1", 3)
    assert port.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))] is None  # released by the commit
    port.reads = port.writes = 0
    again = activate_voucher(port, activate(1), adapters=lambda _n: fake, policy=QUICK)
    assert (again.idempotent, again.activation, port.round_trips, len(fake.requests)) == (
        True,
        first.activation,
        1,
        1,
    )
    assert len(_events(port, 1, "ACTIVATED")) == 1


def test_a_provider_that_certainly_issued_nothing_releases_the_guard(port: Counted) -> None:
    refused = ProviderBadResponse("x", nothing_issued=True)  # a 4xx, or the connection refused
    with pytest.raises(ProviderBadResponse):
        activate_voucher(port, activate(1), adapters=lambda _n: FakeProvider(refused), policy=QUICK)
    assert port.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))] is None
    assert (
        _voucher(port, 1).status.value == "AVAILABLE" and port.history(serial(1))[-1].event_type == "IMPORTED"
    )


def test_a_provider_failure_that_may_have_issued_keeps_the_reference_until_the_voucher_moves_on(
    port: Counted,
) -> None:
    """A timeout or an unreadable answer: the provider may hold a code for the reference. The
    guard ends but stays, expired, with its reference; a consume then announces it unused in
    its own transaction, exactly once, and clears it."""
    with pytest.raises(ProviderBadResponse):
        activate_voucher(
            port, activate(1), adapters=lambda _n: FakeProvider(ProviderBadResponse("x")), policy=QUICK
        )
    left = port.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))]
    assert left is not None and not left.is_held(utcnow()) and left.reference == f"{serial(1)}:v1"
    assert _events(port, 1, "ACTIVATION_CODE_UNUSED") == []  # a retry would still carry it
    consume_voucher(port, consume(1), policy=QUICK)
    (unused,) = _events(port, 1, "ACTIVATION_CODE_UNUSED")
    assert unused.details["reference"] == f"{serial(1)}:v1" and "authorization_code" not in unused.details
    assert port.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))] is None


def test_a_code_the_commit_could_not_record_is_the_retrys_code_never_announced(port: Counted) -> None:
    fake = FakeProvider(ProviderCode("KT-KEPT"))
    token = hash_token("demo-es-member-alice")
    fake.during = lambda _r: port.fail_commits.append(ConditionFailed(SessionLive(token)))
    with pytest.raises(Unauthenticated):
        activate_voucher(port, activate(1), adapters=lambda _n: fake, policy=QUICK)
    assert _events(port, 1, "ACTIVATION_CODE_UNUSED") == []  # not unused: the retry carries it
    left = port.inner.read([GuardRef(serial(1))])[GuardRef(serial(1))]
    assert left is not None and left.reference == fake.requests[0].reference
    fake.during = None
    result = activate_voucher(port, activate(1), adapters=lambda _n: fake, policy=QUICK)
    assert result.activation.authorization_code == "KT-KEPT"
    assert fake.requests[1].reference == fake.requests[0].reference  # the same reference again
    assert _voucher(port, 1).status.value == "ACTIVATED"
    assert _events(port, 1, "ACTIVATION_CODE_UNUSED") == []


def test_another_members_voucher_reads_as_missing(port: Counted) -> None:
    with pytest.raises(NotFound):
        activate_voucher(
            port, activate(8), adapters=lambda _n: FakeProvider(ProviderCode("KT")), policy=QUICK
        )
    with pytest.raises(NotFound):
        activate_voucher(
            port, activate(999_999), adapters=lambda _n: FakeProvider(ProviderCode("KT")), policy=QUICK
        )
    assert port.round_trips == 2  # one read each: existence costs nothing extra


# --------------------------------------------------------------------------- unclaim

ADMIN1 = Caller(hash_token("demo-spaaza-admin-chain1"), privileged=False, user_id=900)
ALICE = Caller(
    hash_token("demo-spaaza-user-alice"), privileged=False, user_id=1001, app_hostname="demo.myprice.app"
)


def unclaim(caller: Caller, **kwargs: Any) -> VoucherRequest:
    return VoucherRequest(caller=caller, request_id="r3", **kwargs)


def test_unclaim_by_admin_in_three_round_trips(port: Counted) -> None:
    result = unclaim_voucher(
        port, unclaim(ADMIN1, chain_id=1, end_user={"user_id": 1001}, voucher={"voucher_id": 40577})
    )
    outcome = (result.voucher.status.value, result.target.mode.value, port.round_trips)
    assert outcome == ("AVAILABLE", "admin", 3)
    (event,) = _events(port, 11, "UNCLAIMED")
    assert (event.details["auth_mode"], event.from_status) == ("admin", "CLAIMED")


@pytest.mark.parametrize("end_user", [{"user_id": 2001}, {"user_id": 777777}], ids=["other-chain", "missing"])
def test_admin_naming_a_user_it_may_not_see_reads_as_naming_nobody(
    port: Counted, end_user: dict[str, Any]
) -> None:
    """Beside a valid identifier, another chain's user is not a "different user" (904): it is
    nobody (68), and costs exactly the round trips a missing one costs."""
    with pytest.raises(NotFound) as caught:
        unclaim_voucher(
            port,
            unclaim(
                ADMIN1,
                chain_id=1,
                end_user={"member_number": "M-1001", **end_user},
                voucher={"voucher_id": 40577},
            ),
        )
    assert caught.value.details["what"] == "user"
    assert port.round_trips == 2


def test_admin_naming_two_visible_users_is_a_mismatch(port: Counted) -> None:
    with pytest.raises(IdentifierMismatch):
        unclaim_voucher(
            port,
            unclaim(
                ADMIN1,
                chain_id=1,
                end_user={"user_id": 1001, "member_number": "M-1002"},
                voucher={"voucher_id": 40577},
            ),
        )


@pytest.mark.parametrize("voucher_id", [None, 999999], ids=["other-members", "missing"])
def test_user_pairing_own_key_with_a_voucher_it_may_not_see_reads_as_missing(
    port: Counted, voucher_id: int | None
) -> None:
    other = _voucher(port, 17)  # bob's
    named = other.voucher_id if voucher_id is None else voucher_id
    own_key = _voucher(port, 11).voucher_key
    with pytest.raises(NotFound) as caught:
        unclaim_voucher(port, unclaim(ALICE, voucher={"voucher_key": own_key, "voucher_id": named}))
    assert caught.value.details["what"] == "voucher"
    assert port.round_trips == 2


def test_unclaim_waits_out_an_activation_in_flight(port: Counted) -> None:
    # voucher 2: alice's CLAIMED car-wash voucher, activatable
    fake = FakeProvider(ProviderCode("KT-2"))
    key2 = _voucher(port, 2).voucher_key

    def unclaim_meanwhile(_request: ProviderRequest) -> None:
        with pytest.raises(ActivationInProgress):
            unclaim_voucher(port, unclaim(ALICE, voucher={"voucher_key": key2}), policy=QUICK)

    fake.during = unclaim_meanwhile
    activate_voucher(port, activate(2), adapters=lambda _n: fake, policy=QUICK)
    assert _events(port, 2, "UNCLAIMED") == []
    assert _voucher(port, 2).activation.authorization_code == "KT-2"


def test_expired_guard_does_not_block(port: Counted) -> None:
    from shared.domain import ActivationGuard
    from shared.ports import GuardClaim, VoucherAt

    voucher = _voucher(port, 1)
    past = utcnow() - timedelta(seconds=60)
    port.inner.commit(
        GuardClaim(ActivationGuard(voucher.serial, "crashed", "ref", past, past), VoucherAt.of(voucher))
    )
    consume_voucher(port, consume(1), policy=QUICK)
    assert _voucher(port, 1).status.value == "REDEEMED"


# --------------------------------------------------------------------------- Idempotency-Key


def _keyed(key: str = "k-1", fingerprint: str = "f-1") -> Any:
    from shared.usecases.idempotency import Idempotency

    return Idempotency(
        key, fingerprint, lambda result, _now: (200, f"consumed {result.voucher.serial}", {"A": "b"})
    )


def test_a_key_costs_one_read_and_no_write_of_its_own_and_a_repeat_replays(port: Counted) -> None:
    from shared.domain import IdempotentReplay

    consume_voucher(port, consume(1), policy=QUICK, idempotency=_keyed())
    assert port.round_trips == 3  # the request's read, the key's read (after authentication), one commit
    with pytest.raises(IdempotentReplay) as replayed:
        consume_voucher(port, consume(1), policy=QUICK, idempotency=_keyed())
    assert (replayed.value.answer.status, replayed.value.answer.body) == (200, f"consumed {serial(1)}")
    assert dict(replayed.value.answer.headers) == {"A": "b"}
    assert port.round_trips == 5  # two reads, nothing judged, nothing written


def test_a_key_with_another_request_is_refused_and_an_expired_key_is_judged_again(port: Counted) -> None:
    from shared.domain import IdempotencyKeyReused

    consume_voucher(port, consume(1), policy=QUICK, idempotency=_keyed())
    with pytest.raises(IdempotencyKeyReused):
        consume_voucher(port, consume(5), policy=QUICK, idempotency=_keyed(fingerprint="f-other"))
    later = utcnow() + timedelta(hours=24, seconds=2)
    with pytest.raises(VoucherRedeemed):  # its answer expired: judged on the voucher as it is
        consume_voucher(port, consume(1), policy=QUICK, idempotency=_keyed(), clock=lambda: later)
    result = consume_voucher(port, consume(2), policy=QUICK, idempotency=_keyed(), clock=lambda: later)
    assert result.voucher.status.value == "REDEEMED"  # the expired key was taken again


def test_a_key_lost_to_a_racing_repeat_reads_the_winners_answer(
    port: Counted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one key read "no answer kept" and both commit: the second's
    transaction fails on the key (and the voucher), plans again and replays the first's."""
    from shared.domain import IdempotentReplay
    from shared.ports import IdempotencyRef

    real_read = port.inner.read
    raced: list[int] = []

    def read(refs: Iterable[Ref[Any]]) -> Snapshot:
        snapshot = real_read(refs)
        if any(isinstance(r, IdempotencyRef) for r in refs) and not raced:
            raced.append(1)
            consume_voucher(port.inner, consume(1), policy=QUICK, idempotency=_keyed())  # the other one wins
        return snapshot

    monkeypatch.setattr(port.inner, "read", read)
    with pytest.raises(IdempotentReplay):
        consume_voucher(port, consume(1), policy=QUICK, idempotency=_keyed())
    monkeypatch.undo()
    assert len(_events(port, 1, "CONSUMED")) == 1
