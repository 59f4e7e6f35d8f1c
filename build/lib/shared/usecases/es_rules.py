"""ES Loyalty's rules: who may activate which voucher, who may list whose issuances, and
what an activation records. Pure functions of what a read found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import (
    Activation,
    AuditEvent,
    ConsoleUser,
    Definition,
    Forbidden,
    GhostMember,
    InvalidVoucherType,
    NotFound,
    PrincipalKind,
    Session,
    Status,
    Unauthenticated,
    Voucher,
)
from shared.ports import DefinitionRef, GuardRef, Ref, SessionRef, VoucherRef

CHANNEL = "es_loyalty"
PAC_REWARD_TYPE = "PRODUCT_AUTHORIZATION_CODE"


@dataclass(frozen=True)
class ActivateCommand:
    correlation_id: str
    definition_id: str
    serial: str  # lower-case issuance UUID
    token_hash: str
    request_id: str

    def refs(self) -> tuple[Ref[Any], ...]:
        """The activation's one read (the guard is part of the voucher item)."""
        return (
            SessionRef(self.token_hash),
            VoucherRef(self.serial),
            DefinitionRef(self.definition_id),
            GuardRef(self.serial),
        )


def live(session: Session | None, now: datetime) -> Session:
    if session is None:
        raise Unauthenticated("unknown token", field="token")
    if not session.is_live(now):
        raise Unauthenticated("token expired or revoked", field="token")
    return session


def authenticate_member(session: Session | None, now: datetime) -> Session:
    """An ES member who may activate: console users and ghost members may not."""
    session = live(session, now)
    if session.kind is PrincipalKind.ES_CONSOLE:
        raise ConsoleUser("console users may view activations but never activate")
    if session.kind is not PrincipalKind.ES_MEMBER or not session.member_id:
        raise Unauthenticated("token is not an ES member token", field="token")
    if session.ghost:
        raise GhostMember("ghost members cannot activate vouchers")
    return session


def listing_member(session: Session | None, now: datetime) -> Session:
    session = live(session, now)
    if session.kind is PrincipalKind.ES_CONSOLE:
        raise ConsoleUser("console users list a member's issuances through the console API")
    if session.kind is not PrincipalKind.ES_MEMBER or not session.member_id:
        raise Unauthenticated("token is not an ES member token", field="token")
    return session  # ghost members may list (they may not activate)


def console_user(session: Session | None, now: datetime) -> Session:
    session = live(session, now)
    if session.kind is PrincipalKind.ES_MEMBER:
        raise Forbidden("only customer-service console users may view other members", what="console")
    if session.kind is not PrincipalKind.ES_CONSOLE:  # another API's token never works here
        raise Unauthenticated("token is not an ES token", field="token")
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


def pac_definition(definition: Definition | None, command: ActivateCommand) -> Definition:
    if definition is None:  # the importer guarantees it: a data fault, not the member's
        raise RuntimeError(f"definition {command.definition_id!r} of an existing voucher is missing")
    if definition.reward_type != PAC_REWARD_TYPE:
        raise InvalidVoucherType("voucher is not a product authorization code voucher")
    return definition


def activation_event(
    command: ActivateCommand,
    session: Session,
    voucher: Voucher,
    activation: Activation,
    at: datetime,
    *,
    used: bool,
) -> AuditEvent:
    """ACTIVATED, or ACTIVATION_CODE_UNUSED for a code the provider issued that no voucher
    carries (with the code, so an operator can void it at the provider by its reference)."""
    details = {"provider": activation.provider, "reference": activation.reference}
    if not used:
        details |= {
            "authorization_code": activation.authorization_code,
            "code_expiry": activation.code_expiry.isoformat(),
        }
    return AuditEvent(
        serial=voucher.serial,
        event_type="ACTIVATED" if used else "ACTIVATION_CODE_UNUSED",
        channel=CHANNEL,
        actor_kind=session.kind.value,
        actor_id=session.principal_id,
        from_status=voucher.status.value,
        to_status=(Status.ACTIVATED if used else voucher.status).value,
        at=at,
        request_id=command.request_id,
        correlation_id=command.correlation_id,
        details=details,
    )
