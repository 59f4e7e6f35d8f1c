"""The canonical voucher lifecycle that all three vendor dialects map onto.

Plain Python, no boto3: every rule here is a pure function of a voucher and "now", so the
rules are unit-tested directly and every endpoint applies the same ones.

Stored statuses (one at a time):

    UNASSIGNED --(issued to a member)--> AVAILABLE <--unclaim-- CLAIMED
    AVAILABLE/CLAIMED --activate--> ACTIVATED (PAC code live until activation.code_expiry)
    AVAILABLE/CLAIMED/ACTIVATED --consume--> REDEEMED (final)
    any non-final --void--> INVALIDATED (final)

EXPIRED is never stored: it is computed in UTC at the moment of use from `expires_at`, so a
voucher expires exactly at its instant whatever the caller's time zone. An ACTIVATED
voucher whose code has expired behaves as the status it had before activation
("returns to a re-activatable state").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple


class Status(StrEnum):
    UNASSIGNED = "UNASSIGNED"  # in stock: not yet issued to any member
    AVAILABLE = "AVAILABLE"  # issued to a member (Spaaza "generated")
    CLAIMED = "CLAIMED"  # claimed by its member (Spaaza "claimed")
    ACTIVATED = "ACTIVATED"  # a provider code (PAC) was issued for it
    REDEEMED = "REDEEMED"  # used: Thalamus CONSUMED, Spaaza redeemed, ES REDEEMED
    INVALIDATED = "INVALIDATED"  # voided by the business: Thalamus VOIDED, ES INVALIDATED


class Effective(StrEnum):
    """What a voucher is at a given instant: the stored status with time applied."""

    UNASSIGNED = "UNASSIGNED"
    AVAILABLE = "AVAILABLE"
    CLAIMED = "CLAIMED"
    ACTIVATED = "ACTIVATED"  # code still live
    REDEEMED = "REDEEMED"
    INVALIDATED = "INVALIDATED"
    EXPIRED = "EXPIRED"


FINAL_STATUSES = frozenset({Status.REDEEMED, Status.INVALIDATED})

# The only stored-status transitions any code path may write. Writers condition on the
# version they read, so a transition is applied to exactly the state it was decided on.
ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.UNASSIGNED: frozenset({Status.AVAILABLE, Status.INVALIDATED}),
    Status.AVAILABLE: frozenset({Status.CLAIMED, Status.ACTIVATED, Status.REDEEMED, Status.INVALIDATED}),
    Status.CLAIMED: frozenset({Status.AVAILABLE, Status.ACTIVATED, Status.REDEEMED, Status.INVALIDATED}),
    Status.ACTIVATED: frozenset(
        {Status.AVAILABLE, Status.CLAIMED, Status.ACTIVATED, Status.REDEEMED, Status.INVALIDATED}
    ),
    Status.REDEEMED: frozenset(),
    Status.INVALIDATED: frozenset(),
}


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision every instant is stored and sent with."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_instant(value: str) -> datetime:
    """ISO-8601 to an aware UTC datetime; a value without offset is taken as UTC."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_millis(value: datetime) -> int:
    """Whole milliseconds since the epoch, floored, in integer arithmetic: an index key built
    from it and a page position compared with it agree exactly (no float rounding)."""
    return (value - _EPOCH) // _MS


def format_instant(value: datetime) -> str:
    """Canonical wire/storage form: UTC, millisecond precision, trailing Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- entities


@dataclass(frozen=True)
class Activation:
    activated_at: datetime
    provider: str
    code_expiry: datetime
    authorization_code: str
    previous_status: Status
    reference: str

    def is_live(self, now: datetime) -> bool:
        return now < self.code_expiry


@dataclass(frozen=True)
class Consumption:
    consumed_at: datetime
    operator_id: str
    touchpoint: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Voucher:
    """One voucher, with every identity it carries in the three dialects."""

    serial: str  # Thalamus voucher_code == ES issuanceUuid; the primary key
    definition_id: str
    status: Status
    version: int
    owner_member_id: str | None = None
    expires_at: datetime | None = None
    issued_at: datetime | None = None  # when it was issued to its member (ES issuedDate); never changes
    locked: bool = False
    # Thalamus identity (from the definition's catalog entry)
    activity_code: str | None = None
    item_code: str | None = None
    # Spaaza identities
    voucher_key: str | None = None
    voucher_id: int | None = None
    third_party_id: int | None = None
    chain_id: int | None = None
    # value
    currency_id: int | None = None
    currency_symbol: str | None = None
    amount_original: float = 0
    amount_redeemed: float = 0
    text: str | None = None
    activation: Activation | None = None
    consumption: Consumption | None = None

    @property
    def es_voucher_id(self) -> str:
        return f"{self.definition_id}::{self.serial}"


@dataclass(frozen=True)
class ProviderConfig:
    name: str  # e.g. KESSELTRONICS; picks the adapter
    product_code: str
    site_code: str | None = None
    endpoint: str | None = None  # falls back to the endpoint in the provider secret
    code_validity_seconds: int = 900
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Definition:
    """A voucher definition: ES definition == Thalamus catalog item == Spaaza campaign."""

    definition_id: str
    product_name: str
    reward_type: str
    provider: ProviderConfig | None = None
    activity_code: str | None = None
    item_code: str | None = None
    item_type: str | None = None
    campaign_id: int | None = None
    campaign_type: str | None = None
    campaign_title: str | None = None
    chain_id: int | None = None
    allows_end_user_to_claim_voucher: bool = True
    business_unit: str | None = None  # ES businessUnit
    voucher_group: str = "basket"  # Spaaza get-user-vouchers group: basket, honour or var_price


@dataclass(frozen=True)
class Member:
    member_id: str
    chain_id: int | None = None
    ghost: bool = False
    user_id: int | None = None
    member_number: str | None = None
    username: str | None = None
    authentication_point_identifier: str | None = None
    auxiliary_identifier: str | None = None
    card_type: str | None = None
    card_code: str | None = None


class PrincipalKind(StrEnum):
    THALAMUS_USER = "thalamus_user"  # a Thalamus login; an operator when is_operator
    ES_MEMBER = "es_member"
    ES_CONSOLE = "es_console"  # customer-service representative (may view, never activate)
    SPAAZA_USER = "spaaza_user"
    SPAAZA_ADMIN = "spaaza_admin"
    SPAAZA_PRIVILEGED = "spaaza_privileged"  # trusted third-party client (bearer token)


@dataclass(frozen=True)
class Session:
    """A live login. Carries the claims snapshot taken when it was issued (like an OAuth
    access token's claims); grants that can be revoked are re-checked in the write itself."""

    token_hash: str
    kind: PrincipalKind
    principal_id: str
    expires_at: datetime
    revoked: bool = False
    touchpoint: str | None = None  # Thalamus
    is_operator: bool = False  # Thalamus
    grants: tuple[tuple[str, str], ...] = ()  # Thalamus (activity, item or "*")
    member_id: str | None = None  # ES member / Spaaza user
    ghost: bool = False  # ES member
    spaaza_user_id: int | None = None  # Spaaza user or admin
    chain_id: int | None = None  # Spaaza user
    chains: tuple[int, ...] = ()  # Spaaza privileged client
    app_hostname: str | None = None  # Spaaza user

    def is_live(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at

    def grant_for(self, activity_code: str, item_code: str) -> tuple[str, str] | None:
        """The grant that lets this operator act on (activity, item), if any."""
        for grant in self.grants:
            if grant == (activity_code, item_code):
                return grant
        for grant in self.grants:
            if grant == (activity_code, "*"):
                return grant
        return None

    def may_see_activity(self, activity_code: str) -> bool:
        return any(activity == activity_code for activity, _ in self.grants)


class Touchpoint(NamedTuple):
    """A configured Thalamus API client (its code is sent with every call)."""

    code: str
    name: str = ""


class Activity(NamedTuple):
    """A Thalamus activity (loyalty programme)."""

    code: str
    name: str = ""


class CatalogItem(NamedTuple):
    """An item of an activity's mileage catalog: what a Thalamus voucher represents."""

    activity_code: str
    item_code: str
    product_name: str | None = None
    item_type: str | None = None
    definition_id: str | None = None  # the definition that is this catalog item


class VoucherAlias(NamedTuple):
    """A Spaaza identity of a voucher (voucher_key, voucher_id, third_party_id) and what it names."""

    serial: str
    definition_id: str
    chain_id: int | None = None


class MemberAlias(NamedTuple):
    """A Spaaza end-user identifier and the member it names."""

    member_id: str


class App(NamedTuple):
    """A Spaaza app (named by the hostname header) and the chain it belongs to."""

    hostname: str
    chain_id: int | None = None


class Chain(NamedTuple):
    chain_id: int
    uses_third_party_voucher_id: bool = False
    name: str = ""
    app_hostnames: tuple[str, ...] = ()  # lower-cased; each also an App of this chain


class AdminGrant(NamedTuple):
    """A Spaaza admin's write access to one chain (revocable: re-checked at commit)."""

    user_id: int
    chain_id: int
    write: bool = True  # the only access an import grants


# Principals: who a session may belong to, as the importer records them (no request reads
# them: a session carries the claims it needs, and revocable grants are their own items).


class ThalamusUser(NamedTuple):
    user_id: str
    operator: bool  # may consume; its grants are OperatorGrant items


class OperatorGrant(NamedTuple):
    """A Thalamus operator's grant on (activity, item or "*")."""

    principal_id: str
    activity_code: str
    item_code: str


class EsConsoleUser(NamedTuple):
    user_id: str


class SpaazaAdmin(NamedTuple):
    user_id: int
    chains: tuple[int, ...]  # each also an AdminGrant


class PrivilegedClient(NamedTuple):
    client_id: str
    chains: tuple[int, ...]


class ActivationGuard(NamedTuple):
    """The right to call the activation provider for one voucher, held by one request.

    Taken only while the voucher is still at the version the request judged, and released
    by the write that records the provider's answer. While it is held, no other request
    changes the voucher: a provider code is never issued for a state nobody will record."""

    serial: str
    owner: str
    reference: str  # the provider idempotency reference (see activation_reference)
    acquired_at: datetime
    expires_at: datetime

    def is_held(self, now: datetime) -> bool:
        return now < self.expires_at


# --------------------------------------------------------------------------- rules


class DomainError(Exception):
    """A rule refused the operation. `code` is stable; dialects map it to their wire form."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


class VoucherFinal(DomainError):
    """Redeemed or invalidated: no further transition."""

    code = "VOUCHER_FINAL"


class VoucherRedeemed(VoucherFinal):
    code = "VOUCHER_REDEEMED"


class VoucherInvalidated(VoucherFinal):
    code = "VOUCHER_INVALIDATED"


class VoucherExpired(DomainError):
    code = "VOUCHER_EXPIRED"


class VoucherNotIssued(DomainError):
    code = "VOUCHER_NOT_ISSUED"


class VoucherNotClaimed(DomainError):
    code = "VOUCHER_NOT_CLAIMED"


class VoucherAlreadyClaimed(DomainError):
    code = "VOUCHER_ALREADY_CLAIMED"


class VoucherCodeLive(DomainError):
    """A provider code is live at the terminal; the voucher cannot change hands now."""

    code = "VOUCHER_CODE_LIVE"


class VoucherLocked(DomainError):
    code = "VOUCHER_LOCKED"


class EndUserNotAllowed(DomainError):
    code = "END_USER_NOT_ALLOWED"


def effective_status(voucher: Voucher, now: datetime) -> Effective:
    status = voucher.status
    if status is Status.REDEEMED:
        return Effective.REDEEMED
    if status is Status.INVALIDATED:
        return Effective.INVALIDATED
    if voucher.expires_at is not None and now >= voucher.expires_at:
        return Effective.EXPIRED
    if status is Status.ACTIVATED:
        if voucher.activation is not None and voucher.activation.is_live(now):
            return Effective.ACTIVATED
        previous = voucher.activation.previous_status if voucher.activation else Status.AVAILABLE
        return Effective(previous.value)
    return Effective(status.value)


@dataclass(frozen=True)
class Transition:
    """A decided state change: applied only if the voucher is still at `expected_version`."""

    from_status: Status
    to_status: Status
    expected_version: int

    def __post_init__(self) -> None:
        if self.to_status not in ALLOWED_TRANSITIONS[self.from_status]:
            raise ValueError(f"transition {self.from_status} -> {self.to_status} is not allowed")

    def apply(self, voucher: Voucher, **changes: Any) -> Voucher:
        """The voucher this transition writes: its new status, the next version, and what
        else the decision changes (an activation, a consumption...)."""
        if (voucher.status, voucher.version) != (self.from_status, self.expected_version):
            raise ValueError("a transition applies to the voucher it was decided on")
        return replace(voucher, status=self.to_status, version=voucher.version + 1, **changes)


def decide_consume(voucher: Voucher, now: datetime) -> Transition:
    """Operator consumption (Thalamus): any issued, usable voucher becomes REDEEMED."""
    state = effective_status(voucher, now)
    if state is Effective.INVALIDATED:
        raise VoucherInvalidated("voucher was voided")
    if state is Effective.EXPIRED:
        raise VoucherExpired("voucher expired")
    if state is Effective.REDEEMED:
        raise VoucherRedeemed("voucher already consumed")
    if state is Effective.UNASSIGNED:
        raise VoucherNotIssued("voucher not issued to anyone")
    return Transition(voucher.status, Status.REDEEMED, voucher.version)


@dataclass(frozen=True)
class LiveActivation:
    """The voucher's activation is still live: answer with it, call nobody, write nothing."""

    activation: Activation


def decide_activate(voucher: Voucher, now: datetime) -> Transition | LiveActivation:
    """PAC activation (ES): AVAILABLE/CLAIMED (or ACTIVATED with an expired code) -> ACTIVATED."""
    state = effective_status(voucher, now)
    if state is Effective.ACTIVATED:
        assert voucher.activation is not None
        return LiveActivation(voucher.activation)
    if state is Effective.REDEEMED:
        raise VoucherRedeemed("voucher already redeemed")
    if state is Effective.INVALIDATED:
        raise VoucherInvalidated("voucher invalidated")
    if state is Effective.EXPIRED:
        raise VoucherExpired("voucher expired")
    if state is Effective.UNASSIGNED:
        raise VoucherNotIssued("voucher not issued to anyone")
    return Transition(voucher.status, Status.ACTIVATED, voucher.version)


def pre_activation_status(voucher: Voucher) -> Status:
    """What an activation returns to when its code expires."""
    if voucher.status is Status.ACTIVATED and voucher.activation is not None:
        return voucher.activation.previous_status
    return voucher.status


def _movable(voucher: Voucher, now: datetime) -> Effective:
    """Claim and unclaim refuse alike, in this order: a final voucher, an expired one (it can
    never be used again: moving it would only write audit noise), one whose provider code is
    live at a terminal."""
    state = effective_status(voucher, now)
    if state is Effective.REDEEMED:
        raise VoucherRedeemed("voucher already redeemed")
    if state is Effective.INVALIDATED:
        raise VoucherInvalidated("voucher invalidated")
    if state is Effective.EXPIRED:
        raise VoucherExpired("voucher expired")
    if state is Effective.ACTIVATED:
        raise VoucherCodeLive("voucher has a live activation code")
    return state


def _end_user_may_move(voucher: Voucher, *, end_user: bool, allows_end_user_to_claim: bool) -> None:
    if end_user and voucher.locked:
        raise VoucherLocked("voucher is locked")
    if end_user and not allows_end_user_to_claim:
        raise EndUserNotAllowed("campaign does not let end users claim or unclaim")


def decide_unclaim(
    voucher: Voucher, now: datetime, *, end_user: bool, allows_end_user_to_claim: bool
) -> Transition:
    """Spaaza unclaim: a claimed voucher goes back to AVAILABLE ("generated")."""
    if _movable(voucher, now) is not Effective.CLAIMED:
        raise VoucherNotClaimed("voucher is not claimed")
    _end_user_may_move(voucher, end_user=end_user, allows_end_user_to_claim=allows_end_user_to_claim)
    return Transition(voucher.status, Status.AVAILABLE, voucher.version)


def decide_claim(
    voucher: Voucher, now: datetime, *, end_user: bool, allows_end_user_to_claim: bool
) -> Transition:
    """Spaaza claim, the inverse of unclaim: a voucher issued to its member ("generated")
    becomes CLAIMED; one whose activation code has expired counts as what it was before."""
    state = _movable(voucher, now)
    if state is Effective.CLAIMED:
        raise VoucherAlreadyClaimed("voucher is already claimed")
    if state is not Effective.AVAILABLE:
        raise VoucherNotIssued("voucher not issued to anyone")
    _end_user_may_move(voucher, end_user=end_user, allows_end_user_to_claim=allows_end_user_to_claim)
    return Transition(voucher.status, Status.CLAIMED, voucher.version)


def activation_reference(voucher: Voucher) -> str:
    """Idempotency reference passed to the provider: the same for every attempt on the same
    voucher version, so a retry after a crash gets the same code instead of a second one."""
    return f"{voucher.serial}:v{voucher.version}"


@dataclass(frozen=True)
class AuditEvent:
    """One audit entry, written in the same transaction as the state change it records."""

    serial: str
    event_type: str  # CONSUMED, ACTIVATED, ACTIVATION_CODE_UNUSED, UNCLAIMED, CLAIMED, IMPORTED, REPLACED
    channel: str  # thalamus, es_loyalty, spaaza, import
    actor_kind: str
    actor_id: str
    from_status: str | None
    to_status: str
    at: datetime
    request_id: str
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def code_left_unused(guard: ActivationGuard, cause: AuditEvent) -> AuditEvent:
    """ACTIVATION_CODE_UNUSED for the provider reference an activation left behind, written in
    the transaction of the transition (`cause`) that moves the voucher on without it.

    An activation that took the guard and did not commit (the provider timed out or answered
    garbage, the commit's answer was lost, the session was revoked) leaves the guard on the
    voucher, expired, with its reference: the provider may have issued a code for it. A retry
    at the same version uses the same reference and gets that code, so nothing is announced
    then. Only once the voucher moves to another version without it (consumed, unclaimed,
    claimed) can no voucher ever carry that code: this event says so, exactly once, since the
    same write clears the guard. It changes no status (no webhook `sequence`)."""
    return AuditEvent(
        serial=guard.serial,
        event_type="ACTIVATION_CODE_UNUSED",
        channel=cause.channel,
        actor_kind=cause.actor_kind,
        actor_id=cause.actor_id,
        from_status=cause.from_status,
        to_status=cause.from_status or "",
        at=cause.at,
        request_id=cause.request_id,
        correlation_id=cause.correlation_id,
        details={"reference": guard.reference, "reason": f"voucher {cause.event_type.lower()} without it"},
    )


# --------------------------------------------------------------------------- request-level errors


class Unauthenticated(DomainError):
    """No valid session for this API: missing, unknown, expired, revoked, or of another kind.
    `field` names the credential at fault (token, touchpoint, session...)."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """Authenticated, but this principal may never do this (e.g. console users activating)."""

    code = "FORBIDDEN"


class NotAnOperator(Forbidden):
    code = "NOT_AN_OPERATOR"


class GhostMember(Forbidden):
    code = "GHOST_MEMBER"


class ConsoleUser(Forbidden):
    code = "CONSOLE_USER"


class NotFound(DomainError):
    """Does not exist, or exists but not for this principal: callers cannot tell which.
    `what` names the identifier (activityCode, voucherItemCode, voucherCode, ...)."""

    code = "NOT_FOUND"


class Contention(DomainError):
    """Concurrent writers kept winning; the request changed nothing and may be retried."""

    code = "CONTENTION"


class ActivationInProgress(Contention):
    """Another request holds the voucher's activation guard and did not finish in time."""

    code = "ACTIVATION_IN_PROGRESS"


class InvalidVoucherType(DomainError):
    """The voucher's definition is not a PAC reward: nothing to activate."""

    code = "INVALID_VOUCHER_TYPE"


class ParameterRequired(DomainError):
    """The request lacks a parameter that this principal (or API version) must send.
    `parameter` names it; the dialect words it."""

    code = "PARAMETER_REQUIRED"


class ParameterNotUsable(DomainError):
    """A parameter was sent but cannot be used here (`parameter`)."""

    code = "PARAMETER_NOT_USABLE"


class IdentifierMismatch(DomainError):
    """Several identifiers were sent for one thing, all visible to the caller, and they name
    different things (`parameter`)."""

    code = "IDENTIFIER_MISMATCH"


class NoApp(DomainError):
    """The app the request names (by hostname) is missing or unknown (`reason`)."""

    code = "NO_APP"


# --------------------------------------------------------------------------- idempotency keys


class IdempotentAnswer(NamedTuple):
    """The answer a state change's first request got, kept under its Idempotency-Key (IETF
    httpapi "The Idempotency-Key HTTP Header Field"): what a repeat of that request gets
    again, byte for byte, while it lives. `fingerprint` names the request (method, path and
    the parameters that matter), so the same key with another request is refused."""

    fingerprint: str
    status: int
    body: str
    headers: tuple[tuple[str, str], ...]
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        return now < self.expires_at


class IdempotencyKeyInvalid(DomainError):
    """An Idempotency-Key header that is empty, over 255 characters, repeated, or neither a
    Structured Field string nor a bare token of visible ASCII."""

    code = "IDEMPOTENCY_KEY_INVALID"


class IdempotencyKeyReused(DomainError):
    """The caller's key was first used for another request (422 in every dialect)."""

    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotentReplay(Exception):
    """The request repeats one whose answer is kept: the edge sends that answer again, with
    `Idempotent-Replayed: true`. Raised out of the use case like a refusal, since the request
    must not go on to judge or write anything."""

    def __init__(self, answer: IdempotentAnswer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer
