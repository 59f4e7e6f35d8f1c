"""Random form fields, values, encodings and headers: never a 5xx, always Spaaza's envelope."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.local_stack.apigw import build_event, invoke
from shared.store import DynamoDBStore
from tests.unclaim.helpers import ADMIN1, ALICE, BOUNDARY, ID11, KEY11, PATH, PRIVILEGED, TP11, multipart

NAMES = st.one_of(
    st.sampled_from(
        [
            "chain_id",
            "user_id",
            "member_number",
            "username",
            "authentication_point_identifier",
            "auxiliary_identifier",
            "voucher_key",
            "voucher_id",
            "third_party_id",
        ]
    ),
    st.text(max_size=12),
)
VALUES = st.one_of(
    st.sampled_from(
        ["1", "2", "1001", "2001", str(ID11), str(TP11), KEY11, KEY11.upper(), "M-1001", "", " "]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=80),
)
FIELDS = st.lists(st.tuples(NAMES, VALUES), max_size=6)
HEADERS = st.sampled_from([ALICE, ADMIN1, PRIVILEGED, {}, {**ALICE, "X-Spaaza-Session-User-Id": "x"}])
VERSIONS = st.one_of(st.none(), st.sampled_from(["1.6.3", "1.5.2", "1.5.3", "0.0.0"]), st.text(max_size=10))
HOSTS = st.one_of(st.none(), st.sampled_from(["demo.myprice.app", "other.myprice.app"]), st.text(max_size=20))


def _body(fields: list[tuple[str, str]], encoding: str) -> tuple[str | None, bytes | str | None]:
    if encoding == "urlencoded":
        return "application/x-www-form-urlencoded", urlencode(fields)
    if encoding == "multipart":
        return f"multipart/form-data; boundary={BOUNDARY}", multipart(fields)
    if encoding == "raw-multipart":  # hand-mangled multipart
        return f"multipart/form-data; boundary={BOUNDARY}", multipart(fields)[: len(fields) * 17]
    if encoding == "json":
        return "application/json", json.dumps(dict(fields))
    if encoding == "none":
        return None, None
    return "application/x-www-form-urlencoded", "&".join(f"{quote(k)}={v}" for k, v in fields).encode("utf-8")


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=FIELDS,
    query=FIELDS,
    encoding=st.sampled_from(["urlencoded", "multipart", "raw-multipart", "json", "none", "unquoted"]),
    headers=HEADERS,
    version=VERSIONS,
    host=HOSTS,
    method=st.sampled_from(["POST", "PUT"]),
    base64_body=st.booleans(),
)
def test_fuzz_never_5xx_always_spaaza_envelope(
    demo: DynamoDBStore,
    fields: list[tuple[str, str]],
    query: list[tuple[str, str]],
    encoding: str,
    headers: dict[str, str],
    version: str | None,
    host: str | None,
    method: str,
    base64_body: bool,
) -> None:
    sent: dict[str, str] = dict(headers)
    if version is not None:
        sent["X-Spaaza-API-Version"] = version
    if host is not None:
        sent["X-Spaaza-MyPrice-App-Hostname"] = host
    content_type, body = _body(fields, encoding)
    if content_type is not None:
        sent["Content-Type"] = content_type
    sent = {k: v for k, v in sent.items() if v.isprintable()}
    built = build_event(method, PATH, headers=sent, query_string=urlencode(query), body=body)
    assert built is not None
    event: dict[str, Any] = built[1]
    if base64_body and event["body"] is not None and not event["isBase64Encoded"]:
        import base64

        event["body"] = base64.b64encode(event["body"].encode("utf-8")).decode("ascii")
        event["isBase64Encoded"] = True
    response = invoke("unclaim_voucher", event)
    payload = json.loads(response["body"])
    status = response["statusCode"]
    assert status < 500, payload
    assert response["headers"]["Content-Type"] == "application/json"
    if status == 200:
        assert payload["result"] == {"code": 1, "status": "ok"}
        assert payload["results"]["result_type"] == "unclaim-voucher"
    else:
        assert set(payload) == {"result", "error"}
        assert payload["result"] == {"code": 2, "status": "error"}
        error = payload["error"]
        assert isinstance(error["code"], int) and error["name"].isidentifier() and error["name"].islower()
        assert isinstance(error["description"], str) and error["description"]
