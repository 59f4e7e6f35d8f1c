"""Run the voucher service locally: `python -m infra.local_stack` (or `make run`).

moto's DynamoDB + Secrets Manager (or DynamoDB Local), the demo data, the provider simulator
and the API on http://127.0.0.1:3000 (docs/local-stack.md). Exit codes: 0 stopped with
Ctrl-C, 1 could not start, 2 an import file is invalid or conflicts with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from infra.local_stack.dynamodb_local import DynamoDBLocalError
from infra.local_stack.server import DEFAULT_TABLE, DEMO_FILE, ENGINES, ROOT, DataError, LocalStack


@dataclass(frozen=True)
class SampleRequest:
    """One request per endpoint; run in this order, each works against fresh demo data."""

    function: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    note: str
    body: str | None = None

    def curl(self, base_url: str) -> str:
        headers = "".join(f" -H '{name}: {value}'" for name, value in self.headers)
        data = f" --data '{self.body}'" if self.body is not None else ""
        return f"curl -i -X {self.method} '{base_url}{self.path}'{headers}{data}"


ANNA = (("Thalamus-Token", "demo-thalamus-operator-anna"), ("Thalamus-Touchpoint", "BACKOFFICE"))
ALICE = (("Authorization", "Bearer demo-es-member-alice"),)
CSR = (("Authorization", "Bearer demo-es-console-csr"),)
ADMIN = (("X-Spaaza-Session-User-Id", "900"), ("X-Spaaza-Session-Key", "demo-spaaza-admin-chain1"))
FORM = (*ADMIN, ("Content-Type", "application/x-www-form-urlencoded"))
VOUCHER = "00000000-0000-4000-8000-0000000000{:02d}"  # demo voucher n's serial
THALAMUS_1 = "/api/v4/operator/activity/MILES/item/CARWASH/voucher/" + VOUCHER.format(1)
ACTIVATE_2 = f"/client/users/corr-123/voucher/carwash::{VOUCHER.format(2)}/activate"
PAC_LIST = "/client/users/corr-123/issuances?rewardType=PRODUCT_AUTHORIZATION_CODE&activatable=true"
CONSOLE_1 = f"/console/members/alice/issuances/carwash::{VOUCHER.format(1)}"
USER_1001 = "voucher_id=40577&user_id=1001&chain_id=1"
SAMPLES = (
    SampleRequest(
        "consume_voucher", "PUT", THALAMUS_1, ANNA, "Thalamus: anna consumes voucher 1 (again: 400)"
    ),
    SampleRequest("activate_voucher", "POST", ACTIVATE_2, ALICE, "ES: alice activates voucher 2 (simulator)"),
    SampleRequest("unclaim_voucher", "PUT", "/unclaim-voucher", FORM, "Spaaza: unclaim 40577", USER_1001),
    SampleRequest(
        "view_voucher", "GET", THALAMUS_1, ANNA, "Thalamus: anna views voucher 1 (CONSUMED by now)"
    ),
    SampleRequest("list_issuances", "GET", PAC_LIST, ALICE, "ES: alice's PAC vouchers to activate"),
    SampleRequest(
        "console_issuances",
        "GET",
        "/console/members/alice/issuances?maxResults=5",
        CSR,
        "ES console: csr-1 lists alice's issuances",
    ),
    SampleRequest(
        "console_issuance", "GET", CONSOLE_1, CSR, "ES console: voucher 1, history from every channel"
    ),
    SampleRequest("claim_voucher", "POST", "/claim-voucher", FORM, "Spaaza: claim 40577 back", USER_1001),
    SampleRequest(
        "get_user_vouchers",
        "GET",
        "/get-user-vouchers?chain_id=1&member_number=M-1001",
        ADMIN,
        "Spaaza: member M-1001's vouchers",
    ),
)


def sample_curls(base_url: str) -> list[str]:
    return [sample.curl(base_url) for sample in SAMPLES]


def demo_tokens(path: Path = DEMO_FILE) -> list[tuple[str, str, str]]:
    """(kind, principal, token) of every session in the demo file that carries a plain token."""
    sessions = json.loads(path.read_text(encoding="utf-8")).get("sessions", [])
    return [(str(s["kind"]), str(s["principal"]), str(s["token"])) for s in sessions if s.get("token")]


def banner(stack: LocalStack, log_file: str | None = None) -> str:
    """Every port the stack binds, the demo tokens and one curl per endpoint; its first line
    names the API's URL and its last says how to stop."""
    url = stack.url
    receiver = ""
    if stack.demo:
        receiver = stack.demo_webhook_url
        if stack.receiver is None:
            receiver = f"not started ({receiver} is taken)"
        receiver += "   (--webhook-port; the demo subscriber's URL)"
    rows = (
        ("DynamoDB endpoint", f"{stack.dynamodb_endpoint} (table {stack.table_name})"),
        ("DynamoDB engine", stack.engine_name),
        ("Provider simulator", f"{stack.simulator_url}   (--provider-port)"),
        ("moto server", f"{stack.moto_url}   (--moto-port; Secrets Manager, SQS)" if stack.moto_url else ""),
        ("Webhook receiver", receiver),
        ("OpenAPI", f"{url}/openapi.json   Swagger UI: {url}/docs   health: {url}/_health"),
        ("Handler logs/EMF", log_file or ""),
    )
    lines = [f"Voucher service local stack: {url}", *(f"  {k:<18}: {v}" for k, v in rows if v)]
    if stack.demo:
        tokens = demo_tokens()
        width = [max((len(t[i]) for t in tokens), default=0) for i in (0, 1)]
        lines += ["", "Demo tokens (kind, principal, token):"]
        lines += [f"  {k:<{width[0]}}  {p:<{width[1]}}  {t}" for k, p, t in tokens]
        lines += ["", "Try (against fresh demo data):"]
        lines += [line for s in SAMPLES for line in (f"  # {s.note}", f"  {s.curl(url)}")]
    return "\n".join([*lines, "", "Ctrl-C stops everything."])


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535")
    return port


def _listen_port(value: str) -> int:
    """A port a URL can name before anything listens on it (so not 0, "any")."""
    port = _port(value)
    if port == 0:
        raise argparse.ArgumentTypeError("the demo subscriber's URL needs a fixed port: 1..65535")
    return port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local_stack", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add(
        "--port",
        type=_port,
        default=_port(os.environ.get("PORT") or "3000"),
        help="API port (default $PORT or 3000)",
    )
    add("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    add("--data", nargs="+", default=[], metavar="FILE", help="import files to load after the demo data")
    add("--no-demo", action="store_true", help="do not load infra/local_stack/demo.json")
    add("--provider-port", type=_port, default=0, help="provider simulator port (0: any)")
    add("--moto-port", type=_port, default=0, help="moto server port: Secrets Manager, SQS (0: any)")
    add(
        "--webhook-port",
        type=_listen_port,
        default=None,
        help="demo webhook receiver port, which the demo subscriber's URL follows (default 9300)",
    )
    add("--table", default=DEFAULT_TABLE, help=f"table name (default {DEFAULT_TABLE})")
    add(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("LOCAL_ENGINE") or "auto",
        help="DynamoDB engine: auto (DynamoDB Local when Java 17+ is on PATH, else moto), "
        "dynamodb-local or moto (default $LOCAL_ENGINE or auto); AWS_ENDPOINT_URL_DYNAMODB names your own",
    )
    add(
        "--persist",
        metavar="DIR",
        help="DynamoDB Local only: keep the table in DIR across runs (default: in memory, nothing kept); "
        "files then never overwrite what the table holds",
    )
    add("--verbose", action="store_true", help="handler logs (INFO) and EMF metrics on the console")
    add(
        "--log-file",
        default=str(ROOT / ".build" / "local-stack.log"),
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
    if not args.verbose:
        # Powertools writes JSON logs and EMF metric lines to stdout; keep the console for
        # the banner and the access log. Handlers are imported lazily, after this swap.
        Path(args.log_file).parent.mkdir(parents=True, exist_ok=True)
        log_handle = sys.stdout = open(args.log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    stack = LocalStack(
        port=args.port,
        host=args.host,
        data_files=args.data,
        demo=not args.no_demo,
        provider_port=args.provider_port,
        moto_port=args.moto_port,
        webhook_port=args.webhook_port,
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
        say(banner(stack, log_file=None if args.verbose else args.log_file))
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
