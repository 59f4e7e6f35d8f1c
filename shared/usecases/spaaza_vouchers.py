"""Spaaza "get-user-vouchers": one user's vouchers in the acting chain.

Three round trips whatever the request names, fixed by its shape (never by what was found):

  1. the session and what the request names directly: the app (hostname), the admin grant
     on chain_id, the end-user aliases;
  2. the owner index of the member the first end-user identifier names (the session's own
     member in user mode) — queried even when the identifier names nobody, so the count of
     round trips never tells whether a user exists;
  3. one batch: the named members, and a page of that member's vouchers with definitions.

Then the judgement of unclaim, in its order (authentication, the acting chain, the end user:
shared/usecases/spaaza_rules.py); only the acting chain's vouchers are listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import Definition, Member, ParameterRequired, Voucher, utcnow
from shared.ports import AdminGrantRef, AppRef, MemberAliasRef, MemberRef, Ref, SessionRef, VoucherStore
from shared.usecases.listing import Page, Position, page_of
from shared.usecases.spaaza_rules import AuthMode, VoucherRequest, acting_chain, authenticate, end_user


@dataclass(frozen=True)
class UserVouchersRequest:
    request: VoucherRequest  # credentials, chain_id, end-user identifiers (no voucher)
    limit: int = 100
    after: Position | None = None
    keep: Callable[[Voucher, Definition], bool] = lambda _v, _d: True
    selective: bool = False  # `keep` filters on state (a voucher_status was asked for)


@dataclass(frozen=True)
class UserVouchers:
    mode: AuthMode
    chain_id: int
    member: Member
    page: Page
    now: datetime


def user_vouchers(
    store: VoucherStore, wanted: UserVouchersRequest, *, clock: Callable[[], datetime] = utcnow
) -> UserVouchers:
    now = clock()
    request = wanted.request
    caller, chain_param = request.caller, request.chain_id
    member_refs = [MemberAliasRef(kind, value) for kind, value in request.end_user.items()]
    first: list[Ref[Any]] = [SessionRef(caller.token_hash), *member_refs]
    if caller.app_hostname:
        first.append(AppRef(caller.app_hostname))
    if not caller.privileged and caller.user_id is not None and chain_param is not None:
        first.append(AdminGrantRef(caller.user_id, chain_param))
    snapshot = store.read(first)

    session, mode = authenticate(snapshot[SessionRef(caller.token_hash)], caller, now)
    chain = acting_chain(snapshot, session, mode, request)
    if chain is None:  # a pre-1.5.3 admin: a list has no voucher to take the chain from
        raise ParameterRequired("chain_id is required with admin authentication", parameter="chain_id")
    if mode is not AuthMode.USER and not member_refs:
        raise ParameterRequired("an end-user identifier is required", parameter="user_id")

    named = {m.member_id for r in member_refs if (m := snapshot[r]) is not None}
    if mode is AuthMode.USER:
        indexed = str(session.member_id)
        named.add(indexed)
    else:
        first_found = next((a for r in member_refs if (a := snapshot[r]) is not None), None)
        indexed = first_found.member_id if first_found is not None else ""  # "" names no partition

    def in_chain(voucher: Voucher, definition: Definition) -> bool:
        voucher_chain = voucher.chain_id if voucher.chain_id is not None else definition.chain_id
        return voucher_chain == chain and wanted.keep(voucher, definition)

    page = page_of(
        store,
        member_id=indexed,
        limit=wanted.limit,
        after=wanted.after,
        keep=in_chain,
        selective=wanted.selective,
        extra_refs=[MemberRef(m) for m in sorted(named)] or [SessionRef(caller.token_hash)],
    )
    member = end_user(snapshot.merged(page.snapshot), session, mode, chain, member_refs)
    if member.member_id != indexed:  # pragma: no cover - end_user insists the identifiers agree
        raise AssertionError("the listed member is not the judged one")
    return UserVouchers(mode, chain, member, page, now)
