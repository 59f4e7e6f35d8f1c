"""Helpers for the read-side tests: DynamoDB round trips counted at the client (every API
call the handlers make, whatever the layer above does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


class Calls:
    def __init__(self) -> None:
        self.operations: list[str] = []
        self.params: list[dict[str, Any]] = []

    def __call__(self, event_name: str, params: dict[str, Any] | None = None, **_kwargs: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])
        self.params.append(params or {})

    def reset(self) -> None:
        self.operations.clear()
        self.params.clear()

    def keys_read(self) -> list[str]:
        """The pk of every key the BatchGetItem calls asked for, in order."""
        return [
            key["pk"]["S"]
            for operation, params in zip(self.operations, self.params, strict=True)
            if operation == "BatchGetItem"
            for table in params["RequestItems"].values()
            for key in table["Keys"]
        ]

    @property
    def count(self) -> int:
        return len(self.operations)


@pytest.fixture
def calls(demo: Any) -> Iterator[Calls]:
    """Counts the DynamoDB calls made through the demo table's client from now on."""
    counter = Calls()
    demo.client.meta.events.register("before-parameter-build.dynamodb", counter)
    yield counter
    demo.client.meta.events.unregister("before-parameter-build.dynamodb", counter)
