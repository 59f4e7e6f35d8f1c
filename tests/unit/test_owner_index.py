"""The owner index (gsi1) sorted in the list's order, on every store: the in-memory fake,
moto's server and DynamoDB Local.

A list page used to Query all of a member's index entries and sort them in the Lambda; now
gsi1's sort key is the list's order, so `vouchers_of` reads from a position, inside an
issue-date window, `limit` entries, and a page's index read follows the page. These tests
pin the order, the bounds and the cost to what the in-memory fake says, and the re-key tool
that brings a table written by the previous version to the new keys."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.importer.backfill import DERIVED, backfill, backfill_item
from shared.domain import Definition, Status, Voucher
from shared.ports import ORDER_MS_BOUND, Owned, Position
from shared.store import GSI1, DynamoDBStore, Keys, encode, serialize
from shared.store.schema import DEFINITION, VOUCHER
from shared.table_schema import create_table
from shared.usecases.listing import page_of
from tests.conftest import engine_client
from tests.fakes.memory_store import InMemoryStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MEMBER = "m-1"


def _vouchers() -> list[Voucher]:
    """60 vouchers of one member over 3 definitions: ties on the same millisecond, undated
    ones, one a microsecond-rounded issue instant could get wrong; and another member's."""
    rng = random.Random(7)
    issued: list[datetime | None] = [T0 - timedelta(milliseconds=rng.randrange(0, 5000)) for _ in range(48)]
    issued += [T0, T0, T0 - timedelta(milliseconds=1)]  # three on the boundary milliseconds
    issued += [None] * 9
    vouchers = [
        Voucher(
            serial=f"s-{uuid.UUID(int=rng.getrandbits(128))}",
            definition_id=f"d{n % 3}",
            status=Status.AVAILABLE if n % 2 else Status.REDEEMED,
            version=1,
            owner_member_id=MEMBER,
            issued_at=at,
        )
        for n, at in enumerate(issued)
    ]
    vouchers.append(Voucher("s-other", "d0", Status.AVAILABLE, 1, owner_member_id="m-2", issued_at=T0))
    return vouchers


VOUCHERS = _vouchers()
DEFINITIONS = [Definition(f"d{n}", f"product {n}", "VOUCHER") for n in range(3)]
ITEMS = [encode(VOUCHER, v) for v in VOUCHERS] + [encode(DEFINITION, d) for d in DEFINITIONS]
OWNED = sorted(
    (Owned(v.serial, v.definition_id, v.issued_at) for v in VOUCHERS if v.owner_member_id == MEMBER),
    key=Position.of,
)


class Counted:
    """The DynamoDB calls a store makes, with what each Query returned (Count and Limit)."""

    def __init__(self, client: Any) -> None:
        self.queries: list[tuple[int | None, int]] = []
        self.operations: list[str] = []
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb.Query", self._after)
        self._limit: int | None = None

    def _before(self, event_name: str, params: dict[str, Any], **_kwargs: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])
        self._limit = params.get("Limit")

    def _after(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        self.queries.append((self._limit, int(parsed.get("Count", 0))))


@pytest.fixture(params=["memory", "moto", "dynamodb_local"])
def listed(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Counted | None]]:
    """A store holding VOUCHERS and DEFINITIONS: the in-memory fake, or a fresh table on an
    engine server (with its calls counted)."""
    if request.param == "memory":
        yield InMemoryStore.from_items(ITEMS), None
        return
    client = engine_client(
        request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")
    )
    name = "owner-" + re.sub(r"[^A-Za-z0-9-]", "-", request.node.name)[:40] + "-" + uuid.uuid4().hex[:6]
    create_table(client, name)
    for item in ITEMS:
        client.put_item(TableName=name, Item=serialize(item))
    yield DynamoDBStore(client, name), Counted(client)
    client.delete_table(TableName=name)


def test_the_sort_key_orders_as_the_list_does() -> None:
    """DynamoDB compares string keys as UTF-8 bytes; the key of each position sorts exactly
    as the position does, over the whole datetime range and serials beyond ASCII."""
    rng = random.Random(11)
    alphabet = "09AZaz#$-_~\u00e9\u4e2d\U0001f600"
    positions = [Position(True, 0, "".join(rng.choices(alphabet, k=rng.randint(1, 6)))) for _ in range(200)]
    for _ in range(800):
        at = datetime(1, 1, 1, tzinfo=UTC) + timedelta(milliseconds=rng.randrange(0, 315_537_897_599_999))
        serial = "".join(rng.choices(alphabet, k=rng.randint(1, 6)))
        positions.append(Position.of(Owned(serial, "d", at)))
    by_key = sorted(positions, key=lambda p: Keys.owner_order(p).encode())
    assert by_key == sorted(positions)
    assert all(abs(p.minus_issued_ms) < ORDER_MS_BOUND for p in positions)
    assert len({len(Keys.owner_order(p)) - len(p.serial) for p in positions}) == 1  # fixed width


def test_a_voucher_item_carries_its_ordered_owner_entry() -> None:
    dated = Voucher("s-a", "d0", Status.AVAILABLE, 1, owner_member_id=MEMBER, issued_at=T0)
    item = encode(VOUCHER, dated)
    assert item[GSI1.partition_key] == f"MEMBER#{MEMBER}"
    # 2026-03-01T12:00Z is 1772366400000 ms: 10**15 - that, in 16 digits
    assert item[GSI1.sort_key] == "0#0998227633600000#s-a"
    undated = encode(VOUCHER, Voucher("s-b", "d0", Status.AVAILABLE, 1, owner_member_id=MEMBER))
    assert undated[GSI1.sort_key] == "1#1000000000000000#s-b"
    unissued = encode(VOUCHER, Voucher("s-x", "d0", Status.UNASSIGNED, 1))
    assert GSI1.partition_key not in unissued and GSI1.sort_key not in unissued


def test_the_index_lists_in_order_from_any_position(listed: Any) -> None:
    store, counted = listed
    assert store.vouchers_of(MEMBER) == OWNED
    assert store.vouchers_of("nobody") == [] and store.vouchers_of("") == []
    for start in (0, 1, 17, 47, 50, 51, 58, 59):
        after = Position.of(OWNED[start])
        assert store.vouchers_of(MEMBER, after=after, limit=5) == OWNED[start + 1 : start + 6]
    # a position between entries (a token whose voucher is not the member's) is a place too
    between = Position(False, Position.of(OWNED[10]).minus_issued_ms, OWNED[10].serial + "0")
    assert (
        store.vouchers_of(MEMBER, after=between, limit=3)
        == [o for o in OWNED if Position.of(o) > between][:3]
    )
    if counted is not None:  # each bounded read asked DynamoDB for exactly its limit
        assert all(limit is not None and count <= limit <= 6 for limit, count in counted.queries[3:])


def test_issue_windows_are_inclusive_to_the_millisecond(listed: Any) -> None:
    store, _ = listed
    dated = [o for o in OWNED if o.issued_at is not None]

    def window(
        newest: datetime | None, oldest: datetime | None, after: Position | None = None
    ) -> list[Owned]:
        return [
            o
            for o in dated
            if (newest is None or o.issued_at <= newest)  # type: ignore[operator]
            and (oldest is None or o.issued_at >= oldest)  # type: ignore[operator]
            and (after is None or Position.of(o) > after)
        ]

    middle = dated[20].issued_at
    assert middle is not None
    cases = [
        (T0, T0),  # one millisecond, two vouchers
        (T0 - timedelta(milliseconds=1), None),
        (None, T0 - timedelta(milliseconds=1)),
        (middle, middle - timedelta(seconds=2)),
        (T0 + timedelta(microseconds=999), T0 - timedelta(microseconds=1)),  # rounds inward
        (T0 - timedelta(microseconds=1), None),  # excludes T0's own vouchers
        (None, T0 + timedelta(microseconds=1)),  # likewise
        (T0 - timedelta(days=1), T0 - timedelta(days=2)),  # nothing
    ]
    for newest, oldest in cases:
        assert store.vouchers_of(MEMBER, newest=newest, oldest=oldest) == window(newest, oldest), (
            newest,
            oldest,
        )
    # a position before, inside and past a window
    newest, oldest = middle, middle - timedelta(seconds=2)
    for after in (
        Position.of(OWNED[0]),
        Position.of(dated[25]),
        Position.of(dated[-1]),
        Position.of(OWNED[-1]),
    ):
        got = store.vouchers_of(MEMBER, newest=newest, oldest=oldest, after=after, limit=4)
        assert got == window(newest, oldest, after)[:4], after


def _every_page(store: Any, limit: int, **wanted: Any) -> list[str]:
    """The serials of every page of MEMBER's list, following each page's `after`."""
    seen: list[str] = []
    after = None
    for _ in range(30):
        page = page_of(store, member_id=MEMBER, limit=limit, after=after, **wanted)
        seen += [item.voucher.serial for item in page.items]
        after = page.after
        if after is None:
            return seen
    raise AssertionError("paging never ended")


def test_pages_cover_the_list_once_and_read_what_they_examine(listed: Any) -> None:
    store, counted = listed
    assert _every_page(store, 7) == [o.serial for o in OWNED]
    if counted is not None:  # 9 pages; each Query read its 7 entries and the one that says more
        assert [count for _, count in counted.queries] == [8] * 8 + [4]
        assert counted.operations == ["Query", "BatchGetItem"] * 9


def test_a_filtered_page_in_a_window_examines_only_its_candidates(listed: Any) -> None:
    store, counted = listed
    newest, oldest = T0, T0 - timedelta(seconds=3)
    expected = [
        o.serial
        for o in OWNED
        if o.issued_at is not None
        and oldest <= o.issued_at <= newest
        and next(v for v in VOUCHERS if v.serial == o.serial).status is Status.AVAILABLE
    ]
    keep = lambda v, _d: v.status is Status.AVAILABLE  # noqa: E731
    assert _every_page(store, 4, newest=newest, oldest=oldest, keep=keep, selective=True) == expected
    if counted is not None:  # the first read of a page examines 2 x 4 candidates, plus one
        assert counted.queries[0] == (9, 9)
        assert all(count <= limit for limit, count in counted.queries)


# --------------------------------------------------------------------------- backfill


def _old_keyed(client: Any, name: str) -> None:
    """The table as the previous version wrote it: gsi1sk = VOUCHER#<serial>."""
    for v in VOUCHERS:
        item = encode(VOUCHER, v)
        item[GSI1.sort_key] = f"VOUCHER#{v.serial}"
        client.put_item(TableName=name, Item=serialize({**item, "updated_at": "2026-01-01T00:00:00.000Z"}))


@pytest.mark.parametrize("engine_name", ["moto", "dynamodb_local"])
def test_backfill_brings_an_old_table_to_the_list_order_and_touches_nothing_else(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    client = engine_client(
        request.getfixturevalue("moto_server" if engine_name == "moto" else "dynamodb_local")
    )
    name = f"backfill-{engine_name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    create_table(client, name)
    _old_keyed(client, name)
    for d in DEFINITIONS:
        client.put_item(TableName=name, Item=serialize(encode(DEFINITION, d)))
    store = DynamoDBStore(client, name)
    before = {i["pk"]["S"]: i for i in client.scan(TableName=name, ConsistentRead=True)["Items"]}

    dry = backfill(client, name, segments=2, dry_run=True)
    assert dry.counts == {"scanned": len(VOUCHERS), "written": len(VOUCHERS)}
    assert store.vouchers_of(MEMBER) != OWNED  # the old keys' order: what the backfill is for

    report = backfill(client, name, segments=3)
    assert report.counts == {"scanned": len(VOUCHERS), "written": len(VOUCHERS)}
    assert store.vouchers_of(MEMBER) == OWNED
    after = {i["pk"]["S"]: i for i in client.scan(TableName=name, ConsistentRead=True)["Items"]}
    for pk, item in after.items():  # only the sort key moved: version, updated_at, state kept
        assert {k: v for k, v in item.items() if k != GSI1.sort_key} == {
            k: v for k, v in before[pk].items() if k != GSI1.sort_key
        }

    again = backfill(client, name, segments=1)
    assert again.counts == {"scanned": len(VOUCHERS), "current": len(VOUCHERS)}
    client.delete_table(TableName=name)


def test_backfill_leaves_an_item_that_changed_under_it() -> None:
    """The write holds only while the item still has the sources and the key the scan saw."""
    owner_index = DERIVED["owner-index"]

    class Refusing:
        def update_item(self, **kwargs: Any) -> None:
            from botocore.exceptions import ClientError

            names = kwargs["ExpressionAttributeNames"]
            held = {
                names[c.split()[0].removeprefix("attribute_not_exists(").rstrip(")")]
                for c in kwargs["ConditionExpression"].split(" AND ")
            }
            assert held >= {"serial", "owner_member_id", "issued_at", GSI1.sort_key}
            assert {"S": f"VOUCHER#{VOUCHERS[0].serial}"} in kwargs["ExpressionAttributeValues"].values()
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")

    item = {**encode(VOUCHER, VOUCHERS[0]), GSI1.sort_key: f"VOUCHER#{VOUCHERS[0].serial}"}
    assert backfill_item(Refusing(), "t", owner_index, item) == "moved"
    assert backfill_item(Refusing(), "t", owner_index, encode(VOUCHER, VOUCHERS[0])) == "current"


def test_a_reimport_over_old_keys_is_unchanged_not_a_conflict(demo: DynamoDBStore) -> None:
    """The index keys are derived from owner, issue date and serial (which the importer does
    compare): a table keyed by the previous version re-imports clean, and backfill re-keys it."""
    from infra.importer import load, validate
    from tests.conftest import LOADED_SECRETS, demo_document, serial

    key = serialize(Keys.voucher(serial(1)))
    demo.client.update_item(
        TableName=demo.table_name,
        Key=key,
        UpdateExpression="SET #gs = :old",
        ExpressionAttributeNames={"#gs": GSI1.sort_key},
        ExpressionAttributeValues={":old": {"S": f"VOUCHER#{serial(1)}"}},
    )
    parsed, problems = validate(demo_document())
    assert parsed is not None and not problems
    report = load(demo, parsed, put_secret=LOADED_SECRETS.__setitem__)
    assert not report.conflicts and report.created == 0
    assert backfill(demo.client, demo.table_name, segments=1).counts["written"] == 1
