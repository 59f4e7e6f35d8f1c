"""The one host normaliser (import and delivery) and the pinned, deadline-bound sender:
every disguised non-public form is refused; a receiver that trickles or floods its answer
costs one attempt, never more."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.webhooks.signing import SignatureError, verify
from shared.webhooks.target import MAX_ANSWER_BYTES, PinnedSender, UnsafeUrl, normalise, resolve

REFUSED_IN_AWS_MODE = [
    "https://127.0.0.1/h",
    "https://2130706433/h",  # decimal
    "https://0x7f000001/h",  # hex
    "https://017700000001/h",  # octal
    "https://0177.0.0.1/h",  # octal dotted
    "https://127.1/h",  # short form
    "https://0/h",
    "https://0.0.0.0/h",
    "https://localhost/h",
    "https://localhost./h",  # trailing dot
    "https://metadata.google.internal./h",
    "https://metadata.google.internal/h",
    "https://printer.local/h",
    "https://a.b.localhost/h",
    "https://\uff11\uff12\uff17.0.0.1/h",  # full-width digits
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.1/h",
    "https://192.168.1.1/h",
    "https://172.16.0.1/h",
    "https://100.64.0.1/h",  # shared address space
    "https://[::1]/h",
    "https://[::127.0.0.1]/h",  # IPv4-compatible
    "https://[::ffff:127.0.0.1]/h",  # IPv4-mapped
    "https://[::ffff:a9fe:a9fe]/h",
    "https://[64:ff9b::a9fe:a9fe]/h",  # NAT64 of 169.254.169.254
    "https://[64:ff9b:1::a9fe:a9fe]/h",  # local-use NAT64
    "https://[2002:a9fe:a9fe::]/h",  # 6to4 of 169.254.169.254
    "https://[2002:7f00:1::]/h",  # 6to4 of 127.0.0.1
    "https://[fe80::1]/h",
    "https://[fc00::1]/h",
    "https://[ff02::1]/h",
    "http://example.com/h",  # not https
    "ftp://example.com/h",
    "https://user:pw@example.com/h",
    "https:///nohost",
    "https://[::1/h",  # unparsable
    "https://exa mple.com/h",
    "https://example.com:99999/h",  # port out of range
]

ACCEPTED_IN_AWS_MODE = [
    "https://hooks.example.com/voucher",
    "https://example.com:8443/x?y=1",
    "https://93.184.216.34/h",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/h",
    "https://xn--bcher-kva.example/h",
]


@pytest.mark.parametrize("url", REFUSED_IN_AWS_MODE)
def test_every_disguised_private_form_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        normalise(url, allow_private=False)


@pytest.mark.parametrize("url", ACCEPTED_IN_AWS_MODE)
def test_public_targets_pass(url: str) -> None:
    target = normalise(url, allow_private=False)
    assert target.scheme == "https" and target.host == target.host.lower()


def test_local_mode_allows_loopback_http_only() -> None:
    assert normalise("http://127.0.0.1:9300/webhooks", allow_private=True).port == 9300
    with pytest.raises(UnsafeUrl):
        normalise("http://10.0.0.1/h", allow_private=True)
    with pytest.raises(UnsafeUrl):
        normalise("http://2130706433/h", allow_private=True)  # not canonical, even locally


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(host: str, port: int, **_kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(UnsafeUrl):
        resolve(normalise("https://rebind.example/h", allow_private=False), allow_private=False)


@pytest.mark.parametrize(
    "header", ["t=\u00b2,v1=00", "t=\u0661\u0662,v1=00", "t=,v1=", "garbage", "t=1,t=2,v1=00"]
)
def test_verify_raises_only_signature_error(header: str) -> None:
    with pytest.raises(SignatureError):
        verify("whsec_x", b"{}", header)


# --------------------------------------------------------------------------- hostile receivers


class Hostile:
    """A receiver on loopback that answers badly: `trickle` sends its status line one byte
    every `gap` seconds; `huge` sends a 200 with an endless body."""

    def __init__(self, mode: str, gap: float = 0.5) -> None:
        self.mode, self.gap = mode, gap
        self.sent = 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    if self.mode == "trickle":
                        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                            if self.stop.wait(self.gap):
                                break
                            conn.sendall(bytes([byte]))
                            self.sent += 1
                    else:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
                        chunk = b"x" * 65536
                        while not self.stop.is_set() and self.sent < 50_000_000:
                            conn.sendall(chunk)
                            self.sent += len(chunk)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.server.close()


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    receiver = Hostile(request.param)
    yield receiver
    receiver.close()


@pytest.mark.parametrize("hostile", ["trickle"], indirect=True)
def test_a_trickling_answer_is_cut_at_the_attempts_deadline(hostile: Hostile) -> None:
    """Each byte comes well within any read timeout; the attempt still ends at its deadline
    (a failure to retry), long before the receiver would have finished."""
    sender = PinnedSender(1.0, allow_private=True)
    with pytest.raises(TimeoutError):
        sender.post(f"http://127.0.0.1:{hostile.port}/h", b"{}", {"Content-Type": "application/json"})
    assert hostile.sent < len(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("hostile", ["huge"], indirect=True)
def test_a_huge_answer_is_not_read(hostile: Hostile) -> None:
    sender = PinnedSender(5.0, allow_private=True)
    status = sender.post(f"http://127.0.0.1:{hostile.port}/h", b"{}", {})
    assert status == 200  # the status is all that counts; at most MAX_ANSWER_BYTES were read
    assert MAX_ANSWER_BYTES <= 4096
