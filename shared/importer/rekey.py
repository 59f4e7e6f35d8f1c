"""Re-key the owner index (gsi1) of a table written before gsi1's sort key followed the list.

    python -m shared.importer.rekey --table VoucherTable [--endpoint-url URL]
        [--region eu-west-1] [--dry-run] [--segments 4]

gsi1's sort key was `VOUCHER#<serial>`; it is now the list's own order (newest issue first,
then serial: `Keys.owner_order`), so a page reads only the index entries it shows. Every
voucher item written by this version carries the new key; this rewrites the older ones.

Each item is one conditional UpdateItem of its two index attributes only, made only while the
item still holds the key the scan saw and the same owner: no voucher field, version or
`updated_at` changes, so it is not a state change (no audit event, nothing published: the
webhook stream handler pairs only audit events). Safe while the service runs and to re-run:
an item already keyed is skipped, so a second run reports 0 re-keyed. Exit codes: 0 done,
4 the table could not be reached (one line says why), 5 items changed under the run
(re-run it).

Upgrade order: run it, deploy, run it again (an import between the two by the old code wrote
old keys). Until it has run, a list page of an old-keyed member lists that member's
vouchers out of order; nothing is lost, and no write path reads gsi1.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.domain import parse_instant
from shared.store import GSI1, PK, SK, Keys, deserialize, serialize


@dataclass
class RekeyReport:
    scanned: int = 0  # voucher items with an owner index entry
    rekeyed: int = 0
    current: int = 0  # already keyed in the list's order
    moved: int = 0  # changed between the scan and the write: re-run
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str) -> None:
        with self._lock:
            self.scanned += 1
            setattr(self, outcome, getattr(self, outcome) + 1)

    def line(self) -> str:
        return (
            f"scanned {self.scanned} indexed vouchers: re-keyed {self.rekeyed}, "
            f"already current {self.current}, changed during the run {self.moved}"
        )


def wanted_keys(item: dict[str, Any]) -> dict[str, str]:
    """The owner index keys this version writes for the (deserialized) voucher item."""
    issued = item.get("issued_at")
    return Keys.owner(
        str(item["owner_member_id"]), parse_instant(issued) if issued else None, str(item["serial"])
    )


def indexed_vouchers(client: Any, table: str, segment: int, segments: int) -> Iterator[dict[str, Any]]:
    """One scan segment's voucher items that have an owner index entry (only what is needed)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "attribute_exists(#gp) AND attribute_exists(#owner)",
        "ProjectionExpression": "#pk, #sk, #gp, #gs, #serial, #owner, #issued",
        "ExpressionAttributeNames": {
            "#pk": PK,
            "#sk": SK,
            "#gp": GSI1.partition_key,
            "#gs": GSI1.sort_key,
            "#serial": "serial",
            "#owner": "owner_member_id",
            "#issued": "issued_at",
        },
        "Segment": segment,
        "TotalSegments": segments,
    }
    while True:
        page = client.scan(**kwargs)
        for raw in page.get("Items", []):
            yield deserialize(raw)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rekey_item(client: Any, table: str, item: dict[str, Any], *, dry_run: bool = False) -> str:
    """'current', 'rekeyed' or 'moved' (the item's key or owner changed since it was read)."""
    from botocore.exceptions import ClientError

    want = wanted_keys(item)
    if all(item.get(name) == value for name, value in want.items()):
        return "current"
    if dry_run:
        return "rekeyed"
    try:
        client.update_item(
            TableName=table,
            Key=serialize({PK: item[PK], SK: item[SK]}),
            UpdateExpression="SET #gp = :gp, #gs = :gs",
            ConditionExpression="#gs = :seen AND #owner = :owner AND "
            + ("#issued = :issued" if item.get("issued_at") else "attribute_not_exists(#issued)"),
            ExpressionAttributeNames={
                "#gp": GSI1.partition_key,
                "#gs": GSI1.sort_key,
                "#owner": "owner_member_id",
                "#issued": "issued_at",
            },
            ExpressionAttributeValues=serialize(
                {
                    ":gp": want[GSI1.partition_key],
                    ":gs": want[GSI1.sort_key],
                    ":seen": item[GSI1.sort_key],
                    ":owner": item["owner_member_id"],
                    **({":issued": item["issued_at"]} if item.get("issued_at") else {}),
                }
            ),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("ConditionalCheckFailedException", "TransactionConflictException"):
            raise
        return "moved"  # changed under the run, or a transaction was writing it: re-run
    return "rekeyed"


def rekey(
    client: Any,
    table: str,
    *,
    segments: int = 4,
    dry_run: bool = False,
    progress: Callable[[RekeyReport], None] = lambda _r: None,
) -> RekeyReport:
    """Re-key every indexed voucher of the table, `segments` scan segments in parallel."""
    report = RekeyReport()

    def run(segment: int) -> None:
        for item in indexed_vouchers(client, table, segment, segments):
            report.add(rekey_item(client, table, item, dry_run=dry_run))
            if report.scanned % 1000 == 0:
                progress(report)

    with ThreadPoolExecutor(max_workers=segments) as pool:
        for future in [pool.submit(run, s) for s in range(segments)]:
            future.result()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.importer.rekey", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--table", default=os.environ.get("TABLE_NAME"), help="table name (default: $TABLE_NAME)"
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1",
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be re-keyed, write nothing")
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments (default 4)")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table (or TABLE_NAME) is required")
    if not 1 <= args.segments <= 64:
        parser.error("--segments must be from 1 to 64")

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.importer.__main__ import aws_problem

    client = boto3.client(
        "dynamodb",
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        config=Config(max_pool_connections=args.segments + 2, retries={"mode": "standard"}),
    )
    try:
        report = rekey(
            client,
            args.table,
            segments=args.segments,
            dry_run=args.dry_run,
            progress=lambda r: print(r.line(), file=sys.stderr, flush=True),
        )
    except (BotoCoreError, ClientError) as error:
        print(f"error: {aws_problem(error, args.table, args.region, args.endpoint_url)}", file=sys.stderr)
        return 4
    print(("dry run: " if args.dry_run else "") + report.line())
    return 5 if report.moved else 0


if __name__ == "__main__":
    sys.exit(main())
