"""No existence oracles, over the real handlers: an identifier naming something the caller may
not see gets the same status, code, text and number of DynamoDB calls as one naming nothing
(docs/authorization.md states the rule and the order of checks)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import DynamoDBStore
from tests.activation.conftest import DynamoCalls
from tests.conftest import call, serial
from tests.unclaim.helpers import ADMIN1, ALICE, ID11, PRIVILEGED, key, unclaim

ANNA = {"Thalamus-Token": "demo-thalamus-operator-anna", "Thalamus-Touchpoint": "BACKOFFICE"}
ES_ALICE = {"Authorization": "Bearer demo-es-member-alice"}


def observed(store: DynamoDBStore, send: Any) -> tuple[int, Any, list[str]]:
    """(status, body, DynamoDB operations) of one request."""
    with DynamoCalls(store.client) as calls:
        status, body, _headers = send()
    return status, body, list(calls.operations)


def same_answer(store: DynamoDBStore, foreign: Any, missing: Any) -> tuple[int, Any]:
    a, b = observed(store, foreign), observed(store, missing)
    assert a == b, f"foreign {a} != missing {b}"
    return a[0], a[1]


VALID_USER = {"member_number": "M-1001"}  # alice, chain 1


@pytest.mark.parametrize(
    ("foreign", "missing"),
    [
        ({"user_id": 2001}, {"user_id": 777777}),
        ({"username": "carol@example.com"}, {"username": "nobody@example.com"}),
        ({"member_number": "M-2001"}, {"member_number": "M-NOBODY"}),
    ],
    ids=["user_id", "username", "member_number"],
)
@pytest.mark.parametrize("beside_a_valid_one", [False, True], ids=["alone", "beside-valid"])
def test_admin_another_chains_user_reads_as_nobody(
    demo: DynamoDBStore, foreign: dict[str, Any], missing: dict[str, Any], beside_a_valid_one: bool
) -> None:
    extra: dict[str, Any] = VALID_USER if beside_a_valid_one and "member_number" not in foreign else {}
    if beside_a_valid_one and "member_number" in foreign:
        extra = {"user_id": 1001}
    fields = {"chain_id": 1, "voucher_id": ID11, **extra}
    status, body = same_answer(
        demo,
        lambda: unclaim(ADMIN1, {**fields, **foreign}),
        lambda: unclaim(ADMIN1, {**fields, **missing}),
    )
    assert (status, body["error"]["code"]) == (403, 68)


def test_privileged_another_chains_user_reads_as_nobody(demo: DynamoDBStore) -> None:
    status, body = same_answer(
        demo,
        lambda: unclaim(PRIVILEGED, {"voucher_id": ID11, "user_id": 1001, "member_number": "M-2001"}),
        lambda: unclaim(PRIVILEGED, {"voucher_id": ID11, "user_id": 1001, "member_number": "M-NOBODY"}),
    )
    assert (status, body["error"]["code"]) == (403, 68)


@pytest.mark.parametrize(
    ("foreign", "missing"),
    [
        ({"voucher_id": 40017}, {"voucher_id": 999999}),  # bob's voucher, same chain
        ({"voucher_id": 40018}, {"voucher_id": 999998}),  # carol's, another chain
    ],
    ids=["other-member", "other-chain"],
)
def test_user_pairing_own_key_with_a_voucher_it_may_not_see(
    demo: DynamoDBStore, foreign: dict[str, Any], missing: dict[str, Any]
) -> None:
    own = {"voucher_key": key(11)}
    status, body = same_answer(
        demo, lambda: unclaim(ALICE, {**own, **foreign}), lambda: unclaim(ALICE, {**own, **missing})
    )
    assert (status, body["error"]["code"]) == (404, 183)


def test_user_naming_another_members_voucher_alone(demo: DynamoDBStore) -> None:
    status, body = same_answer(
        demo,
        lambda: unclaim(ALICE, {"voucher_key": key(17)}),
        lambda: unclaim(ALICE, {"voucher_key": "ab" * 32}),
    )
    assert (status, body["error"]["code"]) == (404, 183)


def test_user_third_party_id_of_another_member(demo: DynamoDBStore) -> None:
    # bob names alice's voucher 11 by its third_party_id, and then a third_party_id nobody has
    bob = {**ALICE, "X-Spaaza-Session-User-Id": "1002", "X-Spaaza-Session-Key": "demo-spaaza-user-bob"}
    status, body = same_answer(
        demo,
        lambda: unclaim(bob, {"third_party_id": 3914599659}),
        lambda: unclaim(bob, {"third_party_id": 3914599999}),
    )
    assert (status, body["error"]["code"]) == (404, 183)


def activate(es_voucher_id: str) -> Any:
    return lambda: call(
        "activate_voucher", "POST", f"/client/users/corr-o/voucher/{es_voucher_id}/activate", headers=ES_ALICE
    )


@pytest.mark.parametrize(
    "foreign",
    [f"carwash::{serial(8)}", f"coffee::{serial(1)}", f"other-gift::{serial(18)}"],
    ids=["other-members-uuid", "other-definition-prefix", "other-chain"],
)
def test_es_voucher_id_naming_what_the_member_may_not_see(demo: DynamoDBStore, foreign: str) -> None:
    status, body = same_answer(
        demo, activate(foreign), activate("carwash::00000000-0000-4000-8000-00000000dead")
    )
    assert (status, body["errorCode"]) == (404, "VOUCHER_NOT_FOUND")


def consume(activity: str, item: str, voucher: str) -> Any:
    path = f"/api/v4/operator/activity/{activity}/item/{item}/voucher/{voucher}"
    return lambda: call("consume_voucher", "PUT", path, headers=ANNA)


@pytest.mark.parametrize(
    ("foreign", "missing"),
    [
        (("OTHER", "GIFT", serial(18)), ("NOPE", "GIFT", serial(18))),  # no grant vs no activity
        (("MILES", "COFFEE", serial(1)), ("MILES", "COFFEE", serial(999))),  # another item's voucher
        (("MILES", "CARWASH", serial(11)), ("MILES", "CARWASH", "not-a-voucher")),
    ],
    ids=["activity-without-grant", "voucher-of-another-item", "voucher-of-another-item-2"],
)
def test_thalamus_combinations_read_as_not_found(
    demo: DynamoDBStore, foreign: tuple[str, str, str], missing: tuple[str, str, str]
) -> None:
    status, body = same_answer(demo, consume(*foreign), consume(*missing))
    assert status == 404 and list(body["errors"].values()) == ["NotFound"]
