"""The sample events in events/unclaim_voucher/: API Gateway REST proxy events built with
infra.local_stack.apigw.build_event against the demo data's tokens.

    .venv/bin/python -m tests.unclaim.sample_events     (re)write the files and the manifest

Each file's manifest entry holds the HTTP status it gets when replayed against freshly loaded
demo data; tests/unclaim/test_events.py replays every one and checks the files are current.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local_stack.apigw import build_event
from tests.unclaim.helpers import (
    ADMIN1,
    ADMIN2,
    ALICE,
    HOST,
    ID11,
    KEY11,
    PATH,
    PRIVILEGED,
    TP11,
    encode,
    key,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events" / "unclaim_voucher"
REQUEST_TIME_EPOCH_MS = 1767225600000  # 2026-01-01T00:00:00Z
POSTMAN = {
    "X-MyPrice-App-Hostname": HOST,
    "X-Spaaza-API-version": "1.6.3",
    "X-Spaaza-Session-User-Id": "900",
    "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
}


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    description: str
    headers: dict[str, str]
    fields: dict[str, Any] | None = None
    method: str = "POST"
    encoding: str = "urlencoded"
    query: str = ""
    base64_body: bool = False
    raw: tuple[str, bytes] | None = field(default=None)  # (content type, body) sent as is


CASES: tuple[Case, ...] = (
    # ---- success, every auth mode, both encodings and methods
    Case(
        "success_user_post_urlencoded",
        200,
        "User auth, POST urlencoded voucher_key",
        ALICE,
        {"voucher_key": KEY11},
    ),
    Case(
        "success_user_put_multipart",
        200,
        "User auth, PUT multipart/form-data voucher_id",
        ALICE,
        {"voucher_id": 40023},
        method="PUT",
        encoding="multipart",
    ),
    Case(
        "success_php_client_multipart_without_boundary_parameter",
        200,
        "Spaaza's official PHP client (postMultipartRequest): Content-Type multipart/form-data with no "
        "boundary parameter over a correct multipart body; the body's first line names the boundary",
        ALICE,
        method="POST",
        raw=(
            "multipart/form-data",
            b"--5d0c3a3b0f6c1e2d9b8a7f6e5d4c3b2a1f0e9d8c\r\n"
            b'Content-Disposition: form-data; name="voucher_id"\r\n'
            b"Content-Length: 5\r\n\r\n"
            b"40023\r\n"
            b"--5d0c3a3b0f6c1e2d9b8a7f6e5d4c3b2a1f0e9d8c--\r\n",
        ),
    ),
    Case(
        "success_user_query_string",
        200,
        "User auth, parameters in the query string, no body",
        ALICE,
        query=f"voucher_id={ID11}",
    ),
    Case(
        "success_user_base64_body",
        200,
        "User auth, urlencoded body delivered base64-encoded (isBase64Encoded)",
        ALICE,
        {"voucher_key": KEY11},
        base64_body=True,
    ),
    Case(
        "success_admin_put_urlencoded_postman",
        200,
        "Admin auth as Spaaza's Postman collection sends it: PUT urlencoded voucher_key, user_id, chain_id, "
        "X-MyPrice-App-Hostname and X-Spaaza-API-version 1.6.3",
        POSTMAN,
        {"voucher_key": KEY11, "user_id": 1001, "chain_id": 1},
        method="PUT",
    ),
    Case(
        "success_admin_post_multipart",
        200,
        "Admin auth, POST multipart, end user by member_number",
        ADMIN1,
        {"voucher_id": 40002, "member_number": "M-1001", "chain_id": 1},
        encoding="multipart",
    ),
    Case(
        "success_admin_locked_voucher",
        200,
        "Admin auth unclaims a locked voucher (voucher 12)",
        ADMIN1,
        {"voucher_id": 40012, "user_id": 1001, "chain_id": 1},
    ),
    Case(
        "success_admin_api_1_5_2_without_chain_id",
        200,
        "Admin auth with API version 1.5.2: chain_id optional (the voucher's chain is checked)",
        {**ADMIN1, "X-Spaaza-API-Version": "1.5.2"},
        {"voucher_id": ID11, "user_id": 1001},
    ),
    Case(
        "success_privileged_post_urlencoded",
        200,
        "Privileged (bearer) auth, POST urlencoded third_party_id, end user by username",
        PRIVILEGED,
        {"third_party_id": TP11, "username": "alice@example.com"},
    ),
    Case(
        "success_privileged_put_multipart",
        200,
        "Privileged (bearer) auth, PUT multipart voucher_key + user_id, staff-only campaign (voucher 16)",
        PRIVILEGED,
        {"voucher_key": key(16), "user_id": 1001},
        method="PUT",
        encoding="multipart",
    ),
    # ---- errors
    Case(
        "error_no_valid_session",
        401,
        "Unknown session key: 6 no_valid_session",
        {**ALICE, "X-Spaaza-Session-Key": "not-a-session"},
        {"voucher_id": ID11},
    ),
    Case(
        "error_session_user_id_mismatch",
        401,
        "Session of another user id: 6 no_valid_session",
        {**ALICE, "X-Spaaza-Session-User-Id": "1002"},
        {"voucher_id": ID11},
    ),
    Case(
        "error_no_myprice_app_missing",
        400,
        "User auth without the app hostname header: 269 no_myprice_app",
        {k: v for k, v in ALICE.items() if "Hostname" not in k},
        {"voucher_id": ID11},
    ),
    Case(
        "error_no_myprice_app_unknown",
        400,
        "Privileged auth with an unknown app hostname: 269 no_myprice_app",
        {**PRIVILEGED, "X-Spaaza-MyPrice-App-Hostname": "unknown.myprice.app"},
        {"voucher_id": ID11, "user_id": 1001},
    ),
    Case(
        "error_admin_no_write_access",
        403,
        "Chain-1 admin acting on chain 2: 68 permission_denied_or_non_existent",
        ADMIN1,
        {"voucher_id": 40018, "user_id": 2001, "chain_id": 2},
    ),
    Case(
        "error_user_names_another_user",
        403,
        "User auth naming another user: 68 permission_denied_or_non_existent",
        ALICE,
        {"voucher_id": ID11, "user_id": 1002},
    ),
    Case(
        "error_voucher_of_another_user",
        404,
        "Bob's voucher (17) for Alice: 183 voucher_not_found",
        ALICE,
        {"voucher_id": 40017},
    ),
    Case(
        "error_voucher_of_another_chain",
        404,
        "Chain-2 voucher (18) for a chain-1 admin: 183 voucher_not_found",
        ADMIN1,
        {"voucher_id": 40018, "user_id": 1001, "chain_id": 1},
    ),
    Case(
        "error_missing_voucher_identifier",
        400,
        "No voucher_key/voucher_id/third_party_id: 900 missing_parameter",
        ALICE,
        {"user_id": 1001},
    ),
    Case(
        "error_admin_missing_chain_id",
        400,
        "Admin auth, API 1.6.3, no chain_id: 900 missing_parameter",
        ADMIN1,
        {"voucher_id": ID11, "user_id": 1001},
    ),
    Case(
        "error_admin_missing_end_user",
        400,
        "Admin auth without an end-user identifier: 900 missing_parameter",
        ADMIN1,
        {"voucher_id": ID11, "chain_id": 1},
    ),
    Case(
        "error_old_version_new_identifier",
        400,
        "API 1.5.2 knows only user_id: member_number alone is a missing end user (900)",
        {**ADMIN1, "X-Spaaza-API-Version": "1.5.2"},
        {"voucher_id": ID11, "member_number": "M-1001", "chain_id": 1},
    ),
    Case(
        "error_invalid_voucher_id",
        400,
        "Non-integer voucher_id: 901 invalid_parameter",
        ALICE,
        {"voucher_id": "abc"},
    ),
    Case(
        "error_invalid_voucher_key",
        400,
        "voucher_key not 64 hex characters: 901 invalid_parameter",
        ALICE,
        {"voucher_key": "xyz"},
    ),
    Case(
        "error_third_party_id_not_used",
        400,
        "third_party_id on a chain without them: 901 invalid_parameter",
        ADMIN2,
        {"third_party_id": 123, "user_id": 2001, "chain_id": 2},
    ),
    Case(
        "error_malformed_multipart",
        400,
        "Truncated multipart body: 901 invalid_parameter",
        ALICE,
        raw=(
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="voucher_id"\r\n',
        ),
    ),
    Case(
        "error_unsupported_media_type",
        415,
        "JSON body: 902 unsupported_media_type",
        ALICE,
        raw=("application/json", json.dumps({"voucher_id": ID11}).encode()),
    ),
    Case(
        "error_invalid_api_version",
        400,
        "X-Spaaza-API-Version not major.minor.fix: 903 invalid_api_version",
        {**ALICE, "X-Spaaza-API-Version": "1.6"},
        {"voucher_id": ID11},
    ),
    Case(
        "error_identifier_mismatch",
        400,
        "voucher_key and voucher_id of different vouchers: 904",
        ALICE,
        {"voucher_key": KEY11, "voucher_id": 40002},
    ),
    Case(
        "error_voucher_not_claimed",
        400,
        "Voucher 13 is generated, not claimed: 905",
        ALICE,
        {"voucher_id": 40013},
    ),
    Case("error_voucher_already_redeemed", 400, "Voucher 14 is redeemed: 906", ALICE, {"voucher_id": 40014}),
    Case("error_voucher_invalidated", 400, "Voucher 24 is invalidated: 907", ALICE, {"voucher_id": 40024}),
    Case(
        "error_voucher_expired", 400, "Voucher 15 is claimed but expired: 908", ALICE, {"voucher_id": 40015}
    ),
    Case(
        "error_voucher_locked",
        403,
        "Locked voucher 12 by user auth: 909 voucher_locked",
        ALICE,
        {"voucher_id": 40012},
    ),
    Case(
        "error_end_user_not_allowed",
        403,
        "Staff-only campaign (voucher 16) by user auth: 910",
        ALICE,
        {"voucher_id": 40016},
    ),
    Case(
        "error_activation_code_live",
        400,
        "Voucher 6 has a live activation code: 911",
        ALICE,
        {"voucher_key": key(6)},
    ),
)


def build(case: Case) -> dict[str, Any]:
    if case.raw is not None:
        content: dict[str, str] = {"Content-Type": case.raw[0]}
        body: bytes | str | None = case.raw[1]
    else:
        content, body = encode(case.fields, case.encoding)
    built = build_event(
        case.method, PATH, headers={**content, **case.headers}, query_string=case.query, body=body
    )
    assert built is not None
    event = built[1]
    event["requestContext"]["requestId"] = f"sample-unclaim-{case.name.replace('_', '-')}"
    event["requestContext"]["requestTimeEpoch"] = REQUEST_TIME_EPOCH_MS
    if case.base64_body and event["body"] is not None and not event["isBase64Encoded"]:
        event["body"] = base64.b64encode(event["body"].encode("utf-8")).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def render(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def files() -> dict[str, str]:
    """file name -> content, manifest included."""
    out = {f"{case.name}.json": render(build(case)) for case in CASES}
    # an entry's recorded answer (the OpenAPI success example, checked by
    # tests/local/test_events_over_http.py) is kept as it is: this builds the requests only
    kept = json.loads((EVENTS_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest = {
        f"{c.name}.json": {"status": c.status, "description": c.description}
        | {k: v for k, v in kept.get(f"{c.name}.json", {}).items() if k == "response"}
        for c in CASES
    }
    out["manifest.json"] = render(manifest)
    return out


def main() -> None:
    EVENTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, content in files().items():
        (EVENTS_DIR / name).write_text(content, encoding="utf-8")
    print(f"wrote {len(CASES)} events and manifest.json to {EVENTS_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
