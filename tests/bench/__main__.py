"""`make bench`: the service's performance promises, measured (never asserted by tests).

    python -m tests.bench [--quick] [--json bench-results.json]

Rows:
  1. DynamoDB round trips per request (successes and common errors) and provider calls per
     activation, counted by hooking botocore's `before-call` events on the real client.
  2. Cold start: a fresh interpreter importing each function module and running its init,
     against `import boto3` + creating a DynamoDB client in the same run (median of runs).
  3. Warm latency p50/p95 of each handler in-process against moto, next to the very same
     DynamoDB calls (recorded from the handler, replayed raw with boto3 on an identical table).
  4. The local HTTP stack under a bounded concurrent load on loopback.
Goals: cold-start ratio <= 1.5, handler overhead ratio <= 1.3, round trips within budget.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
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
        "ACTIVATION_WAIT_SECONDS": "2",
    }
)

BUDGETS = {
    ("consume_voucher", "success"): 2,
    ("activate_voucher", "first activation"): 3,
    ("activate_voucher", "idempotent replay"): 1,
    ("unclaim_voucher", "success"): 3,
}
PROVIDER_BUDGETS = {"first activation": 1, "idempotent replay": 0}
SECRET_NAME = "voucher/bench/provider-credentials"


def serial(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def bench_document(extra: int) -> dict[str, Any]:
    """The demo data plus `extra` fresh vouchers per endpoint for repeated successes."""
    doc = json.loads((ROOT / "infra" / "local_stack" / "demo.json").read_text(encoding="utf-8"))
    for i in range(extra):
        base = {"valid_until": "2099-12-31T23:59:59Z", "owner_member_id": "alice", "amount_original": 20}
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


class Environment:
    """moto in-process, the bench table(s), the provider simulator and its secret."""

    def __init__(self, extra: int) -> None:
        from moto import mock_aws

        self.mock = mock_aws()
        self.mock.start()
        import boto3

        from infra.local_stack.provider_simulator import ProviderSimulator
        from shared.importer import load, validate
        from shared.runtime import RUNTIME, Settings
        from shared.store import DynamoDBStore
        from shared.table_schema import create_table

        self.simulator = ProviderSimulator()
        self.simulator.start()
        boto3.client("secretsmanager").create_secret(
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
        for name, region in (("bench", "eu-west-1"), ("bench-raw", "eu-west-2")):
            client = boto3.client("dynamodb", region_name=region)
            create_table(client, name)
            self.stores[name] = DynamoDBStore(client, name)
            load(self.stores[name], parsed)
        self.store = self.stores["bench"]
        RUNTIME.reset(store=self.store, settings=Settings.from_env())

    def close(self) -> None:
        self.simulator.stop()
        self.mock.stop()

    def invoke(self, request: tuple[str, str, str, dict[str, str], str | None]) -> tuple[int, dict[str, Any]]:
        from infra.local_stack.apigw import build_event, invoke

        function, method, path, headers, body = request
        built = build_event(method, path, headers=headers, body=body)
        assert built is not None
        response = invoke(function, built[1])
        return response["statusCode"], json.loads(response["body"])

    def recorded(
        self, request: tuple[str, str, str, dict[str, str], str | None]
    ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """Invoke and record every DynamoDB call the handler made (name, params)."""
        calls: list[tuple[str, dict[str, Any]]] = []

        def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append((model.name, copy.deepcopy(params)))

        events = self.store.client.meta.events
        events.register("provide-client-params.dynamodb", hook, unique_id="bench-record")
        try:
            status, _ = self.invoke(request)
        finally:
            events.unregister("provide-client-params.dynamodb", unique_id="bench-record")
        return status, calls


# --------------------------------------------------------------------------- 1. round trips


def round_trips(env: Environment) -> list[dict[str, Any]]:
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
        ("unclaim_voucher", "not claimed", unclaim_request(40013), None),
        ("unclaim_voucher", "unknown voucher (183)", unclaim_request(99999999), 404),
    ]
    rows = []
    for function, case, request, expected in cases:
        before = env.simulator.calls
        status, calls = env.recorded(request)
        names = [name for name, _ in calls]
        row = {
            "function": function,
            "case": case,
            "status": status,
            "dynamodb_round_trips": len(calls),
            "calls": names,
            "provider_calls": env.simulator.calls - before if function == "activate_voucher" else None,
            "budget": BUDGETS.get((function, case)),
            "provider_budget": PROVIDER_BUDGETS.get(case) if function == "activate_voucher" else None,
        }
        row["ok"] = (
            (expected is None or status == expected)
            and (row["budget"] is None or len(calls) <= row["budget"])
            and (row["provider_budget"] is None or row["provider_calls"] == row["provider_budget"])
        )
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- 2. cold start

COLD_SNIPPET = """
import os, sys, time
sys.path.insert(0, {root!r})
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


def cold_start(runs: int) -> list[dict[str, Any]]:
    from shared.routes import FUNCTIONS

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def sample(body: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", COLD_SNIPPET.format(root=str(ROOT), body=body)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=str(ROOT),
        )
        return float(out.stdout.strip().splitlines()[-1])

    sample(BASELINE)  # warm the OS file cache for both
    rows = []
    for spec in FUNCTIONS.values():
        sample(function_init(spec.handler))
        baseline, function = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            baseline.append(sample(BASELINE))
            function.append(sample(function_init(spec.handler)))
        b, f = statistics.median(baseline), statistics.median(function)
        rows.append(
            {
                "function": spec.name,
                "baseline_ms": round(b, 1),
                "function_ms": round(f, 1),
                "ratio": round(f / b, 2),
                "runs": runs,
                "ok": f / b <= 1.5,
            }
        )
    return rows


# --------------------------------------------------------------------------- 3. warm latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def warm_latency(env: Environment, iterations: int) -> list[dict[str, Any]]:
    raw_client = env.stores["bench-raw"].client
    raw_table = env.stores["bench-raw"].table

    def run(
        label: str, requests: list[Any], provider_calls: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        handler_ms: list[float] = []
        raw_ms: list[float] = []
        for request in requests:
            t0 = time.perf_counter()
            status, calls = env.recorded(request)
            handler_ms.append((time.perf_counter() - t0) * 1000)
            assert status == 200, (label, status)
            replayed = []
            for name, params in calls:
                text = json.dumps(params).replace('"bench"', json.dumps(raw_table))
                replayed.append((name, json.loads(text)))
            t0 = time.perf_counter()
            for name, params in replayed:
                method = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
                with contextlib.suppress(raw_client.exceptions.ClientError):
                    getattr(raw_client, method)(**params)
            if provider_calls is not None:
                provider_calls()
            raw_ms.append((time.perf_counter() - t0) * 1000)
        h50, r50 = statistics.median(handler_ms), statistics.median(raw_ms)
        return {
            "case": label,
            "iterations": len(requests),
            "handler_p50_ms": round(h50, 2),
            "handler_p95_ms": round(percentile(handler_ms, 0.95), 2),
            "raw_p50_ms": round(r50, 2),
            "raw_p95_ms": round(percentile(raw_ms, 0.95), 2),
            "overhead_ratio": round(h50 / r50, 2),
            "ok": h50 / r50 <= 1.3,
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
        with contextlib.suppress(urllib.error.URLError):
            urllib.request.urlopen(request, timeout=5).read()

    n = iterations
    return [
        run("consume_voucher success", [consume_request(100000 + 1 + i) for i in range(n)]),
        run(
            "activate_voucher first activation (+1 provider call)",
            [activate_request(200000 + i) for i in range(n)],
            provider_call,
        ),
        run("activate_voucher idempotent replay", [activate_request(200000 + i) for i in range(n)]),
        run("unclaim_voucher success", [unclaim_request(700000 + 1 + i) for i in range(n)]),
    ]


# --------------------------------------------------------------------------- 4. HTTP load


def http_load(threads: int, per_thread: int) -> dict[str, Any]:
    from infra.local_stack.server import LocalStack

    stack = LocalStack(port=0)
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
        "threads": threads,
        "requests": total,
        "requests_per_s": round(total / wall, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "errors_5xx_or_connection": errors,
        "ok": errors == 0,
    }


# --------------------------------------------------------------------------- report


def table(headers: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in rows]]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--json", default=str(ROOT / "bench-results.json"))
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args(argv)
    iterations = 15 if args.quick else 60
    runs = 3 if args.quick else 9
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
    env = Environment(extra=iterations + 2)
    try:
        # Handlers still build and print their EMF metric lines (a real per-request cost),
        # into a sink instead of the terminal.
        with contextlib.redirect_stdout(io.StringIO()):
            results["round_trips"] = round_trips(env)
            results["warm_latency"] = warm_latency(env, iterations)
    finally:
        env.close()
    if not args.skip_cold:
        results["cold_start"] = cold_start(runs)
    if not args.skip_http:
        results["http_load"] = http_load(threads=8, per_thread=25 if args.quick else 100)

    m = results["machine"]
    print(f"\nMachine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs, {m['when']}\n")
    print("DynamoDB round trips and provider calls per request")
    print(
        table(
            ["function", "case", "status", "round trips", "budget", "provider calls", "ok"],
            [
                [
                    r["function"],
                    r["case"],
                    r["status"],
                    r["dynamodb_round_trips"],
                    r["budget"] if r["budget"] is not None else "-",
                    r["provider_calls"] if r["provider_calls"] is not None else "-",
                    "yes" if r["ok"] else "NO",
                ]
                for r in results["round_trips"]
            ],
        )
    )
    if "cold_start" in results:
        print("\nCold start (fresh interpreter: import + init; median)")
        print(
            table(
                ["function", "baseline boto3+client ms", "function ms", "ratio (goal <= 1.5)", "runs", "ok"],
                [
                    [
                        r["function"],
                        r["baseline_ms"],
                        r["function_ms"],
                        r["ratio"],
                        r["runs"],
                        "yes" if r["ok"] else "NO",
                    ]
                    for r in results["cold_start"]
                ],
            )
        )
    print("\nWarm latency in-process against moto (handler vs the same DynamoDB calls made raw)")
    print(
        table(
            ["case", "n", "handler p50", "handler p95", "raw p50", "raw p95", "ratio (goal <= 1.3)", "ok"],
            [
                [
                    r["case"],
                    r["iterations"],
                    r["handler_p50_ms"],
                    r["handler_p95_ms"],
                    r["raw_p50_ms"],
                    r["raw_p95_ms"],
                    r["overhead_ratio"],
                    "yes" if r["ok"] else "NO",
                ]
                for r in results["warm_latency"]
            ],
        )
    )
    if "http_load" in results:
        h = results["http_load"]
        print("\nLocal HTTP stack, bounded concurrent load on loopback (mixed read-mostly requests)")
        print(
            table(
                ["threads", "requests", "req/s", "p50 ms", "p95 ms", "5xx/conn errors"],
                [
                    [
                        h["threads"],
                        h["requests"],
                        h["requests_per_s"],
                        h["p50_ms"],
                        h["p95_ms"],
                        h["errors_5xx_or_connection"],
                    ]
                ],
            )
        )
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
