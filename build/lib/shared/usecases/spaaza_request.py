"""What a Spaaza request says, as its dialect read it: the caller's credentials, the chain,
the end user and the voucher it names. The use cases judge it (shared/usecases/spaaza_rules.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AuthMode(StrEnum):
    USER = "user"
    ADMIN = "admin"
    PRIVILEGED = "privileged"


@dataclass(frozen=True)
class Caller:
    """The credentials a request presents, as the dialect read them."""

    token_hash: str
    privileged: bool  # a privileged-client credential, not a user/admin session
    user_id: int | None = None  # the user id a session credential claims
    app_hostname: str | None = None  # the app the request names, lower-cased
    app_unreadable: bool = False  # an app was named, but not as a hostname


@dataclass(frozen=True)
class VoucherRequest:
    caller: Caller
    request_id: str
    chain_id: int | None = None
    end_user: Mapping[str, int | str] = field(default_factory=dict)  # by identifier kind
    voucher: Mapping[str, int | str] = field(default_factory=dict)  # voucher_key/voucher_id/third_party_id
    admin_must_name_chain: bool = True  # API >= 1.5.3
    audit: Mapping[str, Any] = field(default_factory=dict)  # recorded with the audit event
