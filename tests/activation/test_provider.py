"""The Kesseltronics adapter and the simulator on their own (no DynamoDB)."""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any

import pytest

from infra.local_stack.provider_simulator import ProviderSimulator
from shared.domain import ProviderConfig
from shared.providers import (
    ProviderBadResponse,
    ProviderRequest,
    ProviderSetupError,
    ProviderTimeout,
    adapter_for,
)
from shared.providers.credentials import Credentials, load_credentials
from shared.providers.kesseltronics import KesseltronicsAdapter
from tests.activation.conftest import API_KEY

CONFIG = ProviderConfig(
    name="KESSELTRONICS", product_code="CW-BASIC", site_code="SITE-1", timeout_seconds=0.5
)


def request(reference: str = "ref-1", **changes: Any) -> ProviderRequest:
    config = ProviderConfig(**{**CONFIG.__dict__, **changes})
    return ProviderRequest(reference=reference, config=config)


def adapter(sim: ProviderSimulator, key: str = API_KEY) -> KesseltronicsAdapter:
    return KesseltronicsAdapter(credentials=lambda _name: Credentials(api_key=key, endpoint=sim.url))


@pytest.fixture
def sim(simulator: ProviderSimulator) -> Any:
    simulator.reset()
    yield simulator
    simulator.reset()


def test_registry_knows_kesseltronics_only() -> None:
    assert isinstance(adapter_for("KESSELTRONICS"), KesseltronicsAdapter)
    assert adapter_for("ACME") is None


def test_same_reference_same_code_every_call_counted(sim: ProviderSimulator) -> None:
    first = adapter(sim).issue_code(request("ref-a"))
    again = adapter(sim).issue_code(request("ref-a"))
    other = adapter(sim).issue_code(request("ref-b"))
    assert first == again
    assert other.authorization_code != first.authorization_code
    assert first.expires_at is not None
    stats = sim.stats()
    assert (stats["calls"], stats["issued"]) == (3, 2)
    assert stats["by_reference"]["ref-a"]["calls"] == 2


@pytest.mark.parametrize(
    ("product", "error"),
    [
        ("SIMULATE_GARBAGE", ProviderBadResponse),
        ("SIMULATE_ERROR", ProviderBadResponse),
        ("SIMULATE_TIMEOUT", ProviderTimeout),
    ],
)
def test_failure_product_codes(sim: ProviderSimulator, product: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        adapter(sim).issue_code(request(product_code=product, timeout_seconds=0.2))
    assert sim.issued == 0


def test_slow_product_answers_within_a_generous_timeout(sim: ProviderSimulator) -> None:
    code = adapter(sim).issue_code(request(product_code="SIMULATE_SLOW", timeout_seconds=3.0))
    assert code.authorization_code.startswith("KT-")


def test_wrong_key_and_closed_port_are_bad_responses(sim: ProviderSimulator) -> None:
    with pytest.raises(ProviderBadResponse):
        adapter(sim, key="wrong").issue_code(request())
    closed = KesseltronicsAdapter(
        credentials=lambda _n: Credentials(api_key="k", endpoint="http://127.0.0.1:9")
    )
    with pytest.raises(ProviderBadResponse):
        closed.issue_code(request())


def test_definition_endpoint_wins_over_the_secret(sim: ProviderSimulator) -> None:
    broken_secret = KesseltronicsAdapter(
        credentials=lambda _n: Credentials(api_key=API_KEY, endpoint="http://127.0.0.1:9")
    )
    assert broken_secret.issue_code(request(endpoint=sim.url)).authorization_code


class FakeResponse(io.BytesIO):
    """An urllib3 response read without preloading."""

    status = 200

    def release_conn(self) -> None:
        self.close()


class FakePool:
    """Stands in for the urllib3 PoolManager: answers every request with `answer(**sent)`."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def request(self, method: str, url: str, **sent: Any) -> Any:
        return self.answer(method=method, url=url, **sent)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'"KT-1"',
        b"{}",
        b'{"authorizationCode": ""}',
        b'{"authorizationCode": "   "}',
        b'{"authorizationCode": 1234}',
        b'{"authorizationCode": "KT\\n1"}',
        b'{"authorizationCode": "KT-1", "reference": "someone-else"}',
        b'{"authorizationCode": "KT-1", "expiresAt": "tomorrow"}',
        b'{"authorizationCode": "KT-1", "expiresAt": 12}',
        b"\xff\xfe",
    ],
)
def test_unusable_bodies_are_bad_responses(body: bytes) -> None:
    fake = KesseltronicsAdapter(
        credentials=lambda _n: Credentials(api_key="k", endpoint="https://kt.example"),
        pool=FakePool(lambda **_sent: FakeResponse(body)),
    )
    with pytest.raises(ProviderBadResponse):
        fake.issue_code(request())


def test_request_sent_to_the_provider() -> None:
    seen: list[dict[str, Any]] = []

    def answer(**sent: Any) -> FakeResponse:
        seen.append(sent)
        return FakeResponse(
            b'{"authorizationCode": "KT-1", "expiresAt": "2099-01-01T00:00:00Z", "reference": "ref-1"}'
        )

    code = KesseltronicsAdapter(
        credentials=lambda _n: Credentials(api_key="secret-key", endpoint="https://kt.example/api/"),
        pool=FakePool(answer),
    ).issue_code(request())
    assert code.authorization_code == "KT-1"
    (sent,) = seen
    assert (sent["method"], sent["url"]) == ("POST", "https://kt.example/api/v1/authorizations")
    assert (sent["timeout"].connect_timeout, sent["timeout"].read_timeout) == (0.5, 0.5)
    assert (sent["retries"], sent["redirect"]) == (False, False)  # a retry is the member's, same reference
    assert sent["headers"]["Authorization"] == "Bearer secret-key"
    assert sent["headers"]["Idempotency-Key"] == "ref-1"
    assert json.loads(sent["body"]) == {
        "reference": "ref-1",
        "productCode": "CW-BASIC",
        "siteCode": "SITE-1",
        "validitySeconds": 900,
    }


def test_non_http_endpoint_is_a_setup_error() -> None:
    fake = KesseltronicsAdapter(
        credentials=lambda _n: Credentials(api_key="k", endpoint="file:///etc/passwd")
    )
    with pytest.raises(ProviderSetupError):
        fake.issue_code(request())


def test_credentials_never_show_the_key() -> None:
    assert "hunter2" not in repr(Credentials(api_key="hunter2", endpoint=None))


def test_credentials_need_a_secret_name() -> None:
    with pytest.raises(ProviderSetupError, match="PROVIDER_SECRET_NAME"):
        load_credentials("KESSELTRONICS", secret_name=None)


def _http(
    sim: ProviderSimulator, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.url + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_simulator_control_api(sim: ProviderSimulator) -> None:
    authorize = {"reference": "r-1", "productCode": "CW", "validitySeconds": 60}
    assert _http(sim, "POST", "/v1/authorizations", authorize)[0] == 401  # no key
    assert _http(sim, "POST", "/_control", {"mode": "error", "count": 1}) == (
        200,
        {"mode": "error", "remaining": 1},
    )
    assert _http(sim, "POST", "/v1/authorizations", authorize, API_KEY)[0] == 500
    status, body = _http(sim, "POST", "/v1/authorizations", authorize, API_KEY)
    assert status == 201 and body["reference"] == "r-1"
    assert _http(sim, "POST", "/v1/authorizations", authorize, API_KEY)[0] == 200  # same reference
    assert _http(sim, "POST", "/v1/authorizations", {"productCode": "CW"}, API_KEY)[0] == 400
    assert _http(sim, "POST", "/_control", {"mode": "sideways"})[0] == 400
    stats = _http(sim, "GET", "/_stats")[1]
    assert (stats["calls"], stats["issued"]) == (5, 1)
    assert _http(sim, "POST", "/_reset", {})[0] == 200
    assert _http(sim, "GET", "/_stats")[1]["calls"] == 0
