"""Address checks: refuse URLs whose scheme is not http(s) or whose host resolves to a non-public address.

URLs reach the fetcher from feeds and web forms nobody vetted, so before every request (and every
redirect hop) `check_url` resolves the host and refuses loopback, private, link-local (cloud
metadata at 169.254.169.254 included), unique-local, unspecified, multicast, reserved and other
non-global addresses, unless the address lies in `FetchPolicy.allowed_networks` or the host is one
the user listed themselves (`trusted_hosts`).

DNS rebinding (a name that resolves to a public address for the check and to a private one for
the connection) is not covered by `check_url` alone; clients built by `fetcher.http.make_client`
cover it: their `GuardedBackend` resolves and checks again at connect time and connects to the
very address it checked. The same connection layer cuts every socket wait at the deadline of the
`fetch` call in progress (`fetch_scope`).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from presswatch.errors import BlockedURLError, ConfigError, FetchError

if TYPE_CHECKING:
    from fetcher.http import FetchPolicy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_url(url: str) -> httpx.URL:
    """Parse a URL exactly as httpx will request it, or raise FetchError('invalid_url')."""
    # Parsing with httpx (not urllib) matters: a parser disagreement between the check and the
    # request is a classic way past address filters.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("invalid_url", f"not a valid URL: {exc}") from None
    return parsed


def host_key(url: str | httpx.URL) -> str:
    """The host of a URL as `trusted_hosts` holds it: lower-case `host[:port]`, default port left out."""
    parsed = url if isinstance(url, httpx.URL) else parse_url(url)
    return parsed.netloc.decode("ascii").lower()


def politeness_key(url: str) -> str:
    """The host a per-host limit applies to: the lower-case host name without port ('' when there is none).

    Politeness is owed to a machine, not to a port: several ports of one host share its limits.
    """
    try:
        return parse_url(url).raw_host.decode("ascii").lower()
    except FetchError:
        return ""


def _effective_port(parsed: httpx.URL) -> int:
    return parsed.port if parsed.port is not None else DEFAULT_PORTS.get(parsed.scheme, 0)


def is_trusted(parsed: httpx.URL, trusted_hosts: frozenset[str]) -> bool:
    """Whether the URL's host is one of `trusted_hosts` (an entry without port means the default port)."""
    if not trusted_hosts:
        return False
    host = host_key(parsed)
    host_only = host.rsplit(":", 1)[0] if parsed.port is not None else host
    candidates = {host, f"{host_only}:{_effective_port(parsed)}"}
    return any(entry.strip().lower() in candidates for entry in trusted_hosts)


@lru_cache(maxsize=64)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Parse `allowed_networks` CIDRs; a malformed one is a ConfigError."""
    networks: list[IPNetwork] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise ConfigError(f"allowed_networks: {cidr!r} is not an IP network (CIDR)") from None
    return tuple(networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge the IPv4 one too.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """The reason an address is not public ('a private address'), or None when it is public."""
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def address_problem(address: IPAddress, allowed: tuple[IPNetwork, ...] = ()) -> str | None:
    """Why connecting to `address` is refused ('a private address'), or None when it is allowed."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        mapped = address_problem(address.ipv4_mapped, allowed)
        return None if mapped is None else f"{mapped} (IPv4 {address.ipv4_mapped} mapped to IPv6)"
    kind = _kind(address)
    if kind is not None:
        return kind
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and not any(inner in network for network in allowed):
            inner_kind = _kind(inner)
            if inner_kind is not None:
                return f"{inner_kind} (it embeds IPv4 {inner})"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to for a TCP connection, or FetchError('connection_error')."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError("connection_error", f"host name {host!r} could not be resolved ({exc})") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Strip an IPv6 zone ("fe80::1%eth0") so ipaddress accepts it; the kind does not change.
        text = str(sockaddr[0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError("connection_error", f"host name {host!r} resolved to no address")
    return addresses


def check_addresses(host: str, addresses: list[IPAddress], allowed: tuple[IPNetwork, ...]) -> None:
    """Raise BlockedURLError unless every address is public or in an allowed network."""
    for address in addresses:
        problem = address_problem(address, allowed)
        if problem is None:
            continue
        if _literal(host) == address:
            raise BlockedURLError(f"refused: {address} is {problem}")
        raise BlockedURLError(f"refused: {host} resolves to {address}, {problem}")


def parse_web_url(url: str) -> httpx.URL:
    """Parse an absolute http(s) URL with a host; anything else is refused with its reason (no resolving)."""
    parsed = parse_url(url)
    if not parsed.scheme:
        raise FetchError("invalid_url", f"not an absolute URL: {url[:100]!r}")
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(f"refused: scheme {parsed.scheme!r} is not http or https")
    if not parsed.host:
        raise FetchError("invalid_url", f"not a valid URL: {url!r} has no host")
    return parsed


def check_url(url: str, policy: FetchPolicy, *, trusted_hosts: frozenset[str] = frozenset()) -> None:
    """Refuse (BlockedURLError) a URL that is not http(s) or whose host resolves to a non-public address.

    A host in `trusted_hosts` passes as written without resolving. An unparsable URL raises
    FetchError('invalid_url'), a host that does not resolve FetchError('connection_error').
    No connection is made.
    """
    parsed = parse_web_url(url)
    if is_trusted(parsed, trusted_hosts):
        return
    host = parsed.raw_host.decode("ascii")
    addresses = resolve(host, _effective_port(parsed))
    check_addresses(host, addresses, parse_networks(policy.allowed_networks))


# --- at connect time: the checked address, within the fetch deadline ------------------------------


class Deadline:
    """A monotonic deadline that can be pushed back by time spent queueing at the politeness gate."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.end - time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def cap(self, timeout: float | None) -> float:
        """`timeout` shortened to the time left, never below a millisecond."""
        # Never 0: a zero socket timeout means non-blocking, which reports an error, not a timeout.
        left = max(self.remaining(), 0.001)
        return left if timeout is None else min(timeout, left)


@dataclass(frozen=True)
class _Scope:
    deadline: Deadline
    trusted_origin: tuple[str, int] | None  # (host, port) the user listed: connect without address check


# Per thread (each thread starts with its own context), so concurrent fetches never see each other's.
_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("presswatch_fetch_scope", default=None)


def _capped(timeout: float | None) -> float | None:
    scope = _SCOPE.get()
    return timeout if scope is None else scope.deadline.cap(timeout)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read/write wait is cut at the current fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _capped(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks and connects to the checked address itself, so DNS rebinding gains nothing."""

    def __init__(self, allowed_networks: tuple[str, ...]) -> None:
        self._allowed = parse_networks(allowed_networks)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except FetchError as exc:
            raise httpcore.ConnectError(exc.reason) from None
        scope = _SCOPE.get()
        if scope is None or scope.trusted_origin != (host.lower(), port):
            check_addresses(host, addresses, self._allowed)  # BlockedURLError passes through httpx
        last: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(str(address), port, _capped(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return DeadlineStream(stream)
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once per process: loading the CA bundle costs ~20 ms each time."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connections made through `GuardedBackend` and no proxy from the environment."""

    def __init__(self, allowed_networks: tuple[str, ...]) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        if not hasattr(self, "_pool"):  # httpx internals moved: refuse rather than run unguarded
            raise RuntimeError("this httpx version does not let presswatch guard connections")
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allowed_networks),
        )


@contextmanager
def fetch_scope(deadline: Deadline, trusted_origin: tuple[str, int] | None) -> Iterator[None]:
    """Within the block, guarded connections obey `deadline` and skip the address check for `trusted_origin`."""
    token = _SCOPE.set(_Scope(deadline, trusted_origin))
    try:
        yield
    finally:
        _SCOPE.reset(token)
