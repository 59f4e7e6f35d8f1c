"""Contract fuzzing: schemathesis generates requests from the committed openapi.json and sends
them over real HTTP to the local stack, with valid credentials supplied, then checks that
every response is documented: no undocumented status, no 5xx except the documented 502-504,
every body matching its schema.

Bounded for the test suite (FUZZ_EXAMPLES, default 25 per operation); `make fuzz` runs more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local_stack.server import LocalStack

# `make test` runs these in-process, after the xdist run (see the Makefile: under an xdist
# worker schemathesis' parametrize only runs the first operation).
pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]

# Valid credentials per operation, so generated requests get past authentication and
# exercise validation and the domain rules too. Query credentials are dropped so the
# headers are what counts.
CREDENTIALS: dict[str, dict[str, str]] = {
    "PUT": {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"},
    "activate": {"Authorization": "Bearer demo-es-member-alice"},
    "console": {"Authorization": "Bearer demo-es-console-csr"},
    "unclaim": {
        "X-Spaaza-Session-User-Id": "900",
        "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
        "X-Spaaza-API-Version": "1.6.3",
    },
}
DOCUMENTED_5XX = {502, 503, 504}
SEEN: list[tuple[str, int]] = []  # (operation, status) of every call, for the summary test


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = LocalStack(port=0, table_name="vouchers-contract-test").start()
    try:
        yield stack
    finally:
        stack.stop()


SCHEMA = schemathesis.openapi.from_path(str(ROOT / "openapi.json"))
# As bounded as before: valid (positive) requests only, the documented examples and then
# FUZZ_EXAMPLES generated ones per operation, the same every run; no coverage or stateful
# phase (`make fuzz` raises FUZZ_EXAMPLES).
SCHEMA.config.generation.update(
    modes=[GenerationMode.POSITIVE],
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deterministic=True,
)
SCHEMA.config.phases.update(phases=["examples", "fuzzing"])


def credentials_for(path: str) -> dict[str, str]:
    if path.startswith("/api/v4/operator"):
        return CREDENTIALS["PUT"]
    if path.startswith("/client/"):
        return CREDENTIALS["activate"]
    if path.startswith("/console/"):
        return CREDENTIALS["console"]
    return CREDENTIALS["unclaim"]


def _operations() -> list[schemathesis.APIOperation]:
    """Every operation in openapi.json; one schemathesis cannot load fails the test with why."""
    return [
        result.ok() if isinstance(result, Ok) else pytest.fail(f"{result.err()}")
        for result in SCHEMA.get_all_operations()
    ]


def test_every_route_is_fuzzed() -> None:
    from infra.functions import ROUTES

    operations = _operations()
    assert {(o.method.upper(), o.path) for o in operations} == {(r.method, r.path) for r in ROUTES}


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_every_response_is_documented(case: Any, local_stack: LocalStack) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers.update(credentials_for(case.operation.path))
    case.headers = headers
    if case.query:
        case.query = {k: v for k, v in case.query.items() if k not in {"token", "touchpoint"}}
    response = case.call(base_url=local_stack.url, timeout=30)
    SEEN.append((case.operation.label, response.status_code))
    if response.status_code >= 500:
        assert response.status_code in DOCUMENTED_5XX, (response.status_code, response.text[:500])
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
        excluded_checks=[not_a_server_error],
    )


def test_fuzzing_reached_past_authentication() -> None:
    """The fuzz above must not have been 401s all along: valid credentials got requests to
    validation and to the domain rules (runs after the parametrized test in file order)."""
    if not SEEN:
        pytest.skip("run together with test_every_response_is_documented")
    by_operation: dict[str, set[int]] = {}
    for label, status in SEEN:
        by_operation.setdefault(label, set()).add(status)
    assert set(by_operation) == {o.label for o in _operations()}
    for label, statuses in by_operation.items():
        assert statuses - {401}, f"{label}: only 401s"
