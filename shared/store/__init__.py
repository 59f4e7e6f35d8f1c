"""The voucher store: shared.ports.VoucherStore on DynamoDB, and the single table's keys,
field tables (shared/store/schema.py) and item codec (used by the importer, the local stack,
the bench and tests; never by a use case). The in-memory fake of the same port lives with
the tests (tests/fakes/memory_store.py)."""

from shared.ports import StoreUnavailable, WriteConflict
from shared.store.codec import Item, MissingAttribute, decode, deserialize, encode, serialize
from shared.store.dynamodb import DynamoDBStore, Table, TransactionCancelled
from shared.store.keys import GSI1, PK, SK, TTL, Key, Keys, key_id

__all__ = [
    "GSI1",
    "PK",
    "SK",
    "TTL",
    "DynamoDBStore",
    "Item",
    "Key",
    "Keys",
    "MissingAttribute",
    "StoreUnavailable",
    "Table",
    "TransactionCancelled",
    "WriteConflict",
    "decode",
    "deserialize",
    "encode",
    "key_id",
    "serialize",
]
