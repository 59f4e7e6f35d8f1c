"""Make moto's DynamoDB backend linearizable under concurrent requests.

moto's `transact_write_items` deep-copies the tables before a transaction and restores that
copy when the transaction is cancelled. With several requests in flight (moto's threaded
server), a cancelled transaction therefore restores a snapshot taken *before* another
request committed, resurrecting old state: we measured 2-3 "winners" out of 16 racing
consumes, and two audit events against one version bump. Real DynamoDB serializes
conflicting writes per item, so this module puts every backend operation under one lock:
requests still interleave freely between operations (which is what the race tests need),
but each operation is atomic, as in DynamoDB.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_INSTALLED = False

OPERATIONS = (
    "batch_get_item",
    "batch_write_item",
    "create_table",
    "delete_item",
    "delete_table",
    "get_item",
    "put_item",
    "query",
    "scan",
    "transact_get_items",
    "transact_write_items",
    "update_item",
    "update_time_to_live",
)


def install() -> None:
    """Idempotent: wrap the backend's operations in one process-wide lock."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in OPERATIONS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))
    _INSTALLED = True
