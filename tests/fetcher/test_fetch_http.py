"""fetch() against well-behaved and hostile loopback servers: statuses, retries, caps, deadlines, redirects."""

from __future__ import annotations

import gzip
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Protocol

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fetcher import FetchPolicy, fetch, host_key
from presswatch.errors import BlockedURLError, FetchError


class RawServer(Protocol):
    url: str
    connections: int


HTML = "<!doctype html><html><head><title>Ma returns</title></head><body><p>Jack Ma is back.</p></body></html>"

PolicyFactory = Callable[..., FetchPolicy]
RawFactory = Callable[[Callable[[socket.socket, threading.Event], None]], RawServer]


# --- statuses and validators ---------------------------------------------------------------------


def test_html_page_is_returned_with_type_charset_and_our_user_agent(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/story").respond_with_data(
        HTML, content_type="text/html; charset=UTF-8", headers={"ETag": '"abc"', "Last-Modified": "Tue, 01 Jul 2025"}
    )
    policy = fast_policy()
    result = fetch(client, server.url_for("/story"), policy)
    assert result.status == 200
    assert result.content_type == "text/html"
    assert result.charset == "utf-8"
    assert result.body == HTML.encode()
    assert result.bytes_read == len(HTML)
    assert result.etag == '"abc"'
    assert result.last_modified == "Tue, 01 Jul 2025"
    assert result.final_url == result.url == server.url_for("/story")
    seen = server.log[0][0]
    assert seen.headers["User-Agent"] == policy.user_agent
    assert "If-None-Match" not in seen.headers


def test_not_modified_is_a_result_with_empty_body_and_validators_were_sent(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/feed").respond_with_data("", status=304)
    since = "Wed, 02 Jul 2025 10:00:00 GMT"
    result = fetch(
        client, server.url_for("/feed"), fast_policy(), etag='"v1"', last_modified=since, accept="application/rss+xml"
    )
    assert result.status == 304
    assert result.body == b""
    assert result.bytes_read == 0
    assert result.etag == '"v1"'  # kept from the request when the 304 repeats none
    assert result.last_modified == since
    seen = server.log[0][0]
    assert seen.headers["If-None-Match"] == '"v1"'
    assert seen.headers["If-Modified-Since"] == since
    assert seen.headers["Accept"] == "application/rss+xml"


def test_not_found_is_an_http_error_with_status_and_is_not_retried(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/gone").respond_with_data("nope", status=404)
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/gone"), fast_policy(retries=2))
    assert caught.value.outcome == "http_error"
    assert caught.value.status == 404
    assert caught.value.reason == "HTTP 404 Not Found"
    assert len(server.log) == 1


def test_server_error_is_retried_then_reported(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/broken").respond_with_data("oops", status=500)
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/broken"), fast_policy(retries=2, backoff=0.01))
    assert caught.value.outcome == "http_error"
    assert caught.value.status == 500
    assert caught.value.reason == "HTTP 500 Internal Server Error"
    assert len(server.log) == 3


def test_too_many_requests_waits_for_retry_after_then_succeeds(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_ordered_request("/busy").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    server.expect_ordered_request("/busy").respond_with_data(HTML, content_type="text/html")
    started = time.monotonic()
    result = fetch(client, server.url_for("/busy"), fast_policy(retries=1, backoff=0.01))
    elapsed = time.monotonic() - started
    assert result.status == 200
    assert result.body == HTML.encode()
    assert elapsed >= 0.95
    assert len(server.log) == 2


def test_retry_after_longer_than_allowed_gives_up_at_once(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/busy").respond_with_data("later", status=503, headers={"Retry-After": "120"})
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/busy"), fast_policy(retries=2, max_retry_after=5))
    assert time.monotonic() - started < 1
    assert caught.value.outcome == "http_error"
    assert caught.value.status == 503
    assert "retry after 120 s" in caught.value.reason
    assert len(server.log) == 1


# --- size caps ---------------------------------------------------------------------------------


def _endless(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
    chunk = b"<p>" + b"x" * 65_533
    while not stop.is_set():
        conn.sendall(chunk)


def test_endless_body_is_stopped_at_the_cap_while_streaming(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory, bytes_in: Callable[[FetchError], int]
) -> None:
    made = raw_server(_endless)
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(max_bytes=1_000_000))
    assert caught.value.outcome == "too_large"
    assert caught.value.reason.startswith("body exceeds the 1,000,000-byte cap (stopped after ")
    assert 1_000_000 < bytes_in(caught.value) <= 1_000_000 + 65_536


def test_announced_oversized_body_is_refused_before_reading(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50000000\r\n\r\n<html>")
        stop.wait(5)

    made = raw_server(handler)
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(max_bytes=1_000_000))
    assert caught.value.outcome == "too_large"
    assert "the server announced 50,000,000 bytes" in caught.value.reason


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the spec says
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_compression_bomb_stops_at_the_decoded_cap(
    server: HTTPServer,
    client: httpx.Client,
    fast_policy: PolicyFactory,
    bytes_in: Callable[[FetchError], int],
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    bomb = compress(b"\0" * 30_000_000)
    assert len(bomb) < 100_000  # the wire body is far below the cap; only the decoded one is over
    server.expect_request("/bomb").respond_with_data(
        bomb, content_type="text/html", headers={"Content-Encoding": encoding}
    )
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/bomb"), fast_policy(max_bytes=1_000_000))
    assert caught.value.outcome == "too_large"
    assert 1_000_000 < bytes_in(caught.value) <= 1_000_000 + 65_536


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_page_is_decoded(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory, encoding: str
) -> None:
    packed = gzip.compress(HTML.encode()) if encoding == "gzip" else zlib.compress(HTML.encode())
    server.expect_request("/z").respond_with_data(
        packed, content_type="text/html", headers={"Content-Encoding": encoding}
    )
    result = fetch(client, server.url_for("/z"), fast_policy())
    assert result.body == HTML.encode()
    assert result.bytes_read == len(HTML)
    assert server.log[0][0].headers["Accept-Encoding"] == "gzip, deflate"


def test_unknown_content_encoding_is_refused(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/br").respond_with_data(b"\x0b\x02", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/br"), fast_policy())
    assert caught.value.outcome == "http_error"
    assert caught.value.reason == "unsupported content encoding 'br'"


# --- slow, silent and broken servers -------------------------------------------------------------


def test_trickling_body_is_cut_off_by_the_total_deadline(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory, bytes_in: Callable[[FetchError], int]
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        while not stop.wait(0.1):
            conn.sendall(b"x")

    made = raw_server(handler)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(total_timeout=1.0, read_timeout=0.5))
    elapsed = time.monotonic() - started
    assert caught.value.outcome == "timeout"
    assert caught.value.reason.startswith("total deadline of 1 s exceeded after ")
    assert 3 <= bytes_in(caught.value) <= 12
    assert 0.9 <= elapsed < 1.6


def test_trickling_headers_are_cut_off_by_the_total_deadline(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.1):
            conn.sendall(b"X-Slow: a\r\n")

    made = raw_server(handler)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(total_timeout=0.8, read_timeout=0.5))
    assert caught.value.outcome == "timeout"
    assert caught.value.reason == "total deadline of 0.8 s exceeded after 0 bytes"
    assert time.monotonic() - started < 1.4


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def test_server_that_never_answers_times_out_on_the_read_timeout(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    made = raw_server(_silent)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(read_timeout=0.3, retries=0))
    assert caught.value.outcome == "timeout"
    assert caught.value.reason == "no response within 0.3 s"
    assert 0.25 <= time.monotonic() - started < 1.0


def test_read_timeout_is_retried_on_fresh_connections(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    made = raw_server(_silent)
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(read_timeout=0.2, retries=2, backoff=0.01))
    assert caught.value.outcome == "timeout"
    assert made.connections == 3


def test_total_deadline_beats_a_longer_read_timeout(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    made = raw_server(_silent)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy(read_timeout=5.0, total_timeout=0.5))
    assert caught.value.outcome == "timeout"
    assert caught.value.reason == "total deadline of 0.5 s exceeded after 0 bytes"
    assert time.monotonic() - started < 1.0


def test_connection_dropped_half_way_is_a_connection_error_with_bytes_read(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n" + b"a" * 300)
        conn.shutdown(socket.SHUT_RDWR)

    made = raw_server(handler)
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy())
    assert caught.value.outcome == "connection_error"
    assert caught.value.reason == "connection dropped after 300 bytes"
    assert made.connections == 1  # a drop mid-body is not retried


def test_refused_connection_is_a_connection_error(client: httpx.Client, fast_policy: PolicyFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch(client, f"http://127.0.0.1:{port}/", fast_policy(retries=1, backoff=0.01))
    assert caught.value.outcome == "connection_error"
    assert caught.value.reason == "connection refused"


def test_garbage_instead_of_http_is_a_connection_error(
    raw_server: RawFactory, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    made = raw_server(handler)
    with pytest.raises(FetchError) as caught:
        fetch(client, made.url, fast_policy())
    assert caught.value.outcome == "connection_error"
    assert caught.value.reason.startswith("malformed response")


def test_url_without_scheme_or_host_is_invalid(client: httpx.Client, fast_policy: PolicyFactory) -> None:
    for url in ("not a url", "http://", "http:///path"):
        with pytest.raises(FetchError) as caught:
            fetch(client, url, fast_policy())
        assert caught.value.outcome == "invalid_url", url


# --- redirects -------------------------------------------------------------------------------------


def test_redirect_is_followed_and_final_url_reported(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data(HTML, content_type="text/html")
    result = fetch(client, server.url_for("/old"), fast_policy())
    assert result.url == server.url_for("/old")
    assert result.final_url == server.url_for("/new")
    assert result.body == HTML.encode()


def test_redirect_loop_is_a_redirect_error(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/a"), fast_policy())
    assert caught.value.outcome == "redirect_error"
    assert caught.value.reason.startswith("redirect loop: ")
    assert [request.path for request, _ in server.log] == ["/a", "/b"]


def test_chain_longer_than_max_redirects_is_a_redirect_error(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    def hop(request: Request) -> Response:
        step = int(request.path.rsplit("/", 1)[1])
        return Response("", status=302, headers={"Location": f"/r/{step + 1}"})

    server.expect_request(re.compile(r"/r/\d+")).respond_with_handler(hop)
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/r/0"), fast_policy(max_redirects=3))
    assert caught.value.outcome == "redirect_error"
    assert caught.value.reason == "more than 3 redirects"
    assert len(server.log) == 4


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://files.example.com/x"])
def test_redirect_to_a_non_http_scheme_is_refused(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory, target: str
) -> None:
    server.expect_request("/jump").respond_with_data("", status=302, headers={"Location": target})
    with pytest.raises(FetchError) as caught:
        fetch(client, server.url_for("/jump"), fast_policy())
    assert caught.value.outcome == "redirect_error"
    assert "only http and https are followed" in caught.value.reason


def test_redirect_to_cloud_metadata_is_blocked_before_connecting(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_request("/jump").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    started = time.monotonic()
    with pytest.raises(BlockedURLError) as caught:
        fetch(client, server.url_for("/jump"), fast_policy(connect_timeout=5.0))
    assert time.monotonic() - started < 1  # refused, not a connect attempt timing out
    assert caught.value.outcome == "blocked"
    assert caught.value.reason == "refused: 169.254.169.254 is a link-local address"


def test_trusted_host_opens_only_itself_not_a_redirect_to_another_loopback_host(
    server: HTTPServer, other_server: HTTPServer, strict_client: httpx.Client
) -> None:
    policy = FetchPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, retries=0)  # loopback not allowed
    trusted = frozenset({host_key(server.url_for("/"))})
    server.expect_request("/feed").respond_with_data("", status=302, headers={"Location": "/feed.xml"})
    server.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="application/rss+xml")
    server.expect_request("/elsewhere").respond_with_data(
        "", status=302, headers={"Location": other_server.url_for("/admin")}
    )
    other_server.expect_request("/admin").respond_with_data("secret")

    result = fetch(strict_client, server.url_for("/feed"), policy, trusted_hosts=trusted)
    assert result.body == b"<rss/>"
    with pytest.raises(BlockedURLError) as caught:
        fetch(strict_client, server.url_for("/elsewhere"), policy, trusted_hosts=trusted)
    assert caught.value.reason == "refused: 127.0.0.2 is a loopback address"
    assert other_server.log == []


def test_client_refuses_a_private_address_at_connect_time_even_without_check_url(
    server: HTTPServer, strict_client: httpx.Client
) -> None:
    server.expect_request("/x").respond_with_data("should not be read")
    with pytest.raises(BlockedURLError) as caught:
        strict_client.get(server.url_for("/x"))
    assert caught.value.reason == "refused: 127.0.0.1 is a loopback address"
    assert server.log == []
