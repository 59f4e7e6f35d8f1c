"""A local Kesseltronics terminal API: the activation provider behind ES "Activate Voucher".

The real API is not public; this implements the contract shared/providers/kesseltronics.py
speaks (docs/dialects/activate_voucher.md):

    POST /v1/authorizations            Authorization: Bearer <api_key>
         {"reference": "...", "productCode": "...", "siteCode": "...", "validitySeconds": 900}
      -> 201 {"authorizationCode": "KT-XXXX-XXXX", "expiresAt": "<ISO-8601>", "reference": "..."}
         (200 with the same body when the reference was already issued a still-valid code)
      -> 401 wrong/missing key, 400 unreadable request

Idempotent per reference: the same reference gets the same code while that code is valid
(a new one afterwards). Every HTTP call is counted in `calls`, every distinct code in `issued`.

    DELETE /v1/authorizations/{reference}   Authorization: Bearer <api_key>
      -> 200 {"reference": "...", "voided": true}   void the reference's code (the compensating
         call; idempotent: also 200 for a reference never issued, which can no longer be)
    GET /v1/authorizations?since=<ISO-8601>   Authorization: Bearer <api_key>
      -> 200 {"authorizations": [{"reference", "issuedAt", "expiresAt", "voided"}]}
         (what reconciliation lists: every reference issued since then; never the codes)

Failure modes, for tests and demos:
  * by product code: SIMULATE_TIMEOUT (answers only after `timeout_seconds`, 10 s by default,
    longer than any client timeout), SIMULATE_GARBAGE (200 with a non-JSON body),
    SIMULATE_ERROR (500), SIMULATE_SLOW (answers normally after `slow_seconds`, 1 s);
  * for every product, through the control API or `set_mode`: normal | timeout | garbage |
    error | slow | refuse (drops the connection without answering) | lost (issues the code,
    then drops the connection: "code issued, answer lost") | late (issues the code, answers
    only after `timeout_seconds`: "code issued, answer too late"), for the next `count` calls
    or until changed. timeout, garbage and error issue nothing; lost and late do.

Control API (no auth; loopback only):
    POST /_control {"mode": "garbage", "count": 2}   GET /_stats   POST /_reset

Python:   sim = ProviderSimulator().start(); sim.url; sim.calls; sim.set_mode("error", 1); sim.stop()
Shell:    python -m infra.local_stack.provider_simulator --port 3001 [--api-key KEY]
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

MODES = ("normal", "timeout", "garbage", "error", "slow", "refuse", "lost", "late")
PRODUCT_MODES = {
    "SIMULATE_TIMEOUT": "timeout",
    "SIMULATE_GARBAGE": "garbage",
    "SIMULATE_ERROR": "error",
    "SIMULATE_SLOW": "slow",
}
DEFAULT_API_KEY = "local-simulator-key"
MAX_BODY_BYTES = 64 * 1024
PATH = "/v1/authorizations"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a sleeping "timeout" answer never keeps the process alive
    block_on_close = False  # ... nor blocks stop()
    simulator: ProviderSimulator


class ProviderSimulator:
    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_seconds: float = 10.0,
        slow_seconds: float = 1.0,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._mode = "normal"
        self._remaining: int | None = None
        self._calls = 0
        self._issued = 0
        self._voids = 0
        self._by_reference: dict[str, dict[str, Any]] = {}

    # ---- lifecycle

    def start(self) -> ProviderSimulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.simulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="provider-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in timeout/slow mode
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProviderSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- control

    @property
    def calls(self) -> int:
        """HTTP calls to /v1/authorizations, answered or not."""
        with self._lock:
            return self._calls

    @property
    def issued(self) -> int:
        """Distinct codes issued (a repeated reference does not count again)."""
        with self._lock:
            return self._issued

    def set_mode(self, mode: str, count: int | None = None) -> None:
        """Behave as `mode` for the next `count` calls (all calls when None)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._mode = mode
            self._remaining = None if mode == "normal" else count

    def reset(self) -> None:
        with self._lock:
            self._mode, self._remaining = "normal", None
            self._calls = self._issued = self._voids = 0
            self._by_reference.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self._calls,
                "issued": self._issued,
                "voids": self._voids,
                "mode": self._mode,
                "remaining": self._remaining,
                "by_reference": {ref: dict(entry) for ref, entry in self._by_reference.items()},
            }

    # ---- behaviour (called by the handler threads)

    def _next_mode(self, product_code: str | None) -> str:
        with self._lock:
            self._calls += 1
            mode = self._mode
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._mode, self._remaining = "normal", None
        if mode == "normal" and product_code in PRODUCT_MODES:
            mode = PRODUCT_MODES[product_code]
        return mode

    def _issue(self, reference: str, validity_seconds: int) -> tuple[bool, dict[str, Any]]:
        """(new, entry): the live code of this reference, or a fresh one."""
        now = datetime.now(UTC)
        with self._lock:
            entry = self._by_reference.get(reference)
            if entry is not None and entry.get("voided"):
                return False, dict(entry)  # the caller answers 409: a voided reference stays void
            if entry is not None and datetime.fromisoformat(entry["expiresAt"].replace("Z", "+00:00")) > now:
                entry["calls"] += 1
                return False, dict(entry)
            code = f"KT-{secrets.token_hex(2).upper()}-{secrets.token_hex(2).upper()}"
            entry = {
                "authorizationCode": code,
                "issuedAt": _iso(now),
                "expiresAt": _iso(now + timedelta(seconds=validity_seconds)),
                "calls": 1,
                "voided": False,
            }
            self._by_reference[reference] = entry
            self._issued += 1
            return True, dict(entry)

    def _void(self, reference: str) -> None:
        with self._lock:
            entry = self._by_reference.get(reference)
            if entry is None:  # never issued: it never can be now (a late request is refused)
                entry = {"authorizationCode": None, "issuedAt": None, "expiresAt": _iso(datetime.now(UTC))}
                entry["calls"] = 0
                self._by_reference[reference] = entry
            entry["voided"] = True
            self._voids += 1

    def issued_since(self, since: datetime | None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"reference": ref, **{k: e[k] for k in ("issuedAt", "expiresAt", "voided")}}
                for ref, e in self._by_reference.items()
                if e["issuedAt"] is not None and (since is None or _parse(e["issuedAt"]) >= since)
            ]

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; False when the simulator is shutting down."""
        return not self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the body waits for the ACK of the
    # headers, which a pooled client delays (~40 ms per call, measured by make bench).
    disable_nagle_algorithm = True
    server_version = "KesseltronicsSimulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no request lines, no keys
        return

    # ---- routing

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_stats":
            self._json(200, self.server.simulator.stats())
        elif path == PATH:
            if not self._authorized():
                return
            since_raw = parse_qs(query).get("since", [None])[0]
            try:
                since = _parse(since_raw) if since_raw else None
            except ValueError:
                self._json(400, {"error": "invalid_request"})
                return
            self._json(200, {"authorizations": self.server.simulator.issued_since(since)})
        else:
            self._json(404, {"error": "not_found"})

    def do_DELETE(self) -> None:
        self._read_body()
        path = self.path.split("?", 1)[0]
        reference = unquote(path[len(PATH) + 1 :]) if path.startswith(PATH + "/") else ""
        if not reference:
            self._json(404, {"error": "not_found"})
        elif self._authorized():
            self.server.simulator._void(reference)
            self._json(200, {"reference": reference, "voided": True})

    def _authorized(self) -> bool:
        if self.headers.get("Authorization", "") != f"Bearer {self.server.simulator.api_key}":
            self._json(401, {"error": "unauthorized"})
            return False
        return True

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == PATH:
            self._authorize()
        elif path == "/_control":
            self._control()
        elif path == "/_reset":
            self._read_body()
            self.server.simulator.reset()
            self._json(200, {"reset": True})
        else:
            self._read_body()
            self._json(404, {"error": "not_found"})

    # ---- endpoints

    def _authorize(self) -> None:
        sim = self.server.simulator
        raw = self._read_body()
        try:
            document = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            document = None
        product = document.get("productCode") if isinstance(document, dict) else None
        mode = sim._next_mode(product if isinstance(product, str) else None)
        if self.headers.get("Authorization", "") != f"Bearer {sim.api_key}":
            self._json(401, {"error": "unauthorized"})
            return
        if mode == "refuse":
            self.close_connection = True
            self.connection.close()
            return
        if mode in ("lost", "late"):
            if not isinstance(document, dict) or not _issuable(document):
                self._json(400, {"error": "invalid_request"})
                return
            _new, entry = sim._issue(
                document["reference"], document.get("validitySeconds", 900)
            )  # issued ...
            if mode == "lost" or not sim._sleep(sim.timeout_seconds):
                self.close_connection = True  # ... and its answer never arrives
                self.connection.close()
                return
            answer = {k: entry[k] for k in ("authorizationCode", "expiresAt")}
            self._json(201, {**answer, "reference": document["reference"]})  # late: after the client gave up
            return
        if mode == "timeout":
            if sim._sleep(sim.timeout_seconds):
                self._json(504, {"error": "terminal_timeout"})
            return
        if mode == "slow" and not sim._sleep(sim.slow_seconds):
            return
        if mode == "garbage":
            self._send(200, b"<html><body>Kesseltronics gateway says hi</body></html>", "text/html")
            return
        if mode == "error":
            self._json(500, {"error": "internal_error"})
            return
        if not isinstance(document, dict) or not _issuable(document):
            self._json(400, {"error": "invalid_request"})
            return
        reference = document["reference"]
        new, entry = sim._issue(reference, document.get("validitySeconds", 900))
        if entry.get("voided"):
            self._json(409, {"error": "reference_voided"})
            return
        self._json(
            201 if new else 200,
            {
                "authorizationCode": entry["authorizationCode"],
                "expiresAt": entry["expiresAt"],
                "reference": reference,
            },
        )

    def _control(self) -> None:
        raw = self._read_body()
        try:
            document = json.loads(raw.decode("utf-8"))
            mode = document["mode"]
            count = document.get("count")
            self.server.simulator.set_mode(mode, count)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
            self._json(400, {"error": "invalid_control", "message": str(error)})
            return
        stats = self.server.simulator.stats()
        self._json(200, {"mode": stats["mode"], "remaining": stats["remaining"]})

    # ---- plumbing

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(min(max(length, 0), MAX_BODY_BYTES)) if length > 0 else b""

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode("utf-8"), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout): nothing to tell it
            self.close_connection = True


def _issuable(document: Any) -> bool:
    """A well-formed authorization request: a reference, a product, a sane validity."""
    if not isinstance(document, dict):
        return False
    reference, product = document.get("reference"), document.get("productCode")
    validity = document.get("validitySeconds", 900)
    return (
        isinstance(reference, str)
        and bool(reference)
        and isinstance(product, str)
        and isinstance(validity, int)
        and not isinstance(validity, bool)
        and 1 <= validity <= 86400
    )


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Kesseltronics provider simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)
    simulator = ProviderSimulator(api_key=args.api_key, host=args.host, port=args.port).start()
    print(f"Kesseltronics simulator on {simulator.url} (POST /v1/authorizations, GET /_stats)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
