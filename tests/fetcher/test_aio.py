"""The asyncio fetcher against the same well-behaved and hostile loopback servers as the sync one.

Each case mirrors one of tests/fetcher/test_fetch_http.py (same server, same policy, same expected outcome and
reason), plus what only the async path has: many fetches at once under the per-host limit, queueing that does
not eat the deadline, and `flows.steps.poll_feeds` polling a batch through it.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fetcher import FetchPolicy, FetchResult, host_key
from fetcher.addresses import politeness_key
from fetcher.aio import AsyncFetcher
from flows.steps import FeedJob, PassConfig, poll_feeds
from presswatch.errors import BlockedURLError, FetchError

T = TypeVar("T")
HTML = "<!doctype html><html><head><title>Ma returns</title></head><body><p>Jack Ma is back.</p></body></html>"
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://x.example/</link>'
    "<item><title>One</title><link>http://x.example/1</link></item>"
    "<item><title>Two</title><link>http://x.example/2</link></item></channel></rss>"
)


class RawServer(Protocol):
    url: str
    connections: int


PolicyFactory = Callable[..., FetchPolicy]
RawFactory = Callable[[Callable[[socket.socket, threading.Event], None]], RawServer]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fetch(url: str, policy: FetchPolicy, trusted: frozenset[str] = frozenset(), **kwargs: Any) -> FetchResult:
    """One fetch through a fresh AsyncFetcher (as a poll task makes one per batch)."""

    async def go() -> FetchResult:
        async with AsyncFetcher(policy, trusted_hosts=trusted) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return run(go())


def failure(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as caught:
        call()
    return caught.value


# --- statuses and validators ---------------------------------------------------------------------


def test_page_is_returned_with_type_charset_validators_and_our_user_agent(
    server: HTTPServer, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/story").respond_with_data(
        HTML, content_type="text/html; charset=UTF-8", headers={"ETag": '"abc"', "Last-Modified": "Tue, 01 Jul 2025"}
    )
    policy = fast_policy()
    result = fetch(server.url_for("/story"), policy)
    assert (result.status, result.content_type, result.charset) == (200, "text/html", "utf-8")
    assert result.body == HTML.encode() and result.bytes_read == len(HTML)
    assert (result.etag, result.last_modified) == ('"abc"', "Tue, 01 Jul 2025")
    assert result.final_url == result.url == server.url_for("/story")
    seen = server.log[0][0]
    assert seen.headers["User-Agent"] == policy.user_agent
    assert "If-None-Match" not in seen.headers


def test_not_modified_is_a_result_with_empty_body_and_validators_were_sent(
    server: HTTPServer, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/feed").respond_with_data("", status=304)
    since = "Wed, 02 Jul 2025 10:00:00 GMT"
    result = fetch(
        server.url_for("/feed"), fast_policy(), etag='"v1"', last_modified=since, accept="application/rss+xml"
    )
    assert (result.status, result.body, result.etag, result.last_modified) == (304, b"", '"v1"', since)
    seen = server.log[0][0]
    assert seen.headers["If-None-Match"] == '"v1"'
    assert seen.headers["If-Modified-Since"] == since
    assert seen.headers["Accept"] == "application/rss+xml"


def test_not_found_is_an_http_error_and_is_not_retried(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request("/gone").respond_with_data("nope", status=404)
    error = failure(lambda: fetch(server.url_for("/gone"), fast_policy(retries=2)))
    assert (error.outcome, error.status, error.reason) == ("http_error", 404, "HTTP 404 Not Found")
    assert len(server.log) == 1


def test_server_error_is_retried_then_reported(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request("/broken").respond_with_data("oops", status=500)
    error = failure(lambda: fetch(server.url_for("/broken"), fast_policy(retries=2, backoff=0.01)))
    assert (error.outcome, error.status, error.reason) == ("http_error", 500, "HTTP 500 Internal Server Error")
    assert len(server.log) == 3


def test_too_many_requests_waits_for_retry_after_then_succeeds(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_ordered_request("/busy").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    server.expect_ordered_request("/busy").respond_with_data(HTML, content_type="text/html")
    started = time.monotonic()
    result = fetch(server.url_for("/busy"), fast_policy(retries=1, backoff=0.01))
    assert result.body == HTML.encode()
    assert time.monotonic() - started >= 0.95
    assert len(server.log) == 2


def test_retry_after_longer_than_allowed_gives_up_at_once_and_carries_it(
    server: HTTPServer, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/busy").respond_with_data("later", status=503, headers={"Retry-After": "120"})
    started = time.monotonic()
    error = failure(lambda: fetch(server.url_for("/busy"), fast_policy(retries=2, max_retry_after=5)))
    assert time.monotonic() - started < 1
    assert (error.outcome, error.status, error.retry_after) == ("http_error", 503, 120.0)
    assert "retry after 120 s" in error.reason
    assert len(server.log) == 1


# --- size caps ---------------------------------------------------------------------------------


def _endless(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
    chunk = b"<p>" + b"x" * 65_533
    while not stop.is_set():
        conn.sendall(chunk)


def test_endless_body_is_stopped_at_the_cap_while_streaming(
    raw_server: RawFactory, fast_policy: PolicyFactory, bytes_in: Callable[[FetchError], int]
) -> None:
    made = raw_server(_endless)
    error = failure(lambda: fetch(made.url, fast_policy(max_bytes=1_000_000)))
    assert error.outcome == "too_large"
    assert error.reason.startswith("body exceeds the 1,000,000-byte cap (stopped after ")
    assert 1_000_000 < bytes_in(error) <= 1_000_000 + 65_536


def test_announced_oversized_body_is_refused_before_reading(raw_server: RawFactory, fast_policy: PolicyFactory) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50000000\r\n\r\n<html>")
        stop.wait(5)

    made = raw_server(handler)
    error = failure(lambda: fetch(made.url, fast_policy(max_bytes=1_000_000)))
    assert error.outcome == "too_large"
    assert "the server announced 50,000,000 bytes" in error.reason


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", lambda data: zlib.compress(data)[2:-4])],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_compression_bomb_stops_at_the_decoded_cap(
    server: HTTPServer,
    fast_policy: PolicyFactory,
    bytes_in: Callable[[FetchError], int],
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    bomb = compress(b"\0" * 30_000_000)
    assert len(bomb) < 100_000
    server.expect_request("/bomb").respond_with_data(
        bomb, content_type="text/html", headers={"Content-Encoding": encoding}
    )
    error = failure(lambda: fetch(server.url_for("/bomb"), fast_policy(max_bytes=1_000_000)))
    assert error.outcome == "too_large"
    assert 1_000_000 < bytes_in(error) <= 1_000_000 + 65_536


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_page_is_decoded(server: HTTPServer, fast_policy: PolicyFactory, encoding: str) -> None:
    packed = gzip.compress(HTML.encode()) if encoding == "gzip" else zlib.compress(HTML.encode())
    server.expect_request("/z").respond_with_data(
        packed, content_type="text/html", headers={"Content-Encoding": encoding}
    )
    result = fetch(server.url_for("/z"), fast_policy())
    assert result.body == HTML.encode() and result.bytes_read == len(HTML)
    assert server.log[0][0].headers["Accept-Encoding"] == "gzip, deflate"


def test_unknown_content_encoding_is_refused(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request("/br").respond_with_data(b"\x0b\x02", headers={"Content-Encoding": "br"})
    error = failure(lambda: fetch(server.url_for("/br"), fast_policy()))
    assert (error.outcome, error.reason) == ("http_error", "unsupported content encoding 'br'")


# --- slow, silent and broken servers -------------------------------------------------------------


def test_trickling_body_is_cut_off_by_the_total_deadline(
    raw_server: RawFactory, fast_policy: PolicyFactory, bytes_in: Callable[[FetchError], int]
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        while not stop.wait(0.1):
            conn.sendall(b"x")

    made = raw_server(handler)
    started = time.monotonic()
    error = failure(lambda: fetch(made.url, fast_policy(total_timeout=1.0, read_timeout=0.5)))
    assert error.outcome == "timeout"
    assert error.reason.startswith("total deadline of 1 s exceeded after ")
    assert 3 <= bytes_in(error) <= 12
    assert 0.9 <= time.monotonic() - started < 1.6


def test_trickling_headers_are_cut_off_by_the_total_deadline(
    raw_server: RawFactory, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.1):
            conn.sendall(b"X-Slow: a\r\n")

    made = raw_server(handler)
    started = time.monotonic()
    error = failure(lambda: fetch(made.url, fast_policy(total_timeout=0.8, read_timeout=0.5)))
    assert (error.outcome, error.reason) == ("timeout", "total deadline of 0.8 s exceeded after 0 bytes")
    assert time.monotonic() - started < 1.4


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def test_server_that_never_answers_times_out_on_the_read_timeout(
    raw_server: RawFactory, fast_policy: PolicyFactory
) -> None:
    made = raw_server(_silent)
    started = time.monotonic()
    error = failure(lambda: fetch(made.url, fast_policy(read_timeout=0.3, retries=0)))
    assert (error.outcome, error.reason) == ("timeout", "no response within 0.3 s")
    assert 0.25 <= time.monotonic() - started < 1.0


def test_read_timeout_is_retried_on_fresh_connections(raw_server: RawFactory, fast_policy: PolicyFactory) -> None:
    made = raw_server(_silent)
    error = failure(lambda: fetch(made.url, fast_policy(read_timeout=0.2, retries=2, backoff=0.01)))
    assert error.outcome == "timeout"
    assert made.connections == 3


def test_total_deadline_beats_a_longer_read_timeout(raw_server: RawFactory, fast_policy: PolicyFactory) -> None:
    made = raw_server(_silent)
    started = time.monotonic()
    error = failure(lambda: fetch(made.url, fast_policy(read_timeout=5.0, total_timeout=0.5)))
    assert (error.outcome, error.reason) == ("timeout", "total deadline of 0.5 s exceeded after 0 bytes")
    assert time.monotonic() - started < 1.0


def test_connection_dropped_half_way_is_a_connection_error_with_bytes_read(
    raw_server: RawFactory, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n" + b"a" * 300)
        conn.shutdown(socket.SHUT_RDWR)

    made = raw_server(handler)
    error = failure(lambda: fetch(made.url, fast_policy()))
    assert (error.outcome, error.reason) == ("connection_error", "connection dropped after 300 bytes")
    assert made.connections == 1


def test_refused_connection_is_a_connection_error(fast_policy: PolicyFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    error = failure(lambda: fetch(f"http://127.0.0.1:{port}/", fast_policy(retries=1, backoff=0.01)))
    assert (error.outcome, error.reason) == ("connection_error", "connection refused")


def test_garbage_instead_of_http_is_a_connection_error(raw_server: RawFactory, fast_policy: PolicyFactory) -> None:
    made = raw_server(lambda conn, stop: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    error = failure(lambda: fetch(made.url, fast_policy()))
    assert error.outcome == "connection_error"
    assert error.reason.startswith("malformed response")


@pytest.mark.parametrize("url", ["not a url", "http://", "http:///path"])
def test_url_without_scheme_or_host_is_invalid(fast_policy: PolicyFactory, url: str) -> None:
    assert failure(lambda: fetch(url, fast_policy())).outcome == "invalid_url"


# --- redirects and addresses -------------------------------------------------------------------------


def test_redirect_is_followed_and_final_url_reported(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data(HTML, content_type="text/html")
    result = fetch(server.url_for("/old"), fast_policy())
    assert (result.url, result.final_url) == (server.url_for("/old"), server.url_for("/new"))
    assert result.body == HTML.encode()


def test_redirect_loop_is_a_redirect_error(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    error = failure(lambda: fetch(server.url_for("/a"), fast_policy()))
    assert error.outcome == "redirect_error" and error.reason.startswith("redirect loop: ")
    assert [request.path for request, _ in server.log] == ["/a", "/b"]


def test_chain_longer_than_max_redirects_is_a_redirect_error(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    def hop(request: Request) -> Response:
        return Response("", status=302, headers={"Location": f"/r/{int(request.path.rsplit('/', 1)[1]) + 1}"})

    server.expect_request(re.compile(r"/r/\d+")).respond_with_handler(hop)
    error = failure(lambda: fetch(server.url_for("/r/0"), fast_policy(max_redirects=3)))
    assert (error.outcome, error.reason) == ("redirect_error", "more than 3 redirects")
    assert len(server.log) == 4


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://files.example.com/x"])
def test_redirect_to_a_non_http_scheme_is_refused(server: HTTPServer, fast_policy: PolicyFactory, target: str) -> None:
    server.expect_request("/jump").respond_with_data("", status=302, headers={"Location": target})
    error = failure(lambda: fetch(server.url_for("/jump"), fast_policy()))
    assert error.outcome == "redirect_error" and "only http and https are followed" in error.reason


def test_redirect_to_cloud_metadata_is_blocked_before_connecting(
    server: HTTPServer, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/jump").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    started = time.monotonic()
    with pytest.raises(BlockedURLError) as caught:
        fetch(server.url_for("/jump"), fast_policy(connect_timeout=5.0))
    assert time.monotonic() - started < 1
    assert caught.value.reason == "refused: 169.254.169.254 is a link-local address"


def test_trusted_host_opens_only_itself_not_a_redirect_to_another_loopback_host(
    server: HTTPServer, other_server: HTTPServer
) -> None:
    policy = FetchPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, retries=0)  # loopback not allowed
    trusted = frozenset({host_key(server.url_for("/"))})
    server.expect_request("/feed").respond_with_data("", status=302, headers={"Location": "/feed.xml"})
    server.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="application/rss+xml")
    server.expect_request("/elsewhere").respond_with_data(
        "", status=302, headers={"Location": other_server.url_for("/admin")}
    )
    other_server.expect_request("/admin").respond_with_data("secret")
    assert fetch(server.url_for("/feed"), policy, trusted).body == b"<rss/>"
    with pytest.raises(BlockedURLError) as caught:
        fetch(server.url_for("/elsewhere"), policy, trusted)
    assert caught.value.reason == "refused: 127.0.0.2 is a loopback address"
    assert other_server.log == []


def test_a_host_name_resolving_to_loopback_is_refused_at_connect_time(server: HTTPServer) -> None:
    server.expect_request("/x").respond_with_data("should not be read")
    url = server.url_for("/x").replace("127.0.0.1", "localhost")
    strict = FetchPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, retries=0)
    with pytest.raises(BlockedURLError) as caught:
        fetch(url, strict)
    assert re.fullmatch(r"refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address", caught.value.reason)
    assert server.log == []
    opened = FetchPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, allowed_networks=("127.0.0.0/8",))
    if any(info[4][0] == "127.0.0.1" for info in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)):
        assert fetch(url, opened).body == b"should not be read"  # the same name, once loopback is allowed


# --- many at once: per-host limit, queueing outside the deadline, a batch of feeds ---------------------


class ConcurrencyProbe:
    """A handler that holds each request a while and records the most in flight at once."""

    def __init__(self, hold: float) -> None:
        self.hold, self.lock, self.in_flight, self.most = hold, threading.Lock(), 0, 0

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.hold)
        with self.lock:
            self.in_flight -= 1
        return Response(HTML, content_type="text/html")


def fetch_many(urls: list[str], policy: FetchPolicy, per_host: int = 2) -> list[FetchResult | BaseException]:
    async def go() -> list[FetchResult | BaseException]:
        async with AsyncFetcher(policy, per_host=per_host) as fetcher:
            calls: list[Awaitable[FetchResult]] = [fetcher.fetch(url) for url in urls]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    return run(go())


def test_many_fetches_to_one_host_never_have_more_than_two_in_flight(
    server: HTTPServer, fast_policy: PolicyFactory
) -> None:
    probe = ConcurrencyProbe(hold=0.05)
    server.expect_request(re.compile("/p/.*")).respond_with_handler(probe)
    results = fetch_many([server.url_for(f"/p/{n}") for n in range(12)], fast_policy())
    assert all(isinstance(r, FetchResult) and r.status == 200 for r in results)
    assert probe.most == 2
    unlimited = ConcurrencyProbe(hold=0.05)
    server.clear()
    server.expect_request(re.compile("/p/.*")).respond_with_handler(unlimited)
    fetch_many([server.url_for(f"/p/{n}") for n in range(12)], fast_policy(), per_host=12)
    assert unlimited.most > 2  # the limit, not the server, kept it at two


def test_waiting_for_a_busy_host_is_not_counted_in_the_deadline(server: HTTPServer, fast_policy: PolicyFactory) -> None:
    server.expect_request(re.compile("/p/.*")).respond_with_handler(ConcurrencyProbe(hold=0.3))
    results = fetch_many([server.url_for(f"/p/{n}") for n in range(8)], fast_policy(total_timeout=0.8))
    assert [r.status for r in results if isinstance(r, FetchResult)] == [200] * 8  # 4 rounds of 0.3 s > 0.8 s


def test_politeness_key_is_the_host_name_without_port() -> None:
    assert politeness_key("http://127.0.3.4:8080/feed") == politeness_key("https://127.0.3.4/x") == "127.0.3.4"
    assert politeness_key("http://News.Example:81/") == "news.example"
    assert politeness_key("not a url") == ""


def test_poll_feeds_polls_a_batch_concurrently_with_every_outcome_in_order(
    server: HTTPServer, raw_server: RawFactory, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/new.xml").respond_with_data(
        RSS, content_type="application/rss+xml", headers={"ETag": '"2"'}
    )
    server.expect_request("/same.xml").respond_with_data("", status=304)
    server.expect_request("/gone.xml").respond_with_data("no", status=404)
    server.expect_request("/page.html").respond_with_data(HTML, content_type="text/html")
    hostile = raw_server(_silent)
    config = PassConfig(database_url="sqlite://", watchlist_file="", policy=fast_policy(read_timeout=0.3, retries=0))
    jobs = [
        FeedJob(1, server.url_for("/new.xml")),
        FeedJob(2, server.url_for("/same.xml"), etag='"1"'),
        FeedJob(3, server.url_for("/gone.xml")),
        FeedJob(4, hostile.url),
        FeedJob(5, server.url_for("/page.html")),
        FeedJob(6, "http://169.254.169.254/feed"),
    ]
    results = poll_feeds(jobs, config)
    assert [r.poll.feed_id for r in results] == [1, 2, 3, 4, 5, 6]
    assert [r.poll.outcome for r in results] == ["ok", "not_modified", "http_error", "timeout", "not_feed", "blocked"]
    assert [e.link for e in results[0].entries] == ["http://x.example/1", "http://x.example/2"]
    assert results[0].poll.etag == '"2"' and results[0].poll.body_hash
    assert results[3].poll.reason == "no response within 0.3 s"
