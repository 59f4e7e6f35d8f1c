"""Import records <-> domain values <-> table items.

`build_groups` turns a validated file's records into domain values and encodes them with the
store's field tables (shared/store/schema.py); `records_of` decodes table items back into
import records (what a file may refer to without defining it). Neither spells an attribute.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from infra.importer.model import (
    FORMAT,
    ActivityIn,
    CardIn,
    ChainIn,
    ConsoleUserIn,
    DefinitionIn,
    Existing,
    GrantIn,
    ImportFile,
    MemberIn,
    PrivilegedClientIn,
    ProviderIn,
    SpaazaAdminIn,
    SpaazaCampaignIn,
    ThalamusCatalogIn,
    ThalamusUserIn,
    TouchpointIn,
    VoucherIn,
    WebhookSubscriberIn,
)
from shared.domain import (
    Activation,
    Activity,
    AdminGrant,
    App,
    AuditEvent,
    CatalogItem,
    Chain,
    Definition,
    EsConsoleUser,
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
    utcnow,
)
from shared.runtime import hash_token
from shared.store import PK, Item, Keys, Table, decode, encode
from shared.store.codec import ItemType
from shared.store.schema import (
    ACTIVITY,
    ADMIN_GRANT,
    APP,
    CATALOG_ITEM,
    CHAIN,
    CONSOLE_USER,
    DEFINITION,
    MEMBER,
    MEMBER_ALIAS,
    MEMBER_IDENTIFIERS,
    OPERATOR_GRANT,
    PRIVILEGED_CLIENT,
    SESSION,
    SPAAZA_ADMIN,
    THALAMUS_USER,
    TOUCHPOINT,
    VOUCHER,
    VOUCHER_ALIAS,
    event_item,
)
from shared.webhooks.subscribers import SUBSCRIBER, Subscriber

T = TypeVar("T")


@dataclass
class ItemGroup:
    """Items that must land together (a voucher with its aliases), plus optional event."""

    items: list[Item]
    event: Item | None = None


def new_voucher_key() -> str:
    """A Spaaza voucher_key for a voucher imported without one: 256 random bits. Never derived
    from the serial or any other public identifier, so knowing a voucher's serial (it is the
    Thalamus voucher code and the ES issuance id) tells nobody its key."""
    return secrets.token_hex(32)


def build_groups(
    f: ImportFile, *, now: datetime | None = None, existing: Existing | None = None
) -> list[ItemGroup]:
    """The items of every record in `f`. References resolve to records of `f` or, failing
    that, to `existing` (what the table already holds); only `f`'s records become items."""
    now = now or utcnow()
    existing = existing or Existing()
    known = existing.records
    definitions = {d.definition_id: _definition(d) for d in [*known.definitions, *f.definitions]}
    return [
        *(group for c in f.chains for group in _chain(c)),
        *(_one(ACTIVITY, Activity(a.activity_code, a.name)) for a in f.activities),
        *(_one(TOUCHPOINT, Touchpoint(t.code, t.name)) for t in f.touchpoints),
        *(group for d in f.definitions for group in _definition_groups(d, definitions[d.definition_id])),
        *(_member_group(m) for m in f.members),
        *(_thalamus_user(u) for u in f.thalamus_users),
        *(_one(CONSOLE_USER, EsConsoleUser(u.user_id)) for u in f.console_users),
        *(_spaaza_admin(a) for a in f.spaaza_admins),
        *(
            _one(PRIVILEGED_CLIENT, PrivilegedClient(c.client_id, tuple(sorted(c.chains))))
            for c in f.privileged_clients
        ),
        *_sessions(f, known),
        *(_voucher(v, definitions[v.definition_id], existing, now) for v in f.vouchers),
        *(_subscriber(w) for w in f.webhook_subscribers),
    ]


def _one(t: ItemType[Any], value: Any) -> ItemGroup:
    return ItemGroup([encode(t, value)])


def _chain(c: ChainIn) -> list[ItemGroup]:
    """A chain, then each of its apps (a hostname names one chain)."""
    hosts = tuple(h.lower() for h in c.app_hostnames)
    chain = Chain(c.chain_id, c.uses_third_party_voucher_id, c.name, hosts)
    return [_one(CHAIN, chain), *(_one(APP, App(host, c.chain_id)) for host in hosts)]


def _definition_groups(d: DefinitionIn, definition: Definition) -> list[ItemGroup]:
    """A definition, and the Thalamus catalog item it is (when it is one)."""
    groups = [_one(DEFINITION, definition)]
    if d.thalamus:
        t = d.thalamus
        item = CatalogItem(t.activity_code, t.item_code, d.product_name, t.item_type, d.definition_id)
        groups.append(_one(CATALOG_ITEM, item))
    return groups


def _member_group(m: MemberIn) -> ItemGroup:
    """A member with an alias item per Spaaza identifier it has."""
    member = _member(m)
    aliases = [
        encode(MEMBER_ALIAS, MemberAlias(m.member_id), Keys.member_alias(kind, value))
        for kind in MEMBER_IDENTIFIERS
        if (value := getattr(member, kind)) is not None
    ]
    return ItemGroup([encode(MEMBER, member), *aliases])


def _thalamus_user(u: ThalamusUserIn) -> ItemGroup:
    """A Thalamus user with its grants (an operator's only: a consumer's grants are moot)."""
    grants = [OperatorGrant(u.user_id, g.activity_code, g.item_code) for g in u.grants] if u.operator else []
    return ItemGroup(
        [
            encode(THALAMUS_USER, ThalamusUser(u.user_id, u.operator)),
            *(encode(OPERATOR_GRANT, g) for g in grants),
        ]
    )


def _spaaza_admin(a: SpaazaAdminIn) -> ItemGroup:
    """A Spaaza admin with a write grant per chain (each revocable on its own)."""
    grants = [encode(ADMIN_GRANT, AdminGrant(a.user_id, c)) for c in sorted(set(a.chains))]
    return ItemGroup([encode(SPAAZA_ADMIN, SpaazaAdmin(a.user_id, tuple(sorted(a.chains)))), *grants])


def _sessions(f: ImportFile, known: ImportFile) -> list[ItemGroup]:
    """Each session with the claims snapshot of its principal (from `f`, else the table)."""
    chain_hosts = {c.chain_id: c.app_hostnames for c in [*known.chains, *f.chains]}
    members = {m.member_id: _member(m) for m in [*known.members, *f.members]}
    users = {u.user_id: u for u in [*known.thalamus_users, *f.thalamus_users]}
    admins = {a.user_id: a.chains for a in [*known.spaaza_admins, *f.spaaza_admins]}
    clients = {c.client_id: c.chains for c in [*known.privileged_clients, *f.privileged_clients]}
    groups = []
    for s in f.sessions:
        session = Session(
            token_hash=s.token_sha256 or hash_token(s.token or ""),
            kind=PrincipalKind(s.kind),
            principal_id=s.principal,
            expires_at=s.expires_at,
            revoked=s.revoked,
        )
        if s.kind == "thalamus_user":
            user = users[s.principal]
            session = replace(
                session,
                touchpoint=s.touchpoint,
                is_operator=user.operator,
                grants=tuple((g.activity_code, g.item_code) for g in user.grants) if user.operator else (),
            )
        elif s.kind in ("es_member", "spaaza_user"):
            member = members[s.principal]
            hosts = chain_hosts.get(member.chain_id or 0, [])
            host = s.app_hostname or (hosts[0] if hosts else None)
            session = replace(
                session,
                member_id=member.member_id,
                ghost=member.ghost,
                spaaza_user_id=member.user_id,
                chain_id=member.chain_id,
                app_hostname=host.lower() if host else None,
            )
        elif s.kind == "spaaza_admin":
            session = replace(
                session, spaaza_user_id=int(s.principal), chains=tuple(sorted(admins[int(s.principal)]))
            )
        elif s.kind == "spaaza_privileged":
            session = replace(session, chains=tuple(sorted(clients[s.principal])))
        groups.append(_one(SESSION, session))
    return groups


def _voucher(v: VoucherIn, definition: Definition, existing: Existing, now: datetime) -> ItemGroup:
    """A voucher with an alias per Spaaza identity, and its IMPORTED event (id derived from
    the serial, so a re-import meets its own event)."""
    voucher_key = v.voucher_key or (
        (existing.voucher_keys.get(v.serial) or new_voucher_key())
        if definition.campaign_id is not None
        else None
    )
    a = v.activation
    voucher = Voucher(
        serial=v.serial,
        definition_id=v.definition_id,
        status=v.status,
        version=1,
        owner_member_id=v.owner_member_id,
        expires_at=v.valid_until,
        issued_at=v.issued_at,
        locked=v.locked,
        activity_code=definition.activity_code,
        item_code=definition.item_code,
        voucher_key=voucher_key,
        voucher_id=v.voucher_id,
        third_party_id=v.third_party_id,
        chain_id=definition.chain_id,
        currency_id=v.currency_id,
        currency_symbol=v.currency_symbol,
        amount_original=v.amount_original,
        amount_redeemed=v.amount_redeemed,
        text=v.text,
        activation=Activation(
            a.activated_at,
            a.provider,
            a.code_expiry,
            a.authorization_code,
            Status(a.previous_status),
            a.reference or f"{v.serial}:import",
        )
        if a
        else None,
    )
    alias = VoucherAlias(v.serial, v.definition_id, definition.chain_id)
    keys = [
        Keys.voucher_alias("voucher_key", voucher_key) if voucher_key else None,
        Keys.voucher_alias("voucher_id", v.voucher_id) if v.voucher_id is not None else None,
        Keys.voucher_alias("third_party_id", v.third_party_id, definition.chain_id)
        if v.third_party_id is not None
        else None,
    ]
    event = AuditEvent(
        v.serial, "IMPORTED", "import", "importer", "importer", None, v.status.value, now, "import"
    )
    return ItemGroup(
        [encode(VOUCHER, voucher), *(encode(VOUCHER_ALIAS, alias, key) for key in keys if key)],
        event=event_item(event, hashlib.sha256(v.serial.encode()).hexdigest()[:16]),
    )


def _subscriber(w: WebhookSubscriberIn) -> ItemGroup:
    """A subscriber names its secret; the secret itself goes to Secrets Manager."""
    return _one(
        SUBSCRIBER,
        Subscriber(w.subscriber_id, w.chain_id, w.url, tuple(w.event_types), w.secret_name, w.enabled),
    )


def _definition(d: DefinitionIn) -> Definition:
    return Definition(
        definition_id=d.definition_id,
        product_name=d.product_name,
        reward_type=d.reward_type,
        provider=ProviderConfig(**d.provider.model_dump()) if d.provider else None,
        activity_code=d.thalamus.activity_code if d.thalamus else None,
        item_code=d.thalamus.item_code if d.thalamus else None,
        item_type=d.thalamus.item_type if d.thalamus else None,
        campaign_id=d.spaaza.campaign_id if d.spaaza else None,
        campaign_type=d.spaaza.campaign_type if d.spaaza else None,
        campaign_title=d.spaaza.title if d.spaaza else None,
        chain_id=d.spaaza.chain_id if d.spaaza else None,
        allows_end_user_to_claim_voucher=d.spaaza.allows_end_user_to_claim_voucher if d.spaaza else True,
        business_unit=d.business_unit,
        voucher_group=d.spaaza.voucher_group if d.spaaza else "basket",
    )


def _member(m: MemberIn) -> Member:
    card: dict[str, Any] = {"card_type": m.card.type, "card_code": m.card.code} if m.card else {}
    return Member(**m.model_dump(exclude={"card"}), **card)


def decoded(found: Mapping[Any, Item], t: ItemType[T]) -> list[T]:
    return [decode(t, item) for item in found.values() if item.get("type") == t.tag]


def catalog_of(found: Mapping[Any, Item]) -> set[tuple[str, str]]:
    return {(c.activity_code, c.item_code) for c in decoded(found, CATALOG_ITEM)}


def records_of(store: Table, found: Mapping[Any, Item]) -> ImportFile:
    """The table's records as the import file shapes them (what cross_check and build_groups
    resolve references against)."""
    records = ImportFile.model_construct(format=FORMAT)
    records.chains.extend(
        ChainIn.model_construct(**c._asdict() | {"app_hostnames": list(c.app_hostnames)})
        for c in decoded(found, CHAIN)
    )
    records.definitions.extend(_definition_in(d) for d in decoded(found, DEFINITION))
    records.members.extend(
        MemberIn.model_construct(
            **{k: v for k, v in m.__dict__.items() if k not in {"card_type", "card_code"}},
            card=CardIn.model_construct(type=m.card_type, code=m.card_code) if m.card_code else None,
        )
        for m in decoded(found, MEMBER)
    )
    records.activities.extend(
        ActivityIn.model_construct(activity_code=a.code, name="") for a in decoded(found, ACTIVITY)
    )
    records.touchpoints.extend(
        TouchpointIn.model_construct(code=t.code, name="") for t in decoded(found, TOUCHPOINT)
    )
    for u in decoded(found, THALAMUS_USER):
        grants = store.query_partition(Keys.operator_grant(u.user_id, "", "")[PK], "GRANT#")
        records.thalamus_users.append(
            ThalamusUserIn.model_construct(
                user_id=u.user_id,
                operator=u.operator,
                grants=[
                    GrantIn.model_construct(activity_code=g.activity_code, item_code=g.item_code)
                    for g in (decode(OPERATOR_GRANT, item) for item in grants)
                ],
            )
        )
    records.console_users.extend(
        ConsoleUserIn.model_construct(user_id=u.user_id) for u in decoded(found, CONSOLE_USER)
    )
    records.spaaza_admins.extend(
        SpaazaAdminIn.model_construct(user_id=a.user_id, chains=list(a.chains))
        for a in decoded(found, SPAAZA_ADMIN)
    )
    records.privileged_clients.extend(
        PrivilegedClientIn.model_construct(client_id=c.client_id, chains=list(c.chains))
        for c in decoded(found, PRIVILEGED_CLIENT)
    )
    return records


def _definition_in(d: Definition) -> DefinitionIn:
    """The import record of a stored definition (the inverse of `_definition`)."""
    return DefinitionIn.model_construct(
        definition_id=d.definition_id,
        product_name=d.product_name,
        reward_type=d.reward_type,
        provider=ProviderIn.model_construct(**d.provider.__dict__) if d.provider else None,
        thalamus=ThalamusCatalogIn.model_construct(
            activity_code=d.activity_code, item_code=d.item_code, item_type=d.item_type
        )
        if d.activity_code and d.item_code
        else None,
        spaaza=SpaazaCampaignIn.model_construct(
            campaign_id=d.campaign_id,
            chain_id=d.chain_id,
            campaign_type=d.campaign_type,
            title=d.campaign_title or "",
            allows_end_user_to_claim_voucher=d.allows_end_user_to_claim_voucher,
            voucher_group=d.voucher_group,
        )
        if d.campaign_id is not None
        else None,
        business_unit=d.business_unit,
    )
