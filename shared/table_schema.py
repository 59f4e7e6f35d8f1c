"""The single-table key schema, read by the CDK table, the data layer, tests and the local stack.

One definition means the table moto serves locally is the table CDK deploys: a test
compares the synthesized template against `TABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSchema:
    partition_key: str
    sort_key: str
    ttl_attribute: str
    global_indexes: tuple[Index, ...]

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
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.global_indexes
            ],
        }


# pk/sk are opaque strings built only by shared/store.py. gsi1 lists a member's vouchers.
# expires_at (epoch seconds) is the TTL attribute of sessions and activation markers; code
# never trusts TTL deletion (it lags) and always compares expires_at itself.
TABLE = TableSchema(
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expires_at",
    global_indexes=(Index("gsi1", "gsi1pk", "gsi1sk"),),
)


def create_table(client: Any, table_name: str) -> None:
    """Create the table (and enable TTL) through any DynamoDB client: moto, local or AWS."""
    client.create_table(**TABLE.create_table_kwargs(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
    )
