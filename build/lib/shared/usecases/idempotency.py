"""Idempotency-Key on the state-changing use cases (consume, activate, unclaim, claim).

    first request with a key   judged and written as without one; its answer is kept under
                               the key in the same transaction (StateChange.remember)
    a repeat (same caller, same key, same request) within 24 h
                               the kept answer, byte for byte (the edge adds
                               Idempotent-Replayed: true); nothing is judged or written
    the same key, another request
                               IdempotencyKeyReused (422 in the dialect's envelope)
    a repeat while the first still runs
                               an activation holds the voucher's guard: the repeat waits for
                               it (bounded) and then gets the kept answer; consume, unclaim
                               and claim commit in one write, so a repeat either finds the
                               answer or loses the race on the key and reads it then
    a first request refused    nothing is kept (a refusal writes nothing): a repeat is judged
                               again

A key is the caller's: it is kept under a digest of the caller's stable identity (the
session's principal kind and id, never its token) and the key, so callers never share keys,
and a key tells nothing about anyone else's. One extra read per request that sends a key
(after authentication, since the identity comes from the session) and one more item in its
transaction; none when no key is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.domain import IdempotencyKeyReused, IdempotentAnswer, IdempotentReplay, Session
from shared.ports import IdempotencyRef, Remembered, VoucherStore

LIFETIME = timedelta(hours=24)


@dataclass
class Idempotency:
    """What the edge read: the key, the request's fingerprint, and how the dialect renders a
    use case's result as its wire answer (status, body, headers). `kept` is the answer the
    last plan rendered, which is the committed one once the use case returns: the edge sends
    exactly that, so a repeat gets the very bytes the first request got."""

    key: str
    fingerprint: str
    render: Callable[[Any, datetime], tuple[int, str, dict[str, str]]]
    kept: IdempotentAnswer | None = None

    def ref(self, session: Session) -> IdempotencyRef:
        scope = f"{session.kind.value}\n{session.principal_id}\n{self.key}"
        return IdempotencyRef(hashlib.sha256(scope.encode("utf-8")).hexdigest())

    def check(self, store: VoucherStore, session: Session, now: datetime) -> IdempotencyRef:
        """The key's ref, once no live answer is kept under it; else the kept answer again
        (IdempotentReplay) or, for another request, IdempotencyKeyReused."""
        ref = self.ref(session)
        kept = store.read([ref])[ref]
        if kept is not None and kept.is_live(now):
            if kept.fingerprint != self.fingerprint:
                raise IdempotencyKeyReused("the Idempotency-Key was used for another request")
            raise IdempotentReplay(kept)
        return ref

    def remember(self, ref: IdempotencyRef, result: Any, now: datetime) -> Remembered:
        status, body, headers = self.render(result, now)
        answer = IdempotentAnswer(
            self.fingerprint, status, body, tuple(sorted(headers.items())), now + LIFETIME
        )
        self.kept = answer
        return Remembered(ref, answer)


def kept_for(
    idempotency: Idempotency | None, store: VoucherStore, session: Session, now: datetime
) -> Callable[[Any], Remembered | None]:
    """For a use case's plan: check the key now, and return what keeps the result's answer
    (None without a key)."""
    if idempotency is None:
        return lambda _result: None
    ref = idempotency.check(store, session, now)
    return lambda result: idempotency.remember(ref, result, now)
