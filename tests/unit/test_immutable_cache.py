"""The warm container's cache of import-only records (shared/store/cache.py): what it keeps,
for how long, what it never keeps, and that it never changes a request's round trips."""

from __future__ import annotations

from typing import Any

import pytest

from shared.ports import DefinitionRef, SessionRef, TouchpointRef, VoucherRef
from shared.store.cache import ImmutableCache
from tests.conftest import serial

TTL = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cached(demo: Any) -> tuple[Any, Clock, list[str]]:
    """The demo table behind a store whose cache runs on a clock the test moves."""
    clock = Clock()
    demo.cache = ImmutableCache(TTL, clock=clock)
    calls: list[str] = []
    demo.client.meta.events.register(
        "provide-client-params.dynamodb", lambda model, **_: calls.append(model.name), unique_id="cache-count"
    )
    return demo, clock, calls


def _rename(store: Any, definition_id: str, name: str) -> None:
    """What a re-import that changes a definition's product name writes."""
    from shared.store import Keys, serialize

    store.client.update_item(
        TableName=store.table_name,
        Key=serialize(Keys.definition(definition_id)),
        UpdateExpression="SET product_name = :n",
        ExpressionAttributeValues=serialize({":n": name}),
    )


def test_a_reimported_definition_is_seen_within_the_ttl(cached: tuple[Any, Clock, list[str]]) -> None:
    store, clock, _calls = cached
    ref = DefinitionRef("carwash")
    before = store.read([VoucherRef(serial(1)), ref])[ref]
    _rename(store, "carwash", "Car Wash Deluxe")
    clock.now += TTL - 1
    assert store.read([VoucherRef(serial(1)), ref])[ref] == before  # kept: at most TTL old
    clock.now += 2
    assert store.read([VoucherRef(serial(1)), ref])[ref].product_name == "Car Wash Deluxe"


def test_sessions_and_vouchers_are_read_every_time(cached: tuple[Any, Clock, list[str]]) -> None:
    from shared.runtime import hash_token
    from shared.store import Keys, serialize

    store, _clock, _calls = cached
    session = SessionRef(hash_token("demo-es-member-alice"))
    voucher = VoucherRef(serial(1))
    first = store.read([session, voucher])
    assert first[session] is not None and first[voucher] is not None
    store.client.update_item(
        TableName=store.table_name,
        Key=serialize(Keys.session(session.token_hash)),
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues=serialize({":t": True}),
    )
    store.client.delete_item(TableName=store.table_name, Key=serialize(Keys.voucher(serial(1))))
    again = store.read([session, voucher])
    assert again[session].revoked and again[voucher] is None


def test_an_absent_record_is_not_remembered(cached: tuple[Any, Clock, list[str]]) -> None:
    from shared.store import Keys, serialize

    store, _clock, _calls = cached
    ref = TouchpointRef("NEW-DESK")
    assert store.read([ref])[ref] is None
    store.client.put_item(
        TableName=store.table_name,
        Item=serialize({**Keys.touchpoint("NEW-DESK"), "type": "touchpoint", "code": "NEW-DESK"}),
    )
    assert store.read([ref])[ref] is not None  # imported a moment ago: seen at once


def test_a_read_keeps_its_round_trip_and_names_only_what_can_change(
    cached: tuple[Any, Clock, list[str]],
) -> None:
    store, _clock, calls = cached
    keys: list[int] = []
    store.client.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: keys.append(sum(len(t["Keys"]) for t in params["RequestItems"].values())),
        unique_id="cache-keys",
    )
    refs = [VoucherRef(serial(1)), DefinitionRef("carwash"), TouchpointRef("BACKOFFICE")]
    cold = store.read(refs)
    warm = store.read(refs)
    assert all(cold[r] == warm[r] for r in refs)
    only_cached = [DefinitionRef("carwash"), TouchpointRef("BACKOFFICE")]
    store.read(only_cached)
    assert calls == ["BatchGetItem"] * 3  # one round trip each, whatever the container remembers
    assert keys == [3, 1, 1]  # warm: the voucher alone; all cached: one ref read afresh


def test_the_cache_is_bounded() -> None:
    clock = Clock()
    cache = ImmutableCache(TTL, clock=clock, max_entries=2)
    for n in range(3):
        cache.keep(DefinitionRef(f"d{n}"), n)
    kept, missing = cache.split([DefinitionRef("d0"), DefinitionRef("d1"), DefinitionRef("d2")])
    assert set(kept) == {DefinitionRef("d1"), DefinitionRef("d2")}  # the least recently used went
    assert missing == [DefinitionRef("d0")]


def test_zero_ttl_keeps_nothing_and_sessions_never() -> None:
    off = ImmutableCache(0)
    off.keep(DefinitionRef("d"), 1)
    assert off.split([DefinitionRef("d")]) == ({}, [DefinitionRef("d")])
    on = ImmutableCache(TTL)
    on.keep(SessionRef("h"), object())
    on.keep(VoucherRef("s"), object())
    assert on.split([SessionRef("h"), VoucherRef("s")])[0] == {}
