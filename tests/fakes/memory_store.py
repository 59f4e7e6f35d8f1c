"""The voucher store in memory: the port's semantics without a database.

Same conditions as the DynamoDB store, checked in the same order (the voucher's version and
status, then each condition in turn), the same atomicity (one lock around check-and-apply), the
same typed failures, and the same canonical identities (records are keyed by the key their
Ref names, so `user_id` 5 and "5" or a username's case name one record as they do in the
table). Business rules test against it without moto; the shared use-case suite runs on both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain import ActivationGuard, AuditEvent, IdempotentAnswer, Session, Voucher
from shared.ports import (
    AnnouncedRef,
    ConditionFailed,
    GrantHeld,
    GuardClaim,
    GuardHeld,
    GuardRef,
    KeyUnused,
    NoLiveActivation,
    Owned,
    Position,
    Record,
    Ref,
    SessionLive,
    SessionRef,
    Snapshot,
    StateChange,
    VoucherAt,
    VoucherRef,
    VoucherStore,
    Write,
)
from shared.store.codec import decode, deserialize, encode, serialize
from shared.store.keys import key_id
from shared.store.schema import EVENT, READS_BY_TAG, VOUCHER, epoch_ms, guard_of, key_for


@dataclass
class InMemoryStore(VoucherStore):
    """The port, subclassed so that mypy checks each signature against it here."""

    records: dict[tuple[str, str], Any] = field(default_factory=dict)
    guards: dict[str, ActivationGuard] = field(default_factory=dict)  # on the voucher item in the table
    events: dict[str, list[AuditEvent]] = field(default_factory=dict)
    reads: int = 0  # round trips, as the DynamoDB store would make them
    writes: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def from_items(cls, items: Iterable[Mapping[str, Any]]) -> InMemoryStore:
        """Seed from table items (e.g. the importer's groups): each decoded as its Ref reads it."""
        store = cls()
        for item in items:
            kind = str(item.get("type"))
            if kind == "event":
                event = decode(EVENT, item)
                store.events.setdefault(event.serial, []).append(event)
            elif kind in READS_BY_TAG:
                store.records[key_id(item)] = READS_BY_TAG[kind](item)
                guard = guard_of(item) if kind == "voucher" else None
                if guard is not None:
                    store.guards[guard.serial] = guard
        return store

    # ---- the port

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        with self._lock:
            self.reads += 1
            return Snapshot({ref: value for ref in refs if (value := self._get(ref)) is not None})

    def commit(self, write: Write) -> None:
        with self._lock:
            self.writes += 1
            now_ms = epoch_ms(write.at)
            if isinstance(write, StateChange):
                self._check_voucher(write.voucher_at)
                for condition in write.conditions:
                    self._check(condition, now_ms)
                if write.remember is not None:
                    kept = self.records.get(_id(write.remember.ref))
                    if kept is not None and epoch_ms(kept.expires_at) // 1000 >= now_ms // 1000:
                        raise ConditionFailed(KeyUnused(write.remember.ref))
                    self.records[_id(write.remember.ref)] = _stored_answer(write.remember.answer)
                self.records[_id(VoucherRef(write.after.serial))] = _stored(write.after)
                self._append(write.event)
                for announced in write.announcements:
                    self._announce(announced)
                if any(isinstance(c, GuardHeld | NoLiveActivation) for c in write.conditions):
                    self.guards.pop(write.after.serial, None)  # released, or expired and cleared
            elif isinstance(write, GuardClaim):
                self._check_voucher(write.voucher_at)
                held = self.guards.get(write.guard.serial)
                if held is not None and epoch_ms(held.expires_at) >= now_ms:  # another is live
                    raise ConditionFailed(NoLiveActivation(write.guard.serial), held)
                self.guards[write.guard.serial] = write.guard
            elif isinstance(write, Record):
                if write.release is not None:
                    self._check(write.release, now_ms)
                if (
                    write.once is not None
                    and _id(AnnouncedRef(write.once.serial, write.once.reference)) in self.records
                ):
                    raise ConditionFailed(write.once)
                if write.release is not None:
                    del self.guards[write.release.serial]
                if write.once is not None:
                    self._announce(write.event)
                else:
                    self._append(write.event)

    def release_guard(self, guard: GuardHeld) -> None:
        with self._lock:
            held = self.guards.get(guard.serial)
            if held is not None and held.owner == guard.owner:
                del self.guards[guard.serial]

    def expire_guard(self, guard: GuardHeld) -> None:
        with self._lock:
            held = self.guards.get(guard.serial)
            if held is not None and held.owner == guard.owner:
                self.guards[guard.serial] = held._replace(expires_at=datetime.fromtimestamp(0, UTC))

    def history(self, serial: str) -> list[AuditEvent]:
        with self._lock:
            self.reads += 1
            return sorted(self.events.get(serial, []), key=lambda e: e.at)

    def vouchers_of(
        self,
        member_id: str,
        *,
        after: Position | None = None,
        newest: datetime | None = None,
        oldest: datetime | None = None,
        limit: int | None = None,
    ) -> list[Owned]:
        windowed = newest is not None or oldest is not None
        with self._lock:
            self.reads += 1
            owned = [
                Owned(v.serial, v.definition_id, v.issued_at)
                for v in self.records.values()
                if isinstance(v, Voucher) and v.owner_member_id == member_id
            ]
        owned = [
            o
            for o in owned
            if (after is None or Position.of(o) > after)
            and not (windowed and o.issued_at is None)
            and (newest is None or o.issued_at is None or o.issued_at <= newest)
            and (oldest is None or o.issued_at is None or o.issued_at >= oldest)
        ]
        owned.sort(key=Position.of)
        return owned if limit is None else owned[:limit]

    # ---- conditions, as the DynamoDB store writes them

    def _check_voucher(self, at: VoucherAt) -> None:
        current = self.records.get(_id(VoucherRef(at.serial)))
        if not isinstance(current, Voucher) or current.version != at.version or current.status != at.status:
            raise ConditionFailed(at, current if isinstance(current, Voucher) else None)

    def _check(self, condition: Any, now_ms: int) -> None:
        if isinstance(condition, SessionLive):
            session = self.records.get(_id(SessionRef(condition.token_hash)))
            # the table compares whole epoch seconds (its TTL attribute)
            if (
                not isinstance(session, Session)
                or session.revoked
                or int(session.expires_at.timestamp()) <= now_ms // 1000
            ):
                raise ConditionFailed(condition)
        elif isinstance(condition, GrantHeld):
            if _id(condition.grant) not in self.records:
                raise ConditionFailed(condition)
        elif isinstance(condition, NoLiveActivation):  # exactly as seen (see the DynamoDB store)
            held = self.guards.get(condition.serial)
            if not condition.holds_for(held):
                raise ConditionFailed(condition, held)
        elif isinstance(condition, GuardHeld):
            held = self.guards.get(condition.serial)
            if held is None or held.owner != condition.owner:
                raise ConditionFailed(condition)
        else:  # pragma: no cover - the port's types are closed
            raise TypeError(f"{type(condition).__name__} is not a condition")

    def _get(self, ref: Ref[Any]) -> Any:
        if isinstance(ref, GuardRef):  # the guard is part of its voucher, as in the table
            return self.guards.get(ref.serial) if _id(VoucherRef(ref.serial)) in self.records else None
        return self.records.get(_id(ref))

    def _announce(self, event: AuditEvent) -> None:
        """An ACTIVATION_CODE_UNUSED event and its marker (callers checked it is the first)."""
        self.records[_id(AnnouncedRef(event.serial, event.details["reference"]))] = True
        self._append(event)

    def _append(self, event: AuditEvent) -> None:
        self.events.setdefault(event.serial, []).append(event)


def _stored(voucher: Voucher) -> Voucher:
    """The voucher as the table hands it back (millisecond instants, normalised numbers)."""
    return decode(VOUCHER, deserialize(serialize(encode(VOUCHER, voucher))))


def _stored_answer(answer: IdempotentAnswer) -> IdempotentAnswer:
    """As the table keeps it: its expiry in whole seconds (the TTL attribute)."""
    return answer._replace(expires_at=datetime.fromtimestamp(int(answer.expires_at.timestamp()), UTC))


def _id(ref: Ref[Any]) -> tuple[str, str]:
    return key_id(key_for(ref))
