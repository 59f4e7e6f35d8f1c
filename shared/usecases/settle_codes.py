"""Settle provider codes: announce every code no voucher carries, void every announced one.

Run on a schedule (functions/settle_codes). For each provider it asks what the provider
issued since `since` (its listing call) and, for each reference not yet voided, reads the
voucher it names (`<serial>:v<version>`, shared.domain.activation_reference):

    pending    the voucher's activation guard holds this reference: the activation may still
               commit, or a retry at that version carry it; the transition that moves the
               voucher on without it announces it (shared/usecases/activation.py)       skip
    carried    a committed activation recorded it (the voucher's activation, or an
               ACTIVATED event of its history)                                           skip
    announced  an ACTIVATION_CODE_UNUSED event names it (its marker exists)              void
    otherwise  no voucher carries it and none can (the voucher moved on, or it expired in
               place): announce it now, once (the marker's condition), then void

This is the backstop for what the request path cannot see: a voucher that keeps an expired
guard and never moves on, a code issued after its answer was given up on, a voucher changed
outside the endpoints. Voiding is the compensating call: a code announced unused can then no
longer be used at the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain import AuditEvent, utcnow
from shared.ports import (
    AnnouncedRef,
    ConditionFailed,
    GuardRef,
    Record,
    Unannounced,
    VoucherRef,
    VoucherStore,
)
from shared.providers import ProviderAdapter

CHANNEL = "reconciliation"
BATCH = 50  # references per read: a voucher, its guard and a marker each (BatchGetItem's 100 keys)


@dataclass
class Settled:
    """What one run found, by outcome (references)."""

    listed: int = 0
    pending: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)  # by this run
    voided: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # names no voucher of ours: voided, not announced


def parse_reference(reference: str) -> tuple[str, int] | None:
    serial, _, version = reference.rpartition(":v")
    return (serial, int(version)) if serial and version.isdigit() else None


def settle_codes(
    store: VoucherStore,
    adapter: ProviderAdapter,
    since: datetime,
    *,
    request_id: str,
    clock: Callable[[], datetime] = utcnow,
) -> Settled:
    settled = Settled()
    listed = [code for code in adapter.issued_since(since) if not code.voided]
    settled.listed = len(listed)
    for start in range(0, len(listed), BATCH):
        _settle_batch(
            store, adapter, [c.reference for c in listed[start : start + BATCH]], settled, request_id, clock
        )
    return settled


def _settle_batch(
    store: VoucherStore,
    adapter: ProviderAdapter,
    references: Iterable[str],
    settled: Settled,
    request_id: str,
    clock: Callable[[], datetime],
) -> None:
    named = {r: parsed for r in references if (parsed := parse_reference(r)) is not None}
    settled.unknown += [r for r in references if r not in named]
    refs = [
        ref
        for r, (serial, _) in named.items()
        for ref in (VoucherRef(serial), GuardRef(serial), AnnouncedRef(serial, r))
    ]
    snapshot = store.read(refs)
    unused: list[str] = []
    for reference, (serial, version) in named.items():
        voucher, guard = snapshot[VoucherRef(serial)], snapshot[GuardRef(serial)]
        if voucher is None:
            settled.unknown.append(reference)
            continue
        if guard is not None and guard.reference == reference:
            settled.pending.append(reference)
        elif voucher.activation is not None and voucher.activation.reference == reference:
            settled.carried.append(reference)
        elif snapshot[AnnouncedRef(serial, reference)]:
            unused.append(reference)
        elif version < voucher.version and _activated_with(store, serial, reference):
            settled.carried.append(reference)
        else:
            now = clock()
            event = AuditEvent(
                serial=serial,
                event_type="ACTIVATION_CODE_UNUSED",
                channel=CHANNEL,
                actor_kind="system",
                actor_id="settle_codes",
                from_status=voucher.status.value,
                to_status=voucher.status.value,
                at=now,
                request_id=request_id,
                details={"reference": reference, "reason": "no voucher carries it (reconciliation)"},
            )
            try:
                store.commit(Record(event, once=Unannounced(serial, reference)))
                settled.announced.append(reference)
            except ConditionFailed:  # announced meanwhile (a transition or another run): so be it
                pass
            unused.append(reference)
    for reference in [*unused, *(r for r in settled.unknown if r in references)]:
        adapter.void_code(reference)
        settled.voided.append(reference)


def _activated_with(store: VoucherStore, serial: str, reference: str) -> bool:
    """A committed activation recorded this reference (its voucher has moved on since)."""
    return any(
        e.event_type == "ACTIVATED" and e.details.get("reference") == reference for e in store.history(serial)
    )
