"""Load an import file into the voucher table (local or real AWS).

    python -m shared.importer data.json --table VoucherTable [--endpoint-url URL]
        [--region eu-west-1] [--replace] [--dry-run] [--create-table]

Every file is validated whole before any of its items is written: first each record's
fields, then every reference, which may point at a record of the same file or at one the
table already holds (files load in the order given, so a later file may name records of an
earlier one). Exit codes: 0 loaded (or nothing to do), 2 invalid file (every problem listed
with its path; nothing of that file written), 3 conflicts with the table (nothing of that
file written; see --replace).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from shared.importer.loader import existing_for, load
from shared.importer.model import ImportFile, cross_check, parse
from shared.store import DynamoDBStore, TransactionCancelled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.importer", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="import files (JSON, format voucher-import/v1)")
    parser.add_argument(
        "--table", default=os.environ.get("TABLE_NAME"), help="table name (default: $TABLE_NAME)"
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1",
    )
    parser.add_argument("--replace", action="store_true", help="overwrite items that differ from the file")
    parser.add_argument("--dry-run", action="store_true", help="validate and plan, write nothing")
    parser.add_argument(
        "--create-table", action="store_true", help="create the table first if missing (local use)"
    )
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table (or TABLE_NAME) is required")

    documents: list[tuple[str, ImportFile]] = []
    invalid = False
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as error:
            print(f"{path}: cannot read JSON: {error}", file=sys.stderr)
            invalid = True
            continue
        parsed, problems = parse(document)
        if problems:
            invalid = True
            for problem in problems:
                print(f"{path}: {problem}", file=sys.stderr)
        elif parsed is not None:
            documents.append((path, parsed))
    if invalid:
        print("nothing written: fix the problems above", file=sys.stderr)
        return 2

    import boto3

    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    if args.create_table:
        from shared.table_schema import create_table

        if args.table not in client.list_tables().get("TableNames", []):
            create_table(client, args.table)
    store = DynamoDBStore(client, args.table)
    # Importing into AWS (no endpoint override): webhook URLs naming private addresses are
    # refused. Webhook secrets go to Secrets Manager (AWS_ENDPOINT_URL_SECRETSMANAGER locally).
    aws_mode = not args.endpoint_url
    put_secret = None
    if any(w.secret is not None for _path, parsed in documents for w in parsed.webhook_subscribers):
        from shared.importer.loader import secrets_manager_putter

        put_secret = secrets_manager_putter(boto3.client("secretsmanager", region_name=args.region))
    status = 0
    for path, parsed in documents:
        # References may point at records of this file or already in the table (so a file
        # of new vouchers can name definitions and members loaded before).
        existing = existing_for(store, parsed)
        problems = cross_check(parsed, existing, aws_mode=aws_mode)
        if problems:
            for problem in problems:
                print(f"{path}: {problem}", file=sys.stderr)
            print(f"{path}: nothing written: fix the problems above", file=sys.stderr)
            status = 2
            continue
        try:
            report = load(
                store,
                parsed,
                replace=args.replace,
                dry_run=args.dry_run,
                existing=existing,
                put_secret=put_secret,
            )
        except TransactionCancelled:
            print(f"{path}: the table changed while loading; re-run to finish", file=sys.stderr)
            status = 3
            continue
        if report.conflicts and not args.replace:
            for conflict in report.conflicts[:50]:
                print(f"{path}: conflict: {conflict}", file=sys.stderr)
            print(
                f"{path}: nothing written ({len(report.conflicts)} conflicts; use --replace)", file=sys.stderr
            )
            status = 3
            continue
        print(f"{path}: {report.summary()}{' (dry run)' if args.dry_run else ''}")
    return status


if __name__ == "__main__":
    sys.exit(main())
