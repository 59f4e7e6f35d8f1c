"""ES Loyalty's lists: a member's own issuances, and the customer-service console's view of
any member's issuances (one issuance with its history: shared/usecases/console_issuance.py).

Round trips. Member list: 3 (the session, the owner index, one batch of vouchers and
definitions). Console list: 3 (the session with the named member, the index, the batch).
A request refused at authentication costs its one read whatever it names, so nobody
learns from the count what exists.

Nothing here knows the wire: the dialect turns ES parameters into an `IssuanceFilter` and
the results into ES bodies (and decides what a console may never see: the live code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain import (
    Definition,
    Effective,
    NotFound,
    Session,
    Voucher,
    effective_status,
    utcnow,
)
from shared.ports import MemberRef, SessionRef, VoucherStore
from shared.usecases.es_rules import PAC_REWARD_TYPE, console_user, listing_member
from shared.usecases.listing import Page, Position, page_of

ACTIVATABLE = frozenset({Effective.AVAILABLE, Effective.CLAIMED})


@dataclass(frozen=True)
class IssuanceFilter:
    """What to list. None / empty: no restriction on that attribute."""

    limit: int = 20
    after: Position | None = None
    statuses: frozenset[Effective] = frozenset()
    reward_type: str | None = None
    business_units: frozenset[str] = frozenset()
    issued_from: datetime | None = None  # inclusive
    issued_to: datetime | None = None  # inclusive
    activatable: bool | None = None


@dataclass(frozen=True)
class IssuancePage:
    member_id: str
    page: Page
    now: datetime
    viewer: Session


def activatable(voucher: Voucher, definition: Definition, now: datetime) -> bool:
    """Whether the member could activate it now: a PAC voucher with a provider, issued and
    usable, and no live code (a code that expired makes it activatable again)."""
    return (
        definition.reward_type == PAC_REWARD_TYPE
        and definition.provider is not None
        and effective_status(voucher, now) in ACTIVATABLE
    )


def _keep(wanted: IssuanceFilter, now: datetime) -> Callable[[Voucher, Definition], bool]:
    def keep(voucher: Voucher, definition: Definition) -> bool:
        if wanted.statuses and effective_status(voucher, now) not in wanted.statuses:
            return False
        if wanted.reward_type is not None and definition.reward_type != wanted.reward_type:
            return False
        if wanted.business_units and definition.business_unit not in wanted.business_units:
            return False
        return wanted.activatable is None or activatable(voucher, definition, now) is wanted.activatable

    return keep


def member_issuances(
    store: VoucherStore, token_hash: str, wanted: IssuanceFilter, *, clock: Callable[[], datetime] = utcnow
) -> IssuancePage:
    now = clock()
    session = listing_member(store.read([SessionRef(token_hash)])[SessionRef(token_hash)], now)
    member_id = str(session.member_id)
    return IssuancePage(member_id, _page(store, member_id, wanted, now), now, session)


def console_issuances(
    store: VoucherStore,
    token_hash: str,
    member_id: str,
    wanted: IssuanceFilter,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_viewer: Callable[[Session], None] = lambda _s: None,
) -> IssuancePage:
    """`on_viewer` is told who the CSR is as soon as that is known (every view is logged with
    the CSR's id, refused ones too)."""
    now = clock()
    snapshot = store.read([SessionRef(token_hash), MemberRef(member_id)])
    session = console_user(snapshot[SessionRef(token_hash)], now)
    on_viewer(session)
    if snapshot[MemberRef(member_id)] is None:
        raise NotFound("no such member", what="member")
    return IssuancePage(member_id, _page(store, member_id, wanted, now), now, session)


def _page(store: VoucherStore, member_id: str, wanted: IssuanceFilter, now: datetime) -> Page:
    return page_of(
        store,
        member_id=member_id,
        limit=wanted.limit,
        after=wanted.after,
        newest=wanted.issued_to,
        oldest=wanted.issued_from,
        keep=_keep(wanted, now),
        selective=bool(
            wanted.statuses or wanted.reward_type or wanted.business_units or wanted.activatable is not None
        ),
    )
