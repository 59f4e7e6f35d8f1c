"""From the table's change stream to webhook events (pure: no I/O).

A transition is one transaction writing the voucher item and its audit event item, both under
the voucher's partition key, so the stream carries both, in the same shard. The webhook event
is the audit event (who, through which channel, from which status) with the voucher as that
transition left it: the voucher image in the same batch whose `updated_at` equals the event's
`at`. When the batch boundary fell between the two (or the event changed no voucher, as an
unused provider code), the caller reads the voucher; `Pending.voucher_key` says which.

Only transitions are published: IMPORTED / REPLACED events are the loader's own (a bulk load
would flood every receiver) and are never delivered. No authorization code is ever part of an
event: the voucher form leaves it out and so does the details map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain import parse_instant
from shared.store.codec import deserialize, item_to_voucher
from shared.store.keys import PK, SK, Keys

TYPES = {
    "CONSUMED": "voucher.consumed",
    "ACTIVATED": "voucher.activated",
    "UNCLAIMED": "voucher.unclaimed",
    "CLAIMED": "voucher.claimed",
    "ACTIVATION_CODE_UNUSED": "voucher.activation_code_unused",
}
PUBLIC_DETAILS = ("provider", "reference", "code_expiry")  # never authorization_code


@dataclass(frozen=True)
class Pending:
    """One committed audit event to publish, with its voucher image when the batch had it."""

    event: dict[str, Any]  # the event item, deserialized
    voucher: dict[str, Any] | None  # the voucher item as this transition left it

    @property
    def voucher_key(self) -> dict[str, str]:
        return Keys.voucher(self.event["serial"])


def _typed(value: Any) -> Any:
    """An attribute value as DynamoDB writes it. DynamoDB Local's stream (3.x) loses the type
    tag of an empty map nested in an item (`{}` where the table holds `{"M": {}}`); AWS does
    not, and nothing this service writes is an untagged empty value, so the repair is exact."""
    if not value:
        return {"M": {}}
    (tag, inner), *_ = value.items()
    if tag == "M":
        return {"M": {k: _typed(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [_typed(v) for v in inner]}
    return value


def _image(record: Mapping[str, Any]) -> dict[str, Any] | None:
    image = (record.get("dynamodb") or {}).get("NewImage")
    return deserialize({k: _typed(v) for k, v in image.items()}) if image else None


def pending_events(records: Iterable[Mapping[str, Any]]) -> list[Pending]:
    """The publishable audit events of a batch of stream records, in stream order, each
    paired with the voucher image written in the same transaction when it is in the batch."""
    events: list[dict[str, Any]] = []
    vouchers: dict[tuple[str, str], dict[str, Any]] = {}  # (pk, updated_at) -> image
    for record in records:
        item = _image(record)
        if item is None or record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        if item.get("type") == "voucher" and "updated_at" in item:
            vouchers[(item[PK], item["updated_at"])] = item
        elif (
            record.get("eventName") == "INSERT"
            and str(item.get(SK, "")).startswith(Keys.event_prefix())
            and item.get("event_type") in TYPES
        ):
            events.append(item)
    return [Pending(e, vouchers.get((e[PK], e["at"]))) for e in events]


def is_image_of(event: Mapping[str, Any], voucher: Mapping[str, Any] | None) -> bool:
    """The voucher item is the one this event's transaction wrote."""
    return voucher is not None and voucher.get("updated_at") == event.get("at")


def public_voucher(item: Mapping[str, Any]) -> dict[str, Any]:
    """The voucher's canonical form for other systems: identities, status, value, and what
    activation and consumption recorded, never the provider's authorization code."""
    v = item_to_voucher(item)
    form: dict[str, Any] = {
        "serial": v.serial,
        "es_voucher_id": v.es_voucher_id,
        "definition_id": v.definition_id,
        "status": v.status.value,
        "version": v.version,
        "owner_member_id": v.owner_member_id,
        "valid_until": item.get("valid_until"),
        "issued_at": item.get("issued_at"),
        "activity_code": v.activity_code,
        "item_code": v.item_code,
        "voucher_id": v.voucher_id,
        "third_party_id": v.third_party_id,
        "chain_id": v.chain_id,
        "currency_id": v.currency_id,
        "currency_symbol": v.currency_symbol,
        "amount_original": v.amount_original,
        "amount_redeemed": v.amount_redeemed,
    }
    activation = item.get("activation")
    if activation:
        form["activation"] = {
            k: activation.get(k) for k in ("activated_at", "provider", "code_expiry", "reference")
        }
    consumption = item.get("consumption")
    if consumption:
        form["consumption"] = {k: consumption.get(k) for k in ("consumed_at", "operator_id", "touchpoint")}
    return {k: value for k, value in form.items() if value is not None}


def sequence_of(event: Mapping[str, Any], voucher: Mapping[str, Any]) -> int | None:
    """The voucher version the event's transition left: written on the event item by the
    transaction itself, else (an event written before that) the paired image's. None for an
    event that changed no voucher (an unused provider code)."""
    if event.get("version") is not None:
        return int(event["version"])
    changed = event.get("from_status") != event.get("to_status")
    return int(voucher["version"]) if changed and is_image_of(event, voucher) else None


def webhook_event(event: Mapping[str, Any], voucher: Mapping[str, Any]) -> dict[str, Any]:
    """The event a subscriber receives. `id` is the audit event's own id (stable across
    retries and replays: receivers deduplicate on it); `sequence` is the voucher version the
    transition left, so a receiver orders one voucher's events even if retries reorder them."""
    details = event.get("details") or {}
    form = public_voucher(voucher)
    return {
        "id": f"evt_{event['event_id']}",
        "type": TYPES[event["event_type"]],
        "created": int(parse_instant(event["at"]).timestamp()),
        "occurred_at": event["at"],
        "sequence": sequence_of(event, voucher),
        "chain_id": form.get("chain_id"),
        "data": {
            "voucher": form,
            "from_status": event.get("from_status"),
            "to_status": event["to_status"],
            "channel": event["channel"],
            "principal": {"kind": event["actor_kind"], "id": event["actor_id"]},
            "request_id": event.get("request_id"),
            "correlation_id": event.get("correlation_id"),
            "details": {k: details[k] for k in PUBLIC_DETAILS if k in details},
            "voucher_is_current": not is_image_of(event, voucher),
        },
    }
