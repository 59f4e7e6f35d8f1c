"""Items <-> domain objects, and which key each `Ref` of the port names.

The only place that knows attribute names. Decoding is by the Ref's type, so a Snapshot
is filled with domain objects and no use case ever sees an item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
    IdempotentAnswer,
    Member,
    MemberAlias,
    PrincipalKind,
    ProviderConfig,
    Session,
    Status,
    Touchpoint,
    Voucher,
    VoucherAlias,
    format_instant,
    parse_instant,
)
from shared.ports import (
    ActivityRef,
    AdminGrantRef,
    AnnouncedRef,
    AppRef,
    CatalogItemRef,
    ChainRef,
    DefinitionRef,
    GuardRef,
    IdempotencyRef,
    MemberAliasRef,
    MemberRef,
    OperatorGrantRef,
    Ref,
    SessionRef,
    TouchpointRef,
    VoucherAliasRef,
    VoucherRef,
)
from shared.store.keys import PK, SK, TTL, Key, Keys

Item = dict[str, Any]


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
        "issued_at": format_instant(v.issued_at) if v.issued_at else None,
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
        "activation": activation_to_map(v.activation) if v.activation else None,
        "consumption": consumption_to_map(v.consumption) if v.consumption else None,
    }
    if v.owner_member_id:
        item.update(Keys.owner(v.owner_member_id, v.issued_at, v.serial))
    return {k: val for k, val in item.items() if val is not None}


def activation_to_map(a: Activation) -> Item:
    return {
        "activated_at": format_instant(a.activated_at),
        "provider": a.provider,
        "code_expiry": format_instant(a.code_expiry),
        "authorization_code": a.authorization_code,
        "previous_status": a.previous_status.value,
        "reference": a.reference,
    }


def consumption_to_map(c: Consumption) -> Item:
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
        issued_at=parse_instant(item["issued_at"]) if item.get("issued_at") else None,
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
        "business_unit": d.business_unit,
        "voucher_group": d.voucher_group if d.voucher_group != "basket" else None,
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
        business_unit=item.get("business_unit"),
        voucher_group=str(item.get("voucher_group", "basket")),
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


def item_to_event(item: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        serial=item["serial"],
        event_type=item["event_type"],
        channel=item["channel"],
        actor_kind=item["actor_kind"],
        actor_id=item["actor_id"],
        from_status=item.get("from_status"),
        to_status=item["to_status"],
        at=parse_instant(item["at"]),
        request_id=item["request_id"],
        correlation_id=item.get("correlation_id"),
        details=dict(item.get("details") or {}),
    )


# The activation guard lives on the voucher item itself (never an item of its own): a consume
# or unclaim then proves "no activation in flight" in the voucher update's own condition
# instead of a ConditionCheck (2 RRU), the guard is read with the voucher for free, and taking
# it is one conditional UpdateItem (1 WRU) instead of a two-item transaction (2 RRU + 2 WRU).
GUARD_ATTRIBUTES = ("guard_owner", "guard_reference", "guard_acquired_at", "guard_expires_at_ms")
GUARD_EXPIRY = "guard_expires_at_ms"
GUARD_OWNER = "guard_owner"


def guard_to_item(g: ActivationGuard) -> Item:
    """The guard's attributes on its voucher's item (no TTL: a voucher item never expires; an
    expired guard is ignored by every check and removed by the voucher's next write)."""
    return {
        "guard_owner": g.owner,
        "guard_reference": g.reference,
        "guard_acquired_at": format_instant(g.acquired_at),
        GUARD_EXPIRY: epoch_ms(g.expires_at),
    }


def item_to_guard(item: Mapping[str, Any]) -> ActivationGuard | None:
    """The guard a voucher item carries, or None (also for any item that is not a voucher)."""
    if not item.get(GUARD_OWNER):
        return None
    return ActivationGuard(
        serial=str(item.get("serial") or str(item[PK]).split("#", 1)[1]),
        owner=str(item[GUARD_OWNER]),
        reference=str(item.get("guard_reference", "")),
        acquired_at=parse_instant(item["guard_acquired_at"])
        if item.get("guard_acquired_at")
        else datetime.min.replace(tzinfo=UTC),
        expires_at=datetime.fromtimestamp(int(item.get(GUARD_EXPIRY, 0)) / 1000, tz=UTC),
    )


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


# --------------------------------------------------------------------------- refs


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


_CODECS: dict[type, tuple[Callable[[Any], Key], Callable[[Mapping[str, Any]], Any]]] = {
    SessionRef: (lambda r: Keys.session(r.token_hash), item_to_session),
    TouchpointRef: (lambda r: Keys.touchpoint(r.code), lambda i: Touchpoint(code=str(i.get("code", "")))),
    ActivityRef: (lambda r: Keys.activity(r.code), lambda i: Activity(code=str(i.get("activity_code", "")))),
    CatalogItemRef: (
        lambda r: Keys.catalog_item(r.activity_code, r.item_code),
        lambda i: CatalogItem(
            activity_code=str(i[PK]).split("#", 1)[1],
            item_code=str(i[SK]).split("#", 1)[1],
            product_name=i.get("product_name"),
            item_type=i.get("item_type"),
        ),
    ),
    VoucherRef: (lambda r: Keys.voucher(r.serial), item_to_voucher),
    DefinitionRef: (lambda r: Keys.definition(r.definition_id), item_to_definition),
    MemberRef: (lambda r: Keys.member(r.member_id), item_to_member),
    MemberAliasRef: (
        lambda r: Keys.member_alias(r.kind, r.value),
        lambda i: MemberAlias(member_id=str(i["member_id"])),
    ),
    VoucherAliasRef: (
        lambda r: Keys.voucher_alias(r.kind, r.value, r.chain_id),
        lambda i: VoucherAlias(
            serial=str(i["serial"]),
            definition_id=str(i["definition_id"]),
            chain_id=_int_or_none(i.get("chain_id")),
        ),
    ),
    AppRef: (
        lambda r: Keys.app(r.hostname),
        lambda i: App(hostname=str(i.get("hostname", "")), chain_id=_int_or_none(i.get("chain_id"))),
    ),
    ChainRef: (
        lambda r: Keys.chain(r.chain_id),
        lambda i: Chain(
            chain_id=int(i["chain_id"]),
            uses_third_party_voucher_id=bool(i.get("uses_third_party_voucher_id", False)),
        ),
    ),
    AdminGrantRef: (
        lambda r: Keys.spaaza_admin_grant(r.user_id, r.chain_id),
        lambda i: AdminGrant(
            user_id=int(str(i[PK]).split("#", 1)[1]), chain_id=int(str(i[SK]).split("#", 1)[1])
        ),
    ),
    OperatorGrantRef: (
        lambda r: Keys.operator_grant(r.principal_id, r.activity_code, r.item_code),
        lambda _i: True,
    ),
    GuardRef: (lambda r: Keys.voucher(r.serial), item_to_guard),  # a guard is part of its voucher
    IdempotencyRef: (lambda r: Keys.idempotency(r.key_hash), lambda i: item_to_answer(i)),
    AnnouncedRef: (lambda r: Keys.announced(r.serial, r.reference), lambda _i: True),
}


def announced_to_item(serial: str, reference: str, at: datetime) -> Item:
    return {
        **Keys.announced(serial, reference),
        "type": "announced",
        "reference": reference,
        "at": format_instant(at),
    }


def answer_to_item(ref: IdempotencyRef, answer: IdempotentAnswer) -> Item:
    """An answer kept under an Idempotency-Key; DynamoDB's TTL deletes it after expiry (and
    until it does, readers compare `expires_at` themselves)."""
    return {
        **Keys.idempotency(ref.key_hash),
        "type": "idempotency",
        "fingerprint": answer.fingerprint,
        "status": answer.status,
        "body": answer.body,
        "headers": dict(answer.headers),
        TTL: _epoch(answer.expires_at),
    }


def item_to_answer(item: Mapping[str, Any]) -> IdempotentAnswer:
    return IdempotentAnswer(
        fingerprint=str(item["fingerprint"]),
        status=int(item["status"]),
        body=str(item["body"]),
        headers=tuple(sorted((str(k), str(v)) for k, v in (item.get("headers") or {}).items())),
        expires_at=datetime.fromtimestamp(int(item[TTL]), tz=UTC),
    )


def key_for(ref: Ref[Any]) -> Key:
    return _CODECS[type(ref)][0](ref)


def decode(ref: Ref[Any], item: Mapping[str, Any]) -> Any:
    return _CODECS[type(ref)][1](item)


# item "type" -> the Ref type whose decoder reads it (what an in-memory store is seeded from)
REF_TYPES: dict[str, type] = {
    "session": SessionRef,
    "touchpoint": TouchpointRef,
    "activity": ActivityRef,
    "catalog_item": CatalogItemRef,
    "voucher": VoucherRef,
    "definition": DefinitionRef,
    "member": MemberRef,
    "member_alias": MemberAliasRef,
    "voucher_alias": VoucherAliasRef,
    "app": AppRef,
    "chain": ChainRef,
    "spaaza_admin_grant": AdminGrantRef,
    "operator_grant": OperatorGrantRef,
}


def decode_item(item: Mapping[str, Any]) -> Any:
    """The domain object an item of `REF_TYPES` reads as (by its "type" attribute)."""
    return _CODECS[REF_TYPES[str(item["type"])]][1](item)
