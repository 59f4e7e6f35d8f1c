"""Activation providers: the adapter interface, the registry by provider name, and the
adapters themselves (Kesseltronics). The use case sees only `adapter_for` and base types."""

from __future__ import annotations

from collections.abc import Callable

from shared.providers.base import (
    ProviderAdapter,
    ProviderBadResponse,
    ProviderCode,
    ProviderFailure,
    ProviderNotConfigured,
    ProviderRequest,
    ProviderSetupError,
    ProviderTimeout,
)
from shared.providers.kesseltronics import KesseltronicsAdapter

# definition.provider.name -> adapter factory
ADAPTERS: dict[str, Callable[[], ProviderAdapter]] = {
    "KESSELTRONICS": KesseltronicsAdapter,
}


def adapter_for(name: str) -> ProviderAdapter | None:
    """The adapter serving this provider name, or None when we have none."""
    factory = ADAPTERS.get(name.strip().upper())
    return factory() if factory is not None else None


__all__ = [
    "ADAPTERS",
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
