"""A provider adapter without HTTP: it answers every code request with one fixed answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.providers import IssuedCode, ProviderAdapter, ProviderCode, ProviderRequest


class FakeProvider(ProviderAdapter):
    """Issues `answer`, or raises it when it is an exception, and keeps every request it got.
    `during`, when set, runs inside the call: what happens elsewhere while the provider works."""

    def __init__(
        self, answer: ProviderCode | BaseException, during: Callable[[ProviderRequest], object] | None = None
    ) -> None:
        self.answer = answer
        self.during = during
        self.requests: list[ProviderRequest] = []

    def prepare(self) -> None:
        """Nothing to load."""

    def issue_code(self, request: ProviderRequest) -> ProviderCode:
        self.requests.append(request)
        if self.during is not None:
            self.during(request)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    # Only reconciliation voids or lists codes, and its tests run the real adapter against the
    # provider simulator: a call here is a use case doing what it should not.

    def void_code(self, reference: str) -> None:
        raise AssertionError(f"void_code({reference!r}) outside reconciliation")

    def issued_since(self, since: datetime) -> list[IssuedCode]:
        raise AssertionError(f"issued_since({since}) outside reconciliation")
