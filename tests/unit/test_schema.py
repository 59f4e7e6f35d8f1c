"""The field tables read what the previous release wrote, and write it again unchanged.

tests/unit/data/items_previous_release.json was captured from the code before the codec was
table-driven (commit 1fa2e5b): every item type as its hand-written encoders and the importer
wrote it over the demo data (`item`), the same item as the table hands it back (`stored`),
what the hand-written decoders read it as (`decoded`: the domain value, a voucher's guard and
its webhook form), and what `existing_for` built from those items (`existing`). The stored
format must not change: a difference here is a migration, not a refactor.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from infra.importer.loader import build_groups, existing_for
from infra.importer.model import Existing, ImportFile
from shared.domain import Activity, Chain, Status, Voucher
from shared.store import MissingAttribute, decode, deserialize, encode, serialize
from shared.store.codec import ItemType, attributes
from shared.store.keys import PK, SK, Keys, key_id
from shared.store.schema import (
    ACTIVITY,
    CHAIN,
    EVENT,
    GUARD,
    IDEMPOTENCY,
    ITEM_TYPES,
    MEMBER_ALIAS,
    READS_BY_TAG,
    THALAMUS_USER,
    VOUCHER,
    VOUCHER_ALIAS,
    event_item,
    guard_of,
)
from shared.webhooks.events import public_voucher
from shared.webhooks.subscribers import SUBSCRIBER
from tests.conftest import demo_document

GOLDEN = json.loads(
    (Path(__file__).parent / "data" / "items_previous_release.json").read_text(encoding="utf-8")
)
ENTRIES = GOLDEN["entries"]
# what a Ref reads, plus the types only the importer and the store's writes read
TYPES: dict[str, ItemType[Any]] = {
    "event": EVENT,
    "idempotency": IDEMPOTENCY,
    "webhook_subscriber": SUBSCRIBER,
    "thalamus_user": THALAMUS_USER,
}


def plain(v: Any) -> Any:
    """A value as the capture wrote it (JSON, with each record's class name)."""
    if isinstance(v, enum.Enum):
        return v.value
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "_asdict"):
        return {"__type__": type(v).__name__, **{k: plain(x) for k, x in v._asdict().items()}}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {
            "__type__": type(v).__name__,
            **{f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)},
        }
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set):
        return [plain(x) for x in v]
    return plain(v.model_dump())


def covers(new: Any, old: Any) -> bool:
    """`new` holds everything `old` held, equal (a record may have gained fields since)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and covers(new[k], x) for k, x in old.items())
    return (
        type(new) is type(old) and new == old
        if not isinstance(old, list)
        else (isinstance(new, list) and len(new) == len(old) and all(map(covers, new, old)))
    )


def same(a: Any, b: Any) -> bool:
    """Equal, types included (10 and 10.0 are different DynamoDB numbers as written)."""
    return json.dumps(a, sort_keys=True, ensure_ascii=False) == json.dumps(
        b, sort_keys=True, ensure_ascii=False
    )


def reencode(item: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """`stored` decoded by its table and encoded again, with what the store adds beside the
    value (an event's id and sequence, a voucher's update time and guard)."""
    kind = stored["type"]
    if kind == "event":
        return event_item(decode(EVENT, stored), stored["event_id"], stored.get("version"))
    if kind == "voucher":
        again = encode(VOUCHER, decode(VOUCHER, stored))
        guard = guard_of(stored)
        return {
            **again,
            **({"updated_at": stored["updated_at"]} if "updated_at" in stored else {}),
            **(attributes(GUARD, guard) if guard else {}),
        }
    t = TYPES.get(kind) or ITEM_TYPES[kind]
    key = {PK: stored[PK], SK: stored[SK]} if t.key is None else None
    return encode(t, decode(t, stored), key)


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['item']['type']}:{entry['item'][PK]}/{entry['item'][SK]}"


def test_the_capture_covers_every_item_type_the_service_writes() -> None:
    kinds = {e["item"]["type"] for e in ENTRIES}
    assert kinds >= set(READS_BY_TAG) | set(TYPES) | {"es_console", "spaaza_admin", "spaaza_privileged"}


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_an_item_of_the_previous_release_reads_as_it_did(entry: dict[str, Any]) -> None:
    stored, decoded = entry["stored"], entry["decoded"]
    if decoded is None:  # a principal: what existing_for reads of it is checked below
        return
    kind = stored["type"]
    value = READS_BY_TAG[kind](stored) if kind in READS_BY_TAG else decode(TYPES[kind], stored)
    assert covers(plain(value), decoded["value"])
    if kind == "voucher":
        assert plain(guard_of(stored)) == decoded["guard"]
        assert same(public_voucher(stored), decoded["public"])


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_an_item_of_the_previous_release_is_written_again_byte_for_byte(entry: dict[str, Any]) -> None:
    item, stored = entry["item"], entry["stored"]
    assert same(reencode(item, item), item)  # as the old encoder wrote it, before the table
    again = reencode(item, stored)
    assert serialize(again) == serialize(stored) or same(deserialize(serialize(again)), stored)


def test_the_importer_writes_the_demo_data_as_the_previous_release_did() -> None:
    f = ImportFile.model_validate(demo_document())
    now = datetime.fromisoformat(GOLDEN["now"])
    groups = build_groups(f, now=now, existing=Existing(voucher_keys=GOLDEN["voucher_keys"]))
    written = [i for g in groups for i in (*g.items, *([g.event] if g.event else []))]
    expected = [e["item"] for e in ENTRIES if e["source"] == "importer"]
    assert [key_id(i) for i in written] == [key_id(i) for i in expected]
    for new, old in zip(written, expected, strict=True):
        assert same(new, old), key_id(old)


class _Table:
    """The two reads existing_for makes, over the captured items."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = {key_id(i): i for i in items}

    def batch_get(self, keys: Any) -> dict[Any, dict[str, Any]]:
        return {key_id(k): self.items[key_id(k)] for k in keys if key_id(k) in self.items}

    def query_partition(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        return [i for (p, s), i in sorted(self.items.items()) if p == pk and s.startswith(prefix)]


def _sorted(records: list[Any]) -> list[str]:
    """Records in a stable order (existing_for lists them in the order the table answered)."""
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def _existing(ex: Existing) -> dict[str, Any]:
    sections: tuple[str, ...] = ("chains", "activities", "touchpoints", "definitions", "members")
    sections += ("thalamus_users", "console_users", "spaaza_admins", "privileged_clients")
    return {
        "records": {k: _sorted(plain(getattr(ex.records, k))) for k in sections},
        "catalog": sorted(list(x) for x in ex.catalog),
        "voucher_keys": ex.voucher_keys,
    }


@pytest.mark.parametrize("case", sorted(GOLDEN["existing"]))
def test_existing_records_read_back_as_the_previous_release_did(case: str) -> None:
    table = _Table([e["stored"] for e in ENTRIES if e["source"] == "importer"])
    golden = GOLDEN["existing"][case]
    got = _existing(existing_for(table, ImportFile.model_validate(golden["file"])))  # type: ignore[arg-type]
    want = golden["existing"]
    want = {**want, "records": {k: _sorted(v) for k, v in want["records"].items()}}
    assert got == want


@pytest.mark.parametrize(
    ("t", "item", "missing"),
    [
        (ACTIVITY, {**Keys.activity("MILES"), "type": "activity", "name": "Miles"}, "activity_code"),
        (CHAIN, {**Keys.chain(1), "type": "chain", "name": "c"}, "chain_id"),
        (MEMBER_ALIAS, {**Keys.member_alias("user_id", 5), "type": "member_alias"}, "member_id"),
        (
            VOUCHER_ALIAS,
            {**Keys.voucher_alias("voucher_id", 5), "type": "voucher_alias", "serial": "s"},
            "definition_id",
        ),
        (
            VOUCHER,
            {**Keys.voucher("s"), "type": "voucher", "serial": "s", "definition_id": "d", "version": 1},
            "status",
        ),
    ],
)
def test_a_missing_required_attribute_raises_naming_type_and_attribute(
    t: Any, item: Any, missing: str
) -> None:
    with pytest.raises(MissingAttribute) as raised:
        decode(t, item)
    assert (raised.value.item_type, raised.value.attribute) == (t.tag, missing)
    assert t.tag in str(raised.value) and missing in str(raised.value)


def test_an_absent_attribute_with_a_declared_default_reads_as_it() -> None:
    item = {
        **Keys.voucher("s"),
        "type": "voucher",
        "serial": "s",
        "definition_id": "d",
        "status": "AVAILABLE",
        "version": 1,
    }
    assert decode(VOUCHER, item) == Voucher("s", "d", Status.AVAILABLE, 1)  # not locked, nothing redeemed
    assert decode(CHAIN, {**Keys.chain(1), "type": "chain", "chain_id": 1}) == Chain(1)
    assert decode(ACTIVITY, {**Keys.activity("A"), "type": "activity", "activity_code": "A"}) == Activity("A")


def test_a_payload_allow_list_names_only_declared_attributes() -> None:
    with pytest.raises(KeyError, match="voucher items have no attribute 'expires_at'"):
        VOUCHER.attrs("serial", "expires_at")  # the domain name, not the attribute
