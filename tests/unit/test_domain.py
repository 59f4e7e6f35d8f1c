"""The canonical lifecycle: transitions, expiry in UTC, dialect views, and properties that
must hold for any sequence of operations through any dialect."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dialects.es_loyalty import status_of as es_status
from shared.dialects.spaaza import status_of as spaaza_status
from shared.dialects.thalamus import status_of as thalamus_status
from shared.domain import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    Activation,
    Effective,
    EndUserNotAllowed,
    LiveActivation,
    Status,
    Transition,
    Voucher,
    VoucherCodeLive,
    VoucherExpired,
    VoucherInvalidated,
    VoucherLocked,
    VoucherNotClaimed,
    VoucherNotIssued,
    VoucherRedeemed,
    activation_reference,
    decide_activate,
    decide_consume,
    decide_unclaim,
    effective_status,
    format_instant,
    parse_instant,
    pre_activation_status,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def voucher(status: Status = Status.CLAIMED, **changes: object) -> Voucher:
    base = Voucher(
        serial="s-1",
        definition_id="def",
        status=status,
        version=3,
        owner_member_id=None if status is Status.UNASSIGNED else "alice",
        expires_at=NOW + timedelta(days=30),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def live_activation(previous: Status = Status.CLAIMED, expiry: datetime | None = None) -> Activation:
    return Activation(
        activated_at=NOW - timedelta(minutes=1),
        provider="KESSELTRONICS",
        code_expiry=expiry or NOW + timedelta(minutes=10),
        authorization_code="KT-1",
        previous_status=previous,
        reference="s-1:v2",
    )


def activated(v: Voucher, now: datetime, code: str, expiry: datetime) -> Voucher:
    """What an activation writes: decide_activate's transition applied with the new code."""
    decision = decide_activate(v, now)
    assert isinstance(decision, Transition)
    return decision.apply(v, activation=Activation(now, "K", expiry, code, pre_activation_status(v), "r"))


class TestTransition:
    def test_apply_writes_the_new_status_at_the_next_version(self) -> None:
        v = voucher(Status.CLAIMED)
        after = decide_consume(v, NOW).apply(v)
        assert (after.status, after.version, after.serial) == (Status.REDEEMED, v.version + 1, v.serial)

    def test_apply_refuses_a_voucher_it_was_not_decided_on(self) -> None:
        v = voucher(Status.CLAIMED)
        decision = decide_consume(v, NOW)
        with pytest.raises(ValueError, match="decided on"):
            decision.apply(replace(v, version=v.version + 1))
        with pytest.raises(ValueError, match="decided on"):
            decision.apply(replace(v, status=Status.AVAILABLE))


class TestExpiry:
    def test_expires_exactly_at_the_instant_in_utc(self) -> None:
        v = voucher(expires_at=NOW)
        assert effective_status(v, NOW - timedelta(microseconds=1)) is Effective.CLAIMED
        assert effective_status(v, NOW) is Effective.EXPIRED

    def test_offsets_are_normalised_to_utc(self) -> None:
        # 23:30 in UTC-5 is 04:30 UTC the next day: still valid at 04:00 UTC.
        local_end_of_day = datetime(2026, 6, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
        v = voucher(expires_at=local_end_of_day)
        assert effective_status(v, datetime(2026, 6, 2, 4, 0, tzinfo=UTC)) is Effective.CLAIMED
        assert effective_status(v, datetime(2026, 6, 2, 4, 30, tzinfo=UTC)) is Effective.EXPIRED

    def test_final_states_win_over_expiry(self) -> None:
        assert effective_status(voucher(Status.REDEEMED, expires_at=NOW), NOW) is Effective.REDEEMED
        assert effective_status(voucher(Status.INVALIDATED, expires_at=NOW), NOW) is Effective.INVALIDATED

    def test_instants_round_trip(self) -> None:
        assert parse_instant(format_instant(NOW)) == NOW
        assert parse_instant("2026-06-01T12:00:00") == NOW  # naive is UTC
        assert format_instant(NOW) == "2026-06-01T12:00:00.000Z"


class TestConsume:
    @pytest.mark.parametrize("status", [Status.AVAILABLE, Status.CLAIMED])
    def test_issued_vouchers_become_redeemed(self, status: Status) -> None:
        t = decide_consume(voucher(status), NOW)
        assert (t.from_status, t.to_status, t.expected_version) == (status, Status.REDEEMED, 3)

    def test_activated_voucher_can_be_consumed_by_an_operator(self) -> None:
        v = voucher(Status.ACTIVATED, activation=live_activation())
        assert decide_consume(v, NOW).from_status is Status.ACTIVATED

    @pytest.mark.parametrize(
        ("v", "error"),
        [
            (voucher(Status.REDEEMED), VoucherRedeemed),
            (voucher(Status.INVALIDATED), VoucherInvalidated),
            (voucher(expires_at=NOW), VoucherExpired),
            (voucher(Status.UNASSIGNED), VoucherNotIssued),
        ],
    )
    def test_refusals(self, v: Voucher, error: type[Exception]) -> None:
        with pytest.raises(error):
            decide_consume(v, NOW)


class TestActivate:
    def test_live_activation_is_replayed(self) -> None:
        v = voucher(Status.ACTIVATED, activation=live_activation())
        decision = decide_activate(v, NOW)
        assert isinstance(decision, LiveActivation) and decision.activation.authorization_code == "KT-1"

    def test_expired_code_returns_to_reactivatable_state(self) -> None:
        v = voucher(Status.ACTIVATED, activation=live_activation(expiry=NOW))
        assert effective_status(v, NOW) is Effective.CLAIMED
        decision = decide_activate(v, NOW)
        assert isinstance(decision, Transition) and decision.to_status is Status.ACTIVATED
        again = activated(v, NOW, "KT-2", NOW + timedelta(minutes=5))
        # previous status survives repeated activations
        assert again.activation is not None and again.activation.previous_status is Status.CLAIMED

    def test_reference_changes_with_version(self) -> None:
        v = voucher()
        assert activation_reference(v) != activation_reference(replace(v, version=v.version + 1))

    @pytest.mark.parametrize(
        ("v", "error"),
        [
            (voucher(Status.REDEEMED), VoucherRedeemed),
            (voucher(Status.INVALIDATED), VoucherInvalidated),
            (voucher(expires_at=NOW - timedelta(seconds=1)), VoucherExpired),
            (voucher(Status.UNASSIGNED), VoucherNotIssued),
        ],
    )
    def test_refusals(self, v: Voucher, error: type[Exception]) -> None:
        with pytest.raises(error):
            decide_activate(v, NOW)


class TestUnclaim:
    def test_claimed_goes_back_to_available(self) -> None:
        t = decide_unclaim(voucher(), NOW, end_user=True, allows_end_user_to_claim=True)
        assert t.to_status is Status.AVAILABLE

    def test_expired_code_activation_counts_as_claimed(self) -> None:
        v = voucher(Status.ACTIVATED, activation=live_activation(expiry=NOW))
        assert (
            decide_unclaim(v, NOW, end_user=True, allows_end_user_to_claim=True).from_status
            is Status.ACTIVATED
        )

    @pytest.mark.parametrize(
        ("v", "end_user", "allows", "error"),
        [
            (voucher(Status.AVAILABLE), False, True, VoucherNotClaimed),
            (voucher(Status.UNASSIGNED), False, True, VoucherNotClaimed),
            (voucher(Status.REDEEMED), False, True, VoucherRedeemed),
            (voucher(Status.INVALIDATED), False, True, VoucherInvalidated),
            (voucher(expires_at=NOW), False, True, VoucherExpired),
            (voucher(Status.ACTIVATED, activation=live_activation()), False, True, VoucherCodeLive),
            (voucher(locked=True), True, True, VoucherLocked),
            (voucher(), True, False, EndUserNotAllowed),
        ],
    )
    def test_refusals(self, v: Voucher, end_user: bool, allows: bool, error: type[Exception]) -> None:
        with pytest.raises(error):
            decide_unclaim(v, NOW, end_user=end_user, allows_end_user_to_claim=allows)

    def test_admin_may_unclaim_locked_and_staff_only(self) -> None:
        v = voucher(locked=True)
        assert (
            decide_unclaim(v, NOW, end_user=False, allows_end_user_to_claim=False).to_status
            is Status.AVAILABLE
        )


class TestViews:
    def test_one_voucher_reads_coherently_through_every_dialect(self) -> None:
        consumed = voucher(Status.REDEEMED)
        assert (thalamus_status(consumed, NOW), es_status(consumed, NOW), spaaza_status(consumed)) == (
            "CONSUMED",
            "REDEEMED",
            "redeemed",
        )
        activated = voucher(Status.ACTIVATED, activation=live_activation())
        assert (thalamus_status(activated, NOW), es_status(activated, NOW), spaaza_status(activated)) == (
            "ACTIVE",
            "ACTIVATED",
            "claimed",
        )
        assert spaaza_status(voucher(Status.AVAILABLE)) == "generated"
        assert thalamus_status(voucher(Status.INVALIDATED), NOW) == "VOIDED"

    def test_transition_table_is_enforced(self) -> None:
        with pytest.raises(ValueError):
            Transition(Status.REDEEMED, Status.AVAILABLE, 1)
        assert all(not ALLOWED_TRANSITIONS[s] for s in FINAL_STATUSES)


# --------------------------------------------------------------------------- properties

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["consume", "activate", "unclaim_user", "unclaim_admin", "wait"]),
        st.integers(min_value=0, max_value=3600),
    ),
    max_size=25,
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")), deadline=None)
@given(
    start=st.sampled_from([Status.UNASSIGNED, Status.AVAILABLE, Status.CLAIMED]),
    locked=st.booleans(),
    allows=st.booleans(),
    lifetime=st.integers(min_value=1, max_value=20000),
    ops=OPERATIONS,
)
def test_property_lifecycle_invariants(
    start: Status, locked: bool, allows: bool, lifetime: int, ops: list[tuple[str, int]]
) -> None:
    """Any sequence of operations keeps: one status at a time, only allowed transitions,
    versions +1 per transition (so exactly one event each), final states stay final."""
    now = NOW
    v = voucher(start, locked=locked, expires_at=NOW + timedelta(seconds=lifetime))
    transitions = 0
    for op, seconds in ops:
        now = now + timedelta(seconds=seconds) if op == "wait" else now
        before = v
        try:
            if op == "consume":
                v = decide_consume(v, now).apply(v)
            elif op == "activate":
                decision = decide_activate(v, now)
                if isinstance(decision, LiveActivation):
                    assert decision.activation.is_live(now)
                    continue
                v = activated(v, now, "KT", now + timedelta(seconds=600))
            elif op.startswith("unclaim"):
                t = decide_unclaim(v, now, end_user=op == "unclaim_user", allows_end_user_to_claim=allows)
                v = t.apply(v, activation=None)
            else:
                continue
        except Exception as refused:
            assert type(refused).__module__ == "shared.domain", refused
            assert v == before  # a refusal changes nothing
            continue
        transitions += 1
        assert v.status in ALLOWED_TRANSITIONS[before.status]
        assert before.status not in FINAL_STATUSES
        assert v.version == before.version + 1
        assert effective_status(v, now) is not Effective.EXPIRED or op == "wait"
    assert v.version == 3 + transitions
