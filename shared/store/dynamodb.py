"""The voucher store on one DynamoDB table: the only module that writes expressions and
reads CancellationReasons.

  * a read is one consistent BatchGetItem of every key the refs name (UnprocessedKeys are
    retried with the shared backoff, so a read never silently drops a record);
  * a state change is one TransactWriteItems: the voucher update conditioned on the version
    and status read, its audit event (a put that must be new), and one request per other
    condition; a guard claim is one conditional UpdateItem, a lone event one PutItem;
  * a cancelled transaction is mapped back, by position, to the condition that failed, with
    the current value of the record it was on when DynamoDB returned it (ALL_OLD).

`Table` is the raw item-level access the importer, the local stack, the bench and tests
use; `DynamoDBStore` adds the port on top.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from shared.domain import AuditEvent, format_instant, parse_instant
from shared.ports import (
    Condition,
    ConditionFailed,
    GrantHeld,
    GuardClaim,
    GuardHeld,
    KeyUnused,
    NoLiveActivation,
    OutcomeUnknown,
    Owned,
    Position,
    Record,
    Ref,
    SessionLive,
    Snapshot,
    StateChange,
    StoreUnavailable,
    Unannounced,
    VoucherAt,
    Write,
    WriteConflict,
)
from shared.retry import BACKOFF, Backoff, remaining_seconds
from shared.store.cache import ImmutableCache
from shared.store.codec import Item, attributes, decode, deserialize, encode, serialize
from shared.store.keys import GSI1, PK, SK, TTL, Key, Keys, key_id
from shared.store.schema import (
    ANNOUNCED,
    EVENT,
    GUARD,
    GUARD_ATTRIBUTES,
    GUARD_EXPIRY,
    GUARD_OWNER,
    IDEMPOTENCY,
    VOUCHER,
    Announced,
    epoch_ms,
    event_item,
    guard_of,
    key_for,
    value_of,
)

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)
# Answers that say "not now", never "no": the same call may be sent again. A transaction whose
# ClientRequestToken is still being worked on answers TransactionInProgressException.
RETRYABLE_CODES = THROTTLING_CODES | {
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}
# The connection failed: refused, reset, truncated, timed out. For a write, whether it reached
# the table is unknown (botocore raises these only after its own attempts are spent).
CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)
WRITES = frozenset({"transact_write_items", "put_item", "update_item"})
# The longest one attempt can take on the runtime's client (connect 1 s + read 2 s,
# shared/runtime.py): no attempt is started that could not end before the request's deadline.
ATTEMPT_SECONDS = 3.0
KEY_ATTRIBUTES = frozenset({PK, SK})


class TransactionCancelled(Exception):
    """A raw transaction was cancelled by failed conditions: `failed` maps the index of every
    request whose condition failed to its current value (ALL_OLD), or None. DynamoDB (and both
    engines the tests run on) report a reason for every request, so the store can pick the
    failure the port's order names first, not merely the first request."""

    def __init__(self, failed: dict[int, Item | None]) -> None:
        super().__init__(f"condition failed on requests {sorted(failed)}")
        self.failed = failed
        self.index = min(failed)
        self.item = failed[self.index]


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
        max_call_attempts: int = 8,
        backoff: Backoff = BACKOFF,
        remaining: Callable[[], float] = remaining_seconds,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep
        self._max_batch_attempts = max_batch_attempts
        self._max_call_attempts = max_call_attempts
        self._backoff = backoff
        self._remaining = remaining

    def batch_get(self, keys: Iterable[Key]) -> dict[tuple[str, str], Item]:
        """Every named item in as few BatchGetItem round trips as DynamoDB allows (one, for up
        to 100 keys), strongly consistent. Missing items are absent from the result."""
        unique: dict[tuple[str, str], Key] = {}
        for key in keys:
            unique.setdefault(key_id(key), key)
        found: dict[tuple[str, str], Item] = {}
        pending = [serialize(k) for k in unique.values()]
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            attempt = 0
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table_name, []):
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
        response = self._call("get_item", TableName=self.table_name, Key=serialize(key), ConsistentRead=True)
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

    def transact(self, requests: Sequence[Mapping[str, Any]]) -> None:
        """One TransactWriteItems, all or nothing. The ClientRequestToken makes botocore's own
        retries of this call idempotent, so a commit whose response was lost is not reported
        as a conflict with itself."""
        try:
            token = uuid.uuid4().hex  # the same on every attempt of this one call (_call)
            self._call("transact_write_items", TransactItems=list(requests), ClientRequestToken=token)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code", "") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            failed = {
                index: (deserialize(reason["Item"]) if reason.get("Item") else None)
                for index, reason in enumerate(reasons)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            if failed:
                raise TransactionCancelled(failed) from error
            codes = {r.get("Code", "None") for r in reasons}
            if "TransactionConflict" in codes:
                raise WriteConflict("transaction conflict") from error
            if codes & THROTTLING_CODES:
                raise StoreUnavailable("throttled") from error
            raise

    def _query(self, *, limit: int | None = None, **kwargs: Any) -> list[Item]:
        """Every item the Query matches, or its first `limit` (then DynamoDB reads no more,
        unless a 1 MB page ended first)."""
        items: list[Item] = []
        kwargs["TableName"] = self.table_name
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            response = self._call("query", **kwargs)
            items += [deserialize(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response or (limit is not None and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One call, sent again (the same request: a transaction keeps its ClientRequestToken,
        so DynamoDB applies it at most once) while the store is throttled or unreachable and
        the request's deadline leaves time for another attempt. Then StoreUnavailable, or
        OutcomeUnknown when a write may have reached the table: never a bare botocore error,
        so no caller answers a lost connection with a 500.

        A write whose answer was lost and that is sent again may meet its own effect (the
        event it wrote exists, the guard it took is in place): callers read that as success."""
        attempt, unknown = 0, False
        while True:
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
                return result
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CODES:
                    raise
                cause: Exception = error
            except CONNECTION_ERRORS as error:
                cause = error
                unknown = unknown or operation in WRITES
            attempt += 1
            delay = self._backoff.delay(attempt)
            if attempt >= self._max_call_attempts or self._remaining() < delay + ATTEMPT_SECONDS:
                failure = OutcomeUnknown if unknown else StoreUnavailable
                raise failure(f"{operation}: {type(cause).__name__} after {attempt} attempts") from cause
            self._sleep(delay)


class _Step(NamedTuple):
    """One request of a transaction and the condition it stands for (the voucher update's
    condition also stands for the conditions folded into it)."""

    request: dict[str, Any]
    condition: Condition | None = None  # None: a new audit event (its put's condition: the id is new)
    current: Callable[[Item], Any] | None = None  # decodes ALL_OLD into the record it was on


class DynamoDBStore(Table):
    """The port (shared.ports.VoucherStore) on DynamoDB.

    `immutable_ttl` > 0 keeps records that only an import changes (definitions, catalogue
    items, activities, touchpoints, chains, apps, voucher aliases: `CACHEABLE`) in this warm
    container for that many seconds, so a request's BatchGetItem names only what can change
    under it (its session, its voucher, grants, members). Never sessions, grants or vouchers.
    """

    def __init__(self, client: Any, table_name: str, *, immutable_ttl: float = 0.0, **kwargs: Any) -> None:
        super().__init__(client, table_name, **kwargs)
        self.cache = ImmutableCache(immutable_ttl)

    def read(self, refs: Iterable[Ref[Any]]) -> Snapshot:
        wanted = list(dict.fromkeys(refs))
        cached, missing = self.cache.split(wanted)
        found = self.batch_get(key_for(ref) for ref in missing)
        values: dict[Ref[Any], Any] = dict(cached)
        for ref in missing:
            item = found.get(key_id(key_for(ref)))
            value = value_of(ref, item) if item is not None else None
            if value is not None:
                values[ref] = value
                self.cache.keep(ref, value)
        return Snapshot(values)

    def commit(self, write: Write) -> None:
        if isinstance(write, GuardClaim):
            self._claim(write)
            return
        steps = self._steps(write)
        if len(steps) == 1 and "Put" in steps[0].request:  # an event alone: no transaction needed
            self._put_alone(steps[0].request["Put"])
            return
        try:
            self.transact([s.request for s in steps])
        except TransactionCancelled as cancelled:
            if any(i < len(steps) and steps[i].condition is None for i in cancelled.failed):
                # The event this very write puts (its id is new to this write) already exists:
                # an attempt whose answer was lost committed it, with everything else in the
                # transaction. The token makes DynamoDB answer that attempt's success itself
                # for 10 minutes; this covers the engines and windows where it does not.
                return
            raise self._failure(write, steps, cancelled) from None

    def release_guard(self, guard: GuardHeld) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=serialize(Keys.voucher(guard.serial)),
                UpdateExpression="REMOVE " + ", ".join(f"#g{i}" for i in range(len(GUARD_ATTRIBUTES))),
                **_merge(_owned_by(guard.owner), _guard_names()),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def expire_guard(self, guard: GuardHeld) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=serialize(Keys.voucher(guard.serial)),
                UpdateExpression="SET #gexp = :expired",
                **_merge(
                    _owned_by(guard.owner),
                    {"ExpressionAttributeNames": {"#gexp": GUARD_EXPIRY}},
                    {"ExpressionAttributeValues": serialize({":expired": 0})},
                ),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def history(self, serial: str) -> list[AuditEvent]:
        return [decode(EVENT, i) for i in self.voucher_events(serial)]

    def vouchers_of(
        self,
        member_id: str,
        *,
        after: Position | None = None,
        newest: datetime | None = None,
        oldest: datetime | None = None,
        limit: int | None = None,
    ) -> list[Owned]:
        """One Query of gsi1, whose sort key is the list's order: the window and `after` are
        key conditions and `limit` its Limit, so DynamoDB reads (and bills) the entries the
        page uses, not the member's whole list."""
        low, high = Keys.owner_window(newest, oldest)
        exclusive = False
        if after is not None and (low is None or Keys.owner_order(after) >= low):
            low, exclusive = Keys.owner_order(after), True
        if low is not None and high is not None and low > high:
            return []  # an empty window (only a caller's own bounds and token decide this)
        names = {
            "#g": GSI1.partition_key,
            "#serial": "serial",
            "#definition": "definition_id",
            "#issued": "issued_at",
        }
        values: dict[str, str] = {":g": Keys.owner_partition(member_id)}
        condition = "#g = :g"
        if low is not None or high is not None:
            names["#o"] = GSI1.sort_key
        if low is not None and high is not None:
            # BETWEEN is inclusive: an exclusive start drops its own entry (one more read)
            condition += " AND #o BETWEEN :lo AND :hi"
            values.update({":lo": low, ":hi": high})
        elif low is not None:
            condition += f" AND #o {'>' if exclusive else '>='} :lo"
            values[":lo"] = low
            exclusive = False  # '>' already excludes it
        elif high is not None:
            condition += " AND #o <= :hi"
            values[":hi"] = high
        items = self._query(
            IndexName=GSI1.name,
            KeyConditionExpression=condition,
            ProjectionExpression="#serial, #definition, #issued",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
            limit=None if limit is None else limit + int(exclusive),
        )
        owned = [
            Owned(
                str(i["serial"]),
                str(i["definition_id"]),
                parse_instant(i["issued_at"]) if i.get("issued_at") else None,
            )
            for i in items
        ]
        if exclusive:
            owned = [o for o in owned if Position.of(o) != after]
        return owned if limit is None else owned[:limit]

    # ---- building writes

    def _claim(self, claim: GuardClaim) -> None:
        """Take the guard: ONE conditional UpdateItem of the voucher (still at the version
        judged, guard free or expired). A botocore retry of a claim whose answer was lost finds
        its own guard in place: that is success, not a failure."""
        at = claim.voucher_at
        fields = attributes(GUARD, claim.guard)
        names = {f"#n{i}": name for i, name in enumerate(fields)}
        values = serialize({f":n{i}": value for i, value in enumerate(fields.values())})
        condition = _merge(_at_version(at.version, at.status), _guard_free(epoch_ms(claim.at)))
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=serialize(Keys.voucher(at.serial)),
                UpdateExpression="SET " + ", ".join(f"{n} = :{n[1:]}" for n in names),
                **_merge(condition, {"ExpressionAttributeNames": names, "ExpressionAttributeValues": values}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raw = error.response.get("Item")
            item = deserialize(raw) if raw else None
            if item is None or not _at(item, at.version, at.status):
                raise ConditionFailed(at, decode(VOUCHER, item) if item else None) from None
            held = guard_of(item)
            mine = claim.guard
            if held is not None and (held.owner, held.reference) == (mine.owner, mine.reference):
                return  # our own claim, applied by an earlier attempt of this very call
            raise ConditionFailed(NoLiveActivation(at.serial), held) from None

    def _put_alone(self, put: dict[str, Any]) -> None:
        try:
            self._call("put_item", **put)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # only an attempt of this very call can have written an event with this new id

    def _failure(self, write: Write, steps: list[_Step], cancelled: TransactionCancelled) -> ConditionFailed:
        """The failure the port's order names first (the voucher, then each condition in the
        order the write lists them), from every request DynamoDB reported as failed."""
        failed: dict[Condition, Any] = {}
        for index, item in cancelled.failed.items():
            step = steps[index] if index < len(steps) else None
            if step is None or step.condition is None:
                raise RuntimeError(f"request {index}, which stands for no condition, failed")
            if isinstance(step.condition, VoucherAt) and isinstance(write, StateChange):
                failed.update(_voucher_failures(write, item))
            elif isinstance(write, Record) and isinstance(step.condition, GuardHeld):
                failed[step.condition] = None
            else:
                failed[step.condition] = step.current(item) if step.current and item else None
        order: list[Condition] = []
        if isinstance(write, StateChange):
            order = [write.voucher_at, *write.conditions]
            if write.remember is not None:
                order.append(KeyUnused(write.remember.ref))
        elif isinstance(write, Record):
            order = [c for c in (write.release, write.once) if c is not None]
        for condition in order:
            if condition in failed:
                return ConditionFailed(condition, failed[condition])
        condition, current = next(iter(failed.items()))
        return ConditionFailed(condition, current)

    def _steps(self, write: StateChange | Record) -> list[_Step]:
        now_ms = epoch_ms(write.at)
        if isinstance(write, StateChange):
            steps = [self._update(write, now_ms), self._new_event(write.event, write.after.version)]
            for announced in write.announcements:
                steps.append(self._new_event(announced))
                steps.append(
                    self._first(Unannounced(announced.serial, announced.details["reference"]), write.at)
                )
            if write.remember is not None:
                steps.append(
                    self._remember(
                        write.remember.ref,
                        encode(
                            IDEMPOTENCY, write.remember.answer, Keys.idempotency(write.remember.ref.key_hash)
                        ),
                        now_ms,
                    )
                )
            for condition in write.conditions:
                if isinstance(condition, SessionLive | GrantHeld):
                    steps.append(self._check(condition, now_ms))
            return steps
        steps = [self._new_event(write.event)]
        if write.release is not None:
            steps.append(self._release(write.release))
        if write.once is not None:
            steps.append(self._first(write.once, write.at))
        return steps

    def _first(self, unannounced: Unannounced, at: datetime) -> _Step:
        """The marker that a reference was announced: only the first announcement writes."""
        return _Step(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize(
                        encode(ANNOUNCED, Announced(unannounced.serial, unannounced.reference, at))
                    ),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
            unannounced,
        )

    def _update(self, change: StateChange, now_ms: int) -> _Step:
        """SET what changed, REMOVE what is gone, only at the version and status read; the
        activation guard's conditions (none live, or ours to release) are folded into the same
        condition expression, and the write clears the guard's attributes."""
        before, after = encode(VOUCHER, change.before), encode(VOUCHER, change.after)
        changed = {k: v for k, v in after.items() if k not in KEY_ATTRIBUTES and before.get(k) != v}
        changed["updated_at"] = format_instant(change.event.at)
        parts = [_at_version(change.before.version, change.before.status.value)]
        for c in change.conditions:
            if isinstance(c, NoLiveActivation):
                parts.append(_guard_as_seen(c))
            elif isinstance(c, GuardHeld):
                parts.append(_owned_by(c.owner))
        condition = _merge(*parts)
        names = dict(condition["ExpressionAttributeNames"])
        values = dict(condition["ExpressionAttributeValues"])
        sets = []
        for i, (name, value) in enumerate(changed.items()):
            names[f"#s{i}"] = name
            values.update(serialize({f":s{i}": value}))
            sets.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(sets)
        gone = [k for k in before if k not in after]
        if any(isinstance(c, NoLiveActivation | GuardHeld) for c in change.conditions):
            gone += list(GUARD_ATTRIBUTES)  # an expired guard, or the one this write releases
        if gone:
            for i, name in enumerate(gone):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(gone)))
        return _Step(
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": serialize(Keys.voucher(change.before.serial)),
                    "UpdateExpression": expression,
                    "ConditionExpression": condition["ConditionExpression"],
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            change.voucher_at,
            partial(decode, VOUCHER),
        )

    def _new_event(self, event: AuditEvent, version: int | None = None) -> _Step:
        """The audit event, with the voucher version its transition left (a webhook's
        `sequence`: receivers order one voucher's events by it, whatever order retries take)."""
        item = event_item(event, uuid.uuid4().hex, version)
        return _Step(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            }
        )

    def _remember(self, ref: Any, item: Item, now_ms: int) -> _Step:
        """The answer kept under the request's Idempotency-Key: a key nobody holds, or one
        whose answer expired (TTL deletion lags by up to days)."""
        return _Step(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(#pk) OR #ttl < :now",
                    "ExpressionAttributeNames": {"#pk": PK, "#ttl": TTL},
                    "ExpressionAttributeValues": serialize({":now": now_ms // 1000}),
                }
            },
            KeyUnused(ref),
        )

    def _release(self, guard: GuardHeld) -> _Step:
        """Give the guard back in the same transaction as the event it records."""
        condition = _merge(_owned_by(guard.owner), _guard_names())
        return _Step(
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": serialize(Keys.voucher(guard.serial)),
                    "UpdateExpression": "REMOVE " + ", ".join(f"#g{i}" for i in range(len(GUARD_ATTRIBUTES))),
                    **condition,
                }
            },
            guard,
        )

    def _check(self, condition: SessionLive | GrantHeld, now_ms: int) -> _Step:
        """A revocable credential, re-checked inside the transaction (2 RRU each)."""
        if isinstance(condition, SessionLive):
            return _Step(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": serialize(Keys.session(condition.token_hash)),
                        "ConditionExpression": (
                            "#ttl > :now AND (attribute_not_exists(#revoked) OR #revoked = :f)"
                        ),
                        "ExpressionAttributeNames": {"#ttl": TTL, "#revoked": "revoked"},
                        "ExpressionAttributeValues": serialize({":now": now_ms // 1000, ":f": False}),
                    }
                },
                condition,
            )
        return _Step(
            {
                "ConditionCheck": {
                    "TableName": self.table_name,
                    "Key": serialize(key_for(condition.grant)),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
            condition,
        )


def _voucher_failures(change: StateChange, item: Item | None) -> dict[Condition, Any]:
    """Which of the conditions folded into the voucher update failed, judged on ALL_OLD."""
    if item is None or not _at(item, change.before.version, change.before.status.value):
        return {change.voucher_at: decode(VOUCHER, item) if item else None}
    held = guard_of(item)
    failed: dict[Condition, Any] = {}
    for condition in change.conditions:
        if isinstance(condition, NoLiveActivation) and not condition.holds_for(held):
            failed[condition] = held
        elif isinstance(condition, GuardHeld) and (held is None or held.owner != condition.owner):
            failed[condition] = None
    return failed or {change.voucher_at: decode(VOUCHER, item)}


def _at(item: Item, version: int, status: str) -> bool:
    return int(item.get("version", -1)) == version and item.get("status") == status


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    """AND the condition expressions of `parts`, merging their names and values."""
    merged: dict[str, Any] = {"ExpressionAttributeNames": {}, "ExpressionAttributeValues": {}}
    conditions = []
    for part in parts:
        if "ConditionExpression" in part:
            conditions.append(f"({part['ConditionExpression']})")
        merged["ExpressionAttributeNames"].update(part.get("ExpressionAttributeNames", {}))
        merged["ExpressionAttributeValues"].update(part.get("ExpressionAttributeValues", {}))
        if "ReturnValuesOnConditionCheckFailure" in part:
            merged["ReturnValuesOnConditionCheckFailure"] = part["ReturnValuesOnConditionCheckFailure"]
    if conditions:
        merged["ConditionExpression"] = " AND ".join(conditions)
    if not merged["ExpressionAttributeValues"]:
        del merged["ExpressionAttributeValues"]
    return merged


def _guard_names() -> dict[str, Any]:
    return {"ExpressionAttributeNames": {f"#g{i}": name for i, name in enumerate(GUARD_ATTRIBUTES)}}


def _at_version(version: int, status: str) -> dict[str, Any]:
    return {
        "ConditionExpression": "#version = :expected AND #status = :from",
        "ExpressionAttributeNames": {"#version": "version", "#status": "status"},
        "ExpressionAttributeValues": serialize({":expected": version, ":from": status}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _guard_free(now_ms: int) -> dict[str, Any]:
    """The voucher carries no activation guard, or only an expired one."""
    return {
        "ConditionExpression": "attribute_not_exists(#gexp) OR #gexp < :gnow",
        "ExpressionAttributeNames": {"#gexp": GUARD_EXPIRY},
        "ExpressionAttributeValues": serialize({":gnow": now_ms}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _guard_as_seen(condition: NoLiveActivation) -> dict[str, Any]:
    """The voucher's activation guard is exactly as the decision saw it: none, or the same
    expired one (a guard's expiry only moves earlier while its owner stays: expire_guard), so
    the announcement the write carries names the reference the item really held."""
    if condition.left is None:
        return {
            "ConditionExpression": "attribute_not_exists(#gowner)",
            "ExpressionAttributeNames": {"#gowner": GUARD_OWNER},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    return {
        "ConditionExpression": "#gowner = :gseen",
        "ExpressionAttributeNames": {"#gowner": GUARD_OWNER},
        "ExpressionAttributeValues": serialize({":gseen": condition.left.owner}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _owned_by(owner: str) -> dict[str, Any]:
    """The voucher's activation guard is held by `owner` (this request)."""
    return {
        "ConditionExpression": "#gowner = :gowner",
        "ExpressionAttributeNames": {"#gowner": GUARD_OWNER},
        "ExpressionAttributeValues": serialize({":gowner": owner}),
    }
