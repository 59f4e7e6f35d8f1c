"""Spaaza "unclaim-voucher": a claimed voucher goes back to AVAILABLE ("generated").

At most three DynamoDB round trips on success, authentication included:

  1. BatchGetItem of the session and of everything the request names directly: the voucher
     aliases (voucher_key, voucher_id, and third_party_id when the chain is known up front),
     the end-user aliases, the app (hostname header), the chain and the admin grant (when
     chain_id is sent);
  2. BatchGetItem of the voucher, its definition (campaign) and the member, plus whatever
     only the first batch made nameable (the chain of the session/app, the admin grant for
     pre-1.5.3 calls without chain_id);
  3. one TransactWriteItems: the voucher update conditioned on the version read + the
     UNCLAIMED audit event + the session still live + (admin) the chain grant still there.

A voucher named only by third_party_id whose chain is not known before the first batch
(user/privileged auth without chain_id, pre-1.5.3 admin) costs one more BatchGetItem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import partial

from shared.domain import (
    AuditEvent,
    Contention,
    Definition,
    DomainError,
    Forbidden,
    Member,
    NotFound,
    PrincipalKind,
    Session,
    Status,
    Unauthenticated,
    Voucher,
    decide_unclaim,
    utcnow,
)
from shared.store import (
    MEMBER_IDENTIFIERS,
    Item,
    Key,
    Keys,
    VoucherStore,
    item_to_definition,
    item_to_member,
    item_to_session,
    item_to_voucher,
    key_id,
)
from shared.usecases.commit import MAX_ATTEMPTS, commit

VOUCHER_IDENTIFIERS = ("voucher_key", "voucher_id", "third_party_id")


# --------------------------------------------------------------------------- request-level refusals


class MissingParameter(DomainError):
    """A parameter this authentication mode / API version needs was not sent (`parameter`)."""

    code = "MISSING_PARAMETER"


class InvalidParameter(DomainError):
    """A parameter was sent but cannot be used (`parameter`)."""

    code = "INVALID_PARAMETER"


class IdentifierMismatch(DomainError):
    """Several identifiers were sent for one thing and they name different things."""

    code = "IDENTIFIER_MISMATCH"


class NoApp(DomainError):
    """The app hostname header is missing or names no app."""

    code = "NO_APP"


# --------------------------------------------------------------------------- command / result


class AuthMode(StrEnum):
    USER = "user"
    ADMIN = "admin"
    PRIVILEGED = "privileged"


@dataclass(frozen=True)
class Credentials:
    """What the headers carry. `bearer` selects privileged auth; otherwise the session key
    and user id headers select user or admin auth by the session's kind."""

    token_hash: str
    bearer: bool
    header_user_id: int | None = None  # X-Spaaza-Session-User-Id (session auth only)
    app_hostname: str | None = None  # X-Spaaza-MyPrice-App-Hostname, lower-cased
    app_hostname_malformed: bool = False  # sent, but not a hostname: reads as an unknown app


@dataclass(frozen=True)
class UnclaimCommand:
    credentials: Credentials
    request_id: str
    chain_id: int | None = None
    # end-user identifiers by kind (user_id int, the others str), already version-gated
    end_user: Mapping[str, int | str] = field(default_factory=dict)
    voucher_key: str | None = None
    voucher_id: int | None = None
    third_party_id: int | None = None
    admin_chain_required: bool = True  # API version >= 1.5.3
    api_version: str | None = None


@dataclass(frozen=True)
class UnclaimResult:
    voucher: Voucher  # as written (AVAILABLE, version + 1, no activation)
    definition: Definition
    member: Member
    mode: AuthMode
    chain_id: int


# --------------------------------------------------------------------------- the use case


class _Reads:
    """Every item read for one attempt, with the number of BatchGetItem calls made."""

    def __init__(self, store: VoucherStore) -> None:
        self._store = store
        self._items: dict[tuple[str, str], Item] = {}
        self._fetched: set[tuple[str, str]] = set()
        self.batches = 0

    def fetch(self, keys: Iterable[Key | None]) -> None:
        wanted = [k for k in keys if k is not None and key_id(k) not in self._fetched]
        if not wanted:
            return
        self.batches += 1
        self._items.update(self._store.hydrate(wanted))
        self._fetched.update(key_id(k) for k in wanted)

    def get(self, key: Key) -> Item | None:
        return self._items.get(key_id(key))

    def fetched(self, key: Key) -> bool:
        return key_id(key) in self._fetched


@dataclass
class _Plan:
    """What one attempt resolved: who acts, for which chain, on which voucher and member."""

    session: Session
    mode: AuthMode
    chain_id: int | None = None
    grant_key: Key | None = None
    member_id: str | None = None
    serial: str | None = None
    definition_id: str | None = None


def unclaim_voucher(
    store: VoucherStore,
    command: UnclaimCommand,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> UnclaimResult:
    if not any(getattr(command, name) is not None for name in VOUCHER_IDENTIFIERS):
        raise MissingParameter(
            "voucher_key, voucher_id or third_party_id is required", parameter="voucher_key"
        )
    for attempt in range(MAX_ATTEMPTS):
        now = clock()
        reads = _Reads(store)
        plan, voucher, definition, member = _resolve(reads, command, now)
        end_user = plan.mode is AuthMode.USER
        allows = definition.allows_end_user_to_claim_voucher
        transition = decide_unclaim(voucher, now, end_user=end_user, allows_end_user_to_claim=allows)
        assert plan.chain_id is not None
        event = AuditEvent(
            serial=voucher.serial,
            event_type="UNCLAIMED",
            channel="spaaza",
            actor_kind=plan.session.kind.value,
            actor_id=plan.session.principal_id,
            from_status=transition.from_status.value,
            to_status=Status.AVAILABLE.value,
            at=now,
            request_id=command.request_id,
            details={
                "auth_mode": plan.mode.value,
                "chain_id": plan.chain_id,
                "member_id": member.member_id,
                "user_id": member.user_id,
                "api_version": command.api_version,
                "locked": voucher.locked,
            },
        )
        writes = [
            store.tx_transition(voucher, transition, now=now, remove_attributes=["activation"]),
            store.tx_event(event),
            store.tx_session_live(plan.session.token_hash, now),
        ]
        if plan.grant_key is not None:
            writes.append(store.tx_exists("grant", plan.grant_key))
        committed = commit(
            store,
            writes,
            attempt=attempt,
            rejudge=partial(decide_unclaim, now=now, end_user=end_user, allows_end_user_to_claim=allows),
            role_errors={
                "session": lambda: Unauthenticated("session no longer valid", field="session"),
                "grant": lambda: Forbidden("no write access to the chain", what="chain"),
            },
            sleep=sleep,
        )
        if not committed:
            continue
        written = replace(voucher, status=Status.AVAILABLE, version=voucher.version + 1, activation=None)
        return UnclaimResult(
            voucher=written, definition=definition, member=member, mode=plan.mode, chain_id=plan.chain_id
        )
    raise Contention("voucher kept changing")  # pragma: no cover - the loop always returns or raises


def _resolve(
    reads: _Reads, command: UnclaimCommand, now: datetime
) -> tuple[_Plan, Voucher, Definition, Member]:
    creds = command.credentials
    chain_param = command.chain_id
    session_key = Keys.session(creds.token_hash)
    app_key = Keys.app(creds.app_hostname) if creds.app_hostname else None
    member_alias_keys = {kind: Keys.member_alias(kind, value) for kind, value in command.end_user.items()}
    voucher_alias_keys: dict[str, Key] = {}
    if command.voucher_key is not None:
        voucher_alias_keys["voucher_key"] = Keys.voucher_alias("voucher_key", command.voucher_key)
    if command.voucher_id is not None:
        voucher_alias_keys["voucher_id"] = Keys.voucher_alias("voucher_id", command.voucher_id)
    speculative_grant = (
        Keys.spaaza_admin_grant(creds.header_user_id, chain_param)
        if not creds.bearer and creds.header_user_id is not None and chain_param is not None
        else None
    )

    # ---- round trip 1: the session and everything the request names directly
    first: list[Key | None] = [session_key, app_key, speculative_grant]
    first += list(member_alias_keys.values()) + list(voucher_alias_keys.values())
    if command.third_party_id is not None and chain_param is not None:
        first += [
            Keys.chain(chain_param),
            Keys.voucher_alias("third_party_id", command.third_party_id, chain_param),
        ]
    reads.fetch(first)

    plan = _authenticate(reads.get(session_key), creds, now)
    _authorize(reads, plan, command, app_key, speculative_grant)

    # ---- end user
    if plan.mode is AuthMode.USER:
        plan.member_id = str(plan.session.member_id)
        for key in member_alias_keys.values():
            alias = reads.get(key)
            if alias is None or alias.get("member_id") != plan.member_id:
                raise Forbidden("the session may only unclaim its own vouchers", what="user")
    else:
        if not member_alias_keys:
            names = ", ".join(MEMBER_IDENTIFIERS) if command.admin_chain_required else "user_id"
            raise MissingParameter(f"an end-user identifier is required ({names})", parameter="user_id")
        member_ids = set()
        for key in member_alias_keys.values():
            alias = reads.get(key)
            if alias is None:
                raise NotFound("user not found", what="user")
            member_ids.add(alias.get("member_id"))
        if len(member_ids) > 1:
            raise IdentifierMismatch("the end-user identifiers name different users", parameter="user_id")
        plan.member_id = str(member_ids.pop())

    # ---- voucher aliases known so far
    aliases: dict[str, Item | None] = {kind: reads.get(key) for kind, key in voucher_alias_keys.items()}
    if plan.chain_id is None:  # pre-1.5.3 admin without chain_id: the voucher's chain
        # Until the admin's grant on the voucher's chain is confirmed, a missing voucher, one
        # in another chain and identifiers spanning chains all get the same answer (68
        # permission_denied_or_non_existent), so this path is no oracle for other chains.
        chains = {a.get("chain_id") for a in aliases.values() if a is not None}
        if not aliases:
            raise MissingParameter("chain_id is required to use third_party_id", parameter="chain_id")
        if None in aliases.values() or len(chains) > 1:
            raise Forbidden("no write access to the voucher's chain", what="chain")
        plan.chain_id = int(str(chains.pop()))
        assert plan.session.spaaza_user_id is not None
        plan.grant_key = Keys.spaaza_admin_grant(plan.session.spaaza_user_id, plan.chain_id)
    chain_id = plan.chain_id
    chain_key = Keys.chain(chain_id)
    tp_key = (
        Keys.voucher_alias("third_party_id", command.third_party_id, chain_id)
        if command.third_party_id is not None
        else None
    )
    tp_ready = tp_key is not None and reads.fetched(tp_key) and reads.fetched(chain_key)
    # A voucher-identifier refusal waits until the end user is checked: who comes first.
    deferred: DomainError | None = None
    try:
        if tp_key is not None and tp_ready:
            _check_third_party(reads.get(chain_key))
            aliases["third_party_id"] = reads.get(tp_key)
        serial, definition_id = _voucher_target(aliases, chain_id)
    except DomainError as refused:
        deferred, serial, definition_id = refused, None, None

    # ---- round trip 2: voucher, definition, member (+ chain / grant / third-party alias)
    member_key = Keys.member(str(plan.member_id))
    second: list[Key | None] = [member_key, plan.grant_key]
    if tp_key is not None and not tp_ready:
        second += [chain_key, tp_key]
    if serial is not None and definition_id is not None:
        second += [Keys.voucher(serial), Keys.definition(definition_id)]
    reads.fetch(second)

    if plan.grant_key is not None and reads.get(plan.grant_key) is None:
        raise Forbidden("no write access to the chain", what="chain")
    member_item = reads.get(member_key)
    member = item_to_member(member_item) if member_item is not None else None
    if member is None or member.chain_id != chain_id:
        if plan.mode is AuthMode.USER:
            raise Unauthenticated("the session's user no longer exists", field="session")
        raise NotFound("user not found", what="user")
    if deferred is not None:
        raise deferred
    if tp_key is not None and not tp_ready:
        _check_third_party(reads.get(chain_key))
        aliases["third_party_id"] = reads.get(tp_key)
        serial, definition_id = _voucher_target(aliases, chain_id)
    if serial is None or definition_id is None:
        raise NotFound("voucher not found", what="voucher")
    # a third round trip only when third_party_id alone named the voucher and its chain came late
    reads.fetch([Keys.voucher(serial), Keys.definition(definition_id)])

    voucher_item = reads.get(Keys.voucher(serial))
    definition_item = reads.get(Keys.definition(definition_id))
    if voucher_item is None or definition_item is None:
        raise NotFound("voucher not found", what="voucher")
    voucher = item_to_voucher(voucher_item)
    definition = item_to_definition(definition_item)
    if (
        voucher.owner_member_id != member.member_id
        or (voucher.chain_id if voucher.chain_id is not None else definition.chain_id) != chain_id
    ):
        raise NotFound("voucher not found", what="voucher")
    plan.serial, plan.definition_id = serial, definition_id
    return plan, voucher, definition, member


def _authenticate(item: Item | None, creds: Credentials, now: datetime) -> _Plan:
    if item is None:
        raise Unauthenticated("unknown session", field="session")
    session = item_to_session(item)
    if not session.is_live(now):
        raise Unauthenticated("session expired or revoked", field="session")
    if creds.bearer:
        if session.kind is not PrincipalKind.SPAAZA_PRIVILEGED:
            raise Unauthenticated("not a privileged session", field="session")
        return _Plan(session=session, mode=AuthMode.PRIVILEGED)
    if session.kind not in (PrincipalKind.SPAAZA_USER, PrincipalKind.SPAAZA_ADMIN):
        raise Unauthenticated("not a Spaaza session", field="session")
    if session.spaaza_user_id is None or session.spaaza_user_id != creds.header_user_id:
        raise Unauthenticated("session does not belong to this user id", field="session")
    if session.kind is PrincipalKind.SPAAZA_ADMIN:
        return _Plan(session=session, mode=AuthMode.ADMIN)
    if session.member_id is None or session.chain_id is None:
        raise Unauthenticated("session has no user", field="session")
    return _Plan(session=session, mode=AuthMode.USER)


def _authorize(
    reads: _Reads, plan: _Plan, command: UnclaimCommand, app_key: Key | None, grant_key: Key | None
) -> None:
    """Fix the chain the request acts on, and check the caller may act on it."""
    chain_param = command.chain_id
    session = plan.session
    if plan.mode is AuthMode.ADMIN:
        # The hostname header is tolerated (real clients send it) and ignored.
        if chain_param is None:
            if command.admin_chain_required:
                raise MissingParameter("chain_id is required with admin authentication", parameter="chain_id")
            return  # pre-1.5.3: the voucher's chain, checked after the voucher aliases
        assert grant_key is not None
        if reads.get(grant_key) is None:
            raise Forbidden("no write access to the chain", what="chain")
        plan.chain_id, plan.grant_key = chain_param, grant_key
        return
    if app_key is None:
        if command.credentials.app_hostname_malformed:
            raise NoApp("no app for this hostname", reason="unknown")
        raise NoApp("the X-Spaaza-MyPrice-App-Hostname header is required", reason="missing")
    app = reads.get(app_key)
    if app is None or app.get("chain_id") is None:
        raise NoApp("no app for this hostname", reason="unknown")
    app_chain = int(app["chain_id"])
    if plan.mode is AuthMode.USER:
        if app_chain != session.chain_id:
            raise Forbidden("the app is not an app of the user's chain", what="app")
    elif app_chain not in session.chains:
        raise Forbidden("the privileged client may not act on this app's chain", what="app")
    if chain_param is not None and chain_param != app_chain:
        raise IdentifierMismatch("chain_id is not the chain of the app", parameter="chain_id")
    plan.chain_id = app_chain


def _check_third_party(chain: Item | None) -> None:
    if chain is None or not chain.get("uses_third_party_voucher_id"):
        raise InvalidParameter("this chain does not use third-party voucher ids", parameter="third_party_id")


def _voucher_target(aliases: Mapping[str, Item | None], chain_id: int) -> tuple[str | None, str | None]:
    """(serial, definition_id) the fetched aliases agree on; an alias of another chain reads
    as missing. (None, None) while no alias is fetched yet (third_party_id pending)."""
    targets = set()
    for alias in aliases.values():
        if alias is None or alias.get("chain_id") != chain_id:
            raise NotFound("voucher not found", what="voucher")
        targets.add((str(alias["serial"]), str(alias["definition_id"])))
    if len(targets) > 1:
        raise IdentifierMismatch("the voucher identifiers name different vouchers", parameter="voucher_key")
    if not targets:
        return None, None
    return targets.pop()
