"""The voucher store: shared.ports.VoucherStore on DynamoDB, and the single table's keys and
item codec (used by the importer, the local stack, the bench and tests; never by a use case).
The in-memory fake of the same port lives with the tests (tests/fakes/memory_store.py)."""

from shared.ports import StoreUnavailable, WriteConflict
from shared.store.codec import (
    MEMBER_IDENTIFIERS,
    Item,
    definition_to_item,
    deserialize,
    event_to_item,
    item_to_definition,
    item_to_member,
    item_to_session,
    item_to_voucher,
    member_to_item,
    serialize,
    session_to_item,
    voucher_to_item,
)
from shared.store.dynamodb import DynamoDBStore, Table, TransactionCancelled
from shared.store.keys import GSI1, PK, SK, TTL, Key, Keys, key_id

__all__ = [
    "GSI1",
    "MEMBER_IDENTIFIERS",
    "PK",
    "SK",
    "TTL",
    "DynamoDBStore",
    "Item",
    "Key",
    "Keys",
    "StoreUnavailable",
    "Table",
    "TransactionCancelled",
    "WriteConflict",
    "definition_to_item",
    "deserialize",
    "event_to_item",
    "item_to_definition",
    "item_to_member",
    "item_to_session",
    "item_to_voucher",
    "key_id",
    "member_to_item",
    "serialize",
    "session_to_item",
    "voucher_to_item",
]
