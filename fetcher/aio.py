"""The asyncio fetcher: hundreds of GETs in flight, with every guarantee of the sync `fetcher.http.fetch`.

Built for polling thousands of feeds in one pass (aiohttp; httpx's async pool is far slower across many
hosts, see STACK-NOTES). The same rules as the sync path, and the same response handling (`fetcher.responses`):

- only http/https; every URL and redirect hop is checked before the request (`check_target`), redirects are
  followed by us with a hop cap and loop detection;
- the address is checked at connect time: `GuardedResolver` resolves names and refuses blocked addresses
  (unless the origin is trusted or the network allowed), and aiohttp connects to exactly the addresses it
  returned, so DNS rebinding gains nothing; IP literals never reach a resolver and are checked up front;
- one total deadline per fetch (`asyncio.timeout`), pushed back only by time spent queueing for a slot;
- the decoded body is capped while streaming, decompression included (aiohttp's own decompression is off);
- conditional GET; 429/500/502/503/504 and transient transport errors retried, Retry-After honoured, and a
  `FetchError(outcome, reason, status, retry_after=...)` in the end, worded like the sync one;
- per host (`politeness_key`: the host name without port, so several ports of one machine count as one host)
  at most `per_host` requests in flight and `min_delay` seconds between starts, slowed after 429/503.

One `AsyncFetcher` belongs to one event loop; use it as `async with AsyncFetcher(policy) as fetcher:`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from fetcher.addresses import (
    check_addresses,
    is_trusted,
    parse_networks,
    parse_web_url,
)
from fetcher.http import FetchPolicy, FetchResult
from fetcher.responses import (
    PIECE_SIZE,
    REDIRECT_STATUSES,
    RETRY_STATUSES,
    SLOW_DOWN_STATUSES,
    Identity,
    Redirect,
    Retry,
    body_decoders,
    cap_error,
    deadline_error,
    flush_decoders,
    parse_content_type,
    parse_retry_after,
    redirect_target,
    run_decoders,
    seconds_text,
    shorten,
    status_text,
)
from presswatch.errors import FetchError

DEFAULT_IN_FLIGHT = 200  # requests in flight overall (STACK-NOTES: limit=200 did 10,000 over 500 hosts in 1.6 s)


# --- politeness --------------------------------------------------------------------------------------


@dataclass
class _Host:
    slots: asyncio.Semaphore
    next_start: float = 0.0  # loop time before which no new request may start
    delay: float = 0.0
    slowed_until: float = 0.0
    in_flight: int = 0


@dataclass
class AsyncHostGate:
    """Per host: at most `max_per_host` requests in flight and `min_delay` s between starts, slowed by 429/503."""

    max_per_host: int = 2
    min_delay: float = 0.0
    max_delay: float = 60.0
    slow_for: float = 300.0
    _hosts: dict[str, _Host] = field(default_factory=dict)

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(max(1, self.max_per_host)), delay=self.min_delay)
        return state

    def _delay(self, state: _Host, now: float) -> float:
        if now >= state.slowed_until:
            state.delay = self.min_delay
        return state.delay

    async def acquire(self, host: str, timeout: float) -> bool:
        """Wait for a slot on `host` and for its spacing; False when `timeout` seconds passed without one."""
        state = self._host(host)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        try:
            await asyncio.wait_for(state.slots.acquire(), timeout)
        except TimeoutError:
            return False
        try:
            while (wait := state.next_start - loop.time()) > 0:  # only slot holders wait here, one start at a time
                if loop.time() + wait > give_up:
                    state.slots.release()
                    return False
                await asyncio.sleep(wait)
        except BaseException:  # cancelled while spacing: the slot must not be lost
            state.slots.release()
            raise
        now = loop.time()
        state.next_start = now + self._delay(state, now)
        state.in_flight += 1
        return True

    def release(self, host: str) -> None:
        """Give back a slot taken by `acquire`."""
        state = self._host(host)
        state.in_flight -= 1
        state.slots.release()

    def slow_down(self, host: str, retry_after: float | None = None) -> None:
        """After a 429/503: double the host's delay for a while and start nothing before Retry-After."""
        state = self._host(host)
        now = asyncio.get_running_loop().time()
        raised = max(self._delay(state, now) * 2, self.min_delay * 2, 1.0, retry_after or 0.0)
        state.delay = min(raised, max(self.max_delay, self.min_delay))
        state.slowed_until = now + max(self.slow_for, retry_after or 0.0)
        state.next_start = max(state.next_start, now + max(state.delay, retry_after or 0.0))

    def in_flight(self, host: str) -> int:
        """Requests to `host` holding a slot now."""
        return self._host(host).in_flight


# --- addresses -----------------------------------------------------------------------------------------


def _origin_trusted(host: str, port: int, trusted_hosts: frozenset[str]) -> bool:
    """Whether `host:port` is a trusted origin (an entry without port means port 80 or 443); entries lower-case."""
    host = host.lower()
    return f"{host}:{port}" in trusted_hosts or (port in (80, 443) and host in trusted_hosts)


class GuardedResolver(AbstractResolver):
    """Resolves a host name and refuses the connection unless every address is allowed (or the origin trusted)."""

    def __init__(self, allowed_networks: tuple[str, ...], trusted_hosts: frozenset[str]) -> None:
        """Check against `allowed_networks`; connections to `trusted_hosts` origins are not checked."""
        self._allowed = parse_networks(allowed_networks)
        self._trusted = frozenset(entry.strip().lower() for entry in trusted_hosts)
        self._inner: AbstractResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses aiohttp will connect to, each one checked."""
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if not _origin_trusted(host, port, self._trusted):
            addresses = [ipaddress.ip_address(str(result["host"]).split("%", 1)[0]) for result in results]
            check_addresses(host, addresses, self._allowed)  # BlockedURLError: aiohttp passes it through
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        if self._inner is not None:
            await self._inner.close()


def check_target(url: str, policy: FetchPolicy, trusted_hosts: frozenset[str]) -> httpx.URL:
    """Check a URL before requesting it (scheme, host, literal addresses) and return it as httpx parses it.

    Names are checked at connect time by `GuardedResolver`; an IP literal never reaches a resolver, so it is
    checked here. A URL aiohttp would read differently from httpx (whose reading was checked) is refused.
    """
    parsed = parse_web_url(url)
    host = parsed.raw_host.decode("ascii")
    try:
        seen_by_aiohttp = (URL(str(parsed), encoded=True).raw_host or "").lower()
    except ValueError:
        seen_by_aiohttp = ""
    if seen_by_aiohttp.strip("[]") != host.lower().strip("[]"):
        raise FetchError("invalid_url", f"not a valid URL: {shorten(url, 100)} (ambiguous host)")
    if is_trusted(parsed, trusted_hosts):
        return parsed
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return parsed
    check_addresses(host, [literal], parse_networks(policy.allowed_networks))
    return parsed


# --- errors ----------------------------------------------------------------------------------------------


@dataclass
class _Progress:
    received: int = 0  # decoded body bytes so far, for the error messages


def _client_error(
    exc: aiohttp.ClientError, policy: FetchPolicy, received: int, in_body: bool
) -> tuple[FetchError, bool]:
    """A person-readable FetchError for an aiohttp failure (worded as the sync fetcher words it), and retry?"""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError("timeout", f"could not connect within {seconds_text(policy.connect_timeout)}"), True
    if isinstance(exc, aiohttp.ServerTimeoutError):
        if in_body:
            read_timeout = seconds_text(policy.read_timeout)
            return FetchError("timeout", f"no data for {read_timeout} after {received:,} bytes"), True
        return FetchError("timeout", f"no response within {seconds_text(policy.read_timeout)}"), True
    if isinstance(exc, (aiohttp.ClientConnectorSSLError, aiohttp.ClientConnectorCertificateError)):
        return FetchError("connection_error", f"TLS handshake failed ({shorten(str(exc), 80)})"), False
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError("connection_error", f"host name could not be resolved ({shorten(str(exc), 80)})"), False
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return FetchError("connection_error", "connection refused"), True
        return FetchError("connection_error", f"could not connect ({shorten(str(exc), 80)})"), True
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        if in_body:
            return FetchError("connection_error", f"connection dropped after {received:,} bytes"), False
        return FetchError("connection_error", "connection closed before a response"), False
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError("connection_error", f"malformed response ({shorten(exc.message or str(exc), 80)})"), False
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError("invalid_url", f"not a valid URL: {shorten(str(exc), 80)}"), False
    return FetchError("connection_error", f"request failed ({shorten(str(exc) or type(exc).__name__, 80)})"), False


# --- the fetcher -------------------------------------------------------------------------------------------


class AsyncFetcher:
    """An aiohttp session with presswatch's guarantees; `fetch` behaves as `fetcher.http.fetch` does."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        trusted_hosts: frozenset[str] = frozenset(),
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        per_host: int = 2,
        min_delay: float = 0.0,
    ) -> None:
        """Limits come from `policy`; `max_in_flight` overall, `per_host` and `min_delay` per host."""
        self.policy = policy
        self.trusted_hosts = frozenset(entry.strip().lower() for entry in trusted_hosts)
        self.gate = AsyncHostGate(max_per_host=per_host, min_delay=min_delay)
        self._max_in_flight = max_in_flight
        self._overall: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncFetcher:
        """Open the session (inside the running loop)."""
        connector = aiohttp.TCPConnector(
            limit=self._max_in_flight,
            limit_per_host=0,  # the gate limits per host name, across ports
            resolver=GuardedResolver(self.policy.allowed_networks, self.trusted_hosts),
            ttl_dns_cache=10,  # cached addresses were checked when resolved
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.policy.connect_timeout, sock_read=self.policy.read_timeout
            ),
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip, deflate"},
            auto_decompress=False,  # we decompress, in bounded pieces, under the size cap
            trust_env=False,  # no proxy from the environment: the connect-time check must see the real host
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._overall = asyncio.Semaphore(self._max_in_flight)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str | None = None
    ) -> FetchResult:
        """GET `url` safely: checked hops, our redirects, retries, one deadline, a decoded-size cap; FetchError else.

        A 304 (after `etag`/`last_modified` were sent) is a result with an empty body, not an error.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        progress = _Progress()
        try:
            async with asyncio.timeout(self.policy.total_timeout) as deadline:
                return await self._follow(url, headers, deadline, progress)
        except TimeoutError:
            raise deadline_error(self.policy.total_timeout, progress.received) from None

    async def _follow(
        self, url: str, headers: dict[str, str], deadline: asyncio.Timeout, progress: _Progress
    ) -> FetchResult:
        """Hop after hop: each target checked, at most `max_redirects`, never the same URL twice."""
        current = check_target(url, self.policy, self.trusted_hosts)
        visited = {str(current)}
        for _hop in range(self.policy.max_redirects + 1):
            outcome = await self._hop(current, url, headers, deadline, progress)
            if isinstance(outcome, FetchResult):
                return outcome
            target = redirect_target(current, outcome.target, outcome.status, visited)
            current = check_target(str(target), self.policy, self.trusted_hosts)
        raise FetchError("redirect_error", f"more than {self.policy.max_redirects} redirects", outcome.status)

    async def _hop(
        self, url: httpx.URL, original: str, headers: dict[str, str], deadline: asyncio.Timeout, progress: _Progress
    ) -> FetchResult | Redirect:
        """One URL with retries for transient failures, each attempt holding a politeness slot."""
        policy = self.policy
        host = url.raw_host.decode("ascii").lower()
        for attempt in range(policy.retries + 1):
            try:
                return await self._polite_attempt(host, url, original, headers, deadline, progress)
            except Retry as retry:
                status = retry.error.status
                if status in SLOW_DOWN_STATUSES:
                    self.gate.slow_down(host, retry.retry_after)
                retry.error.retry_after = retry.retry_after
                if attempt >= policy.retries:
                    raise retry.error from None
                if retry.retry_after is not None and retry.retry_after > policy.max_retry_after:
                    raise FetchError(
                        retry.error.outcome,
                        f"{retry.error.reason} (asked to retry after {seconds_text(retry.retry_after)})",
                        status,
                        retry_after=retry.retry_after,
                    ) from None
                wait = max(retry.retry_after or 0.0, policy.backoff * 2**attempt)
                if wait >= _remaining(deadline):
                    raise retry.error from None
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _polite_attempt(
        self,
        host: str,
        url: httpx.URL,
        original: str,
        headers: dict[str, str],
        deadline: asyncio.Timeout,
        progress: _Progress,
    ) -> FetchResult | Redirect:
        """One attempt inside a host slot and an overall slot; queueing for them is not the server's time."""
        assert self._overall is not None, "use AsyncFetcher as an async context manager"
        loop = asyncio.get_running_loop()
        when = deadline.when()
        left = None if when is None else when - loop.time()
        deadline.reschedule(None)  # the clock stops while queueing: a busy host is not a slow server
        if not await self.gate.acquire(host, timeout=self.policy.max_gate_wait):
            raise FetchError("deferred", f"no turn for {host} within {seconds_text(self.policy.max_gate_wait)}")
        try:
            async with self._overall:
                deadline.reschedule(None if left is None else loop.time() + left)
                return await self._attempt(url, original, headers, progress)
        finally:
            self.gate.release(host)

    async def _attempt(
        self, url: httpx.URL, original: str, headers: dict[str, str], progress: _Progress
    ) -> FetchResult | Redirect:
        assert self._session is not None, "use AsyncFetcher as an async context manager"
        progress.received = 0
        target = URL(str(url), encoded=True)
        in_body = False
        try:
            async with self._session.get(target, headers=headers, allow_redirects=False) as response:
                status = response.status
                location = response.headers.get("Location")
                if status in REDIRECT_STATUSES and location:
                    return Redirect(location.strip(), status)
                if 300 <= status < 400 and status != 304:
                    raise FetchError("redirect_error", f"{status_text(status)} without a Location to follow", status)
                if status >= 400:
                    error = FetchError("http_error", status_text(status), status)
                    if status in RETRY_STATUSES:
                        raise Retry(error, parse_retry_after(response.headers.get("Retry-After")))
                    raise error
                in_body = True
                body = b"" if status == 304 else await self._read_body(response, progress)
                return _result(response, url, original, status, body, headers)
        except aiohttp.ClientError as exc:
            error, retryable = _client_error(exc, self.policy, progress.received, in_body)
            raise (Retry(error) if retryable else error) from None
        except (ssl.SSLError, ConnectionError) as exc:
            raise FetchError("connection_error", f"request failed ({shorten(str(exc), 80)})") from None

    async def _read_body(self, response: aiohttp.ClientResponse, progress: _Progress) -> bytes:
        """The decoded body, stopped at `max_bytes` while streaming and decompressing."""
        policy = self.policy
        decoders = body_decoders(response.headers.get("Content-Encoding", ""), response.status)
        declared = response.headers.get("Content-Length", "")
        if isinstance(decoders[0], Identity) and declared.isdigit() and int(declared) > policy.max_bytes:
            raise cap_error(policy.max_bytes, f"the server announced {int(declared):,} bytes")
        chunks: list[bytes] = []

        def take(pieces: Iterator[bytes]) -> None:
            for piece in pieces:
                progress.received += len(piece)
                if progress.received > policy.max_bytes:
                    raise cap_error(policy.max_bytes, f"stopped after {progress.received:,} bytes")
                chunks.append(piece)

        try:
            async for raw in response.content.iter_chunked(PIECE_SIZE):  # bounded pieces, as the sync reader
                take(run_decoders(decoders, raw))
            take(flush_decoders(decoders))
        except zlib.error:
            raise FetchError(
                "connection_error", f"the compressed body is corrupt after {progress.received:,} bytes"
            ) from None
        return b"".join(chunks)


def _remaining(deadline: asyncio.Timeout) -> float:
    when = deadline.when()
    return float("inf") if when is None else when - asyncio.get_running_loop().time()


def _result(
    response: aiohttp.ClientResponse, url: httpx.URL, original: str, status: int, body: bytes, sent: dict[str, str]
) -> FetchResult:
    content_type, charset = parse_content_type(response.headers.get("Content-Type"))
    etag = response.headers.get("ETag")
    last_modified = response.headers.get("Last-Modified")
    if status == 304:
        etag = etag or sent.get("If-None-Match")
        last_modified = last_modified or sent.get("If-Modified-Since")
    return FetchResult(
        url=original,
        final_url=str(url),
        status=status,
        content_type=content_type,
        charset=charset,
        body=body,
        etag=etag,
        last_modified=last_modified,
        bytes_read=len(body),
    )
