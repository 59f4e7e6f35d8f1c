"""Where a webhook may go, and how it gets there: one host normaliser for import and delivery,
and a sender that connects to the address it checked, within one deadline per attempt.

The normaliser refuses every form that names a non-public host in disguise:
  * names: localhost, *.localhost, *.internal, *.local, any trailing dot (`localhost.`,
    `metadata.google.internal.`), anything but letters, digits, '-' and '.' (full-width
    digits, other scripts: IDNs arrive as their xn-- form), a numeric last label;
  * IPv4 written any way but the canonical dotted quad (`2130706433`, `0x7f000001`,
    `017700000001`, `127.1`, `0`): libc would read each as an address;
  * IPv6 that embeds IPv4 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
    64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo): judged by the IPv4 inside;
  * any address that is not global unicast (private, loopback, link-local, multicast,
    reserved, unspecified).
A URL it cannot parse is refused, at import and (finally, never retried) at delivery.

The sender resolves the name once, refuses it if any address is not public (AWS mode),
connects to the first checked address itself (so a name that rebinds between the check and
the connect cannot take the request elsewhere), sends Host and SNI as the name and checks
the certificate against the name. One deadline covers connect, send and answer together: a
receiver that trickles its answer is cut at the deadline, whatever each read waits. At most
MAX_ANSWER_BYTES of the answer are read: only its status matters.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 4096
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PRIVATE_SUFFIXES = (".localhost", ".internal", ".local", ".home.arpa")
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks (scheme, host, or the address it names)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case; an IPv6 literal without brackets
    port: int
    path: str  # path and query, as sent
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # a literal host, else None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not address.is_multicast


def _loopback(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    return host == "localhost" or (address is not None and address.is_loopback)


def normalise(url: str, *, allow_private: bool) -> Target:
    """The URL as a Target, or UnsafeUrl. `allow_private` is the local stack's mode (receivers
    on this machine, http to loopback); in AWS mode only public https targets pass."""
    try:
        parts = urlsplit(url)
        port = parts.port
        raw_host = parts.hostname
    except ValueError:
        raise UnsafeUrl("the URL cannot be parsed") from None
    if not raw_host or parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL needs a host and no credentials")
    host = raw_host.lower()
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeUrl("the URL's host is not a valid IPv6 address") from None
    elif re.fullmatch(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}", host):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeUrl("the URL's host is not a valid IPv4 address") from None
    else:
        labels = host.split(".")
        if host.endswith(".") or not all(LABEL.match(label) for label in labels):
            raise UnsafeUrl("the URL's host is not a plain DNS name")
        if labels[-1].isdigit() or re.fullmatch(r"0x[0-9a-f]+", labels[-1]):
            raise UnsafeUrl("the URL's host is an address in a non-canonical form")
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("webhook URLs use https")
    if parts.scheme == "http" and not (allow_private and _loopback(host, address)):
        raise UnsafeUrl("webhook URLs use https (http only to a loopback address, locally)")
    if not allow_private:
        if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
            raise UnsafeUrl("the URL names a private host")
        if address is not None and not is_public(address):
            raise UnsafeUrl("the URL names a private, loopback or link-local address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default, path, address)


def resolve(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: the literal, or the name's first address once every address
    it resolves to was checked (AWS mode)."""
    if target.address is not None:
        return str(target.address)
    try:
        infos = socket.getaddrinfo(target.host, target.port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise UnsafeUrl(f"the host does not resolve ({type(error).__name__})") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl("the host does not resolve")
    if not allow_private and not all(is_public(a) for a in addresses):
        raise UnsafeUrl("the host resolves to a private address")
    return str(addresses[0])


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks for the name."""

    def __init__(self, host: str, address: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedPlain(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class PinnedSender:
    """One POST per attempt to the address that was checked, under one deadline."""

    def __init__(self, timeout_seconds: float, *, allow_private: bool = False) -> None:
        self.timeout = timeout_seconds
        self.allow_private = allow_private
        self._tls = ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        target = normalise(url, allow_private=self.allow_private)
        address = resolve(target, allow_private=self.allow_private)
        deadline = time.monotonic() + self.timeout
        connection: http.client.HTTPConnection = (
            _Pinned(target.host, address, target.port, self.timeout, self._tls)
            if target.scheme == "https"
            else _PinnedPlain(target.host, address, target.port, self.timeout)
        )
        expired = threading.Event()

        def cut() -> None:  # the deadline passed: whatever read is waiting ends now
            expired.set()
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
        timer.daemon = True
        timer.start()
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)  # never the whole of a huge answer
            return int(response.status)
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set():
                raise TimeoutError(f"no complete answer within {self.timeout} s") from None
            raise error
        finally:
            timer.cancel()
            connection.close()
