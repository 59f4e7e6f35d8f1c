"""A Spaaza request as its dialect read it (the caller's credentials, the chain, the end user
and the voucher it names), and its judgement in the documented order (docs/authorization.md):
authentication, the acting chain, the end user, the voucher. Pure functions of what the
phased reads of shared/usecases/spaaza_target.py found; an identifier naming something the
caller may not see reads exactly as one naming nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain import (
    Definition,
    Forbidden,
    IdentifierMismatch,
    Member,
    NoApp,
    NotFound,
    ParameterRequired,
    PrincipalKind,
    Session,
    Unauthenticated,
    Voucher,
)
from shared.ports import (
    AdminGrantRef,
    AppRef,
    DefinitionRef,
    MemberAliasRef,
    MemberRef,
    Snapshot,
    VoucherAliasRef,
    VoucherRef,
)


class AuthMode(StrEnum):
    USER = "user"
    ADMIN = "admin"
    PRIVILEGED = "privileged"


@dataclass(frozen=True)
class Caller:
    """The credentials a request presents, as the dialect read them."""

    token_hash: str
    privileged: bool  # a privileged-client credential, not a user/admin session
    user_id: int | None = None  # the user id a session credential claims
    app_hostname: str | None = None  # the app the request names, lower-cased
    app_unreadable: bool = False  # an app was named, but not as a hostname


@dataclass(frozen=True)
class VoucherRequest:
    caller: Caller
    request_id: str
    chain_id: int | None = None
    end_user: Mapping[str, int | str] = field(default_factory=dict)  # by identifier kind
    voucher: Mapping[str, int | str] = field(default_factory=dict)  # voucher_key/voucher_id/third_party_id
    admin_must_name_chain: bool = True  # API >= 1.5.3
    audit: Mapping[str, Any] = field(default_factory=dict)  # recorded with the audit event


def authenticate(session: Session | None, caller: Caller, now: datetime) -> tuple[Session, AuthMode]:
    if session is None:
        raise Unauthenticated("unknown session", field="session")
    if not session.is_live(now):
        raise Unauthenticated("session expired or revoked", field="session")
    if caller.privileged:
        if session.kind is not PrincipalKind.SPAAZA_PRIVILEGED:
            raise Unauthenticated("not a privileged session", field="session")
        return session, AuthMode.PRIVILEGED
    if session.kind not in (PrincipalKind.SPAAZA_USER, PrincipalKind.SPAAZA_ADMIN):
        raise Unauthenticated("not a Spaaza session", field="session")
    if session.spaaza_user_id is None or session.spaaza_user_id != caller.user_id:
        raise Unauthenticated("session does not belong to this user id", field="session")
    if session.kind is PrincipalKind.SPAAZA_ADMIN:
        return session, AuthMode.ADMIN
    if session.member_id is None or session.chain_id is None:
        raise Unauthenticated("session has no user", field="session")
    return session, AuthMode.USER


def acting_chain(snapshot: Snapshot, session: Session, mode: AuthMode, request: VoucherRequest) -> int | None:
    """The chain the request acts on, from the caller's own credentials only. None: a
    pre-1.5.3 admin without chain_id, who acts on the voucher's chain (checked later)."""
    caller, chain_param = request.caller, request.chain_id
    if mode is AuthMode.ADMIN:  # the hostname header is tolerated (real clients send it) and ignored
        if chain_param is None:
            if request.admin_must_name_chain:
                raise ParameterRequired(
                    "chain_id is required with admin authentication", parameter="chain_id"
                )
            return None
        if snapshot[AdminGrantRef(int(str(caller.user_id)), chain_param)] is None:
            raise Forbidden("no write access to the chain", what="chain")
        return chain_param
    if caller.app_hostname is None:
        raise NoApp(
            "no app for this hostname" if caller.app_unreadable else "the app hostname is required",
            reason="unknown" if caller.app_unreadable else "missing",
        )
    app = snapshot[AppRef(caller.app_hostname)]
    if app is None or app.chain_id is None:
        raise NoApp("no app for this hostname", reason="unknown")
    if mode is AuthMode.USER and app.chain_id != session.chain_id:
        raise Forbidden("the app is not an app of the user's chain", what="app")
    if mode is AuthMode.PRIVILEGED and app.chain_id not in session.chains:
        raise Forbidden("the privileged client may not act on this app's chain", what="app")
    if chain_param is not None and chain_param != app.chain_id:
        raise IdentifierMismatch("chain_id is not the chain of the app", parameter="chain_id")
    return app.chain_id


def admin_chain(
    snapshot: Snapshot, session: Session, chain: int | None, alias_refs: list[VoucherAliasRef]
) -> tuple[int, AdminGrantRef]:
    if chain is not None:
        return chain, AdminGrantRef(int(str(session.spaaza_user_id)), chain)
    # Pre-1.5.3 admin without chain_id: until the grant on the voucher's chain is confirmed,
    # a missing voucher, another chain's and identifiers spanning chains all read alike (68).
    aliases = [snapshot[r] for r in alias_refs]
    chains = {a.chain_id for a in aliases if a is not None}
    if None in aliases or len(chains) != 1 or None in chains:
        raise Forbidden("no write access to the voucher's chain", what="chain")
    voucher_chain = int(str(chains.pop()))
    grant = AdminGrantRef(int(str(session.spaaza_user_id)), voucher_chain)
    if snapshot[grant] is None:
        raise Forbidden("no write access to the voucher's chain", what="chain")
    return voucher_chain, grant


def end_user(
    snapshot: Snapshot, session: Session, mode: AuthMode, chain: int, member_refs: list[MemberAliasRef]
) -> Member:
    """The member the voucher must belong to. Every identifier must name a member the caller
    may see (one of the acting chain); only then may they disagree (904)."""
    if mode is AuthMode.USER:
        own = str(session.member_id)
        for ref in member_refs:
            alias = snapshot[ref]
            if alias is None or alias.member_id != own:
                raise Forbidden("the session may only act on its own vouchers", what="user")
        member = snapshot[MemberRef(own)]
        if member is None or member.chain_id != chain:
            raise Unauthenticated("the session's user no longer exists", field="session")
        return member
    members: dict[str, Member] = {}
    for ref in member_refs:
        alias = snapshot[ref]
        member = snapshot[MemberRef(alias.member_id)] if alias is not None else None
        if member is None or member.chain_id != chain:
            raise NotFound("user not found", what="user")
        members[member.member_id] = member
    if len(members) > 1:
        raise IdentifierMismatch("the end-user identifiers name different users", parameter="user_id")
    return next(iter(members.values()))


def voucher_named(
    snapshot: Snapshot, member: Member, chain: int, alias_refs: list[VoucherAliasRef]
) -> tuple[Voucher, Definition]:
    """The voucher every identifier names. One naming a voucher the caller may not see (of
    another chain or another member) reads as one naming nothing (183)."""
    seen: dict[str, tuple[Voucher, Definition]] = {}
    for ref in alias_refs:
        alias = snapshot[ref]
        voucher = snapshot[VoucherRef(alias.serial)] if alias is not None else None
        definition = snapshot[DefinitionRef(alias.definition_id)] if alias is not None else None
        if alias is None or voucher is None or definition is None:
            raise NotFound("voucher not found", what="voucher")
        voucher_chain = voucher.chain_id if voucher.chain_id is not None else definition.chain_id
        if alias.chain_id != chain or voucher_chain != chain or voucher.owner_member_id != member.member_id:
            raise NotFound("voucher not found", what="voucher")
        seen[voucher.serial] = (voucher, definition)
    if len(seen) > 1:
        raise IdentifierMismatch("the voucher identifiers name different vouchers", parameter="voucher_key")
    return next(iter(seen.values()))
