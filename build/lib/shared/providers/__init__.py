"""Activation providers: the adapter interface, the registry by provider name, and the
adapters themselves (Kesseltronics). The use case sees only `adapter_for` and base types."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from shared.providers.base import (
    IssuedCode,
    ProviderAdapter,
    ProviderBadResponse,
    ProviderCode,
    ProviderFailure,
    ProviderNotConfigured,
    ProviderRequest,
    ProviderSetupError,
    ProviderTimeout,
)
from shared.providers.credentials import load_credentials
from shared.providers.kesseltronics import KesseltronicsAdapter

# definition.provider.name -> adapter factory, given the credentials loader
ADAPTERS: dict[str, Callable[..., ProviderAdapter]] = {
    "KESSELTRONICS": KesseltronicsAdapter,
}


def adapter_for(name: str, secret_name: str | None = None) -> ProviderAdapter | None:
    """The adapter serving this provider name, reading its credentials from the secret
    `secret_name` (the function's settings), or None when we have no adapter."""
    factory = ADAPTERS.get(name.strip().upper())
    if factory is None:
        return None
    return factory(credentials=partial(load_credentials, secret_name=secret_name))


__all__ = [
    "ADAPTERS",
    "IssuedCode",
    "ProviderAdapter",
    "ProviderBadResponse",
    "ProviderCode",
    "ProviderFailure",
    "ProviderNotConfigured",
    "ProviderRequest",
    "ProviderSetupError",
    "ProviderTimeout",
    "adapter_for",
]
