"""`make bench`: the service's performance promises, measured (never asserted by tests).

    python -m tests.bench [--quick] [--json bench-results.json] [--report bench-results.json]
        [--skip-cold] [--skip-http] [--skip-import] [--import-vouchers N]

Rows (docs/performance.md says how each is measured):
  1. DynamoDB round trips, provider calls, consumed capacity and cost per request, on Amazon's
     DynamoDB Local (botocore hooks on the handlers' real client).
  2. The baseline design (Powertools Idempotency around read + conditional write) beside it.
  3. Cold start against `import boto3` + a DynamoDB client, and the import cost of libraries.
  4. Warm latency of each handler next to the very same DynamoDB calls made raw, on DynamoDB
     Local and on moto.
  5. The local HTTP stack under a bounded concurrent load on loopback, on each engine.
  6. A capacity plan: hot keys, limits as request rates, 10x/100x/1,000x.
  7. Importing 50,000 vouchers with the importer on DynamoDB Local: time and peak memory.
  8. The whole bill of a request beside the cookbook style's, and each stage's fixed monthly cost
     (tests/bench/bill.py).
Goals (printed, never asserted): cold start <= 1.2x, handler overhead <= 1.2x, $ per success
<= the baseline's, round trips within budget.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import platform
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

for _name in list(os.environ):
    if _name.startswith("AWS_ENDPOINT_URL"):
        del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "TABLE_NAME": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_NAMESPACE": "VoucherService",  # as CDK sets it
        "ACTIVATION_WAIT_SECONDS": "2",
    }
)

BUDGETS = {
    ("consume_voucher", "success"): 2,
    ("consume_voucher", "success, warm container"): 2,
    ("activate_voucher", "first activation, warm container"): 3,
    ("unclaim_voucher", "success, warm container"): 3,
    ("activate_voucher", "first activation"): 3,
    ("activate_voucher", "idempotent replay"): 1,
    ("unclaim_voucher", "success"): 3,
    ("claim_voucher", "success"): 3,
    ("view_voucher", "success"): 1,
    ("list_issuances", "first page"): 3,
    ("list_issuances", "PAC vouchers to activate"): 3,
    ("console_issuances", "first page"): 3,
    ("console_issuance", "issuance + history"): 2,
    ("get_user_vouchers", "first page"): 3,
}
PROVIDER_BUDGETS = {"first activation": 1, "first activation, warm container": 1, "idempotent replay": 0}
SECRET_NAME = "voucher/bench/provider-credentials"

from tests.bench import bill  # noqa: E402 - after the environment above


def serial(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def bench_document(extra: int) -> dict[str, Any]:
    """The demo data plus `extra` fresh vouchers per endpoint for repeated successes."""
    doc = json.loads((ROOT / "infra" / "local_stack" / "demo.json").read_text(encoding="utf-8"))
    doc["webhook_subscribers"] = []  # request costs only; delivery lag is measured on its own
    base = {"valid_until": "2099-12-31T23:59:59Z", "owner_member_id": "alice", "amount_original": 20}
    for i in range(extra):
        doc["vouchers"].append(
            {**base, "serial": serial(100000 + i), "definition_id": "carwash", "status": "AVAILABLE"}
        )
        doc["vouchers"].append(
            {**base, "serial": serial(200000 + i), "definition_id": "carwash", "status": "CLAIMED"}
        )
        doc["vouchers"].append(
            {
                **base,
                "serial": serial(300000 + i),
                "definition_id": "coffee",
                "status": "CLAIMED",
                "voucher_id": 700000 + i,
            }
        )
        # the baseline design's own vouchers (same kinds, never touched by the handlers)
        for offset, definition, status in (
            (400000, "carwash", "AVAILABLE"),
            (500000, "carwash", "CLAIMED"),
            (600000, "coffee", "CLAIMED"),
        ):
            doc["vouchers"].append(
                {**base, "serial": serial(offset + i), "definition_id": definition, "status": status}
            )
    from tests.bench.bill import BILL_OFFSETS, BILL_SAMPLES, COOKBOOK_OFFSETS

    kinds = {
        "consume": ("carwash", "AVAILABLE"),
        "activate": ("carwash", "CLAIMED"),
        "unclaim": ("coffee", "CLAIMED"),
    }
    kinds |= {"first_activation": kinds["activate"], "claim": kinds["unclaim"]}
    for kind, offset in [*BILL_OFFSETS.items(), *COOKBOOK_OFFSETS.items()]:
        if kind == "replay":
            continue  # the first activations' vouchers again
        definition, status = kinds[kind]
        doc["vouchers"] += [
            {**base, "serial": serial(offset + i), "definition_id": definition, "status": status}
            | ({"voucher_id": offset + i} if definition == "coffee" else {})
            for i in range(BILL_SAMPLES)
        ]
    return doc


# --------------------------------------------------------------------------- requests

THALAMUS = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
ES = {"Authorization": "Bearer demo-es-member-alice"}
SPAAZA_ADMIN = {
    "X-Spaaza-Session-User-Id": "900",
    "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Spaaza-API-Version": "1.6.3",
}


def keyed(
    request: tuple[str, str, str, dict[str, str], str | None], key: str = "bench-key-1"
) -> tuple[str, str, str, dict[str, str], str | None]:
    """The same request with an Idempotency-Key."""
    function, method, target, headers, body = request
    return function, method, target, {**headers, "Idempotency-Key": key}, body


def consume_request(n: int) -> tuple[str, str, str, dict[str, str], str | None]:
    return (
        "consume_voucher",
        "PUT",
        f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(n)}",
        THALAMUS,
        None,
    )


def activate_request(n: int, definition: str = "carwash") -> tuple[str, str, str, dict[str, str], str | None]:
    path = f"/client/users/bench-1/voucher/{definition}::{serial(n)}/activate"
    return ("activate_voucher", "POST", path, ES, None)


def unclaim_request(voucher_id: int, user_id: int = 1001) -> tuple[str, str, str, dict[str, str], str | None]:
    body = f"voucher_id={voucher_id}&user_id={user_id}&chain_id=1"
    return ("unclaim_voucher", "PUT", "/unclaim-voucher", SPAAZA_ADMIN, body)


def claim_request(voucher_id: int, user_id: int = 1001) -> tuple[str, str, str, dict[str, str], str | None]:
    body = f"voucher_id={voucher_id}&user_id={user_id}&chain_id=1"
    return ("claim_voucher", "POST", "/claim-voucher", SPAAZA_ADMIN, body)


def read_requests() -> list[tuple[str, str, tuple[str, str, str, dict[str, str], str | None], int]]:
    """The read side: (function, case, request, expected status)."""
    csr = {"Authorization": "Bearer demo-es-console-csr"}
    admin = {k: v for k, v in SPAAZA_ADMIN.items() if k != "Content-Type"}
    view = f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(1)}"
    return [
        ("view_voucher", "success", ("view_voucher", "GET", view, THALAMUS, None), 200),
        (
            "list_issuances",
            "first page",
            ("list_issuances", "GET", "/client/users/b/issuances", ES, None),
            200,
        ),
        (
            "list_issuances",
            "PAC vouchers to activate",
            (
                "list_issuances",
                "GET",
                "/client/users/b/issuances?rewardType=PRODUCT_AUTHORIZATION_CODE&activatable=true",
                ES,
                None,
            ),
            200,
        ),
        (
            "console_issuances",
            "first page",
            ("console_issuances", "GET", "/console/members/alice/issuances", csr, None),
            200,
        ),
        (
            "console_issuance",
            "issuance + history",
            ("console_issuance", "GET", f"/console/members/alice/issuances/carwash::{serial(1)}", csr, None),
            200,
        ),
        (
            "console_issuance",
            "unknown member (NOT_FOUND)",
            ("console_issuance", "GET", f"/console/members/nobody/issuances/carwash::{serial(1)}", csr, None),
            404,
        ),
        (
            "get_user_vouchers",
            "first page",
            ("get_user_vouchers", "GET", "/get-user-vouchers?chain_id=1&user_id=1001", admin, None),
            200,
        ),
        (
            "get_user_vouchers",
            "user of another chain (68)",
            ("get_user_vouchers", "GET", "/get-user-vouchers?chain_id=1&user_id=2001", admin, None),
            403,
        ),
    ]


def _forget_moto_copies(**_: Any) -> None:
    from moto.core.model_instances import reset_model_data

    reset_model_data()  # every model's tracked instances: the tables' and the items' copies


class Environment:
    """One engine (Amazon's DynamoDB Local, or moto in-process), the bench table and its raw
    twin, the provider simulator and its secret; every DynamoDB call of the handlers recorded
    with the capacity the engine reports."""

    def __init__(self, extra: int, engine: str = "dynamodb_local") -> None:
        import boto3

        from infra.importer import load, validate
        from infra.local_stack.provider_simulator import ProviderSimulator
        from infra.local_stack.server import reset_handler_state
        from shared.runtime import RUNTIME, Settings
        from shared.store import DynamoDBStore
        from shared.table_schema import TABLE, create_table
        from tests.bench.capacity import Recorder

        self.engine = engine
        self.extra = extra
        self.mock: Any = None
        self.dynamodb_local: Any = None
        self.raw_local: Any = None
        self.moto_server: Any = None
        endpoint: str | None = None
        if engine == "moto":
            from moto import mock_aws

            self.mock = mock_aws()
            self.mock.start()
            secrets = boto3.client("secretsmanager")
        else:
            from moto.server import ThreadedMotoServer

            from infra.local_stack.dynamodb_local import DynamoDBLocal

            self.dynamodb_local = DynamoDBLocal().start()
            endpoint = self.dynamodb_local.endpoint
            self.moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.moto_server.start()  # Secrets Manager only
            moto_url = f"http://127.0.0.1:{self.moto_server._server.server_port}"
            os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = moto_url
            secrets = boto3.client("secretsmanager", endpoint_url=moto_url)
        reset_handler_state()
        self.simulator = ProviderSimulator()
        self.simulator.start()
        secrets.create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps(
                {"KESSELTRONICS": {"api_key": self.simulator.api_key, "endpoint": self.simulator.url}}
            ),
        )
        os.environ["PROVIDER_SECRET_NAME"] = SECRET_NAME
        parsed, problems = validate(bench_document(extra))
        assert parsed is not None, problems
        self.stores: dict[str, DynamoDBStore] = {}
        # moto deep-copies every table of a region on each transaction: keeping the raw
        # replay table in another region keeps that (emulator-only) cost equal on both sides.
        # DynamoDB Local answers the same read 10-15% slower on each table created after the
        # first (measured 2026-12-07, whatever the region): the raw twin gets an instance of its
        # own, where it is the first table too (two instances measured within ~4% of each other).
        raw_endpoint = endpoint
        if engine != "moto":
            self.raw_local = DynamoDBLocal().start()
            raw_endpoint = self.raw_local.endpoint
        for name, region, url in (("bench", "eu-west-1", endpoint), ("bench-raw", "eu-west-2", raw_endpoint)):
            client = boto3.client("dynamodb", region_name=region, endpoint_url=url)
            if engine == "moto":
                # moto keeps every stream record in the table and deep-copies them on each
                # transaction: memory grows with the square of the writes (a full run reached
                # 24 GB). No request reads the stream; the webhook row runs on DynamoDB Local.
                spec = {
                    k: v for k, v in TABLE.create_table_kwargs(name).items() if k != "StreamSpecification"
                }
                client.create_table(**spec)
                # and moto's model tracker (`instances_tracked`, read only by moto's own
                # introspection API) keeps every table copy each transaction makes, for ever:
                # 1.4 GB after loading the bench data, out of the collector's reach
                client.meta.events.register("after-call.dynamodb.TransactWriteItems", _forget_moto_copies)
            else:
                create_table(client, name)
            # the handlers' store is built as RUNTIME.store() builds it (immutable-item cache on)
            ttl = Settings.from_env().immutable_cache_seconds if name == "bench" else 0.0
            self.stores[name] = DynamoDBStore(client, name, immutable_ttl=ttl)
            load(self.stores[name], parsed)
        self.store = self.stores["bench"]
        self.recorder = Recorder(self.store.client)
        RUNTIME.reset(store=self.store, settings=Settings.from_env())

    def close(self) -> None:
        from infra.local_stack.server import reset_handler_state

        self.simulator.stop()
        if self.mock is not None:
            self.mock.stop()
        for local in (self.dynamodb_local, self.raw_local):
            if local is not None:
                local.stop()
        if self.moto_server is not None:
            self.moto_server.stop()
        os.environ.pop("AWS_ENDPOINT_URL_SECRETS_MANAGER", None)
        reset_handler_state()

    def invoke(self, request: tuple[str, str, str, dict[str, str], str | None]) -> tuple[int, dict[str, Any]]:
        from infra.local_stack.apigw import build_event, invoke

        function, method, target, headers, body = request
        path, _, query = target.partition("?")
        built = build_event(method, path, headers=headers, query_string=query, body=body)
        assert built is not None
        response = invoke(function, built[1])
        return response["statusCode"], json.loads(response["body"])

    def recorded(self, request: tuple[str, str, str, dict[str, str], str | None]) -> tuple[int, Any]:
        """Invoke, recording every DynamoDB call the handler made and the capacity it consumed."""
        (status, _body), recording = self.recorder.record(lambda: self.invoke(request))
        return status, recording


# --------------------------------------------------------------------------- 1. round trips


def round_trips(env: Environment) -> list[dict[str, Any]]:
    from tests.bench.capacity import guarantee_floor, list_page_reads, per_key_units, usd_per_million

    cases: list[tuple[str, str, Any, int | None]] = [
        ("consume_voucher", "success", consume_request(100000), 200),
        ("consume_voucher", "already consumed (InvalidState)", consume_request(3), 400),
        ("consume_voucher", "unknown voucher (NotFound)", consume_request(999999), 404),
        (
            "consume_voucher",
            "forged token (InvalidToken)",
            (*consume_request(1)[:3], {**THALAMUS, "Thalamus-Token": "forged-token-0000"}, None),
            401,
        ),
        ("activate_voucher", "first activation", activate_request(100001), 200),
        ("activate_voucher", "idempotent replay", activate_request(100001), 200),
        ("activate_voucher", "re-activation after code expiry", activate_request(7), 200),
        ("activate_voucher", "redeemed (VOUCHER_NOT_AVAILABLE)", activate_request(3), 409),
        ("activate_voucher", "other account (VOUCHER_NOT_FOUND)", activate_request(8), 404),
        ("activate_voucher", "provider timeout (504)", activate_request(19, "carwash-timeout"), 504),
        ("unclaim_voucher", "success", unclaim_request(700000), 200),
        # the same successes again, now that the container holds the immutable items (the
        # steady state of a warm Lambda; the rows above are each function's first request)
        ("consume_voucher", "success, warm container", consume_request(100000 + env.extra - 1), 200),
        (
            "activate_voucher",
            "first activation, warm container",
            activate_request(100000 + env.extra - 2),
            200,
        ),
        ("unclaim_voucher", "success, warm container", unclaim_request(700000 + env.extra - 1), 200),
        ("unclaim_voucher", "not claimed", unclaim_request(40013), None),
        ("unclaim_voucher", "unknown voucher (183)", unclaim_request(99999999), 404),
        ("claim_voucher", "success", claim_request(700000), 200),
        ("claim_voucher", "already claimed (915)", claim_request(700000), 400),
        # with an Idempotency-Key (warm): one read more, one item more in the commit; a repeat
        # replays the kept answer (vouchers no other row touches)
        (
            "consume_voucher",
            "success with an Idempotency-Key, warm",
            keyed(consume_request(100000 + env.extra - 8)),
            200,
        ),
        (
            "consume_voucher",
            "repeat with that Idempotency-Key (replayed)",
            keyed(consume_request(100000 + env.extra - 8)),
            200,
        ),
        (
            "activate_voucher",
            "first activation with an Idempotency-Key, warm",
            keyed(activate_request(200000 + env.extra - 7)),
            200,
        ),
        (
            "unclaim_voucher",
            "success with an Idempotency-Key, warm",
            keyed(unclaim_request(700000 + env.extra - 2)),
            200,
        ),
        *read_requests(),
    ]
    rows = []
    for function, case, request, expected in cases:
        before = env.simulator.calls
        status, recording = env.recorded(request)
        calls = recording.calls
        names = [name for name, _ in calls]
        rru, wru = recording.model()
        row = {
            "function": function,
            "case": case,
            "status": status,
            "dynamodb_round_trips": len(calls),
            "calls": names,
            "read_units": rru,
            "write_units": wru,
            "engine_reported_units": recording.engine_units,
            **({"per_key": per_key_units(calls)} if (function, case) in BUDGETS and status == 200 else {}),
            "usd_per_million_requests": round(recording.cost_per_million(), 3),
            "floor_usd_per_million_requests": round(
                usd_per_million(*guarantee_floor(calls, recording.read_bytes)), 3
            ),
            "provider_calls": env.simulator.calls - before if function == "activate_voucher" else None,
            "budget": BUDGETS.get((function, case)),
            "provider_budget": PROVIDER_BUDGETS.get(case) if function == "activate_voucher" else None,
        }
        if function in LIST_FUNCTIONS and status == 200:
            row["list_page"] = list_page_reads(recording)
        row["ok"] = (
            (expected is None or status == expected)
            and (row["budget"] is None or len(calls) <= row["budget"])
            and (row["provider_budget"] is None or row["provider_calls"] == row["provider_budget"])
        )
        rows.append(row)
    return rows


LIST_FUNCTIONS = ("list_issuances", "console_issuances", "get_user_vouchers")


# --------------------------------------------------------------------------- 2. cold start

COLD_SNIPPET = """
import time
t0 = time.perf_counter()
{body}
print((time.perf_counter() - t0) * 1000)
"""
BASELINE = "import boto3\nboto3.client('dynamodb', region_name='eu-west-1')"


def function_init(handler: str) -> str:
    module = handler.rpartition(".")[0]
    return (
        f"import importlib\nimportlib.import_module({module!r})\n"
        "from shared.runtime import RUNTIME\nRUNTIME.store()"
    )


def deployment_package() -> tuple[Path, Path]:
    """The code asset and the dependency layer as a deploy builds them (infra/bundling.py, with
    bytecode), for this machine's interpreter: what Lambda imports, nothing from the repo."""
    import hashlib
    import shutil

    from infra import bundling

    base = ROOT / ".build" / "bench-package"
    digest = hashlib.sha256(bundling.RUNTIME_LOCK.read_bytes()).hexdigest()[:16]
    layer = base / f"layer-{sys.implementation.cache_tag}-{digest}"
    if not (layer / "python").is_dir():
        staging = base / f".building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        bundling.build_layer(str(staging), host_platform=True)
        staging.rename(layer)
    code = base / "code"
    shutil.rmtree(code, ignore_errors=True)
    bundling.build_code(str(code), host_platform=True)
    return code, layer / "python"


def cold_start(runs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each function's init (import + DynamoDB client) in a fresh bare interpreter whose path
    is only the deployment package, beside `import boto3` + a client from the same layer;
    with the GC deferral Lambda gets (AWS_LAMBDA_FUNCTION_NAME set) and without it. Also the
    largest import self-times of one function (python -X importtime)."""
    import subprocess

    from infra.functions import FUNCTIONS

    code, layer = deployment_package()
    interpreter = str(getattr(sys, "_base_executable", None) or sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(code), str(layer)])
    in_lambda = {**env, "AWS_LAMBDA_FUNCTION_NAME": "bench"}

    def sample(body: str, environment: dict[str, str] = in_lambda, *flags: str) -> Any:
        snippet = COLD_SNIPPET.format(body=body)
        out = subprocess.run(
            [interpreter, "-S", "-s", *flags, "-c", snippet],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
            cwd=str(code),
        )
        return out if flags else float(out.stdout.strip().splitlines()[-1])

    sample(BASELINE)  # warm the OS file cache for both
    rows = []
    for spec in FUNCTIONS.values():
        sample(function_init(spec.handler))
        baseline, function, gc_on = [], [], []
        for _ in range(runs):  # interleaved, so machine noise hits all alike
            baseline.append(sample(BASELINE))
            function.append(sample(function_init(spec.handler)))
            gc_on.append(sample(function_init(spec.handler), env))
        b, f = statistics.median(baseline), statistics.median(function)
        # the ratio of each interleaved pair, then their median: a slow spell of the machine
        # lengthens both samples of a pair alike, where a ratio of two medians takes each
        # from a different moment
        ratio = statistics.median(x / y for x, y in zip(function, baseline, strict=True))
        ratio_gc = statistics.median(x / y for x, y in zip(gc_on, baseline, strict=True))
        rows.append(
            {
                "function": spec.name,
                "baseline_ms": round(b, 1),
                "function_ms": round(f, 1),
                "ratio": round(ratio, 2),
                "ratio_gc_always_on": round(ratio_gc, 2),
                "runs": runs,
                "ok": ratio <= 1.2,
            }
        )
    traced = sample(function_init(FUNCTIONS["consume_voucher"].handler), in_lambda, "-X", "importtime")
    selfs: list[tuple[int, int, str]] = []
    for line in traced.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            selfs.append((int(parts[0]), int(parts[1]), parts[2].strip()))
    top = [
        {"module": name, "self_ms": round(us / 1000, 2), "cumulative_ms": round(cum / 1000, 2)}
        for us, cum, name in sorted(selfs, reverse=True)[:12]
    ]
    powertools = max((c for _s, c, n in selfs if n.strip() == "aws_lambda_powertools"), default=0)
    top.append(
        {
            "module": "aws_lambda_powertools (whole package)",
            "self_ms": None,
            "cumulative_ms": round(powertools / 1000, 2),
        }
    )
    return rows, top


# --------------------------------------------------------------------------- 3. warm latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


WARMUP = 5  # pairs run before each warm-latency case's measured ones


def timed(action: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """What `action(*args)` returned, and the milliseconds it took."""
    t0 = time.perf_counter()
    result = action(*args)
    return result, (time.perf_counter() - t0) * 1000


def warm_latency(env: Environment, iterations: int) -> list[dict[str, Any]]:
    from tests.bench.capacity import Recorder

    raw_client = env.stores["bench-raw"].client
    raw_recorder = Recorder(raw_client)
    raw_table = env.stores["bench-raw"].table_name

    from infra.local_stack.apigw import build_event, invoke

    def run(
        label: str, requests: list[Any], provider_calls: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Each request's handler, timed from the event in hand to its response (building the
        event is API Gateway's work, recording the calls is the bench's), then its recorded
        calls made raw. The first WARMUP pairs are run but not counted, so both tables have
        been exercised alike before anything is measured."""
        handler_ms: list[float] = []
        raw_ms: list[float] = []
        provider_ms: list[float] = []
        for index, request in enumerate(requests):
            function, method, target, headers, body = request
            path, _, query = target.partition("?")
            built = build_event(method, path, headers=headers, query_string=query, body=body)
            assert built is not None
            timing: dict[str, float] = {}
            (response, timing["handler"]), recording = env.recorder.record(
                partial(timed, invoke, function, built[1]), size_queries=False
            )
            calls = recording.calls
            status = response["statusCode"]
            assert status == 200, (label, status)
            replayed = []
            for name, params in calls:
                text = json.dumps(params).replace('"bench"', json.dumps(raw_table))
                copy = json.loads(text)
                if "ClientRequestToken" in copy:  # the handler's token names the handler's write
                    copy["ClientRequestToken"] = uuid.uuid4().hex
                replayed.append((name, copy))

            def raw(replayed: list[tuple[str, dict[str, Any]]] = replayed) -> float | None:
                for name, params in replayed:
                    method = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
                    getattr(raw_client, method)(**params)  # a baseline that errors fails the bench
                return None if provider_calls is None else timed(provider_calls)[1]

            t0 = time.perf_counter()
            # the same recording hooks as the handlers' client
            provider_took, _ = raw_recorder.record(raw, size_queries=False)
            if provider_took is not None:
                timing["provider"] = provider_took
            if index >= WARMUP:
                raw_ms.append((time.perf_counter() - t0) * 1000)
                handler_ms.append(timing["handler"])
                if "provider" in timing:
                    provider_ms.append(timing["provider"])
        h50, r50 = statistics.median(handler_ms), statistics.median(raw_ms)
        provider: dict[str, Any] = {}
        if provider_ms:  # the provider's share, and the ratio of what is left once it is taken out
            p50 = statistics.median(provider_ms)
            provider = {
                "provider_p50_ms": round(p50, 2),
                "ratio_without_provider": round((h50 - p50) / (r50 - p50), 2),
            }
        return {
            **provider,
            "case": label,
            "iterations": len(handler_ms),
            "handler_p50_ms": round(h50, 2),
            "handler_p95_ms": round(percentile(handler_ms, 0.95), 2),
            "raw_p50_ms": round(r50, 2),
            "raw_p95_ms": round(percentile(raw_ms, 0.95), 2),
            "overhead_ratio": round(h50 / r50, 2),
            "ok": h50 / r50 <= 1.2,
        }

    def provider_call() -> None:
        request = urllib.request.Request(
            env.simulator.url + "/v1/authorizations",
            data=json.dumps(
                {"reference": "bench", "productCode": "CW-BASIC", "validitySeconds": 900}
            ).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {env.simulator.api_key}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    n = iterations + WARMUP
    return [
        # 100000 and 100001 were consumed / activated by the round-trip rows (on the handlers'
        # table only): a raw replay on them would fail its condition, and the bench with it
        run("consume_voucher success", [consume_request(100000 + 2 + i) for i in range(n)]),
        run(
            "activate_voucher first activation (+1 provider call)",
            [activate_request(200000 + i) for i in range(n)],
            provider_call,
        ),
        # a replay changes nothing, so it can be sampled three times as often as the rest
        run(
            "activate_voucher idempotent replay",
            [activate_request(200000 + i % n) for i in range(WARMUP + 3 * iterations)],
        ),
        run("unclaim_voucher success", [unclaim_request(700000 + 1 + i) for i in range(n)]),
    ]


# --------------------------------------------------------------------------- import

IMPORT_GOAL = {"seconds": 300.0, "peak_mb": 512.0}  # 50,000 vouchers, DynamoDB Local (docs/performance.md)
_IMPORT_WRAPPER = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from infra.importer.__main__ import main
t0 = time.perf_counter()
code = main({argv!r})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"code": code, "seconds": time.perf_counter() - t0, "peak_mb": peak}}), file=sys.stderr)
"""


def import_file(vouchers: int) -> dict[str, Any]:
    """`python -m infra.importer` loading the demo data plus `vouchers` Spaaza vouchers (each
    a voucher, its voucher_key alias and its IMPORTED event: three items) into an empty table
    on DynamoDB Local, in a fresh interpreter: wall time, peak memory (its own ru_maxrss),
    and the progress lines it printed. Fails loudly if the import does not exit 0."""
    import subprocess
    import tempfile

    from infra.local_stack.dynamodb_local import DynamoDBLocal

    doc = json.loads((ROOT / "infra" / "local_stack" / "demo.json").read_text(encoding="utf-8"))
    doc["webhook_subscribers"] = []
    base = {"valid_until": "2099-12-31T23:59:59Z", "owner_member_id": "alice", "definition_id": "coffee"}
    doc["vouchers"] += [
        {**base, "serial": f"00000000-0000-4000-9000-{n:012d}", "status": "AVAILABLE"}
        for n in range(vouchers)
    ]
    with tempfile.TemporaryDirectory() as tmp, DynamoDBLocal() as engine:
        path = Path(tmp) / "vouchers.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        argv = [str(path), "--table", "bench-import", "--endpoint-url", engine.endpoint, "--create-table"]
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_WRAPPER.format(root=str(ROOT), argv=argv)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=1800,
        )
        lines = done.stderr.strip().splitlines()
        measured = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        if done.returncode != 0 or measured.get("code") != 0:
            raise RuntimeError(f"bench import failed ({done.returncode}): {done.stderr[-2000:]}")
        size_mb = path.stat().st_size / 1e6
    progress = [line for line in lines if " vouchers/s" in line]
    return {
        "engine": "dynamodb-local",
        "vouchers": len(doc["vouchers"]),
        "file_mb": round(size_mb, 1),
        "seconds": round(measured["seconds"], 1),
        "vouchers_per_s": round(len(doc["vouchers"]) / measured["seconds"]),
        "peak_mb": round(measured["peak_mb"]),
        "progress_lines": len(progress),
        "summary": [line.split(": ", 1)[1] for line in done.stdout.splitlines()[:2]],
    }


# --------------------------------------------------------------------------- 4. HTTP load


def webhook_lag(count: int) -> dict[str, Any]:
    """Commit-to-receipt time of webhooks on DynamoDB Local: `count` consumes one after
    another, each timed from its 200 to its verified arrival at a loopback receiver. Locally
    the relay polls the stream every 0.1 s (Lambda's poller in AWS has its own cadence), so
    this measures the delivery path, not AWS's stream latency."""
    from infra.local_stack.server import LocalStack
    from infra.local_stack.webhook_receiver import Receiver
    from tests.webhooks.helpers import consumable, consume, document, subscriber

    arrived: dict[str, float] = {}

    class Timed(Receiver):
        def receive(self, path: str, body: bytes, signature: str | None) -> tuple[int, str]:
            answer = super().receive(path, body, signature)
            if answer[0] == 200:
                arrived.setdefault(json.loads(body)["data"]["voucher"]["serial"], time.perf_counter())
            return answer

    receiver = Timed(secret="whsec_bench_receiver_secret_0001").start()
    stack = LocalStack(port=0, demo=False, engine="dynamodb-local").start()
    try:
        hook = {**subscriber("bench", 1, receiver.url), "secret": receiver.secret}
        stack.load_document(document([consumable(n) for n in range(count)], [hook]), name="bench")
        committed: dict[str, float] = {}
        for n in range(count):
            if consume(stack, n) == 200:
                committed[consumable(n)["serial"]] = time.perf_counter()
        deadline = time.monotonic() + 60
        while len(arrived) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stack.stop()
        receiver.stop()
    lags = sorted((arrived[s] - t) * 1000 for s, t in committed.items() if s in arrived)
    if len(lags) != len(committed):
        raise RuntimeError(f"webhook lag: {len(committed) - len(lags)} of {len(committed)} never arrived")
    return {
        "engine": "dynamodb-local",
        "deliveries": len(lags),
        "p50_ms": round(lags[len(lags) // 2], 1),
        "p95_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.95))], 1),
    }


def http_load(threads: int, per_thread: int, engine: str) -> dict[str, Any]:
    from infra.local_stack.server import LocalStack

    stack = LocalStack(port=0, engine=engine)
    stack.start()
    try:
        mix = [
            (
                "PUT",
                f"/api/v4/operator/activity/MILES/item/CARWASH/voucher/{serial(3)}",
                THALAMUS,
                None,
            ),  # 400
            ("POST", f"/client/users/load/voucher/carwash::{serial(6)}/activate", ES, None),  # 200 replay
            (
                "PUT",
                "/unclaim-voucher",
                SPAAZA_ADMIN,
                "voucher_id=40013&user_id=1001&chain_id=1",
            ),  # not claimed
        ]
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()

        def worker(k: int) -> None:
            nonlocal errors
            for i in range(per_thread):
                method, path, headers, body = mix[(k + i) % len(mix)]
                request = urllib.request.Request(
                    stack.url + path, data=body.encode() if body else None, headers=headers, method=method
                )
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        response.read()
                        code = response.status
                except urllib.error.HTTPError as error:
                    error.read()
                    code = error.code
                except OSError:
                    code = 0
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(elapsed)
                    if code == 0 or code >= 500:
                        errors += 1

        t0 = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        stack.stop()
    total = threads * per_thread
    return {
        "engine": engine,
        "threads": threads,
        "requests": total,
        "requests_per_s": round(total / wall, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "errors_5xx_or_connection": errors,
        "ok": errors == 0,
    }


# --------------------------------------------------------------------------- where the time goes

BUCKETS = (
    ("socket wait (DynamoDB / provider round trips)", ("socket", "ssl", "selectors", "select", "poll")),
    ("http client (urllib3, http.client)", ("urllib3", "http/client", "http\\client")),
    ("botocore (serialize, parse, sign, hooks)", ("botocore", "boto3", "s3transfer")),
    ("Powertools (Logger, Metrics)", ("aws_lambda_powertools",)),
    ("this service (functions/, shared/)", ("/functions/", "/shared/")),
    ("json, logging, stdlib rest", ("json", "logging", "python3")),
)


def where_time_goes(env: Environment, iterations: int) -> list[dict[str, Any]]:
    """cProfile of warm invocations, self time summed by where the code lives (profiling
    inflates Python-heavy parts alike, so the shares, not the absolute ms, are the reading)."""
    import cProfile
    import pstats

    rows = []
    spare = env.extra - 3  # vouchers the other rows never touch
    cases = [
        ("consume_voucher success", [consume_request(100000 + spare - i) for i in range(min(iterations, 5))]),
        (
            "activate_voucher first activation",
            [activate_request(200000 + spare + 2 - i) for i in range(min(iterations, 5))],
        ),
    ]
    for label, requests in cases:
        profiler = cProfile.Profile()
        for request in requests:
            profiler.enable()
            status, _ = env.invoke(request)
            profiler.disable()
            assert status == 200, (label, status)
        stats = pstats.Stats(profiler)
        totals: dict[str, float] = {}
        for (path, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            where = name if path == "~" else path  # a builtin: its name says whose it is (socket.recv_into)
            bucket = next((b for b, marks in BUCKETS if any(m in where for m in marks)), "other (builtins)")
            totals[bucket] = totals.get(bucket, 0.0) + tottime
        whole = sum(totals.values()) or 1.0
        rows.append(
            {
                "case": label,
                "requests": len(requests),
                "ms_per_request": round(whole * 1000 / len(requests), 2),
                "shares": {
                    b: round(100 * v / whole, 1) for b, v in sorted(totals.items(), key=lambda x: -x[1])
                },
            }
        )
    return rows


# --------------------------------------------------------------------------- 5. the baseline design


def baseline(env: Environment, iterations: int, ours: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The common design measured the same way, beside this one (ratio = this / baseline)."""
    from tests.bench.capacity import Baseline

    design = Baseline(env.store.client, env.store.table_name, env.simulator)
    recorder = env.recorder  # the same hooks on the same client: measured the same way
    offsets = {
        "consume_voucher success": 400000,
        "activate_voucher first activation (+1 provider call)": 500000,
        "unclaim_voucher success": 600000,
    }
    rows = []
    for case, operation in design.operations.items():
        latencies, recordings = [], []
        for i in range(iterations):
            request = {"serial": serial(offsets[case] + i), "request_id": f"bench-{case}-{i}"}
            t0 = time.perf_counter()
            _, recording = recorder.record(functools.partial(operation, request=request))
            latencies.append((time.perf_counter() - t0) * 1000)
            recordings.append(recording)
        first = recordings[0]
        rru, wru = first.model()
        mine = ours[case]
        p50 = statistics.median(latencies)
        rows.append(
            {
                "case": case,
                "baseline_round_trips": first.round_trips,
                "baseline_units": rru + wru,
                "baseline_usd_per_million": round(first.cost_per_million(), 3),
                "baseline_p50_ms": round(p50, 2),
                "round_trips": mine["round_trips"],
                "usd_per_million": mine["usd"],
                "round_trips_ratio": round(mine["round_trips"] / first.round_trips, 2),
                "units_ratio": round(mine["units"] / (rru + wru), 2),
                "usd_ratio": round(mine["usd"] / first.cost_per_million(), 2),
                "floor_usd_per_million": mine["floor_usd"],
                "floor_ratio": round(mine["floor_usd"] / first.cost_per_million(), 2),
                "latency_ratio": round(mine["p50_ms"] / p50, 2),
            }
        )
    return rows


# --------------------------------------------------------------------------- report


def table(headers: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in rows]]
    )


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def import_report(r: dict[str, Any]) -> list[str]:
    """The import row: time, rate, peak memory, progress lines and the goal."""
    out: list[str] = []
    goal = IMPORT_GOAL if r["vouchers"] >= 50000 else None
    stated = f"goal: <= {IMPORT_GOAL['seconds']:.0f} s and <= {IMPORT_GOAL['peak_mb']:.0f} MB"
    met = goal is not None and r["seconds"] <= goal["seconds"] and r["peak_mb"] <= goal["peak_mb"]
    out.append(
        f"\nImport of {r['vouchers']} vouchers ({r['file_mb']} MB file) into an empty table, "
        f"python -m infra.importer on {r['engine']} ({stated if goal else '--quick: no goal'})"
    )
    out.append(
        table(
            ["seconds", "vouchers/s", "peak MB", "progress lines", "goal met"],
            [
                [
                    r["seconds"],
                    r["vouchers_per_s"],
                    r["peak_mb"],
                    r["progress_lines"],
                    yes(met) if goal else "-",
                ]
            ],
        )
    )
    return out


def report(results: dict[str, Any]) -> str:
    m, prices = results["machine"], results["prices"]
    out = [f"\nMachine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs, {m['when']}\n"]
    out.append(
        "DynamoDB round trips, provider calls, capacity and cost per request (Amazon's DynamoDB Local). "
        "RRU/WRU: on-demand billing rules on the recorded calls "
        f"(largest item {results['largest_item_bytes']} B); "
        f"engine units: as DynamoDB Local reports them; cost at {prices['region']} on-demand prices as of "
        f"{prices['as_of']}: ${prices['usd_per_million_read_request_units']}/M RRU, "
        f"${prices['usd_per_million_write_request_units']}/M WRU"
    )
    out.append(
        table(
            [
                "function",
                "case",
                "status",
                "round trips",
                "budget",
                "provider calls",
                "RRU",
                "WRU",
                "engine units",
                "$ per 1M",
                "ok",
            ],
            [
                [
                    r["function"],
                    r["case"],
                    r["status"],
                    r["dynamodb_round_trips"],
                    r["budget"] if r["budget"] is not None else "-",
                    r["provider_calls"] if r["provider_calls"] is not None else "-",
                    r["read_units"],
                    r["write_units"],
                    r["engine_reported_units"],
                    f"{r['usd_per_million_requests']:.3f}",
                    yes(r["ok"]),
                ]
                for r in results["round_trips"]
            ],
        )
    )
    pages = [r for r in results["round_trips"] if "list_page" in r]
    if pages:
        out.append(
            "\nList pages: the owner index (gsi1) is sorted in the list's order, so each index Query "
            "reads from the page's position with Limit = the candidates its batch may examine + 1 "
            "(that one says whether more remain). Floor: the entries the batch examined + 1, at "
            "their measured size, 0.5 RRU per 4 KB; goal: index RRU <= floor, whatever the member "
            "holds. The rest of the page is its credentials, vouchers and definitions, read "
            "consistently (1 RRU each)"
        )
        out.append(
            table(
                [
                    "function",
                    "case",
                    "index Queries",
                    "index entries read",
                    "vouchers examined",
                    "index bytes",
                    "index RRU",
                    "floor RRU",
                    "page RRU",
                    "goal",
                ],
                [
                    [
                        r["function"],
                        r["case"],
                        r["list_page"]["index_queries"],
                        r["list_page"]["index_entries_read"],
                        r["list_page"]["vouchers_examined"],
                        r["list_page"]["index_bytes"],
                        r["list_page"]["index_rru"],
                        r["list_page"]["index_floor_rru"],
                        r["read_units"],
                        yes(r["list_page"]["ok"]),
                    ]
                    for r in pages
                ],
            )
        )
    if "baseline" in results:
        out.append(
            "\nThis design vs the baseline, same run and engine: Powertools Idempotency's persistence record "
            "around the seed's read + one conditional write, no audit item, no credential re-check, "
            "no guard. "
            "$ per million successes from the billing rules above (ratio = this design / baseline; "
            "goal <= 1.0, printed, never asserted). Floor: the least any design pays for the same "
            "guarantees (audit event per winner, session and grant re-checked at commit, activation "
            "guard), computed from this design's recorded calls with every item read eventually "
            "consistent and the audit event written by a stream consumer at 1 WRU "
            "(tests/bench/capacity.py guarantee_floor); a floor ratio above 1.0 means the goal is out "
            "of reach for any design that keeps them with bounded items (history kept inside the "
            "voucher item escapes the floor by growing without bound: docs/performance.md)"
        )
        out.append(
            table(
                [
                    "case",
                    "round trips (this / baseline)",
                    "this $ per 1M",
                    "baseline $ per 1M",
                    "$ ratio",
                    "goal <= 1.0",
                    "floor $ per 1M",
                    "floor / baseline",
                    "baseline p50 ms",
                    "latency ratio",
                ],
                [
                    [
                        r["case"],
                        f"{r.get('round_trips', '?')} / {r['baseline_round_trips']}",
                        f"{r['usd_per_million']:.3f}" if "usd_per_million" in r else "-",
                        f"{r['baseline_usd_per_million']:.3f}",
                        r.get("usd_ratio", "-"),
                        yes(r["usd_ratio"] <= 1.0) if "usd_ratio" in r else "-",
                        f"{r['floor_usd_per_million']:.3f}" if "floor_usd_per_million" in r else "-",
                        r.get("floor_ratio", "-"),
                        r["baseline_p50_ms"],
                        r["latency_ratio"],
                    ]
                    for r in results["baseline"]
                ],
            )
        )
    out += bill.report(results, table)
    if "cold_start" in results:
        out.append(
            "\nCold start: a fresh bare interpreter, only the deployment package on its path (code asset + "
            "layer with bytecode, as infra/bundling.py builds them), import + init; median"
        )
        out.append(
            table(
                [
                    "function",
                    "baseline boto3+client ms",
                    "function ms",
                    "ratio (goal <= 1.2)",
                    "ok",
                    "ratio, GC on during init",
                    "runs",
                ],
                [
                    [
                        r["function"],
                        r["baseline_ms"],
                        r["function_ms"],
                        r["ratio"],
                        yes(r["ratio"] <= 1.2),
                        r.get("ratio_gc_always_on", "-"),
                        r["runs"],
                    ]
                    for r in results["cold_start"]
                ],
            )
        )
        if "import_self_times" in results:
            out.append(
                "\nLargest import self-times, consume function, deployment package (python -X importtime)"
            )
            out.append(
                table(
                    ["module", "self ms", "cumulative ms"],
                    [
                        [r["module"], r["self_ms"] if r["self_ms"] is not None else "-", r["cumulative_ms"]]
                        for r in results["import_self_times"]
                    ],
                )
            )
        out.append(
            "\nImport cost on top of a function's own cold start (consume function initialised first; median)"
        )
        out.append(
            table(
                ["library", "extra ms", "runs"],
                [
                    [
                        r["library"],
                        r["extra_ms"] if r["extra_ms"] is not None else r.get("note", "-"),
                        r.get("runs", "-"),
                    ]
                    for r in results["import_costs"]
                ],
            )
        )
    local, moto = results["warm_latency_dynamodb_local"], {r["case"]: r for r in results["warm_latency_moto"]}
    out.append(
        "\nWarm latency in-process, handler vs the same DynamoDB calls made raw: Amazon's DynamoDB Local "
        "(the ratio's engine), moto beside it"
    )
    out.append(
        table(
            [
                "case",
                "n",
                "handler p50",
                "handler p95",
                "raw p50",
                "ratio (goal <= 1.2)",
                "ok",
                "provider call p50",
                "ratio without it",
                "moto handler p50",
                "moto ratio",
            ],
            [
                [
                    r["case"],
                    r["iterations"],
                    r["handler_p50_ms"],
                    r["handler_p95_ms"],
                    r["raw_p50_ms"],
                    r["overhead_ratio"],
                    yes(r["ok"]),
                    r.get("provider_p50_ms", "-"),
                    r.get("ratio_without_provider", "-"),
                    moto[r["case"]]["handler_p50_ms"],
                    moto[r["case"]]["overhead_ratio"],
                ]
                for r in local
            ],
        )
    )
    if "where_time_goes" in results:
        out.append(
            "\nWhere a warm request's time goes (cProfile self time by where the code lives, DynamoDB Local; "
            "the activation's provider call is in the socket and http rows)"
        )
        for r in results["where_time_goes"]:
            out.append(
                f"\n{r['case']}: {r['ms_per_request']} ms per request under the profiler, n={r['requests']}"
            )
            out.append(table(["where", "% of self time"], [[b, s] for b, s in r["shares"].items()]))
    if "webhook_lag" in results:
        w = results["webhook_lag"]
        out.append(
            "\nWebhook delivery lag, 200 of the consume -> verified at the receiver "
            "(local relay polls the stream every 0.1 s)"
        )
        out.append(
            table(
                ["engine", "deliveries", "p50 ms", "p95 ms"],
                [[w["engine"], w["deliveries"], w["p50_ms"], w["p95_ms"]]],
            )
        )
    if "import" in results:
        out += import_report(results["import"])
    if "http_load" in results:
        out.append("\nLocal HTTP stack, bounded concurrent load on loopback (mixed read-mostly requests)")
        out.append(
            table(
                ["engine", "threads", "requests", "req/s", "p50 ms", "p95 ms", "5xx/conn errors"],
                [
                    [
                        h["engine"],
                        h["threads"],
                        h["requests"],
                        h["requests_per_s"],
                        h["p50_ms"],
                        h["p95_ms"],
                        h["errors_5xx_or_connection"],
                    ]
                    for h in results["http_load"]
                ],
            )
        )
    if "capacity_plan" in results:
        plan = results["capacity_plan"]
        out.append(
            "\nHot keys: what one request puts on each partition it touches, "
            "against 3,000 RRU/s and 1,000 WRU/s per partition"
        )
        out.append(
            table(
                ["request", "key (partition)", "RRU", "WRU", "max req/s on one such key"],
                [
                    [h["request"], h["key"], h["rru"], h["wru"], h["max_per_s_on_one_key"]]
                    for h in plan["hot_keys"]
                ],
            )
        )
        out.append("\nLimits in front of the service, as request rates (from this run's per-request figures)")
        out.append(
            table(
                ["limit", "saturates at req/s"],
                [[x["limit"], x["saturates_at_requests_per_s"]] for x in plan["limits"]],
            )
        )
        out.append(f"\nLoad multiples of this run's local HTTP rate ({plan['base_requests_per_s']} req/s)")
        out.append(
            table(
                ["x", "req/s", "saturates first", "also exceeded"],
                [
                    [
                        p["factor"],
                        p["requests_per_s"],
                        p["saturates_first"],
                        "; ".join(p["all_exceeded"][1:]) or "-",
                    ]
                    for p in plan["load"]
                ],
            )
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--json", default=str(ROOT / "bench-results.json"))
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument(
        "--import-vouchers", type=int, default=None, help="vouchers in the import row (50000; --quick 5000)"
    )
    parser.add_argument(
        "--report",
        metavar="JSON",
        help="print the tables of an earlier run's JSON again (capacity plan recomputed)",
    )
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text(encoding="utf-8"))
        from tests.bench.capacity import capacity_plan

        stages = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]["stages"]
        if "http_load" in saved:
            saved["capacity_plan"] = capacity_plan(saved, stages)
        if "bill_measured" in saved:
            bill.compute(saved, stages)
        Path(args.report).write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
        print(report(saved))
        return 0
    iterations = 15 if args.quick else 60
    runs = 5 if args.quick else 15
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    from tests.bench.capacity import PRICES, import_costs, largest_item_bytes

    results["prices"] = PRICES
    for engine in ("dynamodb_local", "moto"):
        env = Environment(extra=iterations + 10 + WARMUP, engine=engine)
        try:
            # Handlers still build and print their EMF metric lines (a real per-request cost),
            # into a sink instead of the terminal.
            with contextlib.redirect_stdout(io.StringIO()):
                if engine == "dynamodb_local":
                    results["round_trips"] = round_trips(env)
                    results["largest_item_bytes"] = largest_item_bytes(env.store.client, env.store.table_name)
                    page = next(
                        r for f, c, r, _ in read_requests() if c == "first page" and f == "list_issuances"
                    )
                    requests = bill.cases(
                        consume_request,
                        activate_request,
                        unclaim_request,
                        claim_request,
                        page,
                        bill.BILL_SAMPLES,
                    )
                    results["bill_measured"] = bill.measure(env, requests, results["round_trips"])
                    results["bill_cookbook"] = bill.measure_cookbook(env, requests, results["bill_measured"])
                results[f"warm_latency_{engine}"] = warm_latency(env, iterations)
                if engine == "dynamodb_local":
                    results["where_time_goes"] = where_time_goes(env, iterations)
                if engine == "dynamodb_local":
                    by_case = {(r["function"], r["case"]): r for r in results["round_trips"]}
                    ours = {  # a warm container's steady state, as the baseline's is
                        "consume_voucher success": by_case[("consume_voucher", "success, warm container")],
                        "activate_voucher first activation (+1 provider call)": by_case[
                            ("activate_voucher", "first activation, warm container")
                        ],
                        "unclaim_voucher success": by_case[("unclaim_voucher", "success, warm container")],
                    }
                    latency = {r["case"]: r["handler_p50_ms"] for r in results["warm_latency_dynamodb_local"]}
                    mine = {
                        case: {
                            "round_trips": row["dynamodb_round_trips"],
                            "units": row["read_units"] + row["write_units"],
                            "usd": row["usd_per_million_requests"],
                            "floor_usd": row["floor_usd_per_million_requests"],
                            "p50_ms": latency[case],
                        }
                        for case, row in ours.items()
                    }
                    results["baseline"] = baseline(env, iterations, mine)
        finally:
            env.close()
    if not args.skip_cold:
        results["cold_start"], results["import_self_times"] = cold_start(runs)
        results["import_costs"] = import_costs(ROOT, runs, {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    if not args.skip_import:
        results["import"] = import_file(args.import_vouchers or (5000 if args.quick else 50000))
    if not args.skip_http:
        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF lines, as above
            results["webhook_lag"] = webhook_lag(20 if args.quick else 100)
            results["http_load"] = [
                http_load(threads=8, per_thread=25 if args.quick else 100, engine=engine)
                for engine in ("dynamodb-local", "moto")
            ]

    stages = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]["stages"]
    bill.compute(results, stages)
    if "http_load" in results:
        from tests.bench.capacity import capacity_plan

        results["capacity_plan"] = capacity_plan(results, stages)
    print(report(results))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
