"""A voucher store that hands every call to another one: a test subclasses it to count the
round trips, or to fail a call, and the use case still sees the port, whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import AuditEvent
from shared.ports import GuardHeld, Owned, Position, Ref, Snapshot, VoucherStore, Write


@dataclass
class StoreProxy(VoucherStore):
    """Subclassing the port makes mypy check each signature here, where a drift would be."""

    inner: VoucherStore

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        return self.inner.read(refs)

    def commit(self, write: Write) -> None:
        self.inner.commit(write)

    def release_guard(self, guard: GuardHeld) -> None:
        self.inner.release_guard(guard)

    def expire_guard(self, guard: GuardHeld) -> None:
        self.inner.expire_guard(guard)

    def history(self, serial: str) -> list[AuditEvent]:
        return self.inner.history(serial)

    def vouchers_of(
        self,
        member_id: str,
        *,
        after: Position | None = None,
        newest: datetime | None = None,
        oldest: datetime | None = None,
        limit: int | None = None,
    ) -> list[Owned]:
        return self.inner.vouchers_of(member_id, after=after, newest=newest, oldest=oldest, limit=limit)
