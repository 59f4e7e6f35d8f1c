"""VoucherData-<stage>: the stateful resources (DynamoDB table and its stream, provider secret).

Kept apart from the API stack so functions and API can be replaced, renamed or torn down
without ever putting the table at risk.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.stacks.config import StageConfig
from infra.stacks.nag import acknowledge, cfn_resource
from shared.table_schema import TABLE

# Only string keys exist in TABLE today; mapping kept explicit so a new type fails loudly.
_ATTRIBUTE_TYPE = dynamodb.AttributeType.STRING


def _attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPE)


class DataStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, termination_protection=config.retain, **kwargs)
        self.config = config

        self.table = dynamodb.TableV2(
            self,
            "VoucherTable",
            partition_key=_attribute(TABLE.partition_key),
            sort_key=_attribute(TABLE.sort_key),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=TABLE.ttl_attribute,
            # The webhook delivery function reads it (VoucherApi-<stage>, infra/stacks/webhooks.py).
            dynamo_stream=dynamodb.StreamViewType[TABLE.stream_view_type],
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_attribute(index.partition_key),
                    sort_key=_attribute(index.sort_key),
                    projection_type=dynamodb.ProjectionType.INCLUDE,
                    non_key_attributes=list(index.projected),
                )
                for index in TABLE.global_indexes
            ],
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=config.retain,
            removal_policy=config.cdk_removal_policy,
        )
        cdk.CfnOutput(
            self,
            "TableName",
            value=self.table.table_name,
            description='DynamoDB table name (make load ARGS="--table <TableName> file.json")',
        )

        self.provider_secret: secretsmanager.Secret | None = None
        if config.creates_secret:
            # Operators put {"KESSELTRONICS": {"api_key": "...", "endpoint": "https://..."}} here
            # (docs/deploy.md); the generated placeholder only makes the secret exist.
            self.provider_secret = secretsmanager.Secret(
                self,
                "ProviderSecret",
                secret_name=config.secret_name,
                description="Voucher provider credentials: {PROVIDER: {api_key, endpoint}}",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template="{}",  # noqa: S106 - not a password: an empty JSON object
                    generate_string_key="placeholder",
                ),
                removal_policy=config.cdk_removal_policy,
            )
            acknowledge(
                cfn_resource(self.provider_secret),
                "SMG4",
                "Third-party provider API key: issued and rotated by the vendor's own process, "
                "then written here with put-secret-value; Secrets Manager cannot rotate it.",
            )
            cdk.CfnOutput(self, "ProviderSecretName", value=config.secret_name)
