"""The port between the use cases and the voucher store: typed reads, typed writes, typed
failures. Nothing here knows DynamoDB; shared/store/ has the two implementations (DynamoDB
and in memory) that honour exactly these semantics.

Reads.   A use case names what it needs as `Ref`s and gets one `Snapshot` back: domain
         objects (never items), all read consistently in one round trip (one BatchGetItem).
Writes.  A `StateChange` is one voucher transition with its audit event and the conditions
         the decision relied on; it commits atomically (one TransactWriteItems) or not at all.
         A `GuardClaim` takes a voucher's activation guard, again only if the voucher is
         still at the version that was judged.
Failure. A condition that no longer holds comes back as `ConditionFailed(condition,
         current)`: the condition object itself (never a role string) and, where there is
         one, the current value of what it was on, so the use case can re-judge without
         another read.

"Guard" means one thing here: the voucher's activation guard (`ActivationGuard`, `GuardRef`,
`GuardClaim`, `GuardHeld`). Every other precondition of a write is a condition.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from shared.domain import (
    ALLOWED_TRANSITIONS,
    ActivationGuard,
    Activity,
    AdminGrant,
    App,
    AuditEvent,
    CatalogItem,
    Chain,
    Definition,
    IdempotentAnswer,
    Member,
    MemberAlias,
    Session,
    Touchpoint,
    Voucher,
    VoucherAlias,
    code_left_unused,
    epoch_millis,
)

T = TypeVar("T")

# --------------------------------------------------------------------------- reads


class _Value:
    """An immutable value compared and hashed by its type and fields. Hand-written slot classes
    rather than dataclasses: every function imports these, and a dataclass costs about 1 ms of
    cold start to create (measured by the bench's cold-start rows)."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._fields()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({inner})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)


class Ref(_Value, Generic[T]):
    """Names one record the store may hold; `T` is the domain type it reads as."""

    __slots__ = ()


class SessionRef(Ref[Session]):
    token_hash: str
    __slots__ = ("token_hash",)

    def __init__(self, token_hash: str) -> None:
        self._set(token_hash=token_hash)


class TouchpointRef(Ref[Touchpoint]):
    code: str
    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self._set(code=code)


class ActivityRef(Ref[Activity]):
    code: str
    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self._set(code=code)


class CatalogItemRef(Ref[CatalogItem]):
    activity_code: str
    item_code: str
    __slots__ = ("activity_code", "item_code")

    def __init__(self, activity_code: str, item_code: str) -> None:
        self._set(activity_code=activity_code, item_code=item_code)


class VoucherRef(Ref[Voucher]):
    serial: str
    __slots__ = ("serial",)

    def __init__(self, serial: str) -> None:
        self._set(serial=serial)


class DefinitionRef(Ref[Definition]):
    definition_id: str
    __slots__ = ("definition_id",)

    def __init__(self, definition_id: str) -> None:
        self._set(definition_id=definition_id)


class MemberRef(Ref[Member]):
    member_id: str
    __slots__ = ("member_id",)

    def __init__(self, member_id: str) -> None:
        self._set(member_id=member_id)


class MemberAliasRef(Ref[MemberAlias]):
    """kind: user_id, member_number, username (lower-cased), authentication_point_identifier,
    auxiliary_identifier."""

    kind: str
    value: str | int
    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: str | int) -> None:
        self._set(kind=kind, value=value)


class VoucherAliasRef(Ref[VoucherAlias]):
    """kind: voucher_key, voucher_id, or third_party_id (which is unique per chain only)."""

    kind: str
    value: str | int
    chain_id: int | None
    __slots__ = ("chain_id", "kind", "value")

    def __init__(self, kind: str, value: str | int, chain_id: int | None = None) -> None:
        self._set(kind=kind, value=value, chain_id=chain_id)


class AppRef(Ref[App]):
    hostname: str
    __slots__ = ("hostname",)

    def __init__(self, hostname: str) -> None:
        self._set(hostname=hostname)


class ChainRef(Ref[Chain]):
    chain_id: int
    __slots__ = ("chain_id",)

    def __init__(self, chain_id: int) -> None:
        self._set(chain_id=chain_id)


class AdminGrantRef(Ref[AdminGrant]):
    user_id: int
    chain_id: int
    __slots__ = ("chain_id", "user_id")

    def __init__(self, user_id: int, chain_id: int) -> None:
        self._set(user_id=user_id, chain_id=chain_id)


class OperatorGrantRef(Ref[bool]):
    """A Thalamus operator's grant on (activity, item or "*"); only ever checked (GrantHeld), never read."""

    principal_id: str
    activity_code: str
    item_code: str
    __slots__ = ("activity_code", "item_code", "principal_id")

    def __init__(self, principal_id: str, activity_code: str, item_code: str) -> None:
        self._set(principal_id=principal_id, activity_code=activity_code, item_code=item_code)


class GuardRef(Ref[ActivationGuard]):
    serial: str
    __slots__ = ("serial",)

    def __init__(self, serial: str) -> None:
        self._set(serial=serial)


class IdempotencyRef(Ref[IdempotentAnswer]):
    """The answer kept under one caller's Idempotency-Key: `key_hash` digests the caller's
    stable identity and the key together (shared/usecases/idempotency.py), so one caller's
    key never names another's answer."""

    key_hash: str
    __slots__ = ("key_hash",)

    def __init__(self, key_hash: str) -> None:
        self._set(key_hash=key_hash)


class AnnouncedRef(Ref[bool]):
    """Whether a provider reference was announced unused (a marker beside its voucher,
    written by the same transaction as the announcement)."""

    serial: str
    reference: str
    __slots__ = ("reference", "serial")

    def __init__(self, serial: str, reference: str) -> None:
        self._set(serial=serial, reference=reference)


class Snapshot:
    """What one read found: `snapshot[ref]` is the domain object, or None when absent."""

    def __init__(self, found: Mapping[Ref[Any], Any] | None = None) -> None:
        self._found: dict[Ref[Any], Any] = dict(found or {})

    def __getitem__(self, ref: Ref[T]) -> T | None:
        value: T | None = self._found.get(ref)
        return value

    def merged(self, other: Snapshot) -> Snapshot:
        return Snapshot({**self._found, **other._found})


class Owned(NamedTuple):
    """One voucher a member owns, as the owner index lists it: only what never changes after
    issue (which voucher, of which definition, issued when). Its state is always read from
    the voucher itself (`VoucherRef`), consistently, never from the index."""

    serial: str
    definition_id: str
    issued_at: datetime | None


ORDER_MS_BOUND = 10**15  # |minus_issued_ms| below this: any datetime (years 1-9999) fits


class Position(NamedTuple):
    """A place in a member's list, in the list's order: newest issue first, then serial, no
    issue date last. The owner index is sorted in exactly this order, so a page reads the
    index from here on, `limit` entries, never the member's whole list. A tuple, so it
    compares in that order; a page token carries it and nothing else."""

    missing_issue: bool
    minus_issued_ms: int
    serial: str

    def token(self) -> str:
        """An opaque page token (it only names a place in the caller's own list)."""
        raw = json.dumps([self.missing_issue, self.minus_issued_ms, self.serial], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Position | None:
        """The position a token names, or None when it is not one of ours."""
        if not 0 < len(token) <= MAX_TOKEN or not token.isascii():
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            return None
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not isinstance(value[0], bool)
            or type(value[1]) is not int
            or not -ORDER_MS_BOUND < value[1] < ORDER_MS_BOUND
            or not isinstance(value[2], str)
            or not 0 < len(value[2]) <= 128
        ):
            return None
        try:
            value[2].encode()  # a lone surrogate is no serial, and no DynamoDB key either
        except UnicodeEncodeError:
            return None
        return cls(value[0], value[1], value[2])

    @classmethod
    def of(cls, owned: Owned) -> Position:
        if owned.issued_at is None:
            return cls(True, 0, owned.serial)
        return cls(False, -epoch_millis(owned.issued_at), owned.serial)


MAX_TOKEN = 512  # characters of a page token


# --------------------------------------------------------------------------- conditions


class VoucherAt(_Value):
    """The voucher is still at the version (and status) the decision was made on."""

    serial: str
    version: int
    status: str
    __slots__ = ("serial", "status", "version")

    def __init__(self, serial: str, version: int, status: str) -> None:
        self._set(serial=serial, version=version, status=status)

    @classmethod
    def of(cls, voucher: Voucher) -> VoucherAt:
        return cls(voucher.serial, voucher.version, voucher.status.value)


class SessionLive(_Value):
    """The session the decision relied on is neither revoked nor expired at commit time."""

    token_hash: str
    __slots__ = ("token_hash",)

    def __init__(self, token_hash: str) -> None:
        self._set(token_hash=token_hash)


class GrantHeld(_Value):
    """A revocable permission (an operator's or an admin's grant) still exists."""

    grant: OperatorGrantRef | AdminGrantRef
    __slots__ = ("grant",)

    def __init__(self, grant: OperatorGrantRef | AdminGrantRef) -> None:
        self._set(grant=grant)


class NoLiveActivation(_Value):
    """No request holds the voucher's activation guard: nothing may change a voucher, and
    nobody may claim its guard, while its provider code is being issued.

    On a `StateChange`, `left` is the expired guard the decision saw (an activation whose
    provider outcome is unknown left it, with its reference) or None: the write holds only
    while the guard is exactly as seen, clears it, and announces its reference unused in the
    same transaction (`StateChange.announcements`). A `GuardClaim` holds it while the guard
    is absent or expired, and fails on it (`left` None) with the live guard as `current`."""

    serial: str
    left: ActivationGuard | None
    __slots__ = ("left", "serial")

    def __init__(self, serial: str, left: ActivationGuard | None = None) -> None:
        self._set(serial=serial, left=left)

    def holds_for(self, held: ActivationGuard | None) -> bool:
        """The guard the voucher carries now is the one the decision saw (by its owner)."""
        return (held and held.owner) == (self.left and self.left.owner)


class GuardHeld(_Value):
    """This request still holds the activation guard; the write releases it."""

    serial: str
    owner: str
    __slots__ = ("owner", "serial")

    def __init__(self, serial: str, owner: str) -> None:
        self._set(serial=serial, owner=owner)


class KeyUnused(_Value):
    """No live answer is kept under this Idempotency-Key yet: the write keeps its own there."""

    ref: IdempotencyRef
    __slots__ = ("ref",)

    def __init__(self, ref: IdempotencyRef) -> None:
        self._set(ref=ref)


class Unannounced(_Value):
    """No ACTIVATION_CODE_UNUSED was written for this provider reference yet: every
    announcement puts its marker (AnnouncedRef) on this condition, so two announcers (a
    transition and reconciliation, or two reconciliations) never announce one code twice."""

    serial: str
    reference: str
    __slots__ = ("reference", "serial")

    def __init__(self, serial: str, reference: str) -> None:
        self._set(serial=serial, reference=reference)


Condition = VoucherAt | SessionLive | GrantHeld | NoLiveActivation | GuardHeld | KeyUnused | Unannounced


@dataclass(frozen=True)
class Remembered:
    """The answer a state change keeps under the caller's Idempotency-Key, written in the
    same transaction (conditioned on `KeyUnused`): no extra round trip, and a repeat can never
    see a key without its transition or a transition without its key."""

    ref: IdempotencyRef
    answer: IdempotentAnswer


# --------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class StateChange:
    """One voucher transition, all or nothing: the voucher as read (`before`) becomes `after`
    only if it is still at `before`'s version and status, together with its audit event and
    only while every condition holds."""

    before: Voucher
    after: Voucher
    event: AuditEvent
    conditions: tuple[SessionLive | GrantHeld | NoLiveActivation | GuardHeld, ...] = ()
    remember: Remembered | None = None  # the answer kept under the request's Idempotency-Key

    def __post_init__(self) -> None:
        if self.after.serial != self.before.serial or self.event.serial != self.before.serial:
            raise ValueError("a state change names one voucher")
        if self.after.version != self.before.version + 1:
            raise ValueError("a state change advances the version by exactly one")
        if self.after.status not in ALLOWED_TRANSITIONS[self.before.status]:
            raise ValueError(f"transition {self.before.status} -> {self.after.status} is not allowed")

    @property
    def at(self) -> datetime:
        return self.event.at

    @property
    def voucher_at(self) -> VoucherAt:
        return VoucherAt.of(self.before)

    @property
    def announcements(self) -> tuple[AuditEvent, ...]:
        """The events this transition writes beside its own: a provider reference left by an
        activation that never committed, which the voucher now leaves behind for good."""
        return tuple(
            code_left_unused(c.left, self.event)
            for c in self.conditions
            if isinstance(c, NoLiveActivation) and c.left is not None
        )


@dataclass(frozen=True)
class GuardClaim:
    """Take `guard` for its voucher, only while the voucher is still at `voucher_at` and no
    activation is live on it (`NoLiveActivation`)."""

    guard: ActivationGuard
    voucher_at: VoucherAt

    @property
    def at(self) -> datetime:
        return self.guard.acquired_at


@dataclass(frozen=True)
class Record:
    """Write an audit event on its own, optionally releasing a guard this request holds,
    and, for an announcement (reconciliation announcing a provider code no voucher carries),
    only if it is the first one for its reference (`once`)."""

    event: AuditEvent
    release: GuardHeld | None = None
    once: Unannounced | None = None  # an announcement: written only if it is the first

    @property
    def at(self) -> datetime:
        return self.event.at


Write = StateChange | GuardClaim | Record


# --------------------------------------------------------------------------- failures


class StoreUnavailable(Exception):
    """The store stayed throttled or unreachable after retries, and nothing was written: the
    client may retry."""


class OutcomeUnknown(StoreUnavailable):
    """A write was sent, every answer to it was lost, and the store stayed unreachable until
    the request had to answer: it may or may not have committed. Retryable like
    StoreUnavailable (a retry is judged on the committed truth), but never evidence that
    nothing happened: an activation keeps its provider reference for the retry."""


class WriteConflict(Exception):
    """Another transaction was in flight on the same records; nothing was written."""


class ConditionFailed(Exception):
    """A condition of the write no longer held; nothing was written. `current` is the record
    it was on as it is now where the store can tell (the voucher for VoucherAt, the
    activation guard for NoLiveActivation), else None."""

    def __init__(self, condition: Condition, current: Any = None) -> None:
        super().__init__(type(condition).__name__)
        self.condition = condition
        self.current = current


# --------------------------------------------------------------------------- the port


class VoucherStore(Protocol):
    """What the use cases need from storage, and nothing more."""

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        """Every named record in one consistent round trip; absent ones read as None."""
        ...

    def commit(self, write: Write) -> None:
        """Apply the write atomically or raise ConditionFailed / WriteConflict /
        StoreUnavailable having written nothing."""
        ...

    def release_guard(self, guard: GuardHeld) -> None:
        """Give an activation guard back (best effort: one we no longer hold is left alone).
        Only when the provider certainly issued nothing for its reference."""
        ...

    def expire_guard(self, guard: GuardHeld) -> None:
        """End an activation guard's hold but keep it, with its reference, on the voucher
        (best effort: one we no longer hold is left alone): the provider may have issued a
        code for that reference. A retry at the same version reuses the reference (and gets
        that code); a transition that moves the voucher on announces it unused."""
        ...

    def history(self, serial: str) -> list[AuditEvent]:
        """The voucher's audit events, oldest first."""
        ...

    def vouchers_of(
        self,
        member_id: str,
        *,
        after: Position | None = None,
        newest: datetime | None = None,
        oldest: datetime | None = None,
        limit: int | None = None,
    ) -> list[Owned]:
        """The member's vouchers in list order (`Position`): those after `after`, issued
        within [`oldest`, `newest`] when either is given (a window lists only dated ones), the
        first `limit` of them (all when None). One round trip reads exactly those index
        entries (every entry when None: one round trip per ~1,400). The index is eventually
        consistent, but what it lists never changes after issue (only the importer issues),
        so a caller's own changes are never missed: their state is read from the vouchers."""
        ...
