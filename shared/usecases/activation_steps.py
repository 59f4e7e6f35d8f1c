"""The steps of a PAC activation that read as rules of their own: who may activate which
voucher, and what is recorded when a provider code cannot be committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain import (
    Activation,
    AuditEvent,
    ConsoleUser,
    GhostMember,
    NotFound,
    PrincipalKind,
    Session,
    Status,
    Unauthenticated,
    Voucher,
)
from shared.ports import GuardFailed, GuardHeld, Record, VoucherStore

CHANNEL = "es_loyalty"


@dataclass(frozen=True)
class ActivateCommand:
    correlation_id: str
    definition_id: str
    serial: str  # lower-case issuance UUID
    token_hash: str
    request_id: str


def authenticate_member(session: Session | None, now: datetime) -> Session:
    if session is None:
        raise Unauthenticated("unknown token", field="token")
    if not session.is_live(now):
        raise Unauthenticated("token expired or revoked", field="token")
    if session.kind is PrincipalKind.ES_CONSOLE:
        raise ConsoleUser("console users may view activations but never activate")
    if session.kind is not PrincipalKind.ES_MEMBER or not session.member_id:
        raise Unauthenticated("token is not an ES member token", field="token")
    if session.ghost:
        raise GhostMember("ghost members cannot activate vouchers")
    return session


def owned_voucher(voucher: Voucher | None, command: ActivateCommand, session: Session) -> Voucher:
    """Missing, of another definition, or of another account: all the same 404."""
    if (
        voucher is None
        or voucher.definition_id != command.definition_id
        or voucher.owner_member_id != session.member_id
    ):
        raise NotFound("voucher not found", what="voucherId")
    return voucher


def record_unused(
    store: VoucherStore,
    command: ActivateCommand,
    session: Session,
    voucher: Voucher,
    activation: Activation,
    held: GuardHeld,
    clock: Callable[[], datetime],
    metric: Callable[[str], None],
) -> None:
    """A code the provider issued but no voucher carries: an audit event, so it can be voided
    at the provider by its reference (unless the voucher's activation carries that reference)."""
    metric("ProviderCodesUnused")
    details = {
        "provider": activation.provider,
        "reference": activation.reference,
        "authorization_code": activation.authorization_code,
        "code_expiry": activation.code_expiry.isoformat(),
    }
    event = activation_event(command, session, voucher, "ACTIVATION_CODE_UNUSED", clock(), details)
    try:
        try:
            store.commit(Record(event, release=held))
        except GuardFailed:  # the guard is no longer ours: record without releasing
            store.commit(Record(event))
    except Exception:  # never mask the error being answered; the metric alarms
        metric("ProviderCodesUnrecorded")


def activation_event(
    command: ActivateCommand,
    session: Session,
    voucher: Voucher,
    kind: str,
    at: datetime,
    details: dict[str, str],
) -> AuditEvent:
    to_status = Status.ACTIVATED if kind == "ACTIVATED" else voucher.status
    return AuditEvent(
        serial=voucher.serial,
        event_type=kind,
        channel=CHANNEL,
        actor_kind=session.kind.value,
        actor_id=session.principal_id,
        from_status=voucher.status.value,
        to_status=to_status.value,
        at=at,
        request_id=command.request_id,
        correlation_id=command.correlation_id,
        details=details,
    )
