"""Load an import file into the voucher table (local or real AWS).

    python -m infra.importer data.json --table VoucherTable [--endpoint-url URL]
        [--region eu-west-1] [--replace] [--dry-run] [--create-table]

Every file is validated whole before any of its items is written: first each record's
fields, then every reference, which may point at a record of the same file or at one the
table already holds (files load in the order given, so a later file may name records of an
earlier one). Exit codes: 0 loaded (or nothing to do), 2 invalid file (every problem listed
with its path; nothing of that file written), 3 conflicts with the table (nothing of that
file written; see --replace), 4 the table could not be reached (one line says why: no
credentials, an unknown table, an endpoint that does not answer, access denied).

Long files report progress on stderr about every 2 s (vouchers done / total, items, rate);
the result is one line in items and one line per kind of record.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

from infra.importer.loader import existing_for, load
from infra.importer.model import Existing, ImportFile, Partial, cross_check, parse, partial
from shared.store import DynamoDBStore, TransactionCancelled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.importer", description=__doc__.splitlines()[0])
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
    parser.add_argument(
        "--workers", type=int, default=4, help="transactions written concurrently (default 4)"
    )
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table (or TABLE_NAME) is required")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.ports import StoreUnavailable

    try:
        return _run(args)
    except (BotoCoreError, ClientError, StoreUnavailable) as error:
        print(f"error: {aws_problem(error, args.table, args.region, args.endpoint_url)}", file=sys.stderr)
        return 4


def _local_endpoint(endpoint: str | None) -> bool:
    """A DynamoDB on this machine (DynamoDB Local, moto): subscribers may then be local
    receivers. Any other endpoint, AWS's own included, is AWS mode."""
    if not endpoint:
        return False
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(endpoint).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def aws_problem(error: Exception, table: str, region: str, endpoint: str | None) -> str:
    """One line for what went wrong talking to DynamoDB, in the words a person can act on."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    from shared.ports import StoreUnavailable

    if isinstance(error, StoreUnavailable) and isinstance(error.__cause__, Exception):
        return aws_problem(error.__cause__, table, region, endpoint)  # what the last attempt met
    where = f"endpoint {endpoint}" if endpoint else f"region {region}"
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
            "any non-empty values do for a local endpoint)"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region (use --region or AWS_REGION)"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return f"cannot connect to DynamoDB at {where}: is it running and reachable?"
    if isinstance(error, ReadTimeoutError):
        return f"DynamoDB at {where} did not answer in time; re-run (loading is idempotent)"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code == "ResourceNotFoundException":
            return (
                f"table {table!r} does not exist at {where} (check --table against the stack's "
                "TableName output, or use --create-table for a local engine)"
            )
        if code in {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}:
            return f"the AWS credentials were refused ({code}): refresh them or pick another profile"
        if code in {"AccessDeniedException", "AccessDenied"}:
            return f"access denied at {where}: {message}"
        return f"DynamoDB refused the call at {where}: {code}: {message}"
    return f"DynamoDB at {where}: {error}"


def _progress(path: str, line: str) -> None:
    print(f"{path}: {line}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:

    documents: list[tuple[str, ImportFile]] = []
    partials: list[tuple[str, Partial]] = []  # invalid files' valid records, checked below
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
        valid_part = partial(document) if problems else None
        del document  # the parsed records are all that is kept (a large file's dict is not)
        if problems:
            invalid = True
            for problem in problems:
                print(f"{path}: {problem}", file=sys.stderr)
            if valid_part is not None:
                partials.append((path, valid_part))
        elif parsed is not None:
            documents.append((path, parsed))

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # The requests are built by this code, not typed by a person: botocore's parameter
    # validation (measured: 16% of an import's time) checks nothing the tests do not.
    config = Config(
        parameter_validation=False,
        max_pool_connections=max(10, args.workers + 2),
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
    )
    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url, config=config)
    store = DynamoDBStore(client, args.table)
    aws_mode = not _local_endpoint(args.endpoint_url)
    # One pass: a file with field errors also has its references and duplicates checked (on
    # its valid records, against the table too), so every problem is listed at once. An
    # invalid file still exits 2, whatever the table: a missing one holds nothing to refer
    # to, an unreachable one leaves the references to the table unchecked (said so).
    for path, valid_part in partials:
        try:
            found = existing_for(store, valid_part.file)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            found = Existing()
        except BotoCoreError as error:
            why = aws_problem(error, args.table, args.region, args.endpoint_url)
            print(f"{path}: references to the table not checked: {why}", file=sys.stderr)
            continue
        for problem in cross_check(valid_part.file, found, aws_mode=aws_mode, invalid=valid_part.invalid):
            print(f"{path}: {valid_part.located(problem)}", file=sys.stderr)
    if invalid:
        print("nothing written: fix the problems above", file=sys.stderr)
        return 2
    if args.create_table:
        from shared.table_schema import create_table

        if args.table not in client.list_tables().get("TableNames", []):
            create_table(client, args.table)
    # Importing into AWS (no endpoint override, aws_mode): webhook URLs naming private
    # addresses are refused. Webhook secrets go to Secrets Manager
    # (AWS_ENDPOINT_URL_SECRETSMANAGER locally).
    put_secret = None
    if any(w.secret is not None for _path, parsed in documents for w in parsed.webhook_subscribers):
        from infra.importer.loader import secrets_manager_putter

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
                progress=functools.partial(_progress, path),
                workers=args.workers,
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
        for line in report.record_lines():
            print(f"{path}: {line}")
    return status


if __name__ == "__main__":
    sys.exit(main())
