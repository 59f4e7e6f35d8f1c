"""Provider credentials from AWS Secrets Manager.

The secret named by the function's settings (PROVIDER_SECRET_NAME) holds one entry per provider:
    {"KESSELTRONICS": {"api_key": "...", "endpoint": "https://..."}}
Fetched through Powertools parameters (cached for 5 minutes per container) and imported
lazily: a request answered before it needs the provider (a live activation answered again,
a refusal of its judgement) does not pay the import; one refused after `prepare()` (a guard
another request holds, a lost claim) does.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.providers.base import ProviderSetupError

SECRET_NAME_ENV = "PROVIDER_SECRET_NAME"  # noqa: S105 - the variable name, not a secret
CACHE_SECONDS = 300


@dataclass(frozen=True)
class Credentials:
    api_key: str
    endpoint: str | None

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"Credentials(api_key=<redacted>, endpoint={self.endpoint!r})"


def load_credentials(provider_name: str, secret_name: str | None) -> Credentials:
    secret_name = (secret_name or "").strip()
    if not secret_name:
        raise ProviderSetupError(f"{SECRET_NAME_ENV} is not set")
    from aws_lambda_powertools.utilities import parameters

    try:
        document = parameters.get_secret(secret_name, max_age=CACHE_SECONDS, transform="json")
    except Exception as error:  # GetSecretError, TransformParameterError, botocore errors
        raise ProviderSetupError(
            f"provider secret {secret_name!r} could not be read ({type(error).__name__})"
        ) from None
    entry = document.get(provider_name) if isinstance(document, dict) else None
    if not isinstance(entry, dict):
        raise ProviderSetupError(f"provider secret {secret_name!r} has no entry for {provider_name}")
    api_key = entry.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        raise ProviderSetupError(f"provider secret entry {provider_name} has no api_key")
    endpoint = entry.get("endpoint")
    return Credentials(api_key=api_key, endpoint=endpoint if isinstance(endpoint, str) and endpoint else None)
