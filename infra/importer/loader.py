"""Turn a validated import file into table items and write them, idempotently.

Loading is plan-then-write: every item is built and compared with what the table holds
before anything is written. Items already present and identical are skipped (re-running a
file changes nothing); items present but different are conflicts, and nothing is written
unless --replace is given. New items are written with attribute_not_exists conditions in
transactions that keep each voucher with its aliases and its IMPORTED audit event.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

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
    cross_check,
    parse,
)
from shared.domain import (
    Activation,
    AuditEvent,
    Definition,
    Member,
    PrincipalKind,
    ProviderConfig,
    Session,
    Status,
    Voucher,
    utcnow,
)
from shared.runtime import hash_token
from shared.store import (
    GSI1,
    PK,
    SK,
    Item,
    Keys,
    Table,
    definition_to_item,
    deserialize,
    event_to_item,
    item_to_definition,
    item_to_member,
    key_id,
    member_to_item,
    serialize,
    session_to_item,
    voucher_to_item,
)
from shared.webhooks.subscribers import Subscriber, subscriber_to_item

TRANSACTION_ITEMS = 100  # TransactWriteItems' limit


@dataclass
class ItemGroup:
    """Items that must land together (a voucher with its aliases), plus optional event."""

    items: list[Item]
    event: Item | None = None


# The record a group stands for, by the type of its first item, as the import file names it
RECORD_KINDS = {
    "voucher": "vouchers",
    "member": "members",
    "definition": "definitions",
    "catalog_item": "catalog items",
    "session": "sessions",
    "chain": "chains",
    "app": "app hostnames",
    "activity": "activities",
    "touchpoint": "touchpoints",
    "thalamus_user": "thalamus users",
    "es_console": "console users",
    "spaaza_admin": "spaaza admins",
    "spaaza_privileged": "privileged clients",
    "webhook_subscriber": "webhook subscribers",
}


def record_kind(group: ItemGroup) -> str:
    kind = str(group.items[0].get("type", "other"))
    return RECORD_KINDS.get(kind, kind)


@dataclass
class LoadReport:
    """Counts in items (what DynamoDB holds) and, per record kind, in records (what the file
    holds: a voucher is one record and two to four items)."""

    created: int = 0
    unchanged: int = 0
    replaced: int = 0
    conflicts: list[str] = field(default_factory=list)
    written: bool = False
    records: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        self.records.setdefault(kind, Counter())[outcome] += 1

    def summary(self) -> str:
        return (
            f"created {self.created}, unchanged {self.unchanged}, replaced {self.replaced}, "
            f"conflicts {len(self.conflicts)} (items)"
        )

    def record_lines(self) -> list[str]:
        """One line per record kind: `vouchers  50000: created 50000`."""
        lines = []
        for kind in sorted(self.records, key=lambda k: (k != "vouchers", k)):
            counts = self.records[kind]
            outcomes = ", ".join(
                f"{outcome} {counts[outcome]}"
                for outcome in ("created", "unchanged", "replaced", "conflict")
                if counts[outcome]
            )
            lines.append(f"{kind:>20} {sum(counts.values()):>8}: {outcomes}")
        return lines


@dataclass
class Progress:
    """Reports writing progress: `done(vouchers, items)` after each transaction; `every`
    seconds at most one line (and always the last), as vouchers done / total, items, rate."""

    total_vouchers: int
    total_items: int
    emit: Callable[[str], None]
    every: float = 2.0
    clock: Callable[[], float] = time.monotonic
    vouchers: int = 0
    items: int = 0
    _started: float = 0.0
    _last: float = 0.0

    def start(self) -> None:
        self._started = self._last = self.clock()

    def done(self, vouchers: int, items: int) -> None:
        self.vouchers += vouchers
        self.items += items
        now = self.clock()
        finished = self.items >= self.total_items
        if now - self._last < self.every and not finished:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.vouchers / elapsed
        share = 100 * self.items / max(self.total_items, 1)
        self.emit(
            f"vouchers {self.vouchers}/{self.total_vouchers}, items {self.items}/{self.total_items} "
            f"({share:.0f}%), {rate:.0f} vouchers/s, {elapsed:.0f} s"
        )


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
    groups: list[ItemGroup] = []
    existing = existing or Existing()
    known = existing.records
    chain_hosts = {c.chain_id: c.app_hostnames for c in [*known.chains, *f.chains]}
    definitions: dict[str, Definition] = {d.definition_id: _definition(d) for d in known.definitions}
    members: dict[str, Member] = {m.member_id: _member(m) for m in known.members}

    def single(item: Item) -> None:
        groups.append(ItemGroup([{k: v for k, v in item.items() if v is not None}]))

    for c in f.chains:
        single(
            {
                **Keys.chain(c.chain_id),
                "type": "chain",
                "chain_id": c.chain_id,
                "name": c.name,
                "uses_third_party_voucher_id": c.uses_third_party_voucher_id,
                "app_hostnames": [h.lower() for h in c.app_hostnames] or None,
            }
        )
        for host in c.app_hostnames:
            single({**Keys.app(host), "type": "app", "hostname": host.lower(), "chain_id": c.chain_id})
    for activity in f.activities:
        single(
            {
                **Keys.activity(activity.activity_code),
                "type": "activity",
                "activity_code": activity.activity_code,
                "name": activity.name,
            }
        )
    for t in f.touchpoints:
        single({**Keys.touchpoint(t.code), "type": "touchpoint", "code": t.code, "name": t.name})
    for d in f.definitions:
        definition = _definition(d)
        definitions[d.definition_id] = definition
        single(definition_to_item(definition))
        if d.thalamus:
            single(
                {
                    **Keys.catalog_item(d.thalamus.activity_code, d.thalamus.item_code),
                    "type": "catalog_item",
                    "definition_id": d.definition_id,
                    "product_name": d.product_name,
                    "item_type": d.thalamus.item_type,
                }
            )
    for m in f.members:
        member = _member(m)
        members[m.member_id] = member
        aliases = [
            {**Keys.member_alias(kind, value), "type": "member_alias", "member_id": m.member_id}
            for kind, value in (
                ("user_id", m.user_id),
                ("member_number", m.member_number),
                ("username", m.username),
                ("authentication_point_identifier", m.authentication_point_identifier),
                ("auxiliary_identifier", m.auxiliary_identifier),
            )
            if value is not None
        ]
        groups.append(ItemGroup([member_to_item(member), *aliases]))
    thalamus_users = {u.user_id: u for u in [*known.thalamus_users, *f.thalamus_users]}
    for u in f.thalamus_users:
        grants = [
            {**Keys.operator_grant(u.user_id, g.activity_code, g.item_code), "type": "operator_grant"}
            for g in u.grants
        ]
        groups.append(
            ItemGroup(
                [
                    {
                        **Keys.principal("thalamus_user", u.user_id),
                        "type": "thalamus_user",
                        "operator": u.operator,
                    },
                    *(grants if u.operator else []),
                ]
            )
        )
    for cu in f.console_users:
        single({**Keys.principal("es_console", cu.user_id), "type": "es_console"})
    admins = {a.user_id: a for a in [*known.spaaza_admins, *f.spaaza_admins]}
    for admin in f.spaaza_admins:
        groups.append(
            ItemGroup(
                [
                    {
                        **Keys.principal("spaaza_admin", admin.user_id),
                        "type": "spaaza_admin",
                        "chains": sorted(admin.chains),
                    },
                    *(
                        {
                            **Keys.spaaza_admin_grant(admin.user_id, c),
                            "type": "spaaza_admin_grant",
                            "write": True,
                        }
                        for c in sorted(set(admin.chains))
                    ),
                ]
            )
        )
    clients = {c.client_id: c for c in [*known.privileged_clients, *f.privileged_clients]}
    for client in f.privileged_clients:
        single(
            {
                **Keys.principal("spaaza_privileged", client.client_id),
                "type": "spaaza_privileged",
                "chains": sorted(client.chains),
            }
        )
    for s in f.sessions:
        token_hash = s.token_sha256 or hash_token(s.token or "")
        session = Session(
            token_hash=token_hash,
            kind=PrincipalKind(s.kind),
            principal_id=s.principal,
            expires_at=s.expires_at,
            revoked=s.revoked,
        )
        if s.kind == "thalamus_user":
            user = thalamus_users[s.principal]
            session = _with(
                session,
                touchpoint=s.touchpoint,
                is_operator=user.operator,
                grants=tuple((g.activity_code, g.item_code) for g in user.grants) if user.operator else (),
            )
        elif s.kind in ("es_member", "spaaza_user"):
            member = members[s.principal]
            hosts = chain_hosts.get(member.chain_id or 0, [])
            session = _with(
                session,
                member_id=member.member_id,
                ghost=member.ghost,
                spaaza_user_id=member.user_id,
                chain_id=member.chain_id,
                app_hostname=(s.app_hostname or (hosts[0] if hosts else None) or None),
            )
            if session.app_hostname:
                session = _with(session, app_hostname=session.app_hostname.lower())
        elif s.kind == "spaaza_admin":
            session = _with(
                session,
                spaaza_user_id=int(s.principal),
                chains=tuple(sorted(admins[int(s.principal)].chains)),
            )
        elif s.kind == "spaaza_privileged":
            session = _with(session, chains=tuple(sorted(clients[s.principal].chains)))
        single(session_to_item(session))
    for v in f.vouchers:
        definition = definitions[v.definition_id]
        voucher_key = v.voucher_key or (
            (existing.voucher_keys.get(v.serial) or new_voucher_key())
            if definition.campaign_id is not None
            else None
        )
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
                activated_at=v.activation.activated_at,
                provider=v.activation.provider,
                code_expiry=v.activation.code_expiry,
                authorization_code=v.activation.authorization_code,
                previous_status=Status(v.activation.previous_status),
                reference=v.activation.reference or f"{v.serial}:import",
            )
            if v.activation
            else None,
        )
        alias_target: dict[str, Any] = {
            "serial": v.serial,
            "definition_id": v.definition_id,
            "chain_id": definition.chain_id,
        }
        voucher_aliases: list[Item] = []
        if voucher_key:
            voucher_aliases.append(
                {**Keys.voucher_alias("voucher_key", voucher_key), "type": "voucher_alias", **alias_target}
            )
        if v.voucher_id is not None:
            voucher_aliases.append(
                {**Keys.voucher_alias("voucher_id", v.voucher_id), "type": "voucher_alias", **alias_target}
            )
        if v.third_party_id is not None:
            voucher_aliases.append(
                {
                    **Keys.voucher_alias("third_party_id", v.third_party_id, definition.chain_id),
                    "type": "voucher_alias",
                    **alias_target,
                }
            )
        event = AuditEvent(
            serial=v.serial,
            event_type="IMPORTED",
            channel="import",
            actor_kind="importer",
            actor_id="importer",
            from_status=None,
            to_status=v.status.value,
            at=now,
            request_id="import",
        )
        groups.append(
            ItemGroup(
                [
                    voucher_to_item(voucher),
                    *[{k: x for k, x in a.items() if x is not None} for a in voucher_aliases],
                ],
                event=event_to_item(event, hashlib.sha256(v.serial.encode()).hexdigest()[:16]),
            )
        )
    for w in f.webhook_subscribers:  # the secret's name only: the secret goes to Secrets Manager
        single(
            subscriber_to_item(
                Subscriber(w.subscriber_id, w.chain_id, w.url, tuple(w.event_types), w.secret_name, w.enabled)
            )
        )
    return groups


def store_webhook_secrets(f: ImportFile, put_secret: Callable[[str, str], None]) -> int:
    """Put each subscriber's `secret` (when the file gives one) into Secrets Manager before
    any table item names it, so a subscriber never exists without its secret."""
    stored = 0
    for w in f.webhook_subscribers:
        if w.secret is not None:
            put_secret(w.secret_name, w.secret.get_secret_value())
            stored += 1
    return stored


def secrets_manager_putter(client: Any) -> Callable[[str, str], None]:
    def put(name: str, value: str) -> None:
        try:
            client.create_secret(
                Name=name, SecretString=value, Description="voucher service webhook signing secret"
            )
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)

    return put


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
    return Member(
        member_id=m.member_id,
        chain_id=m.chain_id,
        ghost=m.ghost,
        user_id=m.user_id,
        member_number=m.member_number,
        username=m.username,
        authentication_point_identifier=m.authentication_point_identifier,
        auxiliary_identifier=m.auxiliary_identifier,
        card_type=m.card.type if m.card else None,
        card_code=m.card.code if m.card else None,
    )


def existing_for(store: Table, f: ImportFile) -> Existing:
    """Fetch (one BatchGetItem, plus one Query per referenced operator for its grants) the
    records `f` refers to without defining them, shaped as import records."""
    defined_chains = {c.chain_id for c in f.chains}
    defined_definitions = {d.definition_id for d in f.definitions}
    defined_members = {m.member_id for m in f.members}
    defined_activities = {a.activity_code for a in f.activities}
    defined_catalog = {(d.thalamus.activity_code, d.thalamus.item_code) for d in f.definitions if d.thalamus}
    users = {u.user_id for u in f.thalamus_users}
    consoles = {u.user_id for u in f.console_users}
    admins = {a.user_id for a in f.spaaza_admins}
    clients = {c.client_id for c in f.privileged_clients}
    touchpoints = {t.code for t in f.touchpoints}

    want: dict[str, set[Any]] = {
        k: set()
        for k in (
            "chain",
            "definition",
            "member",
            "activity",
            "catalog",
            "touchpoint",
            "user",
            "console",
            "admin",
            "client",
        )
    }
    want["definition"] = {v.definition_id for v in f.vouchers} - defined_definitions
    want["member"] = {v.owner_member_id for v in f.vouchers if v.owner_member_id} | {
        s.principal for s in f.sessions if s.kind in ("es_member", "spaaza_user")
    }
    want["member"] -= defined_members
    want["activity"] = {d.thalamus.activity_code for d in f.definitions if d.thalamus} | {
        g.activity_code for u in f.thalamus_users for g in u.grants
    }
    want["activity"] -= defined_activities
    want["catalog"] = {
        (g.activity_code, g.item_code) for u in f.thalamus_users for g in u.grants if g.item_code != "*"
    } - defined_catalog
    want["chain"] = (
        {d.spaaza.chain_id for d in f.definitions if d.spaaza}
        | {m.chain_id for m in f.members if m.chain_id is not None}
        | {c for a in f.spaaza_admins for c in a.chains}
        | {c for p in f.privileged_clients for c in p.chains}
        | {w.chain_id for w in f.webhook_subscribers}
    ) - defined_chains
    want["touchpoint"] = {s.touchpoint for s in f.sessions if s.touchpoint} - touchpoints
    want["user"] = {s.principal for s in f.sessions if s.kind == "thalamus_user"} - users
    want["console"] = {s.principal for s in f.sessions if s.kind == "es_console"} - consoles
    want["admin"] = {
        int(s.principal) for s in f.sessions if s.kind == "spaaza_admin" and s.principal.isdigit()
    }
    want["admin"] -= admins
    want["client"] = {s.principal for s in f.sessions if s.kind == "spaaza_privileged"} - clients

    keys = (
        [Keys.definition(x) for x in want["definition"]]
        + [Keys.member(x) for x in want["member"]]
        + [Keys.activity(x) for x in want["activity"]]
        + [Keys.catalog_item(a, i) for a, i in want["catalog"]]
        + [Keys.touchpoint(x) for x in want["touchpoint"]]
        + [Keys.principal("thalamus_user", x) for x in want["user"]]
        + [Keys.principal("es_console", x) for x in want["console"]]
        + [Keys.principal("spaaza_admin", x) for x in want["admin"]]
        + [Keys.principal("spaaza_privileged", x) for x in want["client"]]
    )
    keyless = [v.serial for v in f.vouchers if v.voucher_key is None]
    keys += [Keys.voucher(serial) for serial in keyless]
    found = store.batch_get(keys) if keys else {}
    voucher_keys = {
        str(item["serial"]): str(item["voucher_key"])
        for item in found.values()
        if item.get("type") == "voucher" and item.get("voucher_key")
    }
    member_chains = {
        int(item["chain_id"])
        for item in found.values()
        if item.get("type") == "member" and item.get("chain_id")
    }
    definition_chains = {
        int(item["chain_id"])
        for item in found.values()
        if item.get("type") == "definition" and item.get("chain_id")
    }
    chain_ids = (want["chain"] | member_chains | definition_chains) - defined_chains
    if chain_ids:
        found.update(store.batch_get([Keys.chain(c) for c in chain_ids]))

    records = ImportFile.model_construct(format=FORMAT)
    catalog: set[tuple[str, str]] = set()
    for item in found.values():
        kind = item.get("type")
        if kind == "chain":
            records.chains.append(
                ChainIn.model_construct(
                    chain_id=int(item["chain_id"]),
                    name=item.get("name", ""),
                    uses_third_party_voucher_id=bool(item.get("uses_third_party_voucher_id", False)),
                    app_hostnames=list(item.get("app_hostnames", [])),
                )
            )
        elif kind == "definition":
            d = item_to_definition(item)
            records.definitions.append(
                DefinitionIn.model_construct(
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
            )
        elif kind == "member":
            m = item_to_member(item)
            records.members.append(
                MemberIn.model_construct(
                    **{k: v for k, v in m.__dict__.items() if k not in {"card_type", "card_code"}},
                    card=CardIn.model_construct(type=m.card_type, code=m.card_code) if m.card_code else None,
                )
            )
        elif kind == "activity":
            records.activities.append(
                ActivityIn.model_construct(activity_code=item["activity_code"], name="")
            )
        elif kind == "catalog_item":
            catalog.add((item[PK].split("#", 1)[1], item[SK].split("#", 1)[1]))
        elif kind == "touchpoint":
            records.touchpoints.append(TouchpointIn.model_construct(code=item["code"], name=""))
        elif kind == "thalamus_user":
            user_id = item[PK].split("#", 2)[2]
            grants = [
                GrantIn.model_construct(activity_code=a, item_code=i)
                for g in store.query_partition(Keys.operator_grant(user_id, "", "")[PK], "GRANT#")
                for a, i in [g[SK].split("#", 2)[1:]]
            ]
            records.thalamus_users.append(
                ThalamusUserIn.model_construct(
                    user_id=user_id, operator=bool(item.get("operator")), grants=grants
                )
            )
        elif kind == "es_console":
            records.console_users.append(ConsoleUserIn.model_construct(user_id=item[PK].split("#", 2)[2]))
        elif kind == "spaaza_admin":
            records.spaaza_admins.append(
                SpaazaAdminIn.model_construct(
                    user_id=int(item[PK].split("#", 2)[2]), chains=list(item.get("chains", []))
                )
            )
        elif kind == "spaaza_privileged":
            records.privileged_clients.append(
                PrivilegedClientIn.model_construct(
                    client_id=item[PK].split("#", 2)[2], chains=list(item.get("chains", []))
                )
            )
    return Existing(records=records, catalog=catalog, voucher_keys=voucher_keys)


def validate_against(store: Table, document: Any) -> tuple[ImportFile | None, list[str], Existing]:
    """Validate a document whose references may point at records already in the table."""
    parsed, problems = parse(document)
    if parsed is None:
        return None, problems, Existing()
    existing = existing_for(store, parsed)
    problems = cross_check(parsed, existing)
    return (parsed if not problems else None), problems, existing


def _with(session: Session, **changes: Any) -> Session:
    from dataclasses import replace

    return replace(session, **changes)


Request = dict[str, Any]  # one element of a TransactWriteItems call


class ItemWrite(NamedTuple):
    """One planned put, kept as the plain item until its transaction is sent (serialized
    requests for a whole file would triple the importer's memory): `new` ones must not exist
    yet; a replaced voucher is conditioned on the version that was read."""

    item: Item
    new: bool = True
    expected_version: int | None = None

    def request(self, table: str) -> Request:
        if self.new:
            return put_new(table, self.item)
        return put_replacing(table, self.item, self.expected_version)


def put_new(table: str, item: Item) -> Request:
    """Create an item that must not exist yet (imports never overwrite silently)."""
    return {
        "Put": {
            "TableName": table,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
    }


def put_replacing(table: str, item: Item, expected_version: int | None = None) -> Request:
    """Overwrite an item; a voucher only at the version that was read, so a concurrent
    state change is never lost to an import."""
    put: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
    if expected_version is not None:
        put["ConditionExpression"] = "#version = :expected"
        put["ExpressionAttributeNames"] = {"#version": "version"}
        put["ExpressionAttributeValues"] = serialize({":expected": expected_version})
    return {"Put": put}


DERIVED = frozenset({"updated_at", GSI1.partition_key, GSI1.sort_key})


def _comparable(item: Item) -> Item:
    """The item as DynamoDB would hand it back (None dropped, numbers normalised), without
    what is derived: the owner index's keys follow from owner, issue date and serial, which
    are compared, so an entry keyed in an older format (python -m infra.importer.backfill) is not a
    conflict."""
    return {k: v for k, v in deserialize(serialize(item)).items() if k not in DERIVED}


def plan_load(
    store: Table, groups: list[ItemGroup], *, replace: bool = False
) -> tuple[list[list[ItemWrite]], LoadReport]:
    """Compare every item with the table: identical items are skipped, new ones are created
    (`attribute_not_exists`), differing ones are conflicts — written only with `replace`, a
    voucher then only at the version read, bumped, with a REPLACED event (real from-status).
    Returns one write list per group (a voucher with its aliases and event stays together)."""
    report = LoadReport()
    existing = store.batch_get([{PK: i[PK], SK: i[SK]} for g in groups for i in g.items])
    writes: list[list[ItemWrite]] = []
    for group in groups:
        requests: list[ItemWrite] = []
        event = dict(group.event) if group.event else None
        voucher_written = False
        outcomes: set[str] = set()
        for item in group.items:
            current = existing.get(key_id({PK: item[PK], SK: item[SK]}))
            if current is None:
                requests.append(ItemWrite(item))
                report.created += 1
                outcomes.add("created")
                voucher_written |= item.get("type") == "voucher"
            elif _comparable(current) == _comparable(item):
                report.unchanged += 1
                outcomes.add("unchanged")
            else:
                report.conflicts.append(f"{item[PK]} / {item[SK]}: differs from the table")
                outcomes.add("conflict" if not replace else "replaced")
                if not replace:
                    continue
                if item.get("type") == "voucher":
                    version = int(current.get("version", 0))
                    bumped = {**item, "version": version + 1}
                    requests.append(ItemWrite(bumped, new=False, expected_version=version))
                    voucher_written = True
                    if event is not None:
                        event.update(event_type="REPLACED", from_status=current.get("status"))
                else:
                    requests.append(ItemWrite(item, new=False))
                report.replaced += 1
        if event is not None and voucher_written:
            requests.append(ItemWrite(event))
        # a record is what its most consequential item says (a voucher whose alias conflicts
        # is a conflict; one with a new alias and an unchanged voucher item was created)
        report.count(
            record_kind(group),
            next(o for o in ("conflict", "replaced", "created", "unchanged") if o in outcomes),
        )
        if requests:
            writes.append(requests)
    return writes, report


def load(
    store: Table,
    f: ImportFile,
    *,
    replace: bool = False,
    dry_run: bool = False,
    existing: Existing | None = None,
    put_secret: Callable[[str, str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> LoadReport:
    """Plan, then write, `workers` transactions at a time; `progress` (when given) receives
    a line before the plan's reads and about every 2 s while writing. `existing` (from
    validate_against) resolves references to records already in the table; without it they
    are fetched here. Webhook secrets the file gives
    go to `put_secret` (Secrets Manager) first; a file with secrets and no `put_secret` is
    refused rather than loaded without them."""
    groups = build_groups(f, existing=existing if existing is not None else existing_for(store, f))
    if progress is not None:
        total = sum(len(g.items) for g in groups)
        progress(f"checking {total} items ({len(groups)} records) against the table")
    writes, report = plan_load(store, groups, replace=replace)
    if (report.conflicts and not replace) or dry_run:
        return report
    if any(w.secret is not None for w in f.webhook_subscribers):
        if put_secret is None:
            raise ValueError("the file gives webhook secrets but no secret store is configured")
        store_webhook_secrets(f, put_secret)
    batches: list[list[ItemWrite]] = [[]]
    for requests in writes:  # transactions of at most 100 items, never splitting a group
        if len(batches[-1]) + len(requests) > TRANSACTION_ITEMS:
            batches.append([])
        batches[-1].extend(requests)
    batches = [b for b in batches if b]
    tracker = None
    if progress is not None:
        tracker = Progress(
            total_vouchers=sum(1 for b in batches for r in b if _is_voucher(r)),
            total_items=sum(len(b) for b in batches),
            emit=progress,
        )
        tracker.start()
    lock = threading.Lock()

    def commit(batch: list[ItemWrite]) -> None:
        store.transact([w.request(store.table_name) for w in batch])
        if tracker is not None:
            with lock:
                tracker.done(sum(1 for r in batch if _is_voucher(r)), len(batch))

    # Transactions are independent (each group is whole in one), so they may run `workers` at
    # a time: DynamoDB's latency per call, not its throughput, bounds a serial import. One by
    # default: moto's in-process mock is not thread-safe (its transactions deep-copy the
    # table while another thread writes); the CLI and the local stack on DynamoDB Local use 4. The first
    # failure stops new transactions being started; those already written stay (re-running the
    # file skips them as unchanged).
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[Future[None]] = set()
        for batch in batches:
            pending.add(pool.submit(commit, batch))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    future.result()
        finished, _ = wait(pending)
        for future in finished:
            future.result()
    report.written = bool(writes)
    return report


def _is_voucher(write: ItemWrite) -> bool:
    return write.item.get("type") == "voucher"
