"""ES console: one issuance of a member, with its history, for a customer-service user.

Two round trips: session + member + voucher + definition in one batch, then the voucher's
history (a query its keys force). An unknown member, an unknown voucher and another
member's voucher read alike, and a refused token costs its one read whatever it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain import AuditEvent, Definition, Member, NotFound, Session, Voucher, utcnow
from shared.ports import DefinitionRef, MemberRef, SessionRef, VoucherRef, VoucherStore
from shared.usecases.es_rules import console_user


@dataclass(frozen=True)
class IssuanceDetail:
    member: Member
    voucher: Voucher
    definition: Definition
    history: list[AuditEvent]
    now: datetime
    viewer: Session


def console_issuance(
    store: VoucherStore,
    token_hash: str,
    member_id: str,
    definition_id: str,
    serial: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_viewer: Callable[[Session], None] = lambda _s: None,
) -> IssuanceDetail:
    """An unknown member, an unknown voucher and another member's voucher read alike."""
    now = clock()
    refs = (SessionRef(token_hash), MemberRef(member_id), VoucherRef(serial), DefinitionRef(definition_id))
    snapshot = store.read(refs)
    session = console_user(snapshot[SessionRef(token_hash)], now)
    on_viewer(session)
    member = snapshot[MemberRef(member_id)]
    voucher = snapshot[VoucherRef(serial)]
    definition = snapshot[DefinitionRef(definition_id)]
    if (
        member is None
        or voucher is None
        or definition is None
        or voucher.owner_member_id != member_id
        or voucher.definition_id != definition_id
    ):
        raise NotFound("no such member or issuance", what="member")
    return IssuanceDetail(member, voucher, definition, store.history(serial), now, session)
