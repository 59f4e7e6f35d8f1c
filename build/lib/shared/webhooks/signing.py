"""Webhook signatures, as Stripe signs its events.

Header `Voucher-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
timestamp is inside the signed text, so a receiver that rejects old timestamps rejects a
captured request replayed later; the body is signed byte for byte, so a receiver verifies the
raw body before parsing it. Standard library only: docs/webhooks.md shows the same check as a
snippet a receiver can paste.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Voucher-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request is not signed by this secret, or is older than the tolerance."""


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Return the signed timestamp, or raise SignatureError. Any v1 entry may match (a
    sender rotating secrets signs with both)."""
    if not header:
        raise SignatureError("no signature header")
    parts = [p.split("=", 1) for p in header.split(",")]
    fields = [(k.strip(), v.strip()) for k, v in (p for p in parts if len(p) == 2)]
    stamps = [v for k, v in fields if k == "t"]
    # ASCII digits only: str.isdigit() also accepts superscripts, which int() then refuses
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()) or len(stamps[0]) > 12:
        raise SignatureError("no timestamp in the signature header")
    t = int(stamps[0])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest().encode()
    # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a mismatch)
    if not any(hmac.compare_digest(expected, v.encode()) for k, v in fields if k == "v1"):
        raise SignatureError("signature does not match")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise SignatureError("timestamp outside the tolerance (a replayed request?)")
    return t
