"""The HTTP fetcher: one GET with address checks, redirects, retries, a deadline and a decoded-size cap.

Built for hostile servers. Every URL and redirect hop is checked before connecting
(`fetcher.addresses.check_url`), and clients from `make_client` check again, at connect time, the
very address the socket connects to, which also covers DNS rebinding between check and connect.
The body is decompressed by us in bounded pieces so a gzip/deflate bomb stops at `max_bytes`, and
one deadline (`total_timeout`) bounds the whole `fetch` call: every hop, retry wait and byte.

A client and a `HostGate` may be shared by the threads of one process; worker processes each make
their own (neither pickles).
"""

from __future__ import annotations

import email.utils
import logging
import mimetypes
import ssl
import stat
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from fetcher.addresses import Deadline, GuardedTransport, check_url, fetch_scope, is_trusted, parse_url, politeness_key
from fetcher.politeness import HostGate
from fetcher.responses import (
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

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"}
)
_SNIFF = 1024


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners of one fetch; picklable, so it can travel to Prefect workers."""

    user_agent: str = "presswatch/0.1 (+https://github.com/presswatch/presswatch)"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # one deadline for the whole fetch call: hops, retry waits, body
    max_bytes: int = 10_000_000  # cap on the decoded body, enforced while streaming
    max_redirects: int = 5
    allowed_networks: tuple[str, ...] = ()  # extra CIDRs opened, e.g. ("127.0.0.0/8",)
    retries: int = 2  # transient failures only: connect error, read timeout, 429/500/502/503/504
    backoff: float = 0.5  # seconds, doubled per retry
    max_retry_after: float = 30.0  # a longer Retry-After gives up instead of waiting
    max_gate_wait: float = 300.0  # longest wait for a politeness slot before giving up (not counted in the deadline)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch returned: final URL, status, media type, decoded body and validators."""

    url: str  # requested URL
    final_url: str  # after redirects
    status: int  # 200, 304, ...
    content_type: str | None  # media type lower-case without parameters, e.g. "text/html"
    charset: str | None
    body: bytes  # b"" for 304
    etag: str | None  # for a 304 without one, the etag that was sent
    last_modified: str | None
    bytes_read: int  # decoded body bytes


def make_client(policy: FetchPolicy) -> httpx.Client:
    """A sync httpx client for `fetch`: no automatic redirects, our UA, timeouts, connect-time address checks."""
    timeout = httpx.Timeout(
        connect=policy.connect_timeout, read=policy.read_timeout, write=policy.read_timeout, pool=policy.connect_timeout
    )
    return httpx.Client(
        transport=GuardedTransport(policy.allowed_networks),
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,  # no proxy or .netrc from the environment: the connect-time check must see the real host
    )


# --- transport errors ----------------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_error(
    exc: httpx.HTTPError, policy: FetchPolicy, deadline: Deadline, received: int, in_body: bool
) -> tuple[FetchError, bool]:
    """A person-readable FetchError for a transport failure, and whether it is worth retrying."""
    if isinstance(exc, httpx.TimeoutException):
        if deadline.expired():
            return deadline_error(policy.total_timeout, received), False
        if isinstance(exc, httpx.ConnectTimeout):
            return FetchError("timeout", f"could not connect within {seconds_text(policy.connect_timeout)}"), True
        if isinstance(exc, httpx.PoolTimeout):
            return FetchError("timeout", f"no free connection within {seconds_text(policy.connect_timeout)}"), True
        if in_body:
            read_timeout = seconds_text(policy.read_timeout)
            return FetchError("timeout", f"no data for {read_timeout} after {received:,} bytes"), True
        return FetchError("timeout", f"no response within {seconds_text(policy.read_timeout)}"), True
    if isinstance(exc, httpx.ConnectError):
        for cause in _causes(exc):
            if isinstance(cause, ssl.SSLError):
                reason = getattr(cause, "reason", None) or str(cause)
                return FetchError("connection_error", f"TLS handshake failed ({shorten(str(reason), 80)})"), False
            if isinstance(cause, ConnectionRefusedError):
                return FetchError("connection_error", "connection refused"), True
        message = str(exc)
        if "resolve" in message:
            return FetchError("connection_error", shorten(message)), False
        return FetchError("connection_error", f"could not connect ({shorten(message, 80)})"), True
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if in_body:
            return FetchError("connection_error", f"connection dropped after {received:,} bytes"), False
        message = str(exc)
        if isinstance(exc, httpx.RemoteProtocolError) and "without sending" not in message:
            return FetchError("connection_error", f"malformed response ({shorten(message, 80)})"), False
        return FetchError("connection_error", "connection closed before a response"), False
    return FetchError("connection_error", f"request failed ({shorten(str(exc) or type(exc).__name__, 80)})"), False


# --- one request ---------------------------------------------------------------------------------


def _read_body(response: httpx.Response, policy: FetchPolicy, deadline: Deadline) -> bytes:
    decoders = body_decoders(response.headers.get("content-encoding", ""), response.status_code)
    declared = response.headers.get("content-length", "")
    if isinstance(decoders[0], Identity) and declared.isdigit() and int(declared) > policy.max_bytes:
        raise cap_error(policy.max_bytes, f"the server announced {int(declared):,} bytes")
    chunks: list[bytes] = []
    received = 0

    def take(pieces: Iterator[bytes]) -> None:
        nonlocal received
        for piece in pieces:
            received += len(piece)
            if received > policy.max_bytes:
                raise cap_error(policy.max_bytes, f"stopped after {received:,} bytes")
            chunks.append(piece)

    try:
        for raw in response.iter_raw():
            take(run_decoders(decoders, raw))
            if deadline.expired():
                raise deadline_error(policy.total_timeout, received)
        take(flush_decoders(decoders))
    except httpx.HTTPError as exc:
        error, retryable = _transport_error(exc, policy, deadline, received, in_body=True)
        raise (Retry(error) if retryable else error) from None
    except zlib.error:
        raise FetchError("connection_error", f"the compressed body is corrupt after {received:,} bytes") from None
    return b"".join(chunks)


def _attempt(
    client: httpx.Client, url: str, original: str, headers: dict[str, str], policy: FetchPolicy, deadline: Deadline
) -> FetchResult | Redirect:
    if deadline.expired():
        raise deadline_error(policy.total_timeout, 0)
    timeout = httpx.Timeout(
        connect=deadline.cap(policy.connect_timeout),
        read=deadline.cap(policy.read_timeout),
        write=deadline.cap(policy.read_timeout),
        pool=deadline.cap(policy.connect_timeout),
    )
    try:
        request = client.build_request("GET", url, headers=headers, timeout=timeout)
        response = client.send(request, stream=True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise FetchError("invalid_url", f"not a valid URL: {shorten(str(exc), 80)}") from None
    except httpx.HTTPError as exc:
        error, retryable = _transport_error(exc, policy, deadline, 0, in_body=False)
        raise (Retry(error) if retryable else error) from None
    try:
        status = response.status_code
        location = response.headers.get("location")
        if status in REDIRECT_STATUSES and location:
            return Redirect(location.strip(), status)
        if 300 <= status < 400 and status != 304:
            raise FetchError("redirect_error", f"{status_text(status)} without a Location to follow", status)
        if status >= 400:
            error = FetchError("http_error", status_text(status), status)
            if status in RETRY_STATUSES:
                raise Retry(error, parse_retry_after(response.headers.get("retry-after")))
            raise error
        content_type, charset = parse_content_type(response.headers.get("content-type"))
        body = b"" if status == 304 else _read_body(response, policy, deadline)
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304:
            etag = etag or headers.get("If-None-Match")
            last_modified = last_modified or headers.get("If-Modified-Since")
        return FetchResult(
            url=original,
            final_url=str(response.url),
            status=status,
            content_type=content_type,
            charset=charset,
            body=body,
            etag=etag,
            last_modified=last_modified,
            bytes_read=len(body),
        )
    finally:
        response.close()


def _hop(
    client: httpx.Client,
    url: str,
    original: str,
    headers: dict[str, str],
    policy: FetchPolicy,
    deadline: Deadline,
    gate: HostGate | None,
) -> FetchResult | Redirect:
    """One URL with retries for transient failures, each attempt holding a politeness slot."""
    host = politeness_key(url)
    for attempt in range(policy.retries + 1):
        try:
            if gate is None:
                return _attempt(client, url, original, headers, policy, deadline)
            started = time.monotonic()
            if not gate.acquire(host, timeout=policy.max_gate_wait):
                # Not the server's failure: no request was sent. 'deferred' links are tried again next pass.
                raise FetchError("deferred", f"no turn for {host} within {seconds_text(policy.max_gate_wait)}")
            deadline.end += time.monotonic() - started  # queueing is not the server's time
            try:
                return _attempt(client, url, original, headers, policy, deadline)
            finally:
                gate.release(host)
        except Retry as retry:
            status = retry.error.status
            if gate is not None and status in SLOW_DOWN_STATUSES:
                gate.slow_down(host, retry.retry_after)
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
            if wait >= deadline.remaining():
                raise retry.error from None
            log.debug("retrying %s in %.2f s after: %s", url, wait, retry.error.reason)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def fetch(
    client: httpx.Client,
    url: str,
    policy: FetchPolicy,
    *,
    trusted_hosts: frozenset[str] = frozenset(),
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str | None = None,
    gate: HostGate | None = None,
) -> FetchResult:
    """GET `url` safely: checked hops, our redirects, retries, one deadline, a decoded-size cap; FetchError on failure.

    A 304 (after `etag`/`last_modified` were sent) is a result with an empty body, not an error.
    """
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if accept:
        headers["Accept"] = accept
    deadline = Deadline(policy.total_timeout)
    current = url
    visited = {str(parse_url(url))}
    redirects = 0
    while True:
        check_url(current, policy, trusted_hosts=trusted_hosts)
        parsed = parse_url(current)
        trusted = is_trusted(parsed, trusted_hosts)
        origin = (parsed.raw_host.decode("ascii").lower(), parsed.port or (443 if parsed.scheme == "https" else 80))
        with fetch_scope(deadline, origin if trusted else None):
            outcome = _hop(client, current, url, headers, policy, deadline, gate)
        if isinstance(outcome, FetchResult):
            return outcome
        redirects += 1
        if redirects > policy.max_redirects:
            raise FetchError("redirect_error", f"more than {policy.max_redirects} redirects", outcome.status)
        current = str(redirect_target(parsed, outcome.target, outcome.status, visited))


# --- local files and content sniffing ----------------------------------------------------------

_EXTRA_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".rdf": "application/rdf+xml"}


def read_local_file(path: str | Path, policy: FetchPolicy) -> FetchResult:
    """Read a feed file the user listed (a path or a `file:` URL) as a FetchResult; the size cap applies."""
    text = str(path)
    if text.lower().startswith("file:"):
        split = urlsplit(text)
        if split.netloc not in ("", "localhost"):
            raise FetchError("invalid_url", f"not a local file URL: {text}")
        target = Path(unquote(split.path))
    else:
        target = Path(text)
    target = target.expanduser()
    try:
        info = target.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would hang or never end
            raise FetchError("invalid_url", f"not a regular file: {target}")
        with target.open("rb") as handle:
            body = handle.read(policy.max_bytes + 1)
    except FileNotFoundError:
        raise FetchError("invalid_url", f"no such file: {target}") from None
    except PermissionError:
        raise FetchError("connection_error", f"not allowed to read {target}") from None
    except OSError as exc:
        raise FetchError("connection_error", f"cannot read {target} ({exc.strerror or exc})") from None
    if len(body) > policy.max_bytes:
        raise cap_error(policy.max_bytes, f"stopped after {len(body):,} bytes")
    suffix = target.suffix.lower()
    content_type = _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(target.name)[0]
    return FetchResult(
        url=text,
        final_url=target.resolve().as_uri(),
        status=200,
        content_type=content_type,
        charset=None,
        body=body,
        etag=None,
        last_modified=email.utils.formatdate(info.st_mtime, usegmt=True),
        bytes_read=len(body),
    )


_HTML_STARTS = (
    b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<script", b"<style", b"<iframe",
    b"<h1", b"<div", b"<font", b"<table", b"<a", b"<b", b"<br", b"<p", b"<meta", b"<link",
)  # fmt: skip


def _prolog_stripped(body: bytes) -> bytes:
    """The first bytes, lower-case, with BOM, whitespace, XML declaration and comments skipped."""
    head = body[:_SNIFF].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    while True:
        if head.startswith(b"<?xml"):
            end = head.find(b"?>")
        elif head.startswith(b"<!--"):
            end = head.find(b"-->")
        else:
            return head
        if end < 0:
            return b""
        head = head[end + (2 if head.startswith(b"<?") else 3) :].lstrip()


def _sniffs_html(body: bytes) -> bool:
    head = _prolog_stripped(body)
    for start in _HTML_STARTS:
        if head.startswith(start) and head[len(start) : len(start) + 1] in (b" ", b">", b"\t", b"\n", b"\r", b"/"):
            return True
    return False


def _sniffs_feed(body: bytes) -> bool:
    head = _prolog_stripped(body)
    if head.startswith((b"<rss", b"<feed", b"<rdf:rdf", b"<rdf")):
        return True
    return body[:_SNIFF].lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<?xml") and not _sniffs_html(body)


def is_html(result: FetchResult) -> bool:
    """Whether the result is an HTML page: by media type, or sniffed when typed octet-stream or untyped."""
    if result.content_type in HTML_TYPES:
        return True
    if result.content_type in (None, "application/octet-stream"):
        return _sniffs_html(result.body)
    return False


def is_feed_like(result: FetchResult) -> bool:
    """Whether the result looks like an RSS/Atom/RDF feed: by XML media type or by its first bytes."""
    media = result.content_type
    if media is not None and media.startswith(("image/", "audio/", "video/", "font/")):
        return False  # image/svg+xml is XML but no feed
    if media in FEED_TYPES or (media is not None and media.endswith("+xml") and media not in HTML_TYPES):
        return True
    return _sniffs_feed(result.body)
