"""Helpers for the read-side tests: DynamoDB round trips counted at the client (every API
call the handlers make, whatever the layer above does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


class Calls:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, event_name: str, **_kwargs: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])

    def reset(self) -> None:
        self.operations.clear()

    @property
    def count(self) -> int:
        return len(self.operations)


@pytest.fixture
def calls(demo: Any) -> Iterator[Calls]:
    """Counts the DynamoDB calls made through the demo table's client from now on."""
    counter = Calls()
    demo.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    demo.client.meta.events.unregister("before-call.dynamodb", counter)
