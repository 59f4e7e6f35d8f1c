"""The local stack's HTTP front end: werkzeug's threaded WSGI server (one thread and one request
per connection; it parses requests with the standard library's http.server) and a WSGI app that
turns each request into the API Gateway REST proxy event for the real handler (apigw.py) and the
handler's proxy response back into HTTP. Whatever the server answers by itself is a small JSON
body, like API Gateway's own errors, and closes the connection; the request handler is stricter
than the standard library about the request head. docs/local-stack.md lists every malformed
request and its answer.
"""

from __future__ import annotations

import base64
import json
import re
import selectors
import socket
import time
import traceback
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server, select_address_family
from werkzeug.wsgi import get_content_length

from infra.local_stack import apigw, swagger

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from infra.local_stack.server import LocalStack

MAX_BODY_BYTES = 1024 * 1024  # API Gateway allows 10 MB; the local stack refuses above 1 MiB

MISSING_TOKEN = {"message": "Missing Authentication Token"}
TOO_LARGE = {"message": "Request Too Long"}
BAD_REQUEST = {"message": "Bad Request"}
BAD_GATEWAY = {"message": "Internal server error"}

JSON = "application/json"
# set by the request handler: the request target and header lines exactly as received
TARGET_KEY = "local_stack.target"
HEADERS_KEY = "local_stack.headers"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name


CONNECTION_TIMEOUT_SECONDS = 5.0


class _Reject(Exception):
    """The request cannot be served: answer this status and JSON payload, then close."""

    def __init__(self, status: int, payload: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


Response = tuple[int, list[tuple[str, str]], bytes]


def _json(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return status, [("Content-Type", JSON), *headers], json.dumps(payload).encode("utf-8")


class LocalApp:
    """The WSGI app: local pages (/, /_health, /openapi.json, /docs and its assets) on GET and
    HEAD, every other request through infra/functions.py to the real handler."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = str(environ["REQUEST_METHOD"]).upper()
        target = str(environ.get(TARGET_KEY) or environ.get("RAW_URI") or "/")
        raw_path, _, query = target.partition("?")
        try:
            status, headers, body = self._respond(environ, method, raw_path, query)
        except _Reject as reject:
            status, headers, body = _json(reject.status, reject.payload, [("Connection", "close")])
        except Exception:  # a fault of the stack itself: logged, never shown to the client
            self.stack.log(
                f"local stack: request failed (answered 500):\n{traceback.format_exc()}", error=True
            )
            status, headers, body = _json(500, BAD_GATEWAY)
        self.stack.log(f"{method} {raw_path} -> {status} ({(time.perf_counter() - started) * 1000:.0f} ms)")
        headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_phrase(status)}", headers)
        return [] if method == "HEAD" else [body]

    def _respond(self, environ: WSGIEnvironment, method: str, raw_path: str, query: str) -> Response:
        body = _read_body(environ)
        if method in ("GET", "HEAD"):
            local = self._local_resource(raw_path)
            if local is not None:
                return local
        headers = list(environ.get(HEADERS_KEY) or [])  # every header line, repeated names included
        built = apigw.build_event(method, raw_path, headers=headers, query_string=query, body=body or None)
        if built is None:
            return _json(403, MISSING_TOKEN, [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
        route, event = built
        request_id = event["requestContext"]["requestId"]
        try:
            response = apigw.invoke(route.function, event)
            status, response_headers, response_body = proxy_response(response)
        except Exception:
            crash = traceback.format_exc()
            self.stack.log(
                f"{route.function}: handler failed (API Gateway answers 502):\n{crash}", error=True
            )
            return _json(502, BAD_GATEWAY, [("x-amzn-RequestId", request_id)])
        return status, [*response_headers, ("x-amzn-RequestId", request_id)], response_body

    def _local_resource(self, raw_path: str) -> Response | None:
        if raw_path == "/":  # what a newcomer opens first: where to go from here
            return _json(200, self.stack.index())
        if raw_path == "/_health":
            return _json(200, self.stack.health())
        if raw_path == "/openapi.json":
            return _json(200, self.stack.openapi_document())
        if raw_path in ("/docs", "/docs/"):
            page = swagger.docs_html(self.stack.demo).encode("utf-8")
            return 200, [("Content-Type", "text/html; charset=utf-8")], page
        asset = swagger.asset(raw_path)
        if asset is not None:
            content_type, data = asset
            return 200, [("Content-Type", content_type)], data
        return None


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request body; _Reject 413 above MAX_BODY_BYTES, 400 for a malformed chunked body."""
    stream = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput reads it
            data = bytearray()
            while len(data) <= MAX_BODY_BYTES:
                chunk = stream.read(min(65536, MAX_BODY_BYTES + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise _Reject(413, TOO_LARGE)
            return bytes(data)
        length = get_content_length(environ) or 0  # not a number, or negative: 0, as before
        if length > MAX_BODY_BYTES:
            raise _Reject(413, TOO_LARGE)  # the body is never read: the connection closes
        return bytes(stream.read(length)) if length > 0 else b""
    except ConnectionError:
        raise  # the client went away: werkzeug drops the connection quietly
    except OSError as error:  # DechunkedInput: invalid, negative or unterminated chunk
        raise _Reject(400, BAD_REQUEST) from error


def proxy_response(response: Any) -> Response:
    """What API Gateway makes of a Lambda proxy response; ValueError when it is malformed
    (API Gateway answers those with 502), including a header that could not be sent as is."""
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError(f"malformed Lambda proxy response: {str(response)[:200]}")
    status = int(response["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(f"Lambda proxy response status out of range: {status}")
    headers: list[tuple[str, str]] = []
    multi = response.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers += [(str(name), str(value)) for value in values or []]
    multi_names = {str(name).lower() for name in multi}
    for name, value in (response.get("headers") or {}).items():
        if str(name).lower() not in multi_names and value is not None:
            headers.append((str(name), str(value)))
    headers = [
        (n, v) for n, v in headers if n.lower() not in {"content-length", "connection", "transfer-encoding"}
    ]
    for name, value in headers:
        if (
            not _TOKEN.match(name)
            or any(c in value for c in "\r\n\x00")
            or max(map(ord, value), default=0) > 255
        ):
            raise ValueError(f"Lambda proxy response header cannot be sent: {name!r}")
    body = response.get("body")
    if body is None:
        data = b""
    elif response.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = str(body).encode("utf-8")
    return status, headers, data


_PHRASES = {414: "URI Too Long"}  # the RFC 9110 name; Python 3.11 says "Request-URI Too Long"


def _phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _RecordingReader:
    """Reads from the connection like rfile does while keeping each line as received, so the
    request handler can check the header lines the standard library parser has joined: it
    reads a bare CR as a line end, so `Token: a\\rX-Evil: 1` would reach the handler as two
    headers."""

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._rfile.readline(limit)
        self.lines.append(line)
        return line


def _malformed(line: bytes, *, header: bool) -> bool:
    """A CR or NUL inside the line (not its CRLF end), or (for a header) obsolete folding."""
    content = line[:-1] if line.endswith(b"\n") else line
    content = content[:-1] if content.endswith(b"\r") else content
    folded = header and content[:1] in (b" ", b"\t")
    return folded or b"\r" in content or b"\x00" in content


class RequestHandler(WSGIRequestHandler):
    """werkzeug's WSGI request handler, stricter about the request head, quiet (the stack keeps
    its own access log, never headers or query strings) and answering its errors in JSON."""

    server_version = "voucher-local-stack"
    sys_version = ""
    # Every socket read and write of a connection waits at most this long (socketserver sets
    # it on the connection): a request whose head or body stops arriving is dropped, and so
    # is the connection after a 413 once the client stops sending (werkzeug drains it).
    timeout = CONNECTION_TIMEOUT_SECONDS

    def parse_request(self) -> bool:
        reader = _RecordingReader(self.rfile)
        rfile, self.rfile = self.rfile, reader  # type: ignore[assignment]
        try:
            parsed = super().parse_request()
        finally:
            self.rfile = rfile
        if not parsed:
            return False  # the standard library has answered (through send_error below)
        if _malformed(self.raw_requestline, header=False) or any(
            _malformed(line, header=True) for line in reader.lines
        ):
            self.send_error(400)
            return False
        return True

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[TARGET_KEY] = self.path  # werkzeug's RAW_URI re-encodes non-ASCII bytes
        environ[HEADERS_KEY] = list(self.headers.items())  # werkzeug's joins repeats, drops `_`
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found before the app runs (request line, headers): JSON, then close."""
        if self.request_version in ("", "HTTP/0.9"):
            self.request_version = "HTTP/1.1"  # unparsable request line: still send a status line
        body = json.dumps({"message": _phrase(code)}).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        self._discard_pending_input()
        app = self.server.app
        if isinstance(app, LocalApp):
            path = str(getattr(self, "path", "") or "-").partition("?")[0]
            app.stack.log(f"{self.command or '-'} {path if len(path) <= 200 else '-'} -> {code} (0 ms)")

    def _discard_pending_input(self) -> None:
        """Read what the client already sent (the rest of an oversized head) before the
        connection closes: closing with unread input resets the connection, and the client
        may then lose the answer."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            received = 0
            while received < 16 * MAX_BODY_BYTES and selector.select(timeout=0.05):
                try:
                    data = self.connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                received += len(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log_error(self, format: str, *args: Any) -> None:
        return

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(host: str, port: int, app: LocalApp) -> BaseWSGIServer:
    """werkzeug's threaded server on (host, port), not yet serving (call serve_forever). The
    socket is bound here, so a port in use raises OSError (werkzeug alone would exit)."""
    family = select_address_family(host, port)
    listener = socket.create_server((host, port), family=family, backlog=128)
    try:
        return make_server(
            host, port, app, threaded=True, request_handler=RequestHandler, fd=listener.fileno()
        )
    finally:
        listener.close()  # the server holds its own duplicate of the socket
