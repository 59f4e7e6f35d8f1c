"""The bench measures what it says: its warm-latency rows compare each handler with its own
calls made raw, and a raw side that errors stops the bench instead of timing an error.

An earlier bench swallowed every error of its raw replays, so its "raw" side timed rejected
requests and the overhead figures were an artefact. The bench sets its own environment at
import (credentials, table name), so it runs in a subprocess here, on moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, contextlib, io, sys
from botocore.exceptions import ClientError
import tests.bench.__main__ as bench

def rows(break_raw_side):
    env = bench.Environment(extra=bench.WARMUP + 8, engine="moto")
    try:
        if break_raw_side:  # the twin's table disappears: every raw replay must fail
            raw = env.stores["bench-raw"]
            raw.client.delete_table(TableName=raw.table)
        with contextlib.redirect_stdout(io.StringIO()):
            return bench.warm_latency(env, 1)
    finally:
        env.close()

result = {"rows": rows(False)}
try:
    rows(True)
    result["broken"] = "no error"
except ClientError as error:
    result["broken"] = error.response["Error"]["Code"]
print(json.dumps(result))
"""


def test_warm_latency_measures_each_side_and_fails_loudly_when_its_raw_side_errors() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {row["case"]: row for row in result["rows"]}
    assert set(rows) == {
        "consume_voucher success",
        "activate_voucher first activation (+1 provider call)",
        "activate_voucher idempotent replay",
        "unclaim_voucher success",
    }
    for row in rows.values():
        # one measured pair per case (three for the replay), after the uncounted warm-up
        assert row["iterations"] == (3 if "replay" in row["case"] else 1)
        assert row["handler_p50_ms"] > 0 and row["raw_p50_ms"] > 0
    activation = rows["activate_voucher first activation (+1 provider call)"]
    assert 0 < activation["provider_p50_ms"] < activation["raw_p50_ms"]
    assert "provider_p50_ms" not in rows["consume_voucher success"]
    # the raw replay's error surfaces as botocore raised it, not as a timing
    assert result["broken"] == "ResourceNotFoundException"
