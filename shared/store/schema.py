"""One field table per item type of the single table, and which key each `Ref` names.

Every attribute name the service stores is declared here, once (shared/store/codec.py reads
these tables both ways; the key formats are shared/store/keys.py's; the webhook subscriber's
table sits with its class, in shared/webhooks/subscribers.py). Decoding is by the Ref's type,
so a Snapshot is filled with domain values and no use case ever sees an item.

`default=` marks what an item may lack and what that reads as: None for an optional value,
or the value items written before the attribute existed stand for. Every other field is
required (`MissingAttribute`), identities above all: an activity without its code is a
writer's bug, not an activity named "".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from shared import ports
from shared.domain import (
    Activation,
    ActivationGuard,
    Activity,
    AdminGrant,
    App,
    AuditEvent,
    CatalogItem,
    Chain,
    Consumption,
    Definition,
    EsConsoleUser,
    IdempotentAnswer,
    Member,
    MemberAlias,
    OperatorGrant,
    PrincipalKind,
    PrivilegedClient,
    ProviderConfig,
    Session,
    SpaazaAdmin,
    Status,
    ThalamusUser,
    Touchpoint,
    Voucher,
    VoucherAlias,
    format_instant,
    parse_instant,
)
from shared.store.codec import RAW, F, Field, Item, ItemType, Kind, decode, encode, nested
from shared.store.keys import PK, SK, TTL, Key, Keys


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


INT = Kind(lambda v: v, int)
BOOL = Kind(lambda v: v, bool)
STATUS = Kind(lambda s: s.value, Status)
INSTANT = Kind(format_instant, parse_instant)
EPOCH_S = Kind(lambda t: int(t.timestamp()), lambda n: datetime.fromtimestamp(int(n), tz=UTC))
EPOCH_MS = Kind(epoch_ms, lambda n: datetime.fromtimestamp(int(n) / 1000, tz=UTC))
INTS = Kind(lambda t: list(t) or None, lambda v: tuple(int(c) for c in v))
GRANTS = Kind(
    lambda g: [f"{a}#{i}" for a, i in g] or None, lambda v: tuple(tuple(s.split("#", 1)) for s in v)
)


def opt(name: str, kind: Kind = RAW, **kw: Any) -> Field:
    """An optional attribute: absent reads as None."""
    return F(name, kind, default=None, **kw)


def _after(value: Any, pieces: int = 2, at: int = -1) -> str:
    """A part of a key: `ACTIVITY#MILES` -> MILES; `GRANT#MILES#*` at 1 -> MILES."""
    return str(value).split("#", pieces - 1)[at]


# --------------------------------------------------------------------------- vouchers

ACTIVATION = ItemType(
    Activation,
    "activation",
    F("activated_at", INSTANT),
    F("provider"),
    F("code_expiry", INSTANT),
    F("authorization_code"),
    F("previous_status", STATUS),
    F("reference"),
)
CONSUMPTION = ItemType(
    Consumption,
    "consumption",
    F("consumed_at", INSTANT),
    F("operator_id"),
    F("touchpoint"),
    F("parameters", Kind(dict, dict), default={}),
)
VOUCHER = ItemType(
    Voucher,
    "voucher",
    F("serial"),
    F("definition_id"),
    F("status", STATUS),
    F("version", INT),
    opt("owner_member_id"),
    opt("expires_at", INSTANT, attr="valid_until"),
    opt("issued_at", INSTANT),
    F("locked", BOOL, default=False),
    *(opt(name) for name in ("activity_code", "item_code", "voucher_key", "voucher_id", "third_party_id")),
    *(opt(name) for name in ("chain_id", "currency_id", "currency_symbol")),
    F("amount_original", default=0),
    F("amount_redeemed", default=0),
    opt("text"),
    opt("activation", nested(ACTIVATION)),
    opt("consumption", nested(CONSUMPTION)),
    key=lambda v: Keys.voucher(v.serial),
    index=lambda v: Keys.owner(v.owner_member_id, v.issued_at, v.serial) if v.owner_member_id else {},
)

# The activation guard lives on the voucher item itself (never an item of its own): a consume
# or unclaim then proves "no activation in flight" in the voucher update's own condition
# instead of a ConditionCheck (2 RRU), the guard is read with the voucher for free, and taking
# it is one conditional UpdateItem (1 WRU) instead of a two-item transaction (2 RRU + 2 WRU).
# No TTL: a voucher item never expires; an expired guard is ignored by every check and
# removed by the voucher's next write.
GUARD = ItemType(
    ActivationGuard,
    None,
    F("owner", attr="guard_owner"),
    F("reference", attr="guard_reference", default=""),
    F("acquired_at", INSTANT, attr="guard_acquired_at", default=datetime.min.replace(tzinfo=UTC)),
    F("expires_at", EPOCH_MS, attr="guard_expires_at_ms", default=datetime.fromtimestamp(0, UTC)),
    from_key=lambda i: {"serial": str(i.get("serial") or _after(i[PK]))},
)
GUARD_ATTRIBUTES = tuple(f.attr for f in GUARD.fields)
GUARD_OWNER, _, _, GUARD_EXPIRY = GUARD_ATTRIBUTES


def guard_of(item: Mapping[str, Any]) -> ActivationGuard | None:
    """The guard a voucher item carries, or None (also for any item that is not a voucher)."""
    return decode(GUARD, item) if item.get(GUARD_OWNER) else None


class Announced(NamedTuple):
    """The marker that a provider reference was announced unused (beside its voucher)."""

    serial: str
    reference: str
    at: datetime


ANNOUNCED = ItemType(
    Announced,
    "announced",
    F("reference"),
    F("at", INSTANT),
    key=lambda a: Keys.announced(a.serial, a.reference),
    from_key=lambda i: {"serial": _after(i[PK])},
)
EVENT = ItemType(
    AuditEvent,
    "event",
    *(F(name) for name in ("serial", "event_type", "channel", "actor_kind", "actor_id")),
    opt("from_status"),
    F("to_status"),
    F("at", INSTANT),
    F("request_id"),
    opt("correlation_id"),
    F("details", Kind(lambda d: d or None, dict), default={}),
)


def event_item(event: AuditEvent, event_id: str, version: int | None = None) -> Item:
    """An audit event's item: under its id (the store draws one per write, the importer
    derives one per voucher), with the voucher `version` its transition left (a webhook's
    `sequence`: receivers order one voucher's events by it, whatever order retries take)."""
    item = {**encode(EVENT, event, Keys.event(event.serial, event.at, event_id)), "event_id": event_id}
    if version is not None:
        item["version"] = version
    return item


# an answer kept under an Idempotency-Key (its key: Keys.idempotency(ref.key_hash)); DynamoDB's
# TTL deletes it after expiry, and until it does, readers compare `expires_at` themselves
IDEMPOTENCY = ItemType(
    IdempotentAnswer,
    "idempotency",
    F("fingerprint"),
    F("status", INT),
    F("body"),
    F("headers", Kind(dict, lambda h: tuple(sorted((str(k), str(v)) for k, v in h.items()))), default=()),
    F("expires_at", EPOCH_S, attr=TTL),
)

# --------------------------------------------------------------------------- what an import writes

PROVIDER = ItemType(
    ProviderConfig,
    "provider",
    F("name"),
    F("product_code"),
    opt("site_code"),
    opt("endpoint"),
    F("code_validity_seconds", INT, default=900),
    F("timeout_seconds", Kind(lambda v: v, float), default=5.0),
)
DEFINITION = ItemType(
    Definition,
    "definition",
    *(F(name) for name in ("definition_id", "product_name", "reward_type")),
    opt("provider", nested(PROVIDER)),
    *(opt(name) for name in ("activity_code", "item_code", "item_type", "campaign_id", "campaign_type")),
    opt("campaign_title"),
    opt("chain_id"),
    F("allows_end_user_to_claim_voucher", BOOL, default=True),
    opt("business_unit"),
    F("voucher_group", default="basket", sparse=True),
    key=lambda d: Keys.definition(d.definition_id),
)
CATALOG_ITEM = ItemType(
    CatalogItem,
    "catalog_item",
    *(opt(name) for name in ("definition_id", "product_name", "item_type")),
    key=lambda c: Keys.catalog_item(c.activity_code, c.item_code),
    from_key=lambda i: {"activity_code": _after(i[PK]), "item_code": _after(i[SK])},
)
# a Spaaza end user's identifiers: each also an alias item naming the member
MEMBER_IDENTIFIERS = (
    "user_id",
    "member_number",
    "username",
    "authentication_point_identifier",
    "auxiliary_identifier",
)
MEMBER = ItemType(
    Member,
    "member",
    F("member_id"),
    opt("chain_id"),
    F("ghost", BOOL, default=False),
    *(opt(name) for name in (*MEMBER_IDENTIFIERS, "card_type", "card_code")),
    key=lambda m: Keys.member(m.member_id),
)
# an alias's key is the identifier it resolves (Keys.member_alias, Keys.voucher_alias)
MEMBER_ALIAS = ItemType(MemberAlias, "member_alias", F("member_id"))
VOUCHER_ALIAS = ItemType(VoucherAlias, "voucher_alias", F("serial"), F("definition_id"), opt("chain_id", INT))
SESSION = ItemType(
    Session,
    "session",
    F("kind", Kind(lambda k: k.value, PrincipalKind)),
    F("principal_id"),
    F("expires_at", EPOCH_S, attr=TTL),
    F("revoked", BOOL, default=False),
    opt("touchpoint"),
    F("is_operator", BOOL, default=False),
    F("grants", GRANTS, default=()),
    opt("member_id"),
    F("ghost", BOOL, default=False),
    opt("spaaza_user_id"),
    opt("chain_id"),
    F("chains", INTS, default=()),
    opt("app_hostname"),
    key=lambda s: Keys.session(s.token_hash),
    from_key=lambda i: {"token_hash": _after(i[PK])},
)
CHAIN = ItemType(
    Chain,
    "chain",
    F("chain_id", INT),
    F("name", default=""),
    F("uses_third_party_voucher_id", BOOL, default=False),
    F("app_hostnames", Kind(lambda t: list(t) or None, tuple), default=()),
    key=lambda c: Keys.chain(c.chain_id),
)
APP = ItemType(App, "app", F("hostname"), opt("chain_id", INT), key=lambda a: Keys.app(a.hostname))
ACTIVITY = ItemType(
    Activity,
    "activity",
    F("code", attr="activity_code"),
    F("name", default=""),
    key=lambda a: Keys.activity(a.code),
)
TOUCHPOINT = ItemType(
    Touchpoint, "touchpoint", F("code"), F("name", default=""), key=lambda t: Keys.touchpoint(t.code)
)


def _principal(
    tag: str, cls: Callable[..., Any], id_name: str, *fields: Field, id_kind: type = str
) -> ItemType[Any]:
    """Thalamus users, console users, Spaaza admins and privileged clients: `PRINCIPAL#tag#id`."""
    return ItemType(
        cls,
        tag,
        *fields,
        key=lambda p: Keys.principal(tag, getattr(p, id_name)),
        from_key=lambda i: {id_name: id_kind(_after(i[PK], 3))},
    )


THALAMUS_USER = _principal("thalamus_user", ThalamusUser, "user_id", F("operator", BOOL))
CONSOLE_USER = _principal("es_console", EsConsoleUser, "user_id")
SPAAZA_ADMIN = _principal("spaaza_admin", SpaazaAdmin, "user_id", F("chains", INTS), id_kind=int)
PRIVILEGED_CLIENT = _principal("spaaza_privileged", PrivilegedClient, "client_id", F("chains", INTS))
OPERATOR_GRANT = ItemType(
    OperatorGrant,
    "operator_grant",
    key=lambda g: Keys.operator_grant(g.principal_id, g.activity_code, g.item_code),
    from_key=lambda i: {
        "principal_id": _after(i[PK]),
        "activity_code": _after(i[SK], 3, 1),
        "item_code": _after(i[SK], 3, 2),
    },
)
ADMIN_GRANT = ItemType(
    AdminGrant,
    "spaaza_admin_grant",
    F("write", BOOL),
    key=lambda g: Keys.spaaza_admin_grant(g.user_id, g.chain_id),
    from_key=lambda i: {"user_id": int(_after(i[PK])), "chain_id": int(_after(i[SK]))},
)

# --------------------------------------------------------------------------- refs


class Reads(NamedTuple):
    """Where a Ref's record is (`key`: its type's own, read off the Ref's fields of the same
    names, unless given), which item type holds it, and what the Ref reads it as."""

    key: Callable[[Any], Key]
    type: ItemType[Any]
    value: Callable[[Mapping[str, Any]], Any]


def _reads(t: ItemType[Any], key: Callable[[Any], Key] | None = None, value: Any = None) -> Reads:
    return Reads(key or t.key, t, value or partial(decode, t))  # type: ignore[arg-type]


def _present(_item: Mapping[str, Any]) -> bool:
    return True  # a grant or marker: the item's existence is the fact


REFS: dict[type, Reads] = {
    ports.SessionRef: _reads(SESSION),
    ports.TouchpointRef: _reads(TOUCHPOINT),
    ports.ActivityRef: _reads(ACTIVITY),
    ports.CatalogItemRef: _reads(CATALOG_ITEM),
    ports.VoucherRef: _reads(VOUCHER),
    ports.DefinitionRef: _reads(DEFINITION),
    ports.MemberRef: _reads(MEMBER),
    ports.MemberAliasRef: _reads(MEMBER_ALIAS, lambda r: Keys.member_alias(r.kind, r.value)),
    ports.VoucherAliasRef: _reads(VOUCHER_ALIAS, lambda r: Keys.voucher_alias(r.kind, r.value, r.chain_id)),
    ports.AppRef: _reads(APP),
    ports.ChainRef: _reads(CHAIN),
    ports.AdminGrantRef: _reads(ADMIN_GRANT),
    ports.OperatorGrantRef: _reads(OPERATOR_GRANT, value=_present),
    ports.GuardRef: _reads(VOUCHER, value=guard_of),  # a guard is part of its voucher
    ports.IdempotencyRef: _reads(IDEMPOTENCY, lambda r: Keys.idempotency(r.key_hash)),
    ports.AnnouncedRef: _reads(ANNOUNCED, value=_present),
}
# item "type" -> what the Ref that names such an item reads it as (an in-memory store's seed)
READS_BY_TAG = {r.type.tag: r.value for ref, r in REFS.items() if ref is not ports.GuardRef}
# every item type of the table, by its "type" (the webhook subscriber's is with its class)
ITEM_TYPES = {t.tag: t for t in (EVENT, THALAMUS_USER, CONSOLE_USER, SPAAZA_ADMIN, PRIVILEGED_CLIENT)}
ITEM_TYPES |= {r.type.tag: r.type for r in REFS.values()}


def key_for(ref: ports.Ref[Any]) -> Key:
    return REFS[type(ref)].key(ref)


def value_of(ref: ports.Ref[Any], item: Mapping[str, Any]) -> Any:
    """What `ref` reads its item as."""
    return REFS[type(ref)].value(item)
