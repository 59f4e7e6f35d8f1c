"""The single-table key schema, read by the CDK table, the data layer, tests and the local stack.

One definition means the table moto serves locally is the table CDK deploys: a test
compares the synthesized template against `TABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Index:
    """A GSI projecting only `projected` (INCLUDE): an index is written whenever a projected
    attribute of an item changes, so an index that projects only what never changes after
    issue costs no write on a state change (with ALL, every consume/activation/unclaim paid
    one more WRU for the index)."""

    name: str
    partition_key: str
    sort_key: str
    projected: tuple[str, ...]


@dataclass(frozen=True)
class TableSchema:
    partition_key: str
    sort_key: str
    ttl_attribute: str
    global_indexes: tuple[Index, ...]
    # The change stream the webhook delivery reads (docs/webhooks.md): new images only, since
    # a transition's voucher image and its audit event item carry all a webhook needs.
    stream_view_type: str = "NEW_IMAGE"

    @property
    def attribute_names(self) -> tuple[str, ...]:
        names = [self.partition_key, self.sort_key]
        for index in self.global_indexes:
            names += [index.partition_key, index.sort_key]
        return tuple(names)

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """boto3 `create_table` arguments for an on-demand table with this schema."""
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name in self.attribute_names
            ],
            "KeySchema": [
                {"AttributeName": self.partition_key, "KeyType": "HASH"},
                {"AttributeName": self.sort_key, "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
                }
                for index in self.global_indexes
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": self.stream_view_type},
        }


# pk/sk are opaque strings built only by shared/store/keys.py. gsi1 lists a member's vouchers:
# which voucher, of which definition, issued when (never their state), sorted in the list's
# order (gsi1sk: Keys.owner_order), so a page reads only its own entries. expires_at (epoch
# seconds) is the TTL attribute of sessions; code never trusts TTL deletion (it lags) and
# always compares expires_at itself.
TABLE = TableSchema(
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expires_at",
    global_indexes=(Index("gsi1", "gsi1pk", "gsi1sk", ("serial", "definition_id", "issued_at")),),
)


def create_table(client: Any, table_name: str) -> None:
    """Create the table (and enable TTL) through any DynamoDB client: moto, local or AWS."""
    client.create_table(**TABLE.create_table_kwargs(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
    )
