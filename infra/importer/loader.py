"""Turn a validated import file into table items and write them, idempotently.

Loading is plan-then-write: every item is built and compared with what the table holds
before anything is written. Items already present and identical are skipped (re-running a
file changes nothing); items present but different are conflicts, and nothing is written
unless --replace is given. New items are written with attribute_not_exists conditions in
transactions that keep each voucher with its aliases and its IMPORTED audit event.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from infra.importer.items import ItemGroup, build_groups, catalog_of, decoded, records_of
from infra.importer.model import Existing, ImportFile, cross_check, parse
from shared.store import GSI1, PK, SK, Item, Keys, Table, deserialize, key_id, serialize
from shared.store.schema import DEFINITION, MEMBER, VOUCHER

TRANSACTION_ITEMS = 100  # TransactWriteItems' limit


# The record a group stands for, by the type of its first item, as the import file names it
RECORD_KINDS = {
    "voucher": "vouchers",
    "member": "members",
    "definition": "definitions",
    "catalog_item": "catalog items",
    "session": "sessions",
    "chain": "chains",
    "app": "app hostnames",
    "activity": "activities",
    "touchpoint": "touchpoints",
    "thalamus_user": "thalamus users",
    "es_console": "console users",
    "spaaza_admin": "spaaza admins",
    "spaaza_privileged": "privileged clients",
    "webhook_subscriber": "webhook subscribers",
}


def record_kind(group: ItemGroup) -> str:
    kind = str(group.items[0].get("type", "other"))
    return RECORD_KINDS.get(kind, kind)


@dataclass
class LoadReport:
    """Counts in items (what DynamoDB holds) and, per record kind, in records (what the file
    holds: a voucher is one record and two to four items)."""

    created: int = 0
    unchanged: int = 0
    replaced: int = 0
    conflicts: list[str] = field(default_factory=list)
    written: bool = False
    events: int = 0  # audit events (IMPORTED, REPLACED) written beside vouchers: not the file's items
    records: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        self.records.setdefault(kind, Counter())[outcome] += 1

    def summary(self) -> str:
        events = f"; audit events {self.events}" if self.events else ""
        return (
            f"created {self.created}, unchanged {self.unchanged}, replaced {self.replaced}, "
            f"conflicts {len(self.conflicts)} (items){events}"
        )

    def record_lines(self) -> list[str]:
        """One line per record kind: `vouchers  50000: created 50000`."""
        lines = []
        for kind in sorted(self.records, key=lambda k: (k != "vouchers", k)):
            counts = self.records[kind]
            outcomes = ", ".join(
                f"{outcome} {counts[outcome]}"
                for outcome in ("created", "unchanged", "replaced", "conflict")
                if counts[outcome]
            )
            lines.append(f"{kind:>20} {sum(counts.values()):>8}: {outcomes}")
        return lines


@dataclass
class Progress:
    """Reports writing progress: `done(vouchers, items, events)` after each transaction; `every`
    seconds at most one line (and always the last), as vouchers done / total, items (the
    file's, as the check line and the summary count them), audit events, rate."""

    total_vouchers: int
    total_items: int
    emit: Callable[[str], None]
    total_events: int = 0
    every: float = 2.0
    clock: Callable[[], float] = time.monotonic
    vouchers: int = 0
    items: int = 0
    events: int = 0
    _started: float = 0.0
    _last: float = 0.0

    def start(self) -> None:
        self._started = self._last = self.clock()

    def done(self, vouchers: int, items: int, events: int = 0) -> None:
        self.vouchers += vouchers
        self.items += items
        self.events += events
        now = self.clock()
        finished = self.items >= self.total_items and self.events >= self.total_events
        if now - self._last < self.every and not finished:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.vouchers / elapsed
        share = 100 * (self.items + self.events) / max(self.total_items + self.total_events, 1)
        audit = f", audit events {self.events}/{self.total_events}" if self.total_events else ""
        self.emit(
            f"vouchers {self.vouchers}/{self.total_vouchers}, items {self.items}/{self.total_items}{audit} "
            f"({share:.0f}%), {rate:.0f} vouchers/s, {elapsed:.0f} s"
        )


def store_webhook_secrets(f: ImportFile, put_secret: Callable[[str, str], None]) -> int:
    """Put each subscriber's `secret` (when the file gives one) into Secrets Manager before
    any table item names it, so a subscriber never exists without its secret."""
    stored = 0
    for w in f.webhook_subscribers:
        if w.secret is not None:
            put_secret(w.secret_name, w.secret.get_secret_value())
            stored += 1
    return stored


def secrets_manager_putter(client: Any) -> Callable[[str, str], None]:
    def put(name: str, value: str) -> None:
        try:
            client.create_secret(
                Name=name, SecretString=value, Description="voucher service webhook signing secret"
            )
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)

    return put


def existing_for(store: Table, f: ImportFile) -> Existing:
    """Fetch (one BatchGetItem, plus one Query per referenced operator for its grants) the
    records `f` refers to without defining them, shaped as import records."""
    defined_chains = {c.chain_id for c in f.chains}
    defined_definitions = {d.definition_id for d in f.definitions}
    defined_members = {m.member_id for m in f.members}
    defined_activities = {a.activity_code for a in f.activities}
    defined_catalog = {(d.thalamus.activity_code, d.thalamus.item_code) for d in f.definitions if d.thalamus}
    users = {u.user_id for u in f.thalamus_users}
    consoles = {u.user_id for u in f.console_users}
    admins = {a.user_id for a in f.spaaza_admins}
    clients = {c.client_id for c in f.privileged_clients}
    touchpoints = {t.code for t in f.touchpoints}

    want: dict[str, set[Any]] = {}
    want["definition"] = {v.definition_id for v in f.vouchers} - defined_definitions
    want["member"] = {v.owner_member_id for v in f.vouchers if v.owner_member_id} | {
        s.principal for s in f.sessions if s.kind in ("es_member", "spaaza_user")
    }
    want["member"] -= defined_members
    want["activity"] = {d.thalamus.activity_code for d in f.definitions if d.thalamus} | {
        g.activity_code for u in f.thalamus_users for g in u.grants
    }
    want["activity"] -= defined_activities
    want["catalog"] = {
        (g.activity_code, g.item_code) for u in f.thalamus_users for g in u.grants if g.item_code != "*"
    } - defined_catalog
    want["chain"] = (
        {d.spaaza.chain_id for d in f.definitions if d.spaaza}
        | {m.chain_id for m in f.members if m.chain_id is not None}
        | {c for a in f.spaaza_admins for c in a.chains}
        | {c for p in f.privileged_clients for c in p.chains}
        | {w.chain_id for w in f.webhook_subscribers}
    ) - defined_chains
    want["touchpoint"] = {s.touchpoint for s in f.sessions if s.touchpoint} - touchpoints
    want["user"] = {s.principal for s in f.sessions if s.kind == "thalamus_user"} - users
    want["console"] = {s.principal for s in f.sessions if s.kind == "es_console"} - consoles
    want["admin"] = {
        int(s.principal) for s in f.sessions if s.kind == "spaaza_admin" and s.principal.isdigit()
    }
    want["admin"] -= admins
    want["client"] = {s.principal for s in f.sessions if s.kind == "spaaza_privileged"} - clients

    keys = (
        [Keys.definition(x) for x in want["definition"]]
        + [Keys.member(x) for x in want["member"]]
        + [Keys.activity(x) for x in want["activity"]]
        + [Keys.catalog_item(a, i) for a, i in want["catalog"]]
        + [Keys.touchpoint(x) for x in want["touchpoint"]]
        + [Keys.principal("thalamus_user", x) for x in want["user"]]
        + [Keys.principal("es_console", x) for x in want["console"]]
        + [Keys.principal("spaaza_admin", x) for x in want["admin"]]
        + [Keys.principal("spaaza_privileged", x) for x in want["client"]]
    )
    keyless = [v.serial for v in f.vouchers if v.voucher_key is None]
    keys += [Keys.voucher(serial) for serial in keyless]
    found = store.batch_get(keys) if keys else {}
    voucher_keys = {v.serial: v.voucher_key for v in decoded(found, VOUCHER) if v.voucher_key}
    chain_ids = want["chain"] | {m.chain_id for m in decoded(found, MEMBER) if m.chain_id}
    chain_ids |= {d.chain_id for d in decoded(found, DEFINITION) if d.chain_id}
    if chain_ids - defined_chains:
        found.update(store.batch_get([Keys.chain(c) for c in chain_ids - defined_chains]))
    return Existing(records=records_of(store, found), catalog=catalog_of(found), voucher_keys=voucher_keys)


def validate_against(store: Table, document: Any) -> tuple[ImportFile | None, list[str], Existing]:
    """Validate a document whose references may point at records already in the table."""
    parsed, problems = parse(document)
    if parsed is None:
        return None, problems, Existing()
    existing = existing_for(store, parsed)
    problems = cross_check(parsed, existing)
    return (parsed if not problems else None), problems, existing


Request = dict[str, Any]  # one element of a TransactWriteItems call


class ItemWrite(NamedTuple):
    """One planned put, kept as the plain item until its transaction is sent (serialized
    requests for a whole file would triple the importer's memory): `new` ones must not exist
    yet; a replaced voucher is conditioned on the version that was read."""

    item: Item
    new: bool = True
    expected_version: int | None = None

    def request(self, table: str) -> Request:
        if self.new:
            return put_new(table, self.item)
        return put_replacing(table, self.item, self.expected_version)


def put_new(table: str, item: Item) -> Request:
    """Create an item that must not exist yet (imports never overwrite silently)."""
    return {
        "Put": {
            "TableName": table,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
    }


def put_replacing(table: str, item: Item, expected_version: int | None = None) -> Request:
    """Overwrite an item; a voucher only at the version that was read, so a concurrent
    state change is never lost to an import."""
    put: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
    if expected_version is not None:
        put["ConditionExpression"] = "#version = :expected"
        put["ExpressionAttributeNames"] = {"#version": "version"}
        put["ExpressionAttributeValues"] = serialize({":expected": expected_version})
    return {"Put": put}


DERIVED = frozenset({"updated_at", GSI1.partition_key, GSI1.sort_key})


def _comparable(item: Item) -> Item:
    """The item as DynamoDB would hand it back (None dropped, numbers normalised), without
    what is derived: the owner index's keys follow from owner, issue date and serial, which
    are compared, so an entry keyed in an older format (python -m infra.importer.backfill) is not a
    conflict."""
    return {k: v for k, v in deserialize(serialize(item)).items() if k not in DERIVED}


def plan_load(
    store: Table, groups: list[ItemGroup], *, replace: bool = False
) -> tuple[list[list[ItemWrite]], LoadReport]:
    """Compare every item with the table: identical items are skipped, new ones are created
    (`attribute_not_exists`), differing ones are conflicts — written only with `replace`, a
    voucher then only at the version read, bumped, with a REPLACED event (real from-status).
    Returns one write list per group (a voucher with its aliases and event stays together)."""
    report = LoadReport()
    existing = store.batch_get([{PK: i[PK], SK: i[SK]} for g in groups for i in g.items])
    writes: list[list[ItemWrite]] = []
    for group in groups:
        requests: list[ItemWrite] = []
        event = dict(group.event) if group.event else None
        voucher_written = False
        outcomes: set[str] = set()
        for item in group.items:
            current = existing.get(key_id({PK: item[PK], SK: item[SK]}))
            if current is None:
                requests.append(ItemWrite(item))
                report.created += 1
                outcomes.add("created")
                voucher_written |= item.get("type") == "voucher"
            elif _comparable(current) == _comparable(item):
                report.unchanged += 1
                outcomes.add("unchanged")
            else:
                report.conflicts.append(f"{item[PK]} / {item[SK]}: differs from the table")
                outcomes.add("conflict" if not replace else "replaced")
                if not replace:
                    continue
                if item.get("type") == "voucher":
                    version = int(current.get("version", 0))
                    bumped = {**item, "version": version + 1}
                    requests.append(ItemWrite(bumped, new=False, expected_version=version))
                    voucher_written = True
                    if event is not None:
                        event.update(event_type="REPLACED", from_status=current.get("status"))
                else:
                    requests.append(ItemWrite(item, new=False))
                report.replaced += 1
        if event is not None and voucher_written:
            requests.append(ItemWrite(event))
        # a record is what its most consequential item says (a voucher whose alias conflicts
        # is a conflict; one with a new alias and an unchanged voucher item was created)
        report.count(
            record_kind(group),
            next(o for o in ("conflict", "replaced", "created", "unchanged") if o in outcomes),
        )
        if requests:
            writes.append(requests)
    return writes, report


def load(
    store: Table,
    f: ImportFile,
    *,
    replace: bool = False,
    dry_run: bool = False,
    existing: Existing | None = None,
    put_secret: Callable[[str, str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> LoadReport:
    """Plan, then write, `workers` transactions at a time; `progress` (when given) receives
    a line before the plan's reads and about every 2 s while writing. `existing` (from
    validate_against) resolves references to records already in the table; without it they
    are fetched here. Webhook secrets the file gives
    go to `put_secret` (Secrets Manager) first; a file with secrets and no `put_secret` is
    refused rather than loaded without them."""
    groups = build_groups(f, existing=existing if existing is not None else existing_for(store, f))
    if progress is not None:
        total = sum(len(g.items) for g in groups)
        progress(f"checking {total} items ({len(groups)} records) against the table")
    writes, report = plan_load(store, groups, replace=replace)
    if (report.conflicts and not replace) or dry_run:
        return report
    if any(w.secret is not None for w in f.webhook_subscribers):
        if put_secret is None:
            raise ValueError("the file gives webhook secrets but no secret store is configured")
        store_webhook_secrets(f, put_secret)
    batches: list[list[ItemWrite]] = [[]]
    for requests in writes:  # transactions of at most 100 items, never splitting a group
        if len(batches[-1]) + len(requests) > TRANSACTION_ITEMS:
            batches.append([])
        batches[-1].extend(requests)
    batches = [b for b in batches if b]
    tracker = None
    if progress is not None:
        tracker = Progress(
            total_vouchers=sum(1 for b in batches for r in b if _is_voucher(r)),
            total_items=sum(1 for b in batches for r in b if not _is_event(r)),
            total_events=sum(1 for b in batches for r in b if _is_event(r)),
            emit=progress,
        )
        tracker.start()
    lock = threading.Lock()

    def commit(batch: list[ItemWrite]) -> None:
        store.transact([w.request(store.table_name) for w in batch])
        if tracker is not None:
            with lock:
                events = sum(1 for r in batch if _is_event(r))
                tracker.done(sum(1 for r in batch if _is_voucher(r)), len(batch) - events, events)

    # Transactions are independent (each group is whole in one), so they may run `workers` at
    # a time: DynamoDB's latency per call, not its throughput, bounds a serial import. One by
    # default: moto's in-process mock is not thread-safe (its transactions deep-copy the
    # table while another thread writes); the CLI and the local stack on DynamoDB Local use 4. The first
    # failure stops new transactions being started; those already written stay (re-running the
    # file skips them as unchanged).
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[Future[None]] = set()
        for batch in batches:
            pending.add(pool.submit(commit, batch))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    future.result()
        finished, _ = wait(pending)
        for future in finished:
            future.result()
    report.written = bool(writes)
    report.events = sum(1 for requests in writes for r in requests if _is_event(r))
    return report


def _is_event(write: ItemWrite) -> bool:
    """An audit event (IMPORTED, REPLACED) written beside a voucher, not an item of the file."""
    return write.item.get("type") == "event"


def _is_voucher(write: ItemWrite) -> bool:
    return write.item.get("type") == "voucher"
