"""Spaaza "unclaim-voucher", through the real handler with API Gateway REST proxy events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.runtime import hash_token
from shared.store import DynamoDBStore, Keys, WriteConflict, serialize
from tests.conftest import call, demo_document, load_document, serial
from tests.unclaim.helpers import (
    ADMIN1,
    ADMIN2,
    ALICE,
    BOB,
    BOUNDARY,
    HOST,
    ID11,
    KEY11,
    PRIVILEGED,
    TOKENS,
    TP11,
    error_of,
    event,
    key,
    multipart,
    send,
    unclaim,
)

MODES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "user": (ALICE, {}),
    "admin": (ADMIN1, {"chain_id": 1, "user_id": 1001}),
    "privileged": (PRIVILEGED, {"user_id": 1001}),
}


def stored(store: DynamoDBStore, n: int) -> dict[str, Any]:
    item = store.get(Keys.voucher(serial(n)))
    assert item is not None
    return item


def unclaimed_events(store: DynamoDBStore, n: int) -> list[dict[str, Any]]:
    return [e for e in store.voucher_events(serial(n)) if e["event_type"] == "UNCLAIMED"]


def admin(fields: dict[str, Any], headers: dict[str, str] = ADMIN1, **kwargs: Any) -> tuple[int, Any, Any]:
    return unclaim(headers, {"chain_id": 1, **fields}, **kwargs)


def ok(response: tuple[int, Any, Any]) -> dict[str, Any]:
    status, body, headers = response
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    assert body["result"] == {"code": 1, "status": "ok"}
    assert body["results"]["voucher_status"] == "generated"
    assert body["results"]["result_type"] == "unclaim-voucher"
    return dict(body["results"])


# --------------------------------------------------------------------------- authentication modes


class TestAuthModes:
    def test_user_session_unclaims_own_voucher_with_every_sample_field(self, demo: DynamoDBStore) -> None:
        results = ok(unclaim(ALICE, {"voucher_key": KEY11}))
        remaining = results.pop("voucher_expiry_seconds_remaining")
        assert isinstance(remaining, int) and remaining > 0
        assert results == {
            "voucher_key": KEY11,
            "voucher_id": ID11,
            "voucher_status": "generated",
            "voucher_locked": False,
            "campaign_id": 3,
            "campaign_type": "cashback",
            "campaign_title": "20 EUR voucher for every 200 EUR spent",
            "voucher_expiry_datetime_utc": "2099-12-31 23:59:59",
            "voucher_currency_id": 2,
            "voucher_currency_symbol": "\u20ac",
            "voucher_amount_original": 20,
            "voucher_amount_redeemed": 0,
            "voucher_amount": 20,
            "voucher_text": "Your new voucher, enjoy!",
            "voucher_third_party_id": TP11,
            "user_id": 1001,
            "user_entity_card": {"type": "regular", "code": "1001"},
            "result_type": "unclaim-voucher",
        }
        item = stored(demo, 11)
        assert (item["status"], item["version"]) == ("AVAILABLE", 2)

    def test_admin_session_with_chain_id(self, demo: DynamoDBStore) -> None:
        results = ok(admin({"voucher_id": ID11, "user_id": 1001}))
        assert results["voucher_key"] == KEY11

    def test_privileged_bearer(self, demo: DynamoDBStore) -> None:
        assert ok(unclaim(PRIVILEGED, {"voucher_id": ID11, "user_id": 1001}))["user_id"] == 1001

    def test_privileged_with_matching_chain_id(self, demo: DynamoDBStore) -> None:
        ok(unclaim(PRIVILEGED, {"voucher_id": ID11, "user_id": 1001, "chain_id": 1}))

    def test_privileged_with_other_chain_id_is_a_mismatch(self, demo: DynamoDBStore) -> None:
        response = unclaim(PRIVILEGED, {"voucher_id": ID11, "user_id": 1001, "chain_id": 2})
        assert error_of(response) == (400, 904, "identifier_mismatch")

    def test_postman_collection_admin_call(self, demo: DynamoDBStore) -> None:
        """What Spaaza's Postman collection sends: PUT, urlencoded, admin session headers,
        the old hostname header and `X-Spaaza-API-version` with a lower-case v."""
        headers = {
            "X-MyPrice-App-Hostname": HOST,
            "X-Spaaza-API-version": "1.6.3",
            "X-Spaaza-Session-User-Id": "900",
            "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1",
        }
        ok(unclaim(headers, {"voucher_key": KEY11, "user_id": 1001, "chain_id": 1}, method="PUT"))

    def test_admin_tolerates_an_unknown_hostname_header(self, demo: DynamoDBStore) -> None:
        ok(
            admin(
                {"voucher_id": ID11, "user_id": 1001}, {**ADMIN1, "X-Spaaza-MyPrice-App-Hostname": "nope.app"}
            )
        )

    def test_legacy_session_header_spellings_and_odd_case(self, demo: DynamoDBStore) -> None:
        legacy = {
            "session-user-id": "1001",
            "session-key": "demo-spaaza-user-alice",
            "x-myprice-app-hostname": HOST,
        }
        ok(unclaim(legacy, {"voucher_id": ID11}))
        odd = {
            "x-SPAAZA-session-USER-id": "1001",
            "X-SPAAZA-SESSION-KEY": "demo-spaaza-user-alice",
            "x-spaaza-myprice-app-HOSTNAME": HOST.upper(),
            "x-spaaza-api-VERSION": "1.6.3",
        }
        ok(unclaim(odd, {"voucher_id": 40023}))

    def test_bearer_wins_over_session_headers(self, demo: DynamoDBStore) -> None:
        headers = {**ADMIN1, **PRIVILEGED}
        assert (
            error_of(unclaim(headers, {"voucher_id": ID11}))[2] == "missing_parameter"
        )  # privileged: needs a user
        ok(unclaim(headers, {"voucher_id": ID11, "user_id": 1001}))

    def test_non_bearer_authorization_is_ignored(self, demo: DynamoDBStore) -> None:
        ok(unclaim({**ALICE, "Authorization": "Basic Zm9vOmJhcg=="}, {"voucher_id": ID11}))


class TestCredentialErrors:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="none"),
            pytest.param(
                {"X-Spaaza-Session-Key": "demo-spaaza-user-alice", "X-Spaaza-MyPrice-App-Hostname": HOST},
                id="no-user-id",
            ),
            pytest.param(
                {"X-Spaaza-Session-User-Id": "1001", "X-Spaaza-MyPrice-App-Hostname": HOST}, id="no-key"
            ),
            pytest.param({**ALICE, "X-Spaaza-Session-User-Id": "alice"}, id="user-id-not-integer"),
            pytest.param(
                {"Authorization": "Bearer ", "X-Spaaza-MyPrice-App-Hostname": HOST}, id="empty-bearer"
            ),
            pytest.param(
                {"Authorization": "Bearer \x01x", "X-Spaaza-MyPrice-App-Hostname": HOST},
                id="unprintable-bearer",
            ),
        ],
    )
    def test_unusable_credentials_are_refused_before_any_read(
        self, offline: None, headers: dict[str, str]
    ) -> None:
        assert error_of(unclaim(headers, {"voucher_id": ID11, "user_id": 1001})) == (
            401,
            6,
            "no_valid_session",
        )

    def test_no_valid_session(self, demo: DynamoDBStore) -> None:
        cases = {
            "wrong-key": {**ALICE, "X-Spaaza-Session-Key": "forged-session-key-1"},
            "user-id-mismatch": {**ALICE, "X-Spaaza-Session-User-Id": "1002"},
            "admin-user-id-mismatch": {**ADMIN1, "X-Spaaza-Session-User-Id": "901"},
            "es-session": {**ALICE, "X-Spaaza-Session-Key": "demo-es-member-alice"},
            "es-expired": {**ALICE, "X-Spaaza-Session-Key": "demo-es-expired-session"},
            "privileged-as-session": {**ALICE, "X-Spaaza-Session-Key": "demo-spaaza-privileged-partner"},
            "admin-as-bearer": {
                "Authorization": "Bearer demo-spaaza-admin-chain1",
                "X-Spaaza-MyPrice-App-Hostname": HOST,
            },
            "thalamus-bearer": {
                "Authorization": "Bearer demo-thalamus-operator-anna",
                "X-Spaaza-MyPrice-App-Hostname": HOST,
            },
        }
        for case, headers in cases.items():
            response = unclaim(headers, {"voucher_id": ID11, "user_id": 1001})
            assert error_of(response) == (401, 6, "no_valid_session"), case
        assert stored(demo, 11)["status"] == "CLAIMED"

    def test_expired_spaaza_session(self, store: DynamoDBStore) -> None:
        document = demo_document()
        document["sessions"].append(
            {
                "kind": "spaaza_user",
                "principal": "alice",
                "token": "demo-spaaza-expired-alice",
                "app_hostname": HOST,
                "expires_at": "2020-01-01T00:00:00Z",
            }
        )
        load_document(store, document)
        headers = {**ALICE, "X-Spaaza-Session-Key": "demo-spaaza-expired-alice"}
        assert error_of(unclaim(headers, {"voucher_id": ID11})) == (401, 6, "no_valid_session")

    def test_revoked_session(self, demo: DynamoDBStore) -> None:
        demo.client.update_item(
            TableName=demo.table_name,
            Key=serialize(Keys.session(hash_token("demo-spaaza-user-alice"))),
            UpdateExpression="SET revoked = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
        assert error_of(unclaim(ALICE, {"voucher_id": ID11}))[1] == 6

    @pytest.mark.parametrize("headers", [ALICE, PRIVILEGED], ids=["user", "privileged"])
    def test_hostname_is_mandatory_for_user_and_privileged(
        self, demo: DynamoDBStore, headers: dict[str, str]
    ) -> None:
        bare = {k: v for k, v in headers.items() if k != "X-Spaaza-MyPrice-App-Hostname"}
        assert error_of(unclaim(bare, {"voucher_id": ID11, "user_id": 1001})) == (400, 269, "no_myprice_app")

    def test_unknown_hostname(self, demo: DynamoDBStore) -> None:
        for hostname in ["unknown.myprice.app", "bad host name!", "x" * 300, "demo.myprice.app:443"]:
            for headers in (ALICE, PRIVILEGED):
                sent = {**headers, "X-Spaaza-MyPrice-App-Hostname": hostname}
                response = unclaim(sent, {"voucher_id": ID11, "user_id": 1001})
                assert error_of(response) == (400, 269, "no_myprice_app"), hostname

    def test_app_of_another_chain(self, demo: DynamoDBStore) -> None:
        sent = {**ALICE, "X-Spaaza-MyPrice-App-Hostname": "other.myprice.app"}
        assert error_of(unclaim(sent, {"voucher_id": ID11})) == (403, 68, "permission_denied_or_non_existent")
        sent = {**PRIVILEGED, "X-Spaaza-MyPrice-App-Hostname": "other.myprice.app"}
        assert error_of(unclaim(sent, {"voucher_id": 40018, "user_id": 2001}))[1] == 68

    def test_admin_without_write_access_to_the_chain(self, demo: DynamoDBStore) -> None:
        response = unclaim(ADMIN1, {"chain_id": 2, "voucher_id": 40018, "user_id": 2001})
        assert error_of(response) == (403, 68, "permission_denied_or_non_existent")
        assert stored(demo, 18)["status"] == "CLAIMED"

    def test_admin_of_chain_2_on_its_own_chain(self, demo: DynamoDBStore) -> None:
        assert ok(unclaim(ADMIN2, {"chain_id": 2, "voucher_id": 40018, "user_id": 2001}))["user_id"] == 2001

    def test_user_chain_id_must_be_the_users_chain(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, {"voucher_id": ID11, "chain_id": 1}))
        assert error_of(unclaim(ALICE, {"voucher_id": 40023, "chain_id": 2}))[1] == 904


class TestApiVersion:
    @pytest.mark.parametrize(
        "version", ["1.6", "abc", "1.6.3.1", "v1.6.3", "1..3", "1.6.x", "\uff11.\uff16.\uff13"]
    )
    def test_malformed_version(self, offline: None, version: str) -> None:
        response = unclaim({**ALICE, "X-Spaaza-API-Version": version}, {"voucher_id": ID11})
        assert error_of(response) == (400, 903, "invalid_api_version")

    def test_absent_version_defaults_to_1_6_3(self, demo: DynamoDBStore) -> None:
        # 1.6.3 semantics: admin needs chain_id, member_number is an end-user identifier
        assert error_of(unclaim(ADMIN1, {"voucher_id": ID11, "user_id": 1001}))[2] == "missing_parameter"
        ok(admin({"voucher_id": ID11, "member_number": "M-1001"}))
        events = unclaimed_events(demo, 11)
        assert events[0]["details"]["api_version"] == "1.6.3"

    def test_admin_before_1_5_3_needs_no_chain_id(self, demo: DynamoDBStore) -> None:
        old = {**ADMIN1, "X-Spaaza-API-Version": "1.5.2"}
        ok(unclaim(old, {"voucher_id": ID11, "user_id": 1001}))
        assert unclaimed_events(demo, 11)[0]["details"]["chain_id"] == 1

    def test_admin_before_1_5_3_without_chain_id_still_needs_the_grant(self, demo: DynamoDBStore) -> None:
        old = {**ADMIN2, "X-Spaaza-API-Version": "1.5.2"}
        assert error_of(unclaim(old, {"voucher_id": ID11, "user_id": 1001}))[1] == 68
        assert stored(demo, 11)["status"] == "CLAIMED"

    def test_admin_before_1_5_3_third_party_id_needs_chain_id(self, demo: DynamoDBStore) -> None:
        old = {**ADMIN1, "X-Spaaza-API-Version": "1.5.2"}
        response = unclaim(old, {"third_party_id": TP11, "user_id": 1001})
        assert error_of(response)[2] == "missing_parameter"
        ok(unclaim(old, {"third_party_id": TP11, "user_id": 1001, "chain_id": 1}))

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("member_number", "M-1001"),
            ("username", "alice@example.com"),
            ("authentication_point_identifier", "ap-alice"),
            ("auxiliary_identifier", "aux-alice"),
        ],
    )
    @pytest.mark.parametrize("headers", [ADMIN1, PRIVILEGED], ids=["admin", "privileged"])
    def test_before_1_5_3_only_user_id_identifies_the_end_user(
        self, demo: DynamoDBStore, headers: dict[str, str], name: str, value: str
    ) -> None:
        old = {**headers, "X-Spaaza-API-Version": "1.5.2"}
        response = unclaim(old, {"voucher_id": ID11, name: value, "chain_id": 1})
        assert error_of(response) == (400, 900, "missing_parameter")
        assert "user_id" in response[1]["error"]["description"]
        # ... and is then not even looked at: a mismatching one is ignored
        ok(
            unclaim(
                old, {"voucher_id": ID11, "user_id": 1001, name: "someone-else@example.com", "chain_id": 1}
            )
        )


# --------------------------------------------------------------------------- identifiers


class TestEndUser:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("user_id", 1001),
            ("member_number", "M-1001"),
            ("username", "Alice@Example.com"),
            ("authentication_point_identifier", "ap-alice"),
            ("auxiliary_identifier", "aux-alice"),
        ],
    )
    @pytest.mark.parametrize("headers", [ADMIN1, PRIVILEGED], ids=["admin", "privileged"])
    def test_each_identifier(
        self, demo: DynamoDBStore, headers: dict[str, str], name: str, value: Any
    ) -> None:
        assert ok(unclaim(headers, {"chain_id": 1, "voucher_id": ID11, name: value}))["user_id"] == 1001

    def test_several_identifiers_of_the_same_user(self, demo: DynamoDBStore) -> None:
        ok(
            admin(
                {
                    "voucher_id": ID11,
                    "user_id": 1001,
                    "member_number": "M-1001",
                    "username": "alice@example.com",
                }
            )
        )

    def test_identifiers_of_different_users(self, demo: DynamoDBStore) -> None:
        response = admin({"voucher_id": ID11, "user_id": 1001, "member_number": "M-1002"})
        assert error_of(response) == (400, 904, "identifier_mismatch")

    def test_unknown_user(self, demo: DynamoDBStore) -> None:
        for fields in ({"user_id": 424242}, {"member_number": "M-9999"}, {"username": "x@y.z"}):
            response = admin({"voucher_id": ID11, **fields})
            assert error_of(response) == (403, 68, "permission_denied_or_non_existent"), fields

    def test_user_of_another_chain_reads_as_unknown(self, demo: DynamoDBStore) -> None:
        assert error_of(admin({"voucher_id": 40018, "user_id": 2001}))[1] == 68

    @pytest.mark.parametrize("headers", [ADMIN1, PRIVILEGED], ids=["admin", "privileged"])
    def test_end_user_is_mandatory(self, demo: DynamoDBStore, headers: dict[str, str]) -> None:
        assert error_of(unclaim(headers, {"chain_id": 1, "voucher_id": ID11})) == (
            400,
            900,
            "missing_parameter",
        )

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("user_id", "abc"),
            ("user_id", "-5"),
            ("user_id", "0"),
            ("username", "not-an-email"),
            ("member_number", "a\x00b"),
        ],
    )
    def test_malformed_identifier(self, offline: None, name: str, value: str) -> None:
        assert error_of(admin({"voucher_id": ID11, name: value})) == (400, 901, "invalid_parameter")

    def test_user_may_name_itself(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, {"voucher_id": ID11, "user_id": 1001, "member_number": "M-1001"}))

    def test_user_naming_another_user(self, demo: DynamoDBStore) -> None:
        for fields in ({"user_id": 1002}, {"member_number": "M-1002"}, {"user_id": 424242}):
            response = unclaim(ALICE, {"voucher_id": ID11, **fields})
            assert error_of(response) == (403, 68, "permission_denied_or_non_existent"), fields
        assert stored(demo, 11)["status"] == "CLAIMED"


class TestVoucherIdentifiers:
    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param({"voucher_key": KEY11}, id="voucher_key"),
            pytest.param({"voucher_key": KEY11.upper()}, id="voucher_key-upper"),
            pytest.param({"voucher_id": ID11}, id="voucher_id"),
            pytest.param({"third_party_id": TP11}, id="third_party_id"),
            pytest.param({"voucher_key": KEY11, "voucher_id": ID11, "third_party_id": TP11}, id="all-three"),
        ],
    )
    @pytest.mark.parametrize("mode", ["user", "admin", "privileged"])
    def test_each_identifier(self, demo: DynamoDBStore, mode: str, fields: dict[str, Any]) -> None:
        headers, extra = MODES[mode]
        results = ok(unclaim(headers, {**fields, **extra}))
        assert (results["voucher_key"], results["voucher_id"], results["voucher_third_party_id"]) == (
            KEY11,
            ID11,
            TP11,
        )

    def test_third_party_id_on_a_chain_without_them(self, demo: DynamoDBStore) -> None:
        response = unclaim(ADMIN2, {"chain_id": 2, "third_party_id": 3914599001, "user_id": 2001})
        assert error_of(response) == (400, 901, "invalid_parameter")
        assert "third-party" in response[1]["error"]["description"]

    def test_identifiers_of_different_vouchers(self, demo: DynamoDBStore) -> None:
        for fields in (
            {"voucher_key": KEY11, "voucher_id": 40002},
            {"voucher_id": ID11, "third_party_id": 3914599001},
            {"voucher_key": key(2), "third_party_id": TP11},
        ):
            assert error_of(unclaim(ALICE, fields)) == (400, 904, "identifier_mismatch"), fields
        assert stored(demo, 11)["status"] == "CLAIMED"

    def test_missing_voucher_identifier(self, offline: None) -> None:
        assert error_of(unclaim(ALICE, {"user_id": 1001})) == (400, 900, "missing_parameter")
        assert error_of(unclaim(ALICE, {"voucher_id": "", "voucher_key": "  "}))[1] == 900
        assert error_of(unclaim(ALICE))[1] == 900

    @pytest.mark.parametrize(
        "fields",
        [
            {"voucher_id": "abc"},
            {"voucher_id": "12.5"},
            {"voucher_id": "-40577"},
            {"voucher_id": "0"},
            {"voucher_id": "99999999999999999999"},
            {"third_party_id": "x1"},
            {"chain_id": "one", "voucher_id": ID11},
            {"voucher_key": "xyz"},
            {"voucher_key": KEY11[:-1]},
            {"voucher_key": KEY11 + "0"},
            {"voucher_key": "g" * 64},
        ],
    )
    def test_malformed_voucher_identifier(self, offline: None, fields: dict[str, Any]) -> None:
        assert error_of(unclaim(ALICE, fields)) == (400, 901, "invalid_parameter")

    def test_unknown_voucher(self, demo: DynamoDBStore) -> None:
        for fields in ({"voucher_id": 999999}, {"voucher_key": "0" * 64}, {"third_party_id": 123456}):
            assert error_of(unclaim(ALICE, fields)) == (404, 183, "voucher_not_found"), fields


# --------------------------------------------------------------------------- rules


class TestRules:
    USER_REFUSALS = (
        (13, 400, 905, "voucher_not_claimed"),
        (14, 400, 906, "voucher_already_redeemed"),
        (24, 400, 907, "voucher_invalidated"),
        (15, 400, 908, "voucher_expired"),
        (12, 403, 909, "voucher_locked"),
        (16, 403, 910, "end_user_not_allowed"),
        (6, 400, 911, "voucher_activation_code_live"),
        (1, 400, 905, "voucher_not_claimed"),
        (5, 400, 908, "voucher_expired"),
        (3, 400, 906, "voucher_already_redeemed"),
    )

    def test_user_refusals(self, demo: DynamoDBStore) -> None:
        for n, status, code, name in self.USER_REFUSALS:
            before = stored(demo, n)
            assert error_of(unclaim(ALICE, {"voucher_key": key(n)})) == (status, code, name), n
            assert stored(demo, n) == before
            assert unclaimed_events(demo, n) == []

    def test_admin_and_privileged_get_the_same_state_refusals(self, demo: DynamoDBStore) -> None:
        for n, _, _, name in self.USER_REFUSALS:
            if n in (12, 16):  # locked / staff-only: allowed for them (below)
                continue
            assert error_of(admin({"voucher_key": key(n), "user_id": 1001}))[2] == name, n
            assert error_of(unclaim(PRIVILEGED, {"voucher_key": key(n), "user_id": 1001}))[2] == name, n

    @pytest.mark.parametrize("n", [12, 16])
    @pytest.mark.parametrize("who", ["admin", "privileged"])
    def test_locked_and_staff_only_vouchers_by_admin_or_privileged(
        self, demo: DynamoDBStore, n: int, who: str
    ) -> None:
        fields = {"voucher_key": key(n), "user_id": 1001}
        results = ok(admin(fields) if who == "admin" else unclaim(PRIVILEGED, fields))
        assert results["voucher_locked"] is (n == 12)
        assert stored(demo, n)["status"] == "AVAILABLE"

    def test_expired_activation_code_returns_to_claimed_and_can_be_unclaimed(
        self, demo: DynamoDBStore
    ) -> None:
        assert stored(demo, 7)["status"] == "ACTIVATED"
        ok(unclaim(ALICE, {"voucher_key": key(7)}))
        item = stored(demo, 7)
        assert item["status"] == "AVAILABLE" and "activation" not in item
        assert unclaimed_events(demo, 7)[0]["from_status"] == "ACTIVATED"

    def test_other_users_voucher_is_not_found(self, demo: DynamoDBStore) -> None:
        assert error_of(unclaim(ALICE, {"voucher_id": 40017})) == (404, 183, "voucher_not_found")
        assert error_of(admin({"voucher_id": 40017, "user_id": 1001}))[1] == 183
        assert stored(demo, 17)["status"] == "CLAIMED"
        ok(unclaim(BOB, {"voucher_id": 40017}))

    def test_other_chains_voucher_is_not_found(self, demo: DynamoDBStore) -> None:
        assert error_of(admin({"voucher_id": 40018, "user_id": 1001})) == (404, 183, "voucher_not_found")
        assert error_of(unclaim(ALICE, {"voucher_id": 40018}))[1] == 183
        assert stored(demo, 18)["status"] == "CLAIMED"


# --------------------------------------------------------------------------- encodings


class TestEncodings:
    @pytest.mark.parametrize("method", ["POST", "PUT"])
    @pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
    def test_both_methods_and_encodings(self, demo: DynamoDBStore, method: str, encoding: str) -> None:
        ok(unclaim(ALICE, {"voucher_key": KEY11}, method=method, encoding=encoding))

    @pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
    def test_base64_encoded_body(self, demo: DynamoDBStore, encoding: str) -> None:
        ev = event(
            ADMIN1,
            {"voucher_key": KEY11, "user_id": 1001, "chain_id": 1},
            encoding=encoding,
            base64_body=True,
        )
        assert ev["isBase64Encoded"] is True
        ok(send(ev))

    def test_binary_multipart_part_goes_base64_and_unknown_parts_are_ignored(
        self, demo: DynamoDBStore
    ) -> None:
        body = multipart([("voucher_key", KEY11), ("attachment", b"\xff\xfe\x00binary")])
        headers = {**ALICE, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        ok(call("unclaim_voucher", "POST", "/unclaim-voucher", headers=headers, body=body))

    def test_query_string_parameters(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, query=f"voucher_key={KEY11}"))

    def test_body_wins_over_query_string(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, {"voucher_id": ID11}, query="voucher_id=40002"))
        assert stored(demo, 2)["status"] == "CLAIMED"

    def test_query_and_body_combine(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ADMIN1, {"voucher_id": ID11}, query="chain_id=1&user_id=1001"))

    def test_unknown_parameters_are_ignored(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, {"voucher_id": ID11, "foo": "bar", "voucher_idx": "??"}))

    def test_repeated_parameter(self, demo: DynamoDBStore) -> None:
        assert error_of(unclaim(ALICE, query=f"voucher_id={ID11}&voucher_id=40002"))[1] == 901
        ok(unclaim(ALICE, query=f"voucher_id={ID11}&voucher_id={ID11}"))

    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/json", None, "multipart/mixed; boundary=x", "application/xml"],
    )
    def test_unsupported_media_type(self, offline: None, content_type: str | None) -> None:
        headers = {**ALICE, **({"Content-Type": content_type} if content_type else {})}
        response = call(
            "unclaim_voucher", "POST", "/unclaim-voucher", headers=headers, body=f"voucher_key={KEY11}"
        )
        assert error_of(response) == (415, 902, "unsupported_media_type")

    def test_empty_body_needs_no_content_type(self, demo: DynamoDBStore) -> None:
        headers = {**ALICE, "Content-Type": "application/json"}
        ok(call("unclaim_voucher", "PUT", "/unclaim-voucher", headers=headers, query=f"voucher_id={ID11}"))

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("multipart/form-data", b"--x\r\n"),
            ("multipart/form-data; boundary=", b"--x\r\n"),
            (f"multipart/form-data; boundary={BOUNDARY}", b"garbage without any boundary"),
            (
                f"multipart/form-data; boundary={BOUNDARY}",
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="voucher_id"\r\n\r\n40577'.encode(),
            ),
            ('multipart/form-data; boundary=a"b', b"--x\r\n"),
            ("application/x-www-form-urlencoded", b"voucher_key=%ff%fe"),
            ("application/x-www-form-urlencoded", b"voucher_key=\xff\xfe"),
            ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(500))),
            ("application/x-www-form-urlencoded", b"voucher_id=" + b"1" * 70000),
        ],
    )
    def test_malformed_bodies(self, offline: None, content_type: str, body: bytes) -> None:
        response = call(
            "unclaim_voucher",
            "POST",
            "/unclaim-voucher",
            headers={**ALICE, "Content-Type": content_type},
            body=body,
        )
        assert error_of(response) == (400, 901, "invalid_parameter")

    @staticmethod
    def _guzzle_multipart(fields: dict[str, Any], boundary: str) -> bytes:
        """The bytes Guzzle 7's MultipartStream writes for postMultipartRequest of Spaaza's
        official PHP client (each part with Content-Disposition and Content-Length)."""
        body = b""
        for name, value in fields.items():
            data = str(value).encode()
            body += (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data
                + b"\r\n"
            )
        return body + f"--{boundary}--\r\n".encode()

    @pytest.mark.parametrize("method", ["POST", "PUT"])
    @pytest.mark.parametrize(
        ("headers", "fields"),
        [
            (ALICE, {"voucher_key": KEY11}),
            (ADMIN1, {"voucher_id": ID11, "user_id": 1001, "chain_id": 1}),
            (PRIVILEGED, {"voucher_id": ID11, "user_id": 1001}),
        ],
        ids=["user", "admin", "privileged"],
    )
    def test_official_php_client_multipart_without_a_boundary_parameter(
        self, demo: DynamoDBStore, method: str, headers: dict[str, str], fields: dict[str, Any]
    ) -> None:
        """The client sets `Content-Type: multipart/form-data` itself (no boundary); the body
        opens with a valid delimiter line, which then names the boundary."""
        boundary = "5d0c3a3b0f6c1e2d9b8a7f6e5d4c3b2a1f0e9d8c"  # sha1(uniqid()) as Guzzle makes it
        body = self._guzzle_multipart(fields, boundary)
        sent = {**headers, "Content-Type": "multipart/form-data", "X-Spaaza-API-Version": "1.6.3"}
        assert ok(call("unclaim_voucher", method, "/unclaim-voucher", headers=sent, body=body))
        assert stored(demo, 11)["status"] == "AVAILABLE"

    @pytest.mark.parametrize(
        "body",
        [
            b"voucher_key=" + KEY11.encode(),  # not a delimiter line at all
            b"--\r\nx",  # an empty boundary
            b"--a\x01b\r\n",  # characters RFC 2046 does not allow
            b"--" + b"b" * 71 + b"\r\n",  # longer than 70 characters
            b"--boundary-with-trailing-space \r\n",
            b"--boundary\n",  # a bare LF, not CRLF
            b"\r\n--boundary\r\n",  # a preamble before the delimiter
        ],
    )
    def test_multipart_without_a_boundary_needs_a_delimiter_first_line(
        self, offline: None, body: bytes
    ) -> None:
        headers = {**ALICE, "Content-Type": "multipart/form-data"}
        response = call("unclaim_voucher", "POST", "/unclaim-voucher", headers=headers, body=body)
        assert error_of(response) == (400, 901, "invalid_parameter")

    def test_multipart_with_charset_and_quoted_boundary(self, demo: DynamoDBStore) -> None:
        body = multipart({"voucher_id": ID11}, boundary="a'b(c)")
        headers = {**ALICE, "Content-Type": 'multipart/form-data; charset=utf-8; boundary="a\'b(c)"'}
        ok(call("unclaim_voucher", "POST", "/unclaim-voucher", headers=headers, body=body))


# --------------------------------------------------------------------------- the write


class TestTransaction:
    def test_one_audit_event_and_a_second_unclaim_fails(self, demo: DynamoDBStore) -> None:
        ok(unclaim(ALICE, {"voucher_id": ID11}))
        events = unclaimed_events(demo, 11)
        assert len(events) == 1
        e = events[0]
        assert (e["from_status"], e["to_status"], e["channel"], e["actor_kind"], e["actor_id"]) == (
            "CLAIMED",
            "AVAILABLE",
            "spaaza",
            "spaaza_user",
            "alice",
        )
        assert e["details"]["auth_mode"] == "user" and e["details"]["chain_id"] == 1 and e["request_id"]
        assert error_of(unclaim(ALICE, {"voucher_id": ID11}))[2] == "voucher_not_claimed"
        assert len(unclaimed_events(demo, 11)) == 1
        assert stored(demo, 11)["version"] == 2

    @pytest.mark.parametrize(
        ("headers", "fields", "actor"),
        [
            (ADMIN1, {"chain_id": 1, "user_id": 1001}, ("spaaza_admin", "900", "admin")),
            (PRIVILEGED, {"user_id": 1001}, ("spaaza_privileged", "partner-pos", "privileged")),
        ],
    )
    def test_event_names_the_actor(
        self,
        demo: DynamoDBStore,
        headers: dict[str, str],
        fields: dict[str, Any],
        actor: tuple[str, str, str],
    ) -> None:
        ok(unclaim(headers, {"voucher_id": ID11, **fields}))
        (e,) = unclaimed_events(demo, 11)
        assert (e["actor_kind"], e["actor_id"], e["details"]["auth_mode"]) == actor

    @pytest.mark.parametrize(
        ("headers", "fields"),
        [
            (ALICE, {"voucher_key": KEY11}),
            (ADMIN1, {"voucher_id": ID11, "user_id": 1001, "chain_id": 1}),
            (ADMIN1, {"third_party_id": TP11, "username": "alice@example.com", "chain_id": 1}),
            (PRIVILEGED, {"voucher_key": KEY11, "member_number": "M-1001"}),
            ({**ADMIN1, "X-Spaaza-API-Version": "1.5.0"}, {"voucher_id": ID11, "user_id": 1001}),
        ],
        ids=["user", "admin", "admin-third-party", "privileged", "admin-1.5.0-no-chain"],
    )
    def test_at_most_three_round_trips(
        self, demo: DynamoDBStore, headers: dict[str, str], fields: dict[str, Any]
    ) -> None:
        calls: list[str] = []
        demo.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        ok(unclaim(headers, fields))
        assert calls == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]

    def test_third_party_id_with_chain_from_the_session_costs_one_more_read(
        self, demo: DynamoDBStore
    ) -> None:
        calls: list[str] = []
        demo.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        ok(unclaim(ALICE, {"third_party_id": TP11}))
        assert calls == ["BatchGetItem"] * 3 + ["TransactWriteItems"]
        calls.clear()
        ok(unclaim(ALICE, {"voucher_id": 40023, "chain_id": 1}))
        assert len(calls) == 3

    def test_refusals_never_write(self, demo: DynamoDBStore) -> None:
        calls: list[str] = []
        demo.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        unclaim(ALICE, {"voucher_id": 40013})
        unclaim(ALICE)
        unclaim({}, {"voucher_id": ID11})
        assert calls == ["BatchGetItem", "BatchGetItem"]

    def _before_commit(self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch, action: Any) -> list[int]:
        original = demo.transact
        attempts: list[int] = []

        def patched(items: Any) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                action()
            original(items)

        monkeypatch.setattr(demo, "transact", patched)
        return attempts

    def test_grant_revoked_before_commit(self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch) -> None:
        grant = serialize(Keys.spaaza_admin_grant(900, 1))
        self._before_commit(
            demo, monkeypatch, lambda: demo.client.delete_item(TableName=demo.table_name, Key=grant)
        )
        assert error_of(admin({"voucher_id": ID11, "user_id": 1001}))[1] == 68
        assert stored(demo, 11)["status"] == "CLAIMED" and unclaimed_events(demo, 11) == []

    def test_session_revoked_before_commit(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        session = serialize(Keys.session(hash_token("demo-spaaza-user-alice")))

        def revoke() -> None:
            demo.client.update_item(
                TableName=demo.table_name,
                Key=session,
                UpdateExpression="SET revoked = :t",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )

        self._before_commit(demo, monkeypatch, revoke)
        assert error_of(unclaim(ALICE, {"voucher_id": ID11}))[1] == 6
        assert stored(demo, 11)["status"] == "CLAIMED"

    def test_voucher_redeemed_before_commit_is_judged_again(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def redeem() -> None:
            demo.client.update_item(
                TableName=demo.table_name,
                Key=serialize(Keys.voucher(serial(11))),
                UpdateExpression="SET #s = :r, #v = :v",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
                ExpressionAttributeValues={":r": {"S": "REDEEMED"}, ":v": {"N": "2"}},
            )

        attempts = self._before_commit(demo, monkeypatch, redeem)
        assert error_of(unclaim(ALICE, {"voucher_id": ID11}))[2] == "voucher_already_redeemed"
        assert len(attempts) == 1

    def test_voucher_touched_but_still_claimed_is_retried(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def touch() -> None:
            demo.client.update_item(
                TableName=demo.table_name,
                Key=serialize(Keys.voucher(serial(11))),
                UpdateExpression="SET #v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": "7"}},
            )

        attempts = self._before_commit(demo, monkeypatch, touch)
        ok(unclaim(ALICE, {"voucher_id": ID11}))
        assert len(attempts) == 2 and stored(demo, 11)["version"] == 8
        assert len(unclaimed_events(demo, 11)) == 1

    def test_transaction_conflict_is_retried(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        original = demo.transact
        attempts: list[int] = []

        def flaky(items: Any) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise WriteConflict("conflict")
            original(items)

        monkeypatch.setattr(demo, "transact", flaky)
        ok(unclaim(ALICE, {"voucher_id": ID11}))
        assert len(attempts) == 2 and len(unclaimed_events(demo, 11)) == 1

    def test_endless_conflict_is_a_retryable_409(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(demo, "transact", lambda items: (_ for _ in ()).throw(WriteConflict("x")))
        response = unclaim(ALICE, {"voucher_id": ID11})
        assert error_of(response) == (409, 912, "concurrent_modification")
        assert response[2]["Retry-After"] == "1"
        assert stored(demo, 11)["status"] == "CLAIMED"

    def test_throttling_is_503(self, demo: DynamoDBStore) -> None:
        from botocore.stub import Stubber

        stub = Stubber(demo.client)
        for _ in range(demo._max_call_attempts):  # throttled on every attempt the store makes
            stub.add_client_error("batch_get_item", service_error_code="ThrottlingException")
        with stub:
            response = unclaim(ALICE, {"voucher_id": ID11})
        assert error_of(response) == (503, 913, "service_unavailable")
        assert response[2]["Retry-After"] == "1"

    def test_unexpected_failure_is_500_without_internals(
        self, demo: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def boom(*_: Any, **__: Any) -> None:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(demo, "batch_get", boom)
        _status, body, _ = response = unclaim(ALICE, {"voucher_id": ID11})
        assert error_of(response) == (500, 914, "internal_error")
        assert "secret internal detail" not in json.dumps(body)

    def test_tokens_never_reach_the_logs(
        self, demo: DynamoDBStore, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("INFO")  # the level the functions run at (POWERTOOLS_LOG_LEVEL)
        ok(unclaim(ALICE, {"voucher_id": ID11}))
        ok(unclaim(PRIVILEGED, {"voucher_id": 40023, "user_id": 1001}))
        ok(admin({"voucher_id": 40002, "user_id": 1001}, method="PUT", encoding="multipart"))
        unclaim({**ALICE, "X-Spaaza-Session-Key": "forged-secret-value-1"}, {"voucher_id": 40013})
        unclaim(
            {"Authorization": "Bearer forged-secret-value-2", "X-Spaaza-MyPrice-App-Hostname": HOST},
            {"voucher_id": 1},
        )
        out = capsys.readouterr()
        records = [repr(r.__dict__) for r in caplog.records]
        logs = out.out + out.err + "\n".join(records)
        assert sum("request finished" in r for r in records) == 5
        for secret in (*TOKENS, "forged-secret-value-1", "forged-secret-value-2"):
            assert secret not in logs
            assert hash_token(secret) not in logs
