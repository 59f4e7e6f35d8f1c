"""Backfill attributes that are derived from an item's own fields (index keys, today the owner
index's), after a release changed how they are derived or added one.

    python -m infra.importer.backfill --table VoucherTable [--only owner-index]
        [--endpoint-url URL] [--region eu-west-1] [--dry-run] [--segments 4]

Every release writes derived attributes as `DERIVED` says, on every write path; this brings
the items an older release wrote to the same state. Each item is one conditional UpdateItem of
its derived attributes only, made only while the item still holds the fields they derive from
and the derived values the scan saw: no voucher field, version or `updated_at` changes, so it
is not a state change (no audit event, nothing published: the webhook stream handler pairs
only audit events). Safe while the service runs and to re-run: an item already current is
skipped, so a second run reports 0 written. Exit codes: 0 done, 4 the table could not be
reached (one line says why), 5 items changed under the run (re-run it).

Upgrade order for a release that changes a derivation: run it, deploy, run it again (an
import between the two by the old code wrote the old form). A new index (an expiry index,
say) is one more `Derived` entry, and this command fills it.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.domain import parse_instant
from shared.store import PK, SK, Keys, deserialize, serialize

Item = Mapping[str, Any]


@dataclass(frozen=True)
class Derived:
    """Attributes of one item type that follow from `sources` by `derive` (an empty answer:
    the item has none, e.g. a voucher without an owner is in no owner index)."""

    item_type: str  # the item's "type" attribute
    sources: tuple[str, ...]
    derive: Callable[[Item], dict[str, Any]]
    attributes: tuple[str, ...]  # every attribute derive may write


def _owner_index(item: Item) -> dict[str, Any]:
    if not item.get("owner_member_id"):
        return {}
    issued = item.get("issued_at")
    return Keys.owner(
        str(item["owner_member_id"]), parse_instant(issued) if issued else None, str(item["serial"])
    )


DERIVED: dict[str, Derived] = {
    "owner-index": Derived(
        "voucher",
        ("serial", "owner_member_id", "issued_at"),
        _owner_index,
        tuple(Keys.owner("m", None, "s")),
    ),
}


@dataclass
class BackfillReport:
    counts: Counter[str] = field(default_factory=Counter)  # scanned, written, current, moved
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str) -> None:
        with self._lock:
            self.counts.update(("scanned", outcome))

    def line(self) -> str:
        c = self.counts
        return (
            f"scanned {c['scanned']} items: written {c['written']}, already current {c['current']}, "
            f"changed during the run {c['moved']}"
        )


def items_of(
    client: Any, table: str, derived: Derived, segment: int, segments: int
) -> Iterator[dict[str, Any]]:
    """One scan segment's items of the derivation's type, with only the attributes it needs."""
    wanted = (PK, SK, *derived.sources, *derived.attributes)
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "#type = :type",
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#type": "type"},
        "ExpressionAttributeValues": serialize({":type": derived.item_type}),
        "Segment": segment,
        "TotalSegments": segments,
    }
    while True:
        page = client.scan(**kwargs)
        yield from (deserialize(raw) for raw in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def backfill_item(client: Any, table: str, derived: Derived, item: Item, *, dry_run: bool = False) -> str:
    """'current', 'written' or 'moved' (a source or derived attribute changed since the scan)."""
    from botocore.exceptions import ClientError

    want = derived.derive(item)
    stale = [name for name in derived.attributes if item.get(name) != want.get(name)]
    if not stale:
        return "current"
    if dry_run:
        return "written"
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    held = []  # the item as the scan saw it: sources and the derived attributes alike
    for i, name in enumerate((*derived.sources, *derived.attributes)):
        names[f"#c{i}"] = name
        if item.get(name) is None:
            held.append(f"attribute_not_exists(#c{i})")
        else:
            held.append(f"#c{i} = :c{i}")
            values[f":c{i}"] = item[name]
    sets, removes = [], []
    for i, name in enumerate(stale):
        names[f"#d{i}"] = name
        if want.get(name) is None:
            removes.append(f"#d{i}")
        else:
            sets.append(f"#d{i} = :d{i}")
            values[f":d{i}"] = want[name]
    update = " ".join(
        part
        for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes))
        if part
    )
    try:
        client.update_item(
            TableName=table,
            Key=serialize({PK: item[PK], SK: item[SK]}),
            UpdateExpression=update,
            ConditionExpression=" AND ".join(held),
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": serialize(values)} if values else {}),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("ConditionalCheckFailedException", "TransactionConflictException"):
            raise
        return "moved"  # changed under the run, or a transaction was writing it: re-run
    return "written"


def backfill(
    client: Any,
    table: str,
    only: tuple[str, ...] = tuple(DERIVED),
    *,
    segments: int = 4,
    dry_run: bool = False,
    progress: Callable[[BackfillReport], None] = lambda _r: None,
) -> BackfillReport:
    """Bring every item's derived attributes (those named by `only`) to this release's form,
    `segments` scan segments in parallel."""
    report = BackfillReport()

    def run(derived: Derived, segment: int) -> None:
        for item in items_of(client, table, derived, segment, segments):
            report.add(backfill_item(client, table, derived, item, dry_run=dry_run))
            if report.counts["scanned"] % 1000 == 0:
                progress(report)

    with ThreadPoolExecutor(max_workers=segments) as pool:
        jobs = [pool.submit(run, DERIVED[name], s) for name in only for s in range(segments)]
        for job in jobs:
            job.result()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.importer.backfill", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--table", default=os.environ.get("TABLE_NAME"), help="table name (default: $TABLE_NAME)"
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(DERIVED), help="one derivation (repeatable)"
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1",
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be written, write nothing")
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments (default 4)")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table (or TABLE_NAME) is required")
    if not 1 <= args.segments <= 64:
        parser.error("--segments must be from 1 to 64")

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.importer.__main__ import aws_problem

    client = boto3.client(
        "dynamodb",
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        config=Config(max_pool_connections=args.segments + 2, retries={"mode": "standard"}),
    )
    try:
        report = backfill(
            client,
            args.table,
            tuple(args.only or DERIVED),
            segments=args.segments,
            dry_run=args.dry_run,
            progress=lambda r: print(r.line(), file=sys.stderr, flush=True),
        )
    except (BotoCoreError, ClientError) as error:
        print(f"error: {aws_problem(error, args.table, args.region, args.endpoint_url)}", file=sys.stderr)
        return 4
    print(("dry run: " if args.dry_run else "") + report.line())
    return 5 if report.counts["moved"] else 0


if __name__ == "__main__":
    sys.exit(main())
