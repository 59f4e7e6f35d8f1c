"""A faster `demo` for this package: the demo items are built once by the real importer
(infra.importer.loader.build_groups) and written per test with BatchWriteItem, skipping
the importer's per-test validation and plan read (~0.5 s a test otherwise). The IMPORTED
audit events are not written: nothing here reads them."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.conftest import demo_document


@cache
def _demo_items() -> tuple[dict[str, Any], ...]:
    from infra.importer import validate
    from infra.importer.loader import build_groups
    from shared.store import serialize

    parsed, problems = validate(demo_document())
    assert parsed is not None and not problems, problems
    items: list[dict[str, Any]] = []
    for group in build_groups(parsed):
        items += group.items
    return tuple(serialize(item) for item in items)


@pytest.fixture
def demo(store: Any) -> Any:
    items = list(_demo_items())
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        store.client.batch_write_item(
            RequestItems={store.table_name: [{"PutRequest": {"Item": i}} for i in chunk]}
        )
    return store


class _NoDynamoDB:
    """A client that fails any call: requests refused while parsing must not touch the table."""

    def __getattr__(self, operation: str) -> Any:
        raise AssertionError(f"DynamoDB {operation} called for a request refused before any read")


@pytest.fixture
def offline() -> Any:
    from shared.runtime import RUNTIME, Settings
    from shared.store import DynamoDBStore

    RUNTIME.reset(store=DynamoDBStore(_NoDynamoDB(), "unused"), settings=Settings.from_env())
    yield
    RUNTIME.reset()
