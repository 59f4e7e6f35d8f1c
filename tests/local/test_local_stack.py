"""The local stack through real HTTP: one LocalStack per module on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.functions import FUNCTIONS, ROUTES
from infra.local_stack import apigw
from infra.local_stack.__main__ import SAMPLES, banner, demo_tokens, sample_curls
from infra.local_stack.http_server import MAX_BODY_BYTES
from infra.local_stack.server import LocalStack
from tests.conftest import ROOT, demo_document
from tests.local.helpers import request

pytestmark = pytest.mark.http

ANNA = (("Thalamus-Token", "demo-thalamus-operator-anna"), ("Thalamus-Touchpoint", "BACKOFFICE"))
CONSUME_SAMPLE = next(s for s in SAMPLES if s.function == "consume_voucher")


def consume_path(serial: str, item: str = "CARWASH") -> str:
    return f"/api/v4/operator/activity/MILES/item/{item}/voucher/{serial}"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    saved = dict(os.environ)
    local = LocalStack(port=0, table_name="vouchers-local-test").start()
    try:
        yield local
    finally:
        local.stop()
    changed = {k for k in set(saved) | set(os.environ) if saved.get(k) != os.environ.get(k)}
    changed.discard("PYTEST_CURRENT_TEST")
    assert not changed, f"LocalStack.stop() must restore the environment: {sorted(changed)}"


_fresh_counter = iter(range(900, 999))


def fresh_voucher(stack: LocalStack) -> str:
    """Load one new AVAILABLE carwash voucher (owner alice) into the running stack."""
    serial = f"00000000-0000-4000-8000-{next(_fresh_counter):012d}"
    document = demo_document()
    document["vouchers"] = [
        {
            "serial": serial,
            "definition_id": "carwash",
            "status": "AVAILABLE",
            "owner_member_id": "alice",
            "valid_until": "2099-12-31T23:59:59Z",
        }
    ]
    report = stack.load_document(document, name="fresh voucher")
    assert report.created >= 1
    return serial


# --------------------------------------------------------------------------- requests


def test_consume_sample_works_then_second_call_is_invalid_state(stack: LocalStack) -> None:
    req = urllib.request.Request(
        stack.url + CONSUME_SAMPLE.path, method=CONSUME_SAMPLE.method, headers=dict(CONSUME_SAMPLE.headers)
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["x-amzn-RequestId"]
        body = json.loads(response.read())
    assert body["errors"] == {}
    assert body["data"]["status"] == "CONSUMED"
    assert body["data"]["consumedBy"] == {"operator": "op-anna", "touchpoint": "BACKOFFICE"}

    with pytest.raises(urllib.error.HTTPError) as again:
        urllib.request.urlopen(req, timeout=30)
    assert again.value.code == 400
    assert json.loads(again.value.read()) == {
        "links": [],
        "data": None,
        "errors": {"voucherCode": "InvalidState"},
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/"),  # GET / is the local stack's index (test_root_is_an_index_not_a_bare_403)
        ("POST", consume_path("00000000-0000-4000-8000-000000000001")),  # right path, wrong method
        ("DELETE", "/unclaim-voucher"),
        ("PUT", "/api/v4/operator/activity/MILES/item/CARWASH/voucher/"),  # empty {param}
        ("POST", "/docs"),
    ],
)
def test_unknown_route_is_missing_authentication_token(stack: LocalStack, method: str, path: str) -> None:
    status, body, headers = request(stack.url, method, path)
    assert status == 403
    assert body == {"message": "Missing Authentication Token"}
    assert ("x-amzn-ErrorType", "MissingAuthenticationTokenException") in headers


def test_multi_value_header_and_query_string_reach_the_handler(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = fresh_voucher(stack)
    seen: list[dict[str, Any]] = []
    original = apigw.invoke

    def spy(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return original(function_name, event)

    monkeypatch.setattr(apigw, "invoke", spy)
    status, body, _ = request(
        stack.url,
        "PUT",
        consume_path(serial) + "?token=demo-thalamus-operator-anna&touchpoint=BACKOFFICE&tag=a&tag=b",
        headers=[("X-Trace", "first"), ("X-Trace", "second"), ("Content-Type", "application/json")],
        body='{"parameter1": "lane 3"}',
    )
    assert status == 200, body
    assert body["data"]["parameters"]["parameter1"] == "lane 3"
    (event,) = seen
    assert event["resource"] == ROUTES[0].path
    assert event["pathParameters"]["voucher_code"] == serial
    assert event["multiValueHeaders"]["X-Trace"] == ["first", "second"]
    assert event["headers"]["X-Trace"] == "second"  # API Gateway keeps the last value here
    assert event["queryStringParameters"]["touchpoint"] == "BACKOFFICE"
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert json.loads(event["body"]) == {"parameter1": "lane 3"}
    assert event["isBase64Encoded"] is False


def test_handler_crash_is_a_502_like_api_gateway(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("handler crashed")

    monkeypatch.setattr(apigw, "invoke", boom)
    status, body, _ = request(stack.url, "PUT", CONSUME_SAMPLE.path, headers=ANNA)
    assert status == 502
    assert body == {"message": "Internal server error"}


def test_request_body_over_the_limit_is_413(stack: LocalStack) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", int(stack.url.rsplit(":", 1)[1]), timeout=30)
    try:
        connection.putrequest("PUT", CONSUME_SAMPLE.path)
        connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        connection.endheaders()  # the body is never sent: the stack answers from the length
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {"message": "Request Too Long"}
    finally:
        connection.close()


def test_base64_and_binary_bodies_survive(stack: LocalStack) -> None:
    serial = fresh_voucher(stack)
    status, body, _ = request(
        stack.url,
        "PUT",
        consume_path(serial),
        headers=[*ANNA, ("Content-Type", "application/json")],
        body=b"\xff\xfe not utf-8",
    )
    assert status == 400
    assert body["errors"] == {"body": "InvalidJson"}


# --------------------------------------------------------------------------- served documents


def test_openapi_json_is_served_with_the_local_server(stack: LocalStack) -> None:
    with urllib.request.urlopen(stack.url + "/openapi.json", timeout=30) as response:
        document = json.loads(response.read())
    assert document["servers"] == [{"url": stack.url, "description": "local stack"}]
    committed = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert document["paths"] == committed["paths"]


def test_docs_page_is_self_contained_html(stack: LocalStack) -> None:
    status, body, headers = request(stack.url, "GET", "/docs")
    assert status == 200
    assert dict(headers)["Content-Type"].startswith("text/html")
    assert "/openapi.json" in body
    assert "SwaggerUIBundle" in body
    assert "renderFallback" in body  # the list of operations should Swagger UI not load
    assert "://" not in body  # nothing from a CDN: the page works offline


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/docs/swagger-ui-bundle.js", "application/javascript", "SwaggerUIBundle"),
        ("/docs/swagger-ui.css", "text/css", ".swagger-ui"),
    ],
)
def test_swagger_ui_files_come_from_powertools(
    stack: LocalStack, path: str, content_type: str, marker: str
) -> None:
    status, body, headers = request(stack.url, "GET", path)
    assert status == 200
    assert dict(headers)["Content-Type"].startswith(content_type)
    assert marker in body


def test_an_unknown_docs_file_is_missing_authentication_token(stack: LocalStack) -> None:
    status, body, _ = request(stack.url, "GET", "/docs/nope.js")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})


def test_health(stack: LocalStack) -> None:
    status, body, _ = request(stack.url, "GET", "/_health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["table"] == "vouchers-local-test"
    assert body["engine"] in ("dynamodb-local", "moto", "external")
    assert "consume_voucher" in body["functions"]
    text = json.dumps(body)
    assert stack.dynamodb_endpoint not in text and str(stack.simulator_url) not in text  # no internal URLs


def test_root_is_an_index_not_a_bare_403(stack: LocalStack) -> None:
    status, body, _ = request(stack.url, "GET", "/")
    assert status == 200
    assert (body["docs"], body["openapi"], body["health"]) == (
        f"{stack.url}/docs",
        f"{stack.url}/openapi.json",
        f"{stack.url}/_health",
    )
    assert "PUT /unclaim-voucher" in body["routes"]


def test_head_of_a_served_document(stack: LocalStack) -> None:
    status, body, headers = request(stack.url, "HEAD", "/_health")
    assert status == 200
    assert body == ""
    assert int(dict(headers)["Content-Length"]) > 0


# --------------------------------------------------------------------------- contract


def _resolve(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(schemas[node["$ref"].rsplit("/", 1)[1]], schemas)
        return {key: _resolve(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, schemas) for value in node]
    return node


def test_live_responses_match_the_openapi_schemas(stack: LocalStack) -> None:
    from openapi_schema_validator import OAS30Validator

    document = stack.openapi_document()
    schemas = document["components"]["schemas"]
    operation = document["paths"][ROUTES[0].path]["put"]

    def check(status: int, body: Any) -> None:
        content = operation["responses"][str(status)]["content"]["application/json"]
        OAS30Validator(_resolve(content["schema"], schemas)).validate(body)

    serial = fresh_voucher(stack)
    status, body, _ = request(stack.url, "PUT", consume_path(serial), headers=ANNA)
    assert status == 200
    check(status, body)
    for path, headers in [
        (consume_path(serial), ANNA),  # already consumed
        (consume_path(serial), ()),  # no token
        (consume_path("00000000-0000-4000-8000-999999999999"), ANNA),  # unknown voucher
    ]:
        status, body, _ = request(stack.url, "PUT", path, headers=headers)
        assert status in (400, 401, 404)
        check(status, body)


# --------------------------------------------------------------------------- concurrency


@pytest.mark.race
# Handlers share Powertools' module-level Metrics across the server's threads (a Lambda
# container serves one request at a time): a flush may find another thread's metrics gone.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_eight_concurrent_consumes_through_http_have_one_winner(stack: LocalStack) -> None:
    from tests.conftest import race

    serial = fresh_voucher(stack)
    results = race(8, lambda _i: request(stack.url, "PUT", consume_path(serial), headers=ANNA))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(200) == 1, statuses
    for status, body, _ in results:
        if status != 200:
            assert (status, body["errors"]) in [
                (400, {"voucherCode": "InvalidState"}),
                (409, {"voucherCode": "ConcurrentModification"}),
            ]


# --------------------------------------------------------------------------- samples and banner


def test_banner_lists_endpoints_tokens_and_a_curl_per_function(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://127.0.0.1:3000"
    curls = sample_curls(url)
    assert len(curls) == len(FUNCTIONS)
    consume, activate, unclaim = curls[:3]
    assert consume.startswith(f"curl -i -X PUT '{url}{consume_path('00000000-0000-4000-8000-000000000001')}'")
    assert "-H 'Thalamus-Token: demo-thalamus-operator-anna'" in consume
    assert "-H 'Thalamus-Touchpoint: BACKOFFICE'" in consume
    activate_path = "/client/users/corr-123/voucher/carwash::00000000-0000-4000-8000-000000000002/activate"
    assert f"-X POST '{url}{activate_path}'" in activate
    assert "-H 'Authorization: Bearer demo-es-member-alice'" in activate
    assert f"-X PUT '{url}/unclaim-voucher'" in unclaim
    assert "-H 'X-Spaaza-Session-User-Id: 900'" in unclaim
    assert "-H 'X-Spaaza-Session-Key: demo-spaaza-admin-chain1'" in unclaim
    assert "--data 'voucher_id=40577&user_id=1001&chain_id=1'" in unclaim

    text = banner(stack, log_file="local.log")
    assert text.startswith(f"Voucher service local stack: {stack.url}\n")
    assert text.endswith("\nCtrl-C stops everything.")
    assert f"  DynamoDB endpoint : {stack.dynamodb_endpoint} (table vouchers-local-test)" in text
    assert f"  Provider simulator: {stack.simulator_url}" in text
    assert f"  moto server       : {stack.moto_url}   (--moto-port; Secrets Manager, SQS)" in text
    assert "  Handler logs/EMF  : local.log" in text
    for curl in sample_curls(stack.url):
        assert curl in text
    tokens = demo_tokens()
    assert ("thalamus_user", "op-anna", "demo-thalamus-operator-anna") in tokens
    for _kind, _principal, token in tokens:
        assert token in text
    monkeypatch.setattr(stack, "receiver", None)  # its port was taken (another stack)
    assert "Webhook receiver  : not started (http://127.0.0.1:9300/webhooks is taken)" in banner(stack)


def test_every_sample_is_routed_to_its_function() -> None:
    assert {s.function for s in SAMPLES} == {r.function for r in ROUTES}
    for sample in SAMPLES:
        built = apigw.build_event(sample.method, sample.path, headers=list(sample.headers), body=sample.body)
        assert built is not None, sample
        assert built[0].function == sample.function


@pytest.mark.parametrize(
    "sample", [s for s in SAMPLES if s.function != "consume_voucher"], ids=lambda s: s.function
)
def test_other_samples_work_against_demo_data(stack: LocalStack, sample: Any) -> None:
    status, body, _ = request(stack.url, sample.method, sample.path, headers=sample.headers, body=sample.body)
    assert 200 <= status < 300, (status, body)


# --------------------------------------------------------------------------- command line


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local_stack", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_refuses_an_invalid_data_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "voucher-import/v1", "vouchers": [{"serial": "x"}]}))
    process = _cli("--port", "0", "--no-demo", "--data", str(bad), "--log-file", str(tmp_path / "log"))
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"{bad}: vouchers[0]" in err
    assert "not started" in err


def test_cli_starts_prints_the_banner_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process = _cli("--port", "0", "--log-file", str(tmp_path / "local.log"))
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        text = "".join(lines)
        assert text.startswith("Voucher service local stack: http://127.0.0.1:"), text
        url = text.split()[4]
        status, body, _ = request(url, "GET", "/_health")
        assert (status, body["status"]) == (200, "ok")
        status, _, _ = request(
            url, CONSUME_SAMPLE.method, CONSUME_SAMPLE.path, headers=CONSUME_SAMPLE.headers
        )
        assert status == 200
        process.send_signal(signal.SIGINT)
        out, _err = process.communicate(timeout=30)
        assert process.returncode == 0
        assert f"PUT {CONSUME_SAMPLE.path} -> 200" in out  # access log: no headers, no tokens
        assert "demo-thalamus-operator-anna" not in out
        log = (tmp_path / "local.log").read_text()
        assert "demo-thalamus-operator-anna" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_chunked_request_body_reaches_the_handler(stack: LocalStack) -> None:
    import http.client

    serial = fresh_voucher(stack)
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.url.rsplit(":", 1)[1]), timeout=30)
    try:
        headers = {**dict(ANNA), "Content-Type": "application/json"}
        body = iter([b'{"parameter1":', b' "chunked"}'])
        connection.request("PUT", consume_path(serial), body=body, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        payload = json.loads(response.read())
        assert response.status == 200, payload
        assert payload["data"]["parameters"]["parameter1"] == "chunked"
    finally:
        connection.close()
