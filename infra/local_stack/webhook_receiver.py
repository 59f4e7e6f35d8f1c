"""A small webhook receiver that verifies every event it gets, for newcomers and tests.

    python -m infra.local_stack.webhook_receiver [--port 9300] [--secret S | --demo]

Prints one line per verified event (`id`, `type`, voucher, status change, who) and answers
2xx; an unsigned, wrongly signed or too old request is answered 400 and printed as refused.
Duplicates (a retry of an event already processed) are acknowledged and counted, not
processed twice: what a receiver should do with `id`. `make run` starts one on the demo
subscriber's port, so the README's consume curl shows its webhook arriving.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.webhooks.signing import HEADER, TOLERANCE_SECONDS, SignatureError, verify

DEMO_FILE = Path(__file__).with_name("demo.json")


@dataclass
class Receiver:
    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/webhooks"
    tolerance: int = TOLERANCE_SECONDS
    printer: Callable[[str], None] | None = None
    status: int = 200  # what it answers a verified event; 503 plays "down"
    events: list[dict[str, Any]] = field(default_factory=list)  # verified, first delivery of each id
    duplicates: int = 0
    refused: int = 0
    attempts: int = 0
    _ids: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @classmethod
    def at(cls, url: str, secret: str, printer: Callable[[str], None] | None = None) -> Receiver:
        """A receiver for the subscriber URL `url` (its host, port and path)."""
        parts = urlsplit(url)
        return cls(secret, parts.hostname or "127.0.0.1", parts.port or 80, parts.path, printer=printer)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, note = receiver.receive(self.path, body, self.headers.get(HEADER))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                payload = json.dumps({"received": code < 300, "note": note}).encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receive(self, path: str, body: bytes, signature: str | None) -> tuple[int, str]:
        with self._lock:
            self.attempts += 1
            if path.split("?", 1)[0] != self.path:
                return 404, "unknown path"
            try:
                verify(self.secret, body, signature, tolerance=self.tolerance)
                event = json.loads(body)
            except (SignatureError, ValueError) as error:
                self.refused += 1
                self._print(f"webhook REFUSED: {error}")
                return 400, str(error)
            if self.status >= 300:
                return self.status, "receiver is down"
            if event["id"] in self._ids:
                self.duplicates += 1
                return 200, "duplicate"
            self._ids.add(event["id"])
            self.events.append(event)
        self._print(describe(event))
        return 200, "ok"

    def _print(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)


def describe(event: dict[str, Any]) -> str:
    data = event.get("data", {})
    voucher = data.get("voucher", {})
    who = data.get("principal", {})
    return (
        f"webhook verified: {event['type']} {event['id']} voucher {voucher.get('serial')} "
        f"{data.get('from_status')} -> {data.get('to_status')} (sequence {event.get('sequence')}) "
        f"by {who.get('kind')} {who.get('id')} via {data.get('channel')}"
    )


def demo_subscriber(path: Path = DEMO_FILE) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return dict(document["webhook_subscribers"][0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local_stack.webhook_receiver", description=__doc__)
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--secret", help="the subscriber's signing secret")
    parser.add_argument("--demo", action="store_true", help="use the demo data's subscriber secret")
    args = parser.parse_args(argv)
    secret = args.secret or (demo_subscriber()["secret"] if args.demo else None)
    if not secret:
        parser.error("--secret or --demo is required")
    receiver = Receiver(secret=secret, port=args.port, printer=lambda line: print(line, flush=True)).start()
    print(f"receiving signed webhooks on {receiver.url} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
