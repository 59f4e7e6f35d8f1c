"""The voucher store on one DynamoDB table: the only module that writes expressions and
reads CancellationReasons.

  * a read is one consistent BatchGetItem of every key the refs name (UnprocessedKeys are
    retried with the shared backoff, so a read never silently drops a record);
  * a write is one TransactWriteItems: the voucher update conditioned on the version and
    status read, its audit event (a put that must be new), and one condition per guard;
  * a cancelled transaction is mapped back, by position, to the guard that failed, with the
    guarded record's current value when DynamoDB returned it (ALL_OLD).

`Table` is the raw item-level access the importer, the local stack, the bench and tests
use; `DynamoDBStore` adds the port on top.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from shared.domain import AuditEvent, Voucher, format_instant, parse_instant
from shared.ports import (
    GrantHeld,
    Guard,
    GuardClaim,
    GuardFailed,
    GuardFree,
    GuardHeld,
    NoActivationInFlight,
    Owned,
    Ref,
    SessionLive,
    Snapshot,
    StateChange,
    StoreUnavailable,
    Write,
    WriteConflict,
)
from shared.retry import BACKOFF, Backoff
from shared.store.codec import (
    Item,
    decode,
    deserialize,
    epoch_ms,
    event_to_item,
    guard_to_item,
    item_to_event,
    item_to_guard,
    item_to_voucher,
    key_for,
    serialize,
    voucher_to_item,
)
from shared.store.keys import GSI1, PK, SK, TTL, Key, Keys, key_id

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)
KEY_ATTRIBUTES = frozenset({PK, SK})


class TransactionCancelled(Exception):
    """A raw transaction was cancelled by a failed condition; `index` is the first failing
    request and `item` its current value (ALL_OLD), when there is one."""

    def __init__(self, index: int, item: Item | None) -> None:
        super().__init__(f"condition failed on request {index}")
        self.index = index
        self.item = item


class Table:
    """Item-level access to one table through an injected low-level client (never created
    at import: moto, botocore's Stubber and the local stack each provide theirs)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_attempts: int = 6,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self.client = client
        self.table = table_name
        self._sleep = sleep
        self._max_batch_attempts = max_batch_attempts
        self._backoff = backoff

    def hydrate(self, keys: Iterable[Key]) -> dict[tuple[str, str], Item]:
        """Every named item in as few BatchGetItem round trips as DynamoDB allows (one, for up
        to 100 keys), strongly consistent. Missing items are absent from the result."""
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
                    found[key_id(item)] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    if attempt >= self._max_batch_attempts:
                        raise StoreUnavailable("BatchGetItem kept returning UnprocessedKeys")
                    self._sleep(self._backoff.delay(attempt))
        return found

    def get(self, key: Key) -> Item | None:
        response = self._call("get_item", TableName=self.table, Key=serialize(key), ConsistentRead=True)
        raw = response.get("Item")
        return deserialize(raw) if raw else None

    def query_partition(self, pk: str, sk_prefix: str) -> list[Item]:
        return self._query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues=serialize({":pk": pk, ":prefix": sk_prefix}),
            ConsistentRead=True,
        )

    def voucher_events(self, serial: str) -> list[Item]:
        return self.query_partition(Keys.voucher(serial)[PK], Keys.event_prefix())

    def member_vouchers(self, member_id: str) -> list[Voucher]:
        """gsi1: every voucher a member owns (eventually consistent)."""
        items = self._query(
            IndexName=GSI1.name,
            KeyConditionExpression="#g = :g",
            ExpressionAttributeNames={"#g": GSI1.partition_key},
            ExpressionAttributeValues=serialize({":g": f"MEMBER#{member_id}"}),
        )
        return [item_to_voucher(i) for i in items]

    def transact(self, requests: Sequence[Mapping[str, Any]]) -> None:
        """One TransactWriteItems, all or nothing. The ClientRequestToken makes botocore's own
        retries of this call idempotent, so a commit whose response was lost is not reported
        as a conflict with itself."""
        try:
            self._call(
                "transact_write_items",
                TransactItems=list(requests),
                ClientRequestToken=uuid.uuid4().hex,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code", "") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    raw = reason.get("Item")
                    raise TransactionCancelled(index, deserialize(raw) if raw else None) from error
            codes = {r.get("Code", "None") for r in reasons}
            if "TransactionConflict" in codes:
                raise WriteConflict("transaction conflict") from error
            if codes & THROTTLING_CODES:
                raise StoreUnavailable("throttled") from error
            raise

    def _query(self, **kwargs: Any) -> list[Item]:
        items: list[Item] = []
        kwargs["TableName"] = self.table
        while True:
            response = self._call("query", **kwargs)
            items += [deserialize(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            return result
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in THROTTLING_CODES:
                raise StoreUnavailable(code) from error
            raise


class _Step(NamedTuple):
    """One request of a transaction and the guard its condition stands for."""

    request: dict[str, Any]
    guard: Guard | None = None
    current: Callable[[Item], Any] | None = None  # decodes ALL_OLD into the guarded record


class DynamoDBStore(Table):
    """The port (shared.ports.VoucherStore) on DynamoDB."""

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        wanted = list(dict.fromkeys(refs))
        found = self.hydrate(key_for(ref) for ref in wanted)
        return Snapshot(
            {
                ref: decode(ref, item)
                for ref in wanted
                if (item := found.get(key_id(key_for(ref)))) is not None
            }
        )

    def commit(self, write: Write) -> None:
        steps = self._steps(write)
        try:
            self.transact([s.request for s in steps])
        except TransactionCancelled as cancelled:
            step = steps[cancelled.index] if cancelled.index < len(steps) else None
            if step is None or step.guard is None:
                raise RuntimeError(f"unguarded request {cancelled.index} failed its condition") from None
            current = step.current(cancelled.item) if step.current and cancelled.item else None
            raise GuardFailed(step.guard, current) from None

    def release_guard(self, guard: GuardHeld) -> None:
        try:
            self._call(
                "delete_item",
                TableName=self.table,
                Key=serialize(Keys.activation_lock(guard.serial)),
                **_owned_by(guard.owner),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def history(self, serial: str) -> list[AuditEvent]:
        return [item_to_event(i) for i in self.voucher_events(serial)]

    def vouchers_of(self, member_id: str) -> list[Owned]:
        items = self._query(
            IndexName=GSI1.name,
            KeyConditionExpression="#g = :g",
            ProjectionExpression="#serial, #definition, #issued",
            ExpressionAttributeNames={
                "#g": GSI1.partition_key,
                "#serial": "serial",
                "#definition": "definition_id",
                "#issued": "issued_at",
            },
            ExpressionAttributeValues=serialize({":g": f"MEMBER#{member_id}"}),
        )
        return [
            Owned(
                str(i["serial"]),
                str(i["definition_id"]),
                parse_instant(i["issued_at"]) if i.get("issued_at") else None,
            )
            for i in items
        ]

    # ---- building transactions

    def _steps(self, write: Write) -> list[_Step]:
        now_ms = epoch_ms(write.at)
        if isinstance(write, StateChange):
            steps = [self._update(write), self._new_event(write.event)]
            for guard in write.guards:
                steps.append(self._guard(guard, now_ms))
            return steps
        if isinstance(write, GuardClaim):
            at = write.voucher_at
            check = _Step(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": serialize(Keys.voucher(at.serial)),
                        **_at_version(at.version, at.status),
                    }
                },
                at,
                item_to_voucher,
            )
            put = _Step(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": serialize(guard_to_item(write.guard)),
                        **_guard_free(now_ms),
                    }
                },
                GuardFree(at.serial),
                item_to_guard,
            )
            return [check, put]
        steps = [self._new_event(write.event)]
        if write.release is not None:
            steps.append(self._guard(write.release, now_ms))
        return steps

    def _update(self, change: StateChange) -> _Step:
        """SET what changed, REMOVE what is gone, only at the version and status read."""
        before, after = voucher_to_item(change.before), voucher_to_item(change.after)
        changed = {k: v for k, v in after.items() if k not in KEY_ATTRIBUTES and before.get(k) != v}
        changed["updated_at"] = format_instant(change.event.at)
        condition = _at_version(change.before.version, change.before.status.value)
        names = dict(condition["ExpressionAttributeNames"])
        values = dict(condition["ExpressionAttributeValues"])
        sets = []
        for i, (name, value) in enumerate(changed.items()):
            names[f"#s{i}"] = name
            values.update(serialize({f":s{i}": value}))
            sets.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(sets)
        gone = [k for k in before if k not in after]
        if gone:
            for i, name in enumerate(gone):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(gone)))
        return _Step(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": serialize(Keys.voucher(change.before.serial)),
                    "UpdateExpression": expression,
                    "ConditionExpression": condition["ConditionExpression"],
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            change.voucher_at,
            item_to_voucher,
        )

    def _new_event(self, event: AuditEvent) -> _Step:
        return _Step(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(event_to_item(event, uuid.uuid4().hex)),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            }
        )

    def _guard(self, guard: Guard, now_ms: int) -> _Step:
        if isinstance(guard, SessionLive):
            return _Step(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": serialize(Keys.session(guard.token_hash)),
                        "ConditionExpression": (
                            "#ttl > :now AND (attribute_not_exists(#revoked) OR #revoked = :f)"
                        ),
                        "ExpressionAttributeNames": {"#ttl": TTL, "#revoked": "revoked"},
                        "ExpressionAttributeValues": serialize({":now": now_ms // 1000, ":f": False}),
                    }
                },
                guard,
            )
        if isinstance(guard, GrantHeld):
            return _Step(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": serialize(key_for(guard.grant)),
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PK},
                    }
                },
                guard,
            )
        if isinstance(guard, NoActivationInFlight):
            return _Step(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": serialize(Keys.activation_lock(guard.serial)),
                        **_guard_free(now_ms),
                    }
                },
                guard,
                item_to_guard,
            )
        if isinstance(guard, GuardHeld):
            return _Step(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": serialize(Keys.activation_lock(guard.serial)),
                        **_owned_by(guard.owner),
                    }
                },
                guard,
            )
        raise TypeError(f"{type(guard).__name__} is not a guard a write can carry")


def _at_version(version: int, status: str) -> dict[str, Any]:
    return {
        "ConditionExpression": "#version = :expected AND #status = :from",
        "ExpressionAttributeNames": {"#version": "version", "#status": "status"},
        "ExpressionAttributeValues": serialize({":expected": version, ":from": status}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _guard_free(now_ms: int) -> dict[str, Any]:
    """No activation guard, or only an expired one (TTL deletion lags: never trusted)."""
    return {
        "ConditionExpression": "attribute_not_exists(#pk) OR #exp < :now",
        "ExpressionAttributeNames": {"#pk": PK, "#exp": "expires_at_ms"},
        "ExpressionAttributeValues": serialize({":now": now_ms}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _owned_by(owner: str) -> dict[str, Any]:
    return {
        "ConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": serialize({":owner": owner}),
    }
