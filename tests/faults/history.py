"""A history checker for one voucher: does one sequential order explain every answer the
clients got and the audit log the store kept? (In the manner of Knossos and Porcupine, which
have no Python counterpart: a search over the small per-voucher histories a fault test makes.)

Inputs, per voucher:
  * `Op`s: each client request with its real-time interval and what it was answered, reduced
    to an `Outcome`: OK (with the status it reported, and for an activation its reference
    and code), REFUSED (the dialect's "not in this state" error), RETRYABLE (503, a 409 that
    says retry, a provider timeout), or BROKEN (a 500: never acceptable);
  * the audit log: the events the store committed, in version order, each with the request
    id of the request that wrote it.

The model is the voucher's lifecycle on the paths the fault suite drives (consume, activate,
unclaim, claim), written here from the vendors' pages, not imported from the service.

What it asserts, as `Violation`s:
  * no transition applied twice: each request id at most once among the transitions, and the
    transitions chain (each one's from-status is the one before's to-status, versions step by
    one);
  * every answer is the committed truth or retryable: an OK transition's request wrote a
    transition; a REFUSED or RETRYABLE request wrote none, or (RETRYABLE only) exactly one;
    and one order, consistent with real time (a request that ended before another began
    comes first), applies the committed transitions in the log's order while every other
    request, placed somewhere in it, gets the answer it got (a refusal where the model
    refuses, an activation replay where the voucher carries that code);
  * codes: see `check_codes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

OK, REFUSED, RETRYABLE, BROKEN = "ok", "refused", "retryable", "broken"


class Kind(StrEnum):
    CONSUME = "consume"
    ACTIVATE = "activate"
    UNCLAIM = "unclaim"
    CLAIM = "claim"


# the transitions each operation makes (from -> to), as the three vendors' pages describe them
MOVES: dict[Kind, dict[str, str]] = {
    Kind.CONSUME: {"AVAILABLE": "REDEEMED", "CLAIMED": "REDEEMED", "ACTIVATED": "REDEEMED"},
    Kind.ACTIVATE: {"AVAILABLE": "ACTIVATED", "CLAIMED": "ACTIVATED"},
    Kind.UNCLAIM: {"CLAIMED": "AVAILABLE"},
    Kind.CLAIM: {"AVAILABLE": "CLAIMED"},
}
EVENT_OF = {
    "CONSUMED": Kind.CONSUME,
    "ACTIVATED": Kind.ACTIVATE,
    "UNCLAIMED": Kind.UNCLAIM,
    "CLAIMED": Kind.CLAIM,
}


@dataclass(frozen=True)
class Op:
    request_id: str
    kind: Kind
    start: float
    end: float
    outcome: str  # OK / REFUSED / RETRYABLE / BROKEN
    status: str | None = None  # the voucher status an OK answer reported
    reference: str | None = None  # an OK activation's provider reference ...
    code: str | None = None  # ... and the code it handed out
    replay: bool = False  # an OK activation answered from the live activation (no write)
    replays: str | None = None  # an Idempotency-Key repeat: the request whose kept answer it got
    answer: str = ""  # the raw answer, for the report


@dataclass(frozen=True)
class Event:
    event_type: str
    request_id: str
    from_status: str | None
    to_status: str
    version: int | None
    reference: str | None = None
    code: str | None = None  # an ACTIVATED event's code, read from the voucher that carries it


@dataclass
class Report:
    serial: str
    violations: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(f"{self.serial}: {message}")


def check_voucher(serial: str, initial: str, ops: Sequence[Op], log: Sequence[Event]) -> Report:
    """Check one voucher's history; `initial` is its status before the first op."""
    report = Report(serial)
    transitions = [e for e in log if e.event_type in EVENT_OF]
    by_request: dict[str, list[Event]] = {}
    for event in transitions:
        by_request.setdefault(event.request_id, []).append(event)
    for request_id, events in by_request.items():
        if len(events) > 1:
            report.fail(f"request {request_id} applied {len(events)} times")
    status = initial
    versions = [e.version for e in transitions if e.version is not None]
    if versions != sorted(versions) or len(set(versions)) != len(versions):
        report.fail(f"transition versions out of order or repeated: {versions}")
    for event in transitions:
        if event.from_status != status:
            report.fail(f"{event.event_type} from {event.from_status} but the voucher was {status}")
        status = event.to_status
    known = {op.request_id for op in ops}
    for event in transitions:
        if event.request_id not in known:
            report.fail(f"{event.event_type} by unknown request {event.request_id}")
    for op in ops:
        wrote = by_request.get(op.request_id, [])
        if op.replays is not None:
            if wrote:
                report.fail(f"{op.kind.value} {op.request_id} replayed a kept answer but committed")
            if not by_request.get(op.replays):
                report.fail(f"{op.kind.value} {op.request_id} replayed {op.replays}, which committed nothing")
        elif op.outcome == BROKEN:
            report.fail(f"{op.kind.value} {op.request_id} answered {op.answer}: not the truth, not retryable")
        elif op.outcome == OK and not op.replay and not wrote:
            report.fail(f"{op.kind.value} {op.request_id} answered OK but committed nothing")
        elif op.outcome == REFUSED and wrote:
            report.fail(f"{op.kind.value} {op.request_id} was refused ({op.answer}) but committed")
        elif op.outcome == OK and op.replay and wrote:
            report.fail(f"{op.kind.value} {op.request_id} answered a replay but committed")
        for event in wrote:
            if EVENT_OF[event.event_type] is not op.kind:
                report.fail(f"{op.kind.value} {op.request_id} wrote {event.event_type}")
    if not report.violations and not _linearizable(initial, ops, transitions, by_request):
        report.fail("no sequential order explains the answers: " + "; ".join(_describe(op) for op in ops))
    return report


def _describe(op: Op) -> str:
    return f"{op.kind.value}[{op.start:.3f}-{op.end:.3f}] {op.outcome} {op.answer}"


def _linearizable(
    initial: str, ops: Sequence[Op], transitions: Sequence[Event], by_request: dict[str, list[Event]]
) -> bool:
    """A depth-first search for one order (memoized on what is placed and the state): the
    committed transitions in the log's order, each request placed once, never before a
    request that ended before it began."""
    n = len(ops)
    applies = [bool(by_request.get(op.request_id)) for op in ops]
    # a request answered "retry" may still take effect after its answer (a delayed original):
    # like a crashed operation in Knossos, its interval never ends
    ends = [float("inf") if op.outcome == RETRYABLE else op.end for op in ops]
    order = {e.request_id: i for i, e in enumerate(transitions)}

    @cache
    def search(done: frozenset[int], applied: int, status: str, reference: str | None) -> bool:
        if len(done) == n:
            return applied == len(transitions)
        pending = [i for i in range(n) if i not in done]
        horizon = min(ends[i] for i in pending)  # the first pending request to end ...
        for i in pending:
            op = ops[i]
            if op.start > horizon:  # ... ended before this one began: it must come first
                continue
            rest = done | {i}
            if applies[i]:
                if order.get(op.request_id) != applied:
                    continue
                event = transitions[applied]
                nxt = MOVES[op.kind].get(status)
                if nxt is None or nxt != event.to_status:
                    continue
                if op.outcome == OK and op.status is not None and op.status != nxt:
                    continue
                ref = event.reference if op.kind is Kind.ACTIVATE else None
                if op.outcome == OK and op.kind is Kind.ACTIVATE and op.reference not in (None, ref):
                    continue
                if search(rest, applied + 1, nxt, ref if op.kind is Kind.ACTIVATE else reference):
                    return True
            elif op.replays is not None:  # the kept answer of a transition already applied
                if order.get(op.replays, n + len(transitions)) < applied and search(
                    rest, applied, status, reference
                ):
                    return True
            elif op.outcome == RETRYABLE:
                if search(rest, applied, status, reference):
                    return True
            elif op.outcome == OK and op.replay:  # an activation answered from the live code
                live = status == "ACTIVATED" and op.reference == reference
                if live and search(rest, applied, status, reference):
                    return True
            elif (
                op.outcome == REFUSED
                and MOVES[op.kind].get(status) is None
                and search(rest, applied, status, reference)
            ):
                return True
        return False

    return search(frozenset(), 0, initial, None)


# --------------------------------------------------------------------------- codes


def check_codes(
    issued: dict[str, str],
    carried: dict[str, str],
    announced: Iterable[str],
    pending: Iterable[str],
    handed_out: Iterable[tuple[str, str]],
) -> list[str]:
    """Provider codes. `issued`: reference -> code, every code the provider issued;
    `carried`: reference -> code, every code a committed activation recorded; `announced`:
    every reference an ACTIVATION_CODE_UNUSED event named (with repeats); `pending`: the
    references vouchers still hold in an expired guard (outcome unknown, a retry may still
    carry them); `handed_out`: (reference, code) every OK activation answer gave a member.

      * no code a voucher carries is ever announced unused;
      * every issued code is carried, or announced unused exactly once, or still pending;
      * a code handed to a member is the one the provider issued for that reference, and
        a voucher carries it.
    """
    violations = []
    counts: dict[str, int] = {}
    for reference in announced:
        counts[reference] = counts.get(reference, 0) + 1
    pending = set(pending)
    for reference, n in counts.items():
        if reference in carried:
            violations.append(f"{reference}: carried by a voucher, yet announced unused")
        if n > 1:
            violations.append(f"{reference}: announced unused {n} times")
    for reference in issued:
        if reference not in carried and reference not in counts and reference not in pending:
            violations.append(f"{reference}: issued by the provider, never carried nor announced")
    for reference, code in carried.items():
        if issued.get(reference) != code:
            violations.append(f"{reference}: carries {code}, the provider issued {issued.get(reference)}")
    for reference, code in handed_out:
        if carried.get(reference) != code:
            violations.append(f"{reference}: a member was given {code}, no voucher carries it")
    return violations
