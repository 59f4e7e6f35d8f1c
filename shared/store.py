"""Single-table data access: the only module that knows key formats and DynamoDB expressions.

Access patterns (docs/data-model.md has the full table):
  * hydrate a request: one BatchGetItem (consistent) of every key the request names
  * change state: one TransactWriteItems = voucher update conditioned on the version read
    + its audit event + condition checks on the credentials the decision relied on
  * activation marker: conditional PutItem / DeleteItem of a short-lived lock item

Callers get domain objects back, and failures as typed exceptions mapped from the
transaction's CancellationReasons (by item role, never by parsing message strings).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.domain import (
    Activation,
    AuditEvent,
    Consumption,
    Definition,
    Member,
    PrincipalKind,
    ProviderConfig,
    Session,
    Status,
    Transition,
    Voucher,
    format_instant,
    parse_instant,
)
from shared.table_schema import TABLE

Key = dict[str, str]
Item = dict[str, Any]

PK = TABLE.partition_key
SK = TABLE.sort_key
TTL = TABLE.ttl_attribute
GSI1 = TABLE.global_indexes[0]

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


class StoreUnavailable(Exception):
    """DynamoDB stayed throttled/unavailable after retries: retryable by the client."""


class WriteConflict(Exception):
    """Another transaction was in flight on the same items (TransactionConflict)."""


class ConditionFailed(Exception):
    """A condition in a write failed; `role` names which item, `item` is its current value."""

    def __init__(self, role: str, item: Item | None) -> None:
        super().__init__(f"condition failed on {role}")
        self.role = role
        self.item = item


# --------------------------------------------------------------------------- keys


class Keys:
    """Every key format of the table. Nothing outside this class builds a pk or sk."""

    @staticmethod
    def _k(pk: str, sk: str) -> Key:
        return {PK: pk, SK: sk}

    @staticmethod
    def voucher(serial: str) -> Key:
        return Keys._k(f"VOUCHER#{serial}", "VOUCHER")

    @staticmethod
    def activation_lock(serial: str) -> Key:
        return Keys._k(f"VOUCHER#{serial}", "LOCK#ACTIVATION")

    @staticmethod
    def event(serial: str, at: datetime, event_id: str) -> Key:
        return Keys._k(f"VOUCHER#{serial}", f"EVENT#{format_instant(at)}#{event_id}")

    @staticmethod
    def event_prefix() -> str:
        return "EVENT#"

    @staticmethod
    def voucher_alias(kind: str, value: str | int, chain_id: int | None = None) -> Key:
        """Spaaza identities: voucher_key, voucher_id, third_party_id (per chain)."""
        if kind == "third_party_id":
            return Keys._k(f"VOUCHERID#third_party_id#{chain_id}#{value}", "ALIAS")
        return Keys._k(f"VOUCHERID#{kind}#{value}", "ALIAS")

    @staticmethod
    def definition(definition_id: str) -> Key:
        return Keys._k(f"DEF#{definition_id}", "DEFINITION")

    @staticmethod
    def activity(activity_code: str) -> Key:
        return Keys._k(f"ACTIVITY#{activity_code}", "ACTIVITY")

    @staticmethod
    def catalog_item(activity_code: str, item_code: str) -> Key:
        return Keys._k(f"ACTIVITY#{activity_code}", f"ITEM#{item_code}")

    @staticmethod
    def touchpoint(code: str) -> Key:
        return Keys._k(f"TOUCHPOINT#{code}", "TOUCHPOINT")

    @staticmethod
    def operator_grant(principal_id: str, activity_code: str, item_code: str) -> Key:
        return Keys._k(f"OPERATOR#{principal_id}", f"GRANT#{activity_code}#{item_code}")

    @staticmethod
    def member(member_id: str) -> Key:
        return Keys._k(f"MEMBER#{member_id}", "MEMBER")

    @staticmethod
    def member_alias(kind: str, value: str | int) -> Key:
        """Spaaza end-user identifiers: user_id, member_number, username (lower-cased),
        authentication_point_identifier, auxiliary_identifier."""
        if kind == "username":
            value = str(value).lower()
        return Keys._k(f"MEMBERID#{kind}#{value}", "ALIAS")

    @staticmethod
    def chain(chain_id: int) -> Key:
        return Keys._k(f"CHAIN#{chain_id}", "CHAIN")

    @staticmethod
    def app(hostname: str) -> Key:
        return Keys._k(f"APP#{hostname.lower()}", "APP")

    @staticmethod
    def spaaza_admin_grant(user_id: int, chain_id: int) -> Key:
        return Keys._k(f"SPAAZA_ADMIN#{user_id}", f"CHAIN#{chain_id}")

    @staticmethod
    def principal(kind: str, principal_id: str | int) -> Key:
        """Thalamus users, console users, Spaaza admins and privileged clients."""
        return Keys._k(f"PRINCIPAL#{kind}#{principal_id}", "PRINCIPAL")

    @staticmethod
    def session(token_hash: str) -> Key:
        return Keys._k(f"SESSION#{token_hash}", "SESSION")

    @staticmethod
    def of(item: Mapping[str, Any]) -> tuple[str, str]:
        return (str(item[PK]), str(item[SK]))


def key_id(key: Key) -> tuple[str, str]:
    return (key[PK], key[SK])


# --------------------------------------------------------------------------- (de)serialization


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


_SERIALIZER: Any = None
_DESERIALIZER: Any = None


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    global _SERIALIZER
    if _SERIALIZER is None:
        from boto3.dynamodb.types import TypeSerializer

        _SERIALIZER = TypeSerializer()
    return {k: _SERIALIZER.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    global _DESERIALIZER
    if _DESERIALIZER is None:
        from boto3.dynamodb.types import TypeDeserializer

        _DESERIALIZER = TypeDeserializer()
    return {k: _from_dynamo(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


# --------------------------------------------------------------------------- item <-> entity


def voucher_to_item(v: Voucher) -> Item:
    item: Item = {
        **Keys.voucher(v.serial),
        "type": "voucher",
        "serial": v.serial,
        "definition_id": v.definition_id,
        "status": v.status.value,
        "version": v.version,
        "owner_member_id": v.owner_member_id,
        "valid_until": format_instant(v.expires_at) if v.expires_at else None,
        "locked": v.locked,
        "activity_code": v.activity_code,
        "item_code": v.item_code,
        "voucher_key": v.voucher_key,
        "voucher_id": v.voucher_id,
        "third_party_id": v.third_party_id,
        "chain_id": v.chain_id,
        "currency_id": v.currency_id,
        "currency_symbol": v.currency_symbol,
        "amount_original": v.amount_original,
        "amount_redeemed": v.amount_redeemed,
        "text": v.text,
        "activation": _activation_to_map(v.activation) if v.activation else None,
        "consumption": _consumption_to_map(v.consumption) if v.consumption else None,
    }
    if v.owner_member_id:
        item[GSI1.partition_key] = f"MEMBER#{v.owner_member_id}"
        item[GSI1.sort_key] = f"VOUCHER#{v.serial}"
    return {k: val for k, val in item.items() if val is not None}


def _activation_to_map(a: Activation) -> Item:
    return {
        "activated_at": format_instant(a.activated_at),
        "provider": a.provider,
        "code_expiry": format_instant(a.code_expiry),
        "authorization_code": a.authorization_code,
        "previous_status": a.previous_status.value,
        "reference": a.reference,
    }


def _consumption_to_map(c: Consumption) -> Item:
    return {
        "consumed_at": format_instant(c.consumed_at),
        "operator_id": c.operator_id,
        "touchpoint": c.touchpoint,
        "parameters": dict(c.parameters),
    }


def item_to_voucher(item: Mapping[str, Any]) -> Voucher:
    activation = item.get("activation")
    consumption = item.get("consumption")
    return Voucher(
        serial=item["serial"],
        definition_id=item["definition_id"],
        status=Status(item["status"]),
        version=int(item["version"]),
        owner_member_id=item.get("owner_member_id"),
        expires_at=parse_instant(item["valid_until"]) if item.get("valid_until") else None,
        locked=bool(item.get("locked", False)),
        activity_code=item.get("activity_code"),
        item_code=item.get("item_code"),
        voucher_key=item.get("voucher_key"),
        voucher_id=item.get("voucher_id"),
        third_party_id=item.get("third_party_id"),
        chain_id=item.get("chain_id"),
        currency_id=item.get("currency_id"),
        currency_symbol=item.get("currency_symbol"),
        amount_original=item.get("amount_original", 0),
        amount_redeemed=item.get("amount_redeemed", 0),
        text=item.get("text"),
        activation=Activation(
            activated_at=parse_instant(activation["activated_at"]),
            provider=activation["provider"],
            code_expiry=parse_instant(activation["code_expiry"]),
            authorization_code=activation["authorization_code"],
            previous_status=Status(activation["previous_status"]),
            reference=activation["reference"],
        )
        if activation
        else None,
        consumption=Consumption(
            consumed_at=parse_instant(consumption["consumed_at"]),
            operator_id=consumption["operator_id"],
            touchpoint=consumption["touchpoint"],
            parameters=dict(consumption.get("parameters") or {}),
        )
        if consumption
        else None,
    )


def definition_to_item(d: Definition) -> Item:
    provider = d.provider
    item: Item = {
        **Keys.definition(d.definition_id),
        "type": "definition",
        "definition_id": d.definition_id,
        "product_name": d.product_name,
        "reward_type": d.reward_type,
        "provider": {
            "name": provider.name,
            "product_code": provider.product_code,
            "site_code": provider.site_code,
            "endpoint": provider.endpoint,
            "code_validity_seconds": provider.code_validity_seconds,
            "timeout_seconds": provider.timeout_seconds,
        }
        if provider
        else None,
        "activity_code": d.activity_code,
        "item_code": d.item_code,
        "item_type": d.item_type,
        "campaign_id": d.campaign_id,
        "campaign_type": d.campaign_type,
        "campaign_title": d.campaign_title,
        "chain_id": d.chain_id,
        "allows_end_user_to_claim_voucher": d.allows_end_user_to_claim_voucher,
    }
    return {k: v for k, v in item.items() if v is not None}


def item_to_definition(item: Mapping[str, Any]) -> Definition:
    p = item.get("provider")
    return Definition(
        definition_id=item["definition_id"],
        product_name=item["product_name"],
        reward_type=item["reward_type"],
        provider=ProviderConfig(
            name=p["name"],
            product_code=p["product_code"],
            site_code=p.get("site_code"),
            endpoint=p.get("endpoint"),
            code_validity_seconds=int(p.get("code_validity_seconds", 900)),
            timeout_seconds=float(p.get("timeout_seconds", 5.0)),
        )
        if p
        else None,
        activity_code=item.get("activity_code"),
        item_code=item.get("item_code"),
        item_type=item.get("item_type"),
        campaign_id=item.get("campaign_id"),
        campaign_type=item.get("campaign_type"),
        campaign_title=item.get("campaign_title"),
        chain_id=item.get("chain_id"),
        allows_end_user_to_claim_voucher=bool(item.get("allows_end_user_to_claim_voucher", True)),
    )


MEMBER_IDENTIFIERS = (
    "user_id",
    "member_number",
    "username",
    "authentication_point_identifier",
    "auxiliary_identifier",
)


def member_to_item(m: Member) -> Item:
    item: Item = {
        **Keys.member(m.member_id),
        "type": "member",
        "member_id": m.member_id,
        "chain_id": m.chain_id,
        "ghost": m.ghost,
        "user_id": m.user_id,
        "member_number": m.member_number,
        "username": m.username,
        "authentication_point_identifier": m.authentication_point_identifier,
        "auxiliary_identifier": m.auxiliary_identifier,
        "card_type": m.card_type,
        "card_code": m.card_code,
    }
    return {k: v for k, v in item.items() if v is not None}


def item_to_member(item: Mapping[str, Any]) -> Member:
    return Member(
        member_id=item["member_id"],
        chain_id=item.get("chain_id"),
        ghost=bool(item.get("ghost", False)),
        user_id=item.get("user_id"),
        member_number=item.get("member_number"),
        username=item.get("username"),
        authentication_point_identifier=item.get("authentication_point_identifier"),
        auxiliary_identifier=item.get("auxiliary_identifier"),
        card_type=item.get("card_type"),
        card_code=item.get("card_code"),
    )


def session_to_item(s: Session) -> Item:
    item: Item = {
        **Keys.session(s.token_hash),
        "type": "session",
        "kind": s.kind.value,
        "principal_id": s.principal_id,
        TTL: _epoch(s.expires_at),
        "revoked": s.revoked,
        "touchpoint": s.touchpoint,
        "is_operator": s.is_operator,
        "grants": [f"{a}#{i}" for a, i in s.grants] or None,
        "member_id": s.member_id,
        "ghost": s.ghost,
        "spaaza_user_id": s.spaaza_user_id,
        "chain_id": s.chain_id,
        "chains": list(s.chains) or None,
        "app_hostname": s.app_hostname,
    }
    return {k: v for k, v in item.items() if v is not None}


def item_to_session(item: Mapping[str, Any]) -> Session:
    from datetime import UTC

    grants = tuple(tuple(g.split("#", 1)) for g in item.get("grants", []))
    return Session(
        token_hash=item[PK].split("#", 1)[1],
        kind=PrincipalKind(item["kind"]),
        principal_id=item["principal_id"],
        expires_at=datetime.fromtimestamp(int(item[TTL]), tz=UTC),
        revoked=bool(item.get("revoked", False)),
        touchpoint=item.get("touchpoint"),
        is_operator=bool(item.get("is_operator", False)),
        grants=grants,
        member_id=item.get("member_id"),
        ghost=bool(item.get("ghost", False)),
        spaaza_user_id=item.get("spaaza_user_id"),
        chain_id=item.get("chain_id"),
        chains=tuple(int(c) for c in item.get("chains", [])),
        app_hostname=item.get("app_hostname"),
    )


def event_to_item(e: AuditEvent, event_id: str) -> Item:
    item: Item = {
        **Keys.event(e.serial, e.at, event_id),
        "type": "event",
        "event_id": event_id,
        "serial": e.serial,
        "event_type": e.event_type,
        "channel": e.channel,
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "at": format_instant(e.at),
        "request_id": e.request_id,
        "correlation_id": e.correlation_id,
        "details": e.details or None,
    }
    return {k: v for k, v in item.items() if v is not None}


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class TxItem:
    """One element of a TransactWriteItems call, tagged with the role it plays so that a
    cancellation reason at its index maps to a meaningful error."""

    role: str
    request: dict[str, Any]


class VoucherStore:
    """DynamoDB access for one table through an injected low-level client.

    The client is injected (never created at import) so moto, botocore's Stubber and the
    local stack can all provide theirs.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_attempts: int = 6,
    ) -> None:
        self.client = client
        self.table = table_name
        self._sleep = sleep
        self._max_batch_attempts = max_batch_attempts

    # ---- reads

    def hydrate(self, keys: Iterable[Key]) -> dict[tuple[str, str], Item]:
        """Fetch every named item in as few BatchGetItem round trips as DynamoDB allows
        (one, for up to 100 keys), strongly consistent, retrying UnprocessedKeys with
        jittered exponential backoff. Missing items are simply absent from the result."""
        unique: dict[tuple[str, str], Key] = {}
        for key in keys:
            unique.setdefault(key_id(key), key)
        found: dict[tuple[str, str], Item] = {}
        pending = [serialize(k) for k in unique.values()]
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.table: {"Keys": chunk, "ConsistentRead": True}}
            attempt = 0
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table, []):
                    item = deserialize(raw)
                    found[Keys.of(item)] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    if attempt >= self._max_batch_attempts:
                        raise StoreUnavailable("BatchGetItem kept returning UnprocessedKeys")
                    self._backoff(attempt)
        return found

    def get(self, key: Key) -> Item | None:
        response = self._call("get_item", TableName=self.table, Key=serialize(key), ConsistentRead=True)
        raw = response.get("Item")
        return deserialize(raw) if raw else None

    def query_partition(self, pk: str, sk_prefix: str) -> list[Item]:
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": sk_prefix}),
            "ConsistentRead": True,
        }
        while True:
            response = self._call("query", **kwargs)
            items += [deserialize(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def voucher_events(self, serial: str) -> list[Item]:
        return self.query_partition(Keys.voucher(serial)[PK], Keys.event_prefix())

    def member_vouchers(self, member_id: str) -> list[Voucher]:
        """gsi1: every voucher a member owns (eventually consistent)."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": GSI1.partition_key},
            "ExpressionAttributeValues": serialize({":g": f"MEMBER#{member_id}"}),
        }
        while True:
            response = self._call("query", **kwargs)
            items += [deserialize(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return [item_to_voucher(i) for i in items]
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- transactional state changes

    def tx_transition(
        self,
        voucher: Voucher,
        transition: Transition,
        *,
        now: datetime,
        set_attributes: Mapping[str, Any] | None = None,
        remove_attributes: Sequence[str] = (),
    ) -> TxItem:
        """Voucher update applied only to the exact version (and status) it was decided on."""
        names = {"#status": "status", "#version": "version", "#updated": "updated_at"}
        values: dict[str, Any] = {
            ":to": transition.to_status.value,
            ":from": transition.from_status.value,
            ":expected": transition.expected_version,
            ":next": transition.expected_version + 1,
            ":now": format_instant(now),
        }
        sets = ["#status = :to", "#version = :next", "#updated = :now"]
        for i, (name, value) in enumerate((set_attributes or {}).items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = value
            sets.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(sets)
        if remove_attributes:
            removes = []
            for i, name in enumerate(remove_attributes):
                names[f"#r{i}"] = name
                removes.append(f"#r{i}")
            expression += " REMOVE " + ", ".join(removes)
        return TxItem(
            "voucher",
            {
                "Update": {
                    "TableName": self.table,
                    "Key": serialize(Keys.voucher(voucher.serial)),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#version = :expected AND #status = :from",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": serialize(values),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        )

    def tx_event(self, event: AuditEvent) -> TxItem:
        event_id = uuid.uuid4().hex
        return TxItem(
            "event",
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(event_to_item(event, event_id)),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
        )

    def tx_session_live(self, token_hash: str, now: datetime) -> TxItem:
        """The session the decision relied on is still live (not revoked, not expired)."""
        return TxItem(
            "session",
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": serialize(Keys.session(token_hash)),
                    "ConditionExpression": (
                        "#ttl > :now AND (attribute_not_exists(#revoked) OR #revoked = :false)"
                    ),
                    "ExpressionAttributeNames": {"#ttl": TTL, "#revoked": "revoked"},
                    "ExpressionAttributeValues": serialize({":now": _epoch(now), ":false": False}),
                }
            },
        )

    def tx_exists(self, role: str, key: Key) -> TxItem:
        """A grant (or other permission item) still exists at commit time."""
        return TxItem(
            role,
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": serialize(key),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
        )

    def tx_release_lock(self, serial: str, owner: str) -> TxItem:
        return TxItem(
            "lock",
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": serialize(Keys.activation_lock(serial)),
                    "ConditionExpression": "#owner = :owner",
                    "ExpressionAttributeNames": {"#owner": "owner"},
                    "ExpressionAttributeValues": serialize({":owner": owner}),
                }
            },
        )

    def tx_put_new(self, item: Item) -> TxItem:
        """Create an item that must not exist yet (imports never overwrite silently)."""
        return TxItem(
            str(item.get("type", "item")),
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
        )

    def tx_put_replacing(self, item: Item, expected_version: int | None = None) -> TxItem:
        """Overwrite an item; a voucher only at the version that was read, so a concurrent
        state change is never lost to an import."""
        put: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if expected_version is not None:
            put["ConditionExpression"] = "#version = :expected"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = serialize({":expected": expected_version})
        return TxItem(str(item.get("type", "item")), {"Put": put})

    def tx_complete_lock(self, serial: str, owner: str, now: datetime) -> TxItem:
        """Mark our activation marker committed instead of deleting it: it stays until it
        expires, so a request that read the voucher before our commit cannot take the marker
        and call the provider again; it waits and answers the replay."""
        return TxItem(
            "lock",
            {
                "Update": {
                    "TableName": self.table,
                    "Key": serialize(Keys.activation_lock(serial)),
                    "UpdateExpression": "SET #state = :committed, #at = :now",
                    "ConditionExpression": "#owner = :owner",
                    "ExpressionAttributeNames": {"#owner": "owner", "#state": "state", "#at": "committed_at"},
                    "ExpressionAttributeValues": serialize(
                        {":owner": owner, ":committed": "committed", ":now": format_instant(now)}
                    ),
                }
            },
        )

    def transact(self, items: Sequence[TxItem]) -> None:
        """One TransactWriteItems; all or nothing.

        A ClientRequestToken makes botocore's own retries of this call idempotent, so a
        commit whose response was lost is not reported as a conflict with itself.
        """
        try:
            self._call(
                "transact_write_items",
                TransactItems=[i.request for i in items],
                ClientRequestToken=uuid.uuid4().hex,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            self._raise_for_reasons(items, reasons)
            raise

    @staticmethod
    def _raise_for_reasons(items: Sequence[TxItem], reasons: Sequence[Mapping[str, Any]]) -> None:
        codes = [r.get("Code", "None") for r in reasons]
        # A failed condition is a decision-level fact: report it first, by role.
        for item, reason in zip(items, reasons, strict=False):
            if reason.get("Code") == "ConditionalCheckFailed":
                raw = reason.get("Item")
                raise ConditionFailed(item.role, deserialize(raw) if raw else None)
        if any(c == "TransactionConflict" for c in codes):
            raise WriteConflict("transaction conflict")
        if any(c in THROTTLING_CODES for c in codes):
            raise StoreUnavailable("throttled")

    # ---- activation marker

    def acquire_activation_lock(
        self, serial: str, owner: str, reference: str, now: datetime, hold_seconds: float
    ) -> Item | None:
        """Claim the right to call the provider for this voucher. Returns None on success,
        else the live marker someone else holds (its owner and expiry)."""
        expires = now.timestamp() + hold_seconds
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item=serialize(
                    {
                        **Keys.activation_lock(serial),
                        "type": "lock",
                        "owner": owner,
                        "reference": reference,
                        "acquired_at": format_instant(now),
                        TTL: int(expires) + 1,
                        "expires_at_ms": int(expires * 1000),
                    }
                ),
                ConditionExpression="attribute_not_exists(#pk) OR #exp < :now",
                ExpressionAttributeNames={"#pk": PK, "#exp": "expires_at_ms"},
                ExpressionAttributeValues=serialize({":now": int(now.timestamp() * 1000)}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raw = error.response.get("Item")
                return deserialize(raw) if raw else {"owner": "unknown"}
            raise
        return None

    def release_activation_lock(self, serial: str, owner: str) -> None:
        """Best effort: a marker we no longer own, or one already gone, is left alone."""
        try:
            self._call(
                "delete_item",
                TableName=self.table,
                Key=serialize(Keys.activation_lock(serial)),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=serialize({":owner": owner}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # ---- plumbing

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            return result
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in THROTTLING_CODES:
                raise StoreUnavailable(code) from error
            raise

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(0.05 * (2**attempt), 1.0) * (0.5 + random.random() / 2))
