"""Run the voucher service locally: `python -m infra.local_stack` (or `make run`).

    python -m infra.local_stack [--port 3000] [--host 127.0.0.1] [--data FILE ...]
        [--no-demo] [--provider-port 0] [--moto-port 0] [--table vouchers-local] [--verbose]
        [--log-file FILE]

moto's DynamoDB + Secrets Manager, the demo data, the provider simulator and the API on
http://127.0.0.1:3000 (docs/local-stack.md). Exit codes: 0 stopped with Ctrl-C, 1 could not
start, 2 an import file is invalid or conflicts with the table.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from infra.local_stack.dynamodb_local import DynamoDBLocalError
from infra.local_stack.server import DEFAULT_TABLE, ENGINES, ROOT, DataError, LocalStack

DEFAULT_LOG = ROOT / ".build" / "local-stack.log"


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535")
    return port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local_stack", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=_port,
        default=_port(os.environ.get("PORT") or "3000"),
        help="API port (default $PORT or 3000)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument(
        "--data", nargs="+", default=[], metavar="FILE", help="import files to load after the demo data"
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load infra/local_stack/demo.json")
    parser.add_argument("--provider-port", type=_port, default=0, help="provider simulator port (0: any)")
    parser.add_argument(
        "--moto-port", type=_port, default=0, help="moto server port: Secrets Manager, SQS (0: any)"
    )
    parser.add_argument("--table", default=DEFAULT_TABLE, help=f"table name (default {DEFAULT_TABLE})")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("LOCAL_ENGINE") or "auto",
        help="DynamoDB engine: auto (DynamoDB Local when Java 17+ is on PATH, else moto), "
        "dynamodb-local or moto (default $LOCAL_ENGINE or auto); AWS_ENDPOINT_URL_DYNAMODB names your own",
    )
    parser.add_argument(
        "--persist",
        metavar="DIR",
        default=None,
        help="DynamoDB Local only: keep the table in DIR across runs (default: in memory, nothing kept); "
        "files then never overwrite what the table holds",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="handler logs (INFO) and EMF metrics on the console"
    )
    parser.add_argument(
        "--log-file",
        default=str(DEFAULT_LOG),
        help="where handler logs and EMF metric lines go unless --verbose (default .build/local-stack.log)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console: TextIO = sys.stdout

    def say(line: str) -> None:
        console.write(line + "\n")
        console.flush()

    def err(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    log_handle: Any = None
    log_file: str | None = None
    if not args.verbose:
        # Powertools writes JSON logs and EMF metric lines to stdout; keep the console for
        # the banner and the access log. Handlers are imported lazily, after this swap.
        Path(args.log_file).parent.mkdir(parents=True, exist_ok=True)
        log_handle = open(args.log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        log_file = args.log_file
        sys.stdout = log_handle

    stack = LocalStack(
        port=args.port,
        host=args.host,
        data_files=args.data,
        demo=not args.no_demo,
        provider_port=args.provider_port,
        moto_port=args.moto_port,
        table_name=args.table,
        engine=args.engine,
        persist_dir=args.persist,
        verbose=args.verbose,
        access_log=say,
        error_log=err,
        event_log=say,
        progress=err,
    )
    try:
        try:
            stack.start()
        except DataError as error:
            for problem in error.problems:
                err(problem)
            err(
                "local stack not started: fix the import files above "
                "(conflicts with an existing table: --no-demo or another --table)"
            )
            return 2
        except DynamoDBLocalError as error:
            err(f"local stack not started: {error} (or --engine moto)")
            return 1
        except OSError as error:
            err(f"local stack not started: {error} (is port {args.port} free? try --port 0)")
            return 1
        except (BotoCoreError, ClientError) as error:
            err(f"local stack not started: AWS endpoint error: {error}")
            return 1
        say(stack.banner(log_file=log_file))
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            while not stopped.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        say("stopping...")
        return 0
    finally:
        stack.stop()
        if log_handle is not None:
            sys.stdout = console
            log_handle.close()


if __name__ == "__main__":
    sys.exit(main())
