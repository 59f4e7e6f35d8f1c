"""Who acts on which Spaaza voucher: the resolution claim and unclaim share.

Reads happen in phases fixed by the request's shape (its auth mode and which identifiers it
sends), never by what earlier phases found, so a caller cannot count round trips to learn
whether a user or a voucher it may not see exists:

  1. the session and everything the request names directly: the app (hostname), the admin
     grant on chain_id, the end-user aliases, the voucher aliases (third_party_id too, when
     chain_id is sent);
  2. the members and vouchers (+ definitions) the aliases name, the chain, the admin grant
     on the voucher's chain for pre-1.5.3 admins without chain_id, and the third_party_id
     alias when its chain was only learnt in phase 1;
  3. only for that last shape: the voucher that third_party_id names.

Then one judgement in a documented order (docs/authorization.md): authentication, the
acting chain, the end user, the voucher. An identifier naming something the caller may not
see (another chain's user, another member's voucher) reads exactly as one naming nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import (
    Definition,
    Member,
    ParameterNotUsable,
    ParameterRequired,
    Session,
    Voucher,
)
from shared.ports import (
    AdminGrantRef,
    AppRef,
    ChainRef,
    DefinitionRef,
    GuardRef,
    MemberAliasRef,
    MemberRef,
    Ref,
    SessionRef,
    Snapshot,
    VoucherAliasRef,
    VoucherRef,
    VoucherStore,
)
from shared.usecases.spaaza_rules import (
    AuthMode,
    VoucherRequest,
    acting_chain,
    admin_chain,
    authenticate,
    end_user,
    voucher_named,
)

VOUCHER_IDENTIFIERS = ("voucher_key", "voucher_id", "third_party_id")


@dataclass(frozen=True)
class Target:
    mode: AuthMode
    session: Session
    chain_id: int
    member: Member
    voucher: Voucher
    definition: Definition
    grant: AdminGrantRef | None  # the admin grant the decision relies on (re-checked at commit)
    snapshot: Snapshot


def resolve(store: VoucherStore, request: VoucherRequest, now: datetime) -> Target:
    if not request.voucher:
        raise ParameterRequired("a voucher identifier is required", parameter="voucher_key")
    caller, chain_param = request.caller, request.chain_id
    tp = request.voucher.get("third_party_id")
    member_refs = [MemberAliasRef(kind, value) for kind, value in request.end_user.items()]
    alias_refs = [
        VoucherAliasRef(kind, request.voucher[kind])
        for kind in ("voucher_key", "voucher_id")
        if kind in request.voucher
    ]
    tp_early = tp is not None and chain_param is not None
    if tp is not None and chain_param is not None:
        alias_refs.append(VoucherAliasRef("third_party_id", tp, chain_param))
    first: list[Ref[Any]] = [SessionRef(caller.token_hash), *member_refs, *alias_refs]
    if caller.app_hostname:
        first.append(AppRef(caller.app_hostname))
    if not caller.privileged and caller.user_id is not None and chain_param is not None:
        first.append(AdminGrantRef(caller.user_id, chain_param))
    if tp is not None and chain_param is not None:
        first.append(ChainRef(chain_param))
    snapshot = store.read(first)

    session, mode = authenticate(snapshot[SessionRef(caller.token_hash)], caller, now)
    chain = acting_chain(snapshot, session, mode, request)
    if mode is not AuthMode.USER and not member_refs:
        raise ParameterRequired("an end-user identifier is required", parameter="user_id")
    if chain is None and tp is not None and not alias_refs:
        raise ParameterRequired("chain_id is required to use third_party_id", parameter="chain_id")

    # ---- phase 2: what phase 1 made nameable
    member_ids = {m.member_id for r in member_refs if (m := snapshot[r]) is not None}
    if mode is AuthMode.USER:
        member_ids.add(str(session.member_id))
    found = [a for r in alias_refs if (a := snapshot[r]) is not None]
    second: list[Ref[Any]] = [MemberRef(m) for m in sorted(member_ids)]
    second += _voucher_refs({a.serial: a.definition_id for a in found})
    # the chains the voucher may be in: the acting one, or (pre-1.5.3 admin without
    # chain_id) each chain the aliases name, with the admin's grant on it
    candidates = (
        [chain] if chain is not None else sorted({a.chain_id for a in found if a.chain_id is not None})
    )
    if chain is None:
        second += [AdminGrantRef(int(str(session.spaaza_user_id)), c) for c in candidates]
    late_tp = tp if tp is not None and not tp_early else None
    if late_tp is not None:
        for c in candidates:
            second += [ChainRef(c), VoucherAliasRef("third_party_id", late_tp, c)]
    snapshot = snapshot.merged(store.read(second or [SessionRef(caller.token_hash)]))

    if late_tp is not None:  # ---- phase 3, for this request shape only: the voucher it names
        late = [v for c in candidates if (v := snapshot[VoucherAliasRef("third_party_id", late_tp, c)])]
        refs = [r for r in _voucher_refs({v.serial: v.definition_id for v in late}) if snapshot[r] is None]
        snapshot = snapshot.merged(store.read(refs or [SessionRef(caller.token_hash)]))

    grant: AdminGrantRef | None = None
    if mode is AuthMode.ADMIN:
        chain, grant = admin_chain(snapshot, session, chain, alias_refs)
    assert chain is not None
    if late_tp is not None:
        alias_refs.append(VoucherAliasRef("third_party_id", late_tp, chain))
    member = end_user(snapshot, session, mode, chain, member_refs)
    if tp is not None:
        chain_record = snapshot[ChainRef(chain)]
        if chain_record is None or not chain_record.uses_third_party_voucher_id:
            raise ParameterNotUsable(
                "this chain does not use third-party voucher ids", parameter="third_party_id"
            )
    voucher, definition = voucher_named(snapshot, member, chain, alias_refs)
    return Target(mode, session, chain, member, voucher, definition, grant, snapshot)


def _voucher_refs(targets: Mapping[str, str]) -> list[Ref[Any]]:
    refs: list[Ref[Any]] = []
    for serial, definition_id in sorted(targets.items()):
        refs += [VoucherRef(serial), DefinitionRef(definition_id), GuardRef(serial)]
    return refs
