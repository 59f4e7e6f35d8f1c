"""The import file format (docs/import-format.md), validated whole before anything is written.

pydantic checks each record; `cross_check` then checks references between records (a
voucher's definition exists, a session's principal exists, identifiers are unique...).
Every problem is reported with its JSON path, all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.domain import Status
from shared.webhooks.events import TYPES as WEBHOOK_TYPES
from shared.webhooks.subscribers import ALL as ALL_EVENTS
from shared.webhooks.subscribers import SECRET_NAME, SUBSCRIBER_ID, UnsafeUrl, check_url

FORMAT = "voucher-import/v1"

Code = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s/?#%\\]+$")]
DefinitionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")]
PositiveInt = Annotated[int, Field(gt=0, lt=2**53)]
Text = Annotated[str, Field(max_length=1024)]
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainIn(Strict):
    chain_id: PositiveInt
    name: Text
    uses_third_party_voucher_id: bool = False
    app_hostnames: list[Hostname] = []


class ActivityIn(Strict):
    activity_code: Code
    name: Text = ""


class TouchpointIn(Strict):
    code: Code
    name: Text = ""


class ProviderIn(Strict):
    name: Literal["KESSELTRONICS"]
    product_code: Annotated[str, Field(min_length=1, max_length=64)]
    site_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    endpoint: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=512)] | None = None
    code_validity_seconds: Annotated[int, Field(ge=30, le=86400)] = 900
    timeout_seconds: Annotated[float, Field(gt=0, le=25)] = 5.0

    @field_validator("endpoint")
    @classmethod
    def _https_unless_loopback(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host = re.sub(r"^https?://", "", value).split("/", 1)[0].split(":", 1)[0]
        if value.startswith("http://") and host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("provider endpoints must use https (plain http only on loopback)")
        return value


class ThalamusCatalogIn(Strict):
    activity_code: Code
    item_code: Code
    item_type: Literal["PHYSICAL_ITEM", "VIRTUAL_ITEM", "VIRTUAL_VOUCHER_ITEM"] = "VIRTUAL_VOUCHER_ITEM"


class SpaazaCampaignIn(Strict):
    campaign_id: PositiveInt
    chain_id: PositiveInt
    campaign_type: Annotated[str, Field(min_length=1, max_length=64)] = "cashback"
    title: Text = ""
    allows_end_user_to_claim_voucher: bool = True
    voucher_group: Literal["basket", "honour", "var_price"] = "basket"  # get-user-vouchers group


class DefinitionIn(Strict):
    definition_id: DefinitionId
    product_name: Text
    reward_type: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
    provider: ProviderIn | None = None
    thalamus: ThalamusCatalogIn | None = None
    spaaza: SpaazaCampaignIn | None = None
    business_unit: Code | None = None  # ES businessUnit (the issuances filter)


class CardIn(Strict):
    type: Annotated[str, Field(min_length=1, max_length=64)] = "regular"
    code: Annotated[str, Field(min_length=1, max_length=128)]


class MemberIn(Strict):
    member_id: Code
    chain_id: PositiveInt | None = None
    ghost: bool = False
    user_id: PositiveInt | None = None
    member_number: Code | None = None
    username: Annotated[str, Field(max_length=254)] | None = None
    authentication_point_identifier: Code | None = None
    auxiliary_identifier: Code | None = None
    card: CardIn | None = None

    @field_validator("username")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_RE.match(value):
            raise ValueError("username must be an email address")
        return value.lower() if value else value


class GrantIn(Strict):
    activity_code: Code
    item_code: Code = "*"


class ThalamusUserIn(Strict):
    user_id: Code
    operator: bool = True
    grants: list[GrantIn] = []


class ConsoleUserIn(Strict):
    user_id: Code


class SpaazaAdminIn(Strict):
    user_id: PositiveInt
    chains: list[PositiveInt] = Field(min_length=1)


class PrivilegedClientIn(Strict):
    client_id: Code
    chains: list[PositiveInt] = Field(min_length=1)


SessionKind = Literal[
    "thalamus_user", "es_member", "es_console", "spaaza_user", "spaaza_admin", "spaaza_privileged"
]


class SessionIn(Strict):
    kind: SessionKind
    principal: Annotated[str, Field(min_length=1, max_length=128)]
    token: Annotated[str, Field(min_length=16, max_length=512, pattern=r"^[\x21-\x7e]+$")] | None = None
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    expires_at: datetime
    touchpoint: Code | None = None
    app_hostname: Hostname | None = None
    revoked: bool = False

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("expires_at needs a time zone (use Z for UTC)")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> SessionIn:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token or token_sha256")
        if self.kind == "thalamus_user" and not self.touchpoint:
            raise ValueError("thalamus_user sessions need a touchpoint")
        return self


class ActivationIn(Strict):
    activated_at: datetime
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    code_expiry: datetime
    authorization_code: Annotated[str, Field(min_length=1, max_length=128)]
    previous_status: Literal["AVAILABLE", "CLAIMED"] = "CLAIMED"
    reference: Annotated[str, Field(min_length=1, max_length=256)] | None = None


class VoucherIn(Strict):
    serial: Code
    definition_id: DefinitionId
    status: Status = Status.AVAILABLE
    owner_member_id: Code | None = None
    valid_until: datetime | None = None
    issued_at: datetime | None = None  # when it was issued to its member (ES issuedDate)
    locked: bool = False
    voucher_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    voucher_id: PositiveInt | None = None
    third_party_id: PositiveInt | None = None
    currency_id: PositiveInt | None = None
    currency_symbol: Annotated[str, Field(max_length=8)] | None = None
    amount_original: Annotated[float, Field(ge=0)] = 0
    amount_redeemed: Annotated[float, Field(ge=0)] = 0
    text: Text | None = None
    activation: ActivationIn | None = None

    @field_validator("valid_until", "issued_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (use Z for UTC)")
        return value

    @field_validator("serial")
    @classmethod
    def _uuid_lowercase(cls, value: str) -> str:
        if UUID_RE.match(value) and value != value.lower():
            raise ValueError("a UUID serial must be lower-case (ES voucher ids are matched lower-case)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VoucherIn:
        if self.status is Status.UNASSIGNED and self.owner_member_id:
            raise ValueError("an UNASSIGNED voucher has no owner_member_id")
        if self.status not in (Status.UNASSIGNED,) and not self.owner_member_id:
            raise ValueError(f"a {self.status.value} voucher needs owner_member_id")
        if (self.status is Status.ACTIVATED) != (self.activation is not None):
            raise ValueError("activation is given exactly when status is ACTIVATED")
        if self.issued_at and self.valid_until and self.issued_at > self.valid_until:
            raise ValueError("issued_at is after valid_until")
        if self.amount_redeemed > self.amount_original:
            raise ValueError("amount_redeemed exceeds amount_original")
        return self


class WebhookSubscriberIn(Strict):
    """A chain's webhook endpoint (docs/webhooks.md). `secret`, when given, is stored in
    Secrets Manager under `secret_name` by the importer and never in the table; without it
    the secret must already exist there."""

    subscriber_id: Annotated[str, Field(pattern=SUBSCRIBER_ID.pattern)]
    chain_id: PositiveInt
    url: Annotated[str, Field(min_length=8, max_length=2048)]
    event_types: Annotated[list[str], Field(min_length=1)] = [ALL_EVENTS]
    secret_name: Annotated[str, Field(pattern=SECRET_NAME.pattern)]
    secret: Annotated[SecretStr, Field(min_length=24, max_length=512)] | None = None
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        try:  # the local form (loopback http allowed); AWS mode checks again in cross_check
            return check_url(value, allow_private=True)
        except UnsafeUrl as error:
            raise ValueError(str(error)) from None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        known = {*WEBHOOK_TYPES.values(), ALL_EVENTS}
        unknown = [t for t in value if t not in known]
        if unknown:
            raise ValueError(f"unknown event types {unknown} (known: {sorted(known)})")
        return value


class ImportFile(Strict):
    format: Literal["voucher-import/v1"]
    chains: list[ChainIn] = []
    activities: list[ActivityIn] = []
    touchpoints: list[TouchpointIn] = []
    definitions: list[DefinitionIn] = []
    members: list[MemberIn] = []
    thalamus_users: list[ThalamusUserIn] = []
    console_users: list[ConsoleUserIn] = []
    spaaza_admins: list[SpaazaAdminIn] = []
    privileged_clients: list[PrivilegedClientIn] = []
    sessions: list[SessionIn] = []
    vouchers: list[VoucherIn] = []
    webhook_subscribers: list[WebhookSubscriberIn] = []


SECTIONS: dict[str, type[BaseModel]] = {
    "chains": ChainIn,
    "activities": ActivityIn,
    "touchpoints": TouchpointIn,
    "definitions": DefinitionIn,
    "members": MemberIn,
    "thalamus_users": ThalamusUserIn,
    "console_users": ConsoleUserIn,
    "spaaza_admins": SpaazaAdminIn,
    "privileged_clients": PrivilegedClientIn,
    "sessions": SessionIn,
    "vouchers": VoucherIn,
    "webhook_subscribers": WebhookSubscriberIn,
}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


@dataclass
class Existing:
    """What the table already holds that a file refers to without defining it: records as
    the import model shapes them (built with model_construct from table items), plus the
    Thalamus catalog (activity, item) pairs that exist."""

    records: ImportFile = dataclass_field(default_factory=lambda: ImportFile.model_construct(format=FORMAT))
    catalog: set[tuple[str, str]] = dataclass_field(default_factory=set)
    # serial -> the voucher_key the table already gave a voucher the file names without one,
    # so re-importing a file keeps its keys (generated keys are random: never derivable)
    voucher_keys: dict[str, str] = dataclass_field(default_factory=dict)


def parse(document: Any) -> tuple[ImportFile | None, list[str]]:
    """Field-level validation of a whole document; every problem with its JSON path."""
    try:
        return ImportFile.model_validate(document), []
    except ValidationError as error:
        problems = []
        for e in error.errors():
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(f"{_path(loc)}: {e['msg']}")
        return None, problems


# Each section's identifier, by which other records refer to it
IDENTIFIERS = {
    "chains": "chain_id",
    "activities": "activity_code",
    "touchpoints": "code",
    "definitions": "definition_id",
    "members": "member_id",
    "thalamus_users": "user_id",
    "console_users": "user_id",
    "spaaza_admins": "user_id",
    "privileged_clients": "client_id",
}


@dataclass
class Partial:
    """The records of a document that failed field validation which are valid on their own
    (so references and duplicates are checked in the same pass as field errors), where each
    came from (`index[section][i]` is the document's index of the partial's i-th record), and
    the identifiers of the invalid ones (referring to them is not a second error)."""

    file: ImportFile
    index: dict[str, list[int]]
    invalid: dict[str, set[Any]]

    def located(self, problem: str) -> str:
        """A cross-check problem with the partial's index turned into the document's."""
        match = re.match(r"^(\w+)\[(\d+)\]", problem)
        if not match or match.group(1) not in self.index:
            return problem
        original = self.index[match.group(1)][int(match.group(2))]
        return f"{match.group(1)}[{original}]{problem[match.end() :]}"


def partial(document: Any) -> Partial | None:
    """The valid records of an invalid document, or None when its shape (not an object, a
    section not a list, an unknown format) leaves nothing to check references on."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    kept: dict[str, Any] = {}
    index: dict[str, list[int]] = {}
    invalid: dict[str, set[Any]] = {}
    for name, model in SECTIONS.items():
        raw = document.get(name, [])
        if not isinstance(raw, list):
            return None
        kept[name], index[name], invalid[name] = [], [], set()
        for i, record in enumerate(raw):
            try:
                kept[name].append(model.model_validate(record))
                index[name].append(i)
            except ValidationError:
                if isinstance(record, dict) and name in IDENTIFIERS and IDENTIFIERS[name] in record:
                    value = record[IDENTIFIERS[name]]
                    invalid[name].add(value if not isinstance(value, list | dict) else repr(value))
    return Partial(ImportFile.model_construct(format=FORMAT, **kept), index, invalid)


def validate(document: Any, existing: Existing | None = None) -> tuple[ImportFile | None, list[str]]:
    """Parse and check a whole import document. References may point at records in the file
    or, when `existing` is given, at records already in the table.
    Returns (file, []) or (None, problems)."""
    parsed, problems = parse(document)
    if parsed is None:
        return None, problems
    problems = cross_check(parsed, existing)
    return (parsed, []) if not problems else (None, problems)


def cross_check(
    f: ImportFile,
    existing: Existing | None = None,
    *,
    aws_mode: bool = False,
    invalid: dict[str, set[Any]] | None = None,
) -> list[str]:
    """References and uniqueness. `aws_mode` (importing into AWS, not a local engine) also
    refuses webhook URLs that name private, loopback or link-local addresses. `invalid`
    (from `partial`) names records that failed field validation: a reference to one of them
    is not reported again."""
    problems: list[str] = []
    ctx = existing or Existing()
    known = ctx.records
    shadow: dict[str, set[Any]] = {name: set() for name in IDENTIFIERS} | (invalid or {})

    def unique(section: str, values: list[Any], label: str) -> set[Any]:
        seen: set[Any] = set()
        for i, value in enumerate(values):
            if value is None:
                continue
            if value in seen:
                problems.append(f"{section}[{i}].{label}: duplicate {value!r}")
            seen.add(value)
        return seen

    chains = unique("chains", [c.chain_id for c in f.chains], "chain_id") | {c.chain_id for c in known.chains}
    chains |= shadow["chains"]
    all_chains = {**{c.chain_id: c for c in known.chains}, **{c.chain_id: c for c in f.chains}}
    hosts: dict[str, int] = {h.lower(): c.chain_id for c in known.chains for h in c.app_hostnames}
    seen_hosts: set[str] = set()
    for i, c in enumerate(f.chains):
        for j, host in enumerate(c.app_hostnames):
            if hosts.get(host.lower(), c.chain_id) != c.chain_id or host.lower() in seen_hosts:
                problems.append(f"chains[{i}].app_hostnames[{j}]: {host!r} already belongs to a chain")
            hosts[host.lower()] = c.chain_id
            seen_hosts.add(host.lower())
    activities = unique("activities", [a.activity_code for a in f.activities], "activity_code")
    activities |= {a.activity_code for a in known.activities} | shadow["activities"]
    touchpoints = unique("touchpoints", [t.code for t in f.touchpoints], "code") | {
        t.code for t in known.touchpoints
    }
    touchpoints |= shadow["touchpoints"]
    definitions = {
        **{d.definition_id: d for d in known.definitions},
        **{d.definition_id: d for d in f.definitions},
    }
    unique("definitions", [d.definition_id for d in f.definitions], "definition_id")
    catalog: set[tuple[str, str]] = set(ctx.catalog)
    campaigns: set[int] = set()
    for i, d in enumerate(f.definitions):
        if d.thalamus:
            if d.thalamus.activity_code not in activities:
                problems.append(f"definitions[{i}].thalamus.activity_code: unknown activity")
            pair = (d.thalamus.activity_code, d.thalamus.item_code)
            if pair in catalog:
                problems.append(f"definitions[{i}].thalamus: item already used by another definition")
            catalog.add(pair)
        if d.spaaza:
            if d.spaaza.chain_id not in chains:
                problems.append(f"definitions[{i}].spaaza.chain_id: unknown chain")
            if d.spaaza.campaign_id in campaigns:
                problems.append(f"definitions[{i}].spaaza.campaign_id: duplicate")
            campaigns.add(d.spaaza.campaign_id)
    members = {**{m.member_id: m for m in known.members}, **{m.member_id: m for m in f.members}}
    unique("members", [m.member_id for m in f.members], "member_id")
    for field in (
        "user_id",
        "member_number",
        "username",
        "authentication_point_identifier",
        "auxiliary_identifier",
    ):
        unique("members", [getattr(m, field) for m in f.members], field)
    for i, m in enumerate(f.members):
        if m.chain_id is not None and m.chain_id not in chains:
            problems.append(f"members[{i}].chain_id: unknown chain")
    thalamus_users = {
        **{u.user_id: u for u in known.thalamus_users},
        **{u.user_id: u for u in f.thalamus_users},
    }
    unique("thalamus_users", [u.user_id for u in f.thalamus_users], "user_id")
    for i, u in enumerate(f.thalamus_users):
        for j, g in enumerate(u.grants):
            if g.activity_code not in activities:
                problems.append(f"thalamus_users[{i}].grants[{j}].activity_code: unknown activity")
            elif (
                g.item_code != "*"
                and (g.activity_code, g.item_code) not in catalog
                and not shadow["definitions"]  # the item may be an invalid definition's
            ):
                problems.append(f"thalamus_users[{i}].grants[{j}].item_code: unknown item in that activity")
    consoles = unique("console_users", [u.user_id for u in f.console_users], "user_id")
    consoles |= {u.user_id for u in known.console_users} | shadow["console_users"]
    admins = unique("spaaza_admins", [a.user_id for a in f.spaaza_admins], "user_id")
    admins |= {a.user_id for a in known.spaaza_admins} | shadow["spaaza_admins"]
    clients = unique("privileged_clients", [c.client_id for c in f.privileged_clients], "client_id")
    clients |= {c.client_id for c in known.privileged_clients} | shadow["privileged_clients"]
    granted: list[tuple[str, list[list[int]]]] = [
        ("spaaza_admins", [a.chains for a in f.spaaza_admins]),
        ("privileged_clients", [c.chains for c in f.privileged_clients]),
    ]
    for section, chain_lists in granted:
        for i, record_chains in enumerate(chain_lists):
            for j, chain in enumerate(record_chains):
                if chain not in chains:
                    problems.append(f"{section}[{i}].chains[{j}]: unknown chain")
    from shared.runtime import hash_token

    unique(
        "sessions",
        [s.token_sha256 or (hash_token(s.token) if s.token else None) for s in f.sessions],
        "token",
    )
    for i, s in enumerate(f.sessions):
        where = f"sessions[{i}].principal"
        if s.kind == "thalamus_user":
            if s.principal not in thalamus_users and s.principal not in shadow["thalamus_users"]:
                problems.append(f"{where}: unknown thalamus user")
            if s.touchpoint not in touchpoints:
                problems.append(f"sessions[{i}].touchpoint: unknown touchpoint")
        elif s.kind in ("es_member", "spaaza_user"):
            member = members.get(s.principal)
            if member is None:
                if s.principal not in shadow["members"]:
                    problems.append(f"{where}: unknown member")
            elif s.kind == "spaaza_user":
                if member.user_id is None or member.chain_id is None:
                    problems.append(f"{where}: a spaaza_user member needs user_id and chain_id")
                if s.app_hostname and hosts.get(s.app_hostname.lower()) != member.chain_id:
                    problems.append(f"sessions[{i}].app_hostname: not an app of the member's chain")
        elif s.kind == "es_console" and s.principal not in consoles:
            problems.append(f"{where}: unknown console user")
        elif s.kind == "spaaza_admin" and (not s.principal.isdigit() or int(s.principal) not in admins):
            problems.append(f"{where}: unknown spaaza admin (use the admin's numeric user_id)")
        elif s.kind == "spaaza_privileged" and s.principal not in clients:
            problems.append(f"{where}: unknown privileged client")
    unique("vouchers", [v.serial for v in f.vouchers], "serial")
    unique("vouchers", [v.voucher_key for v in f.vouchers], "voucher_key")
    unique("vouchers", [v.voucher_id for v in f.vouchers], "voucher_id")
    third_party_seen: set[tuple[int | None, int]] = set()
    for i, v in enumerate(f.vouchers):
        found = definitions.get(v.definition_id)
        if found is None:
            if v.definition_id not in shadow["definitions"]:
                problems.append(f"vouchers[{i}].definition_id: unknown definition")
            continue
        owner = v.owner_member_id
        if owner and owner not in members and owner not in shadow["members"]:
            problems.append(f"vouchers[{i}].owner_member_id: unknown member")
        if (v.voucher_key or v.voucher_id or v.third_party_id) and found.spaaza is None:
            problems.append(f"vouchers[{i}]: Spaaza identifiers need a definition with a spaaza campaign")
        if v.third_party_id is not None:
            chain_id = found.spaaza.chain_id if found.spaaza else None
            chain_record = all_chains.get(chain_id) if chain_id is not None else None
            if chain_record is not None and not chain_record.uses_third_party_voucher_id:
                problems.append(f"vouchers[{i}].third_party_id: chain does not use third-party voucher ids")
            if (chain_id, v.third_party_id) in third_party_seen:
                problems.append(f"vouchers[{i}].third_party_id: duplicate in chain")
            third_party_seen.add((chain_id, v.third_party_id))
    unique(
        "webhook_subscribers",
        [(w.chain_id, w.subscriber_id) for w in f.webhook_subscribers],
        "subscriber_id",
    )
    for i, w in enumerate(f.webhook_subscribers):
        if w.chain_id not in chains:
            problems.append(f"webhook_subscribers[{i}].chain_id: unknown chain")
        if aws_mode:
            try:
                check_url(w.url, allow_private=False)
            except UnsafeUrl as error:
                problems.append(f"webhook_subscribers[{i}].url: {error}")
    return problems
