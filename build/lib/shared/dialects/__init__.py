"""One module per vendor dialect: each owns its wire format (parsing, field names, status
codes, error envelopes) and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from shared.domain import DomainError

T = TypeVar("T")


def answer(table: Mapping[type[DomainError], T], error: DomainError) -> T:
    """The entry of the error's nearest class that the table names (its MRO, so a subclass
    answers as its parent unless it has its own row). Every table has a `DomainError` row."""
    return next(table[cls] for cls in type(error).__mro__ if cls in table)
