"""What every activation provider adapter speaks: one request in, one code out, and a small
set of typed failures the ES dialect maps to its wire errors.

Plain Python (no boto3, no Powertools): the use case depends only on this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain import DomainError, ProviderConfig


@dataclass(frozen=True)
class ProviderRequest:
    """One code issuance. `reference` is the idempotency key: the same reference must give
    the same code (see shared.domain.activation_reference)."""

    reference: str
    config: ProviderConfig


@dataclass(frozen=True)
class ProviderCode:
    authorization_code: str
    expires_at: datetime | None = None  # None: the definition's code_validity_seconds applies


class ProviderAdapter(Protocol):
    """An external code issuer (Kesseltronics, ...). Implementations must give up after
    `request.config.timeout_seconds` and raise only the errors below."""

    def prepare(self) -> None:
        """Load credentials (a Secrets Manager call when the cache is cold). Called before
        the activation guard is claimed, so that slow set-up never eats into the guard's
        hold time, which only has to cover the provider call itself."""
        ...

    def issue_code(self, request: ProviderRequest) -> ProviderCode: ...

    def void_code(self, reference: str) -> None:
        """The compensating call: the code issued for `reference` (if any) can no longer be
        used, and the reference can no longer be issued. Idempotent."""
        ...

    def issued_since(self, since: datetime) -> list[IssuedCode]:
        """Every reference the provider issued a code for since `since` (never the codes)."""
        ...


@dataclass(frozen=True)
class IssuedCode:
    """One code the provider says it issued, as reconciliation sees it."""

    reference: str
    issued_at: datetime
    voided: bool


class ProviderNotConfigured(DomainError):
    """The definition names no provider, or one we have no adapter for (422)."""

    code = "PROVIDER_NOT_CONFIGURED"


class ProviderFailure(DomainError):
    """The provider call failed; nothing was written and a retry may succeed.

    `nothing_issued`: the provider certainly issued no code for the reference (the connection
    was refused before the request was sent, or the provider refused it with a 4xx). Otherwise
    a code may exist whose answer never arrived (a timeout, a dropped connection, a 5xx, an
    unreadable body): the reference stays on the voucher until it is carried or announced."""

    code = "PROVIDER_FAILURE"

    def __init__(self, message: str = "", *, nothing_issued: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.nothing_issued = nothing_issued


class ProviderTimeout(ProviderFailure):
    """No answer within the configured timeout (504)."""

    code = "EXTERNAL_SERVICE_TIMEOUT"


class ProviderBadResponse(ProviderFailure):
    """Refused connection, non-2xx status, unreadable body or no usable code (502)."""

    code = "EXTERNAL_SERVICE_RESPONSE_ERROR"


class ProviderSetupError(Exception):
    """Our own deployment is wrong (no secret name, no entry for the provider, no api key):
    not the member's fault and not the provider's, so it is a 500 with a clear log line."""
