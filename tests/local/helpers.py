"""HTTP helpers for the local stack tests: real sockets, no client library beyond stdlib."""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | str | None = None,
) -> tuple[int, Any, list[tuple[str, str]]]:
    """(status, parsed JSON body or text, header pairs); repeated headers are sent as such."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        data = body.encode("utf-8") if isinstance(body, str) else body
        for name, value in headers:
            connection.putheader(name, value)
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        raw = response.read()
        content_type = response.getheader("Content-Type") or ""
        payload: Any = raw.decode("utf-8")
        if "json" in content_type and raw:
            payload = json.loads(raw)
        return response.status, payload, response.getheaders()
    finally:
        connection.close()
