"""Sniffing helpers, header parsing and local feed files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fetcher import FetchPolicy, FetchResult, is_feed_like, is_html, parse_retry_after, read_local_file
from fetcher.responses import parse_content_type
from presswatch.errors import FetchError

PAGE = b"<!DOCTYPE html>\n<html lang='en'><head><title>x</title></head><body>hi</body></html>"
RSS = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>t</title></channel></rss>'
ATOM = b'<?xml version="1.0"?><!-- generated --><feed xmlns="http://www.w3.org/2005/Atom"></feed>'


def _result(content_type: str | None, body: bytes) -> FetchResult:
    return FetchResult(
        url="http://example.com/",
        final_url="http://example.com/",
        status=200,
        content_type=content_type,
        charset=None,
        body=body,
        etag=None,
        last_modified=None,
        bytes_read=len(body),
    )


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html", b"whatever", True),
        ("application/xhtml+xml", PAGE, True),
        ("application/pdf", b"%PDF-1.7", False),
        ("image/png", b"\x89PNG\r\n\x1a\n", False),
        ("application/json", b'{"html": "<html>"}', False),
        ("application/pdf", PAGE, False),  # the declared type wins over a body that looks like HTML
        ("application/octet-stream", PAGE, True),
        ("application/octet-stream", b"\xef\xbb\xbf  <html><body>x</body></html>", True),
        ("application/octet-stream", b"<!-- a comment --><div class=x>hi</div>", True),
        ("application/octet-stream", b"%PDF-1.7 binary", False),
        (None, PAGE, True),
        (None, RSS, False),
        (None, b"<abbr>not a start tag we trust</abbr>", False),
    ],
)
def test_is_html_by_type_or_sniffed_when_untyped(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(_result(content_type, body)) is expected


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/rss+xml", RSS, True),
        ("application/atom+xml", ATOM, True),
        ("text/xml", RSS, True),
        ("application/xml", b"<x/>", True),
        ("text/html", RSS, True),  # feeds are often served with the wrong type
        ("text/plain", ATOM, True),
        (None, b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'></rdf:RDF>", True),
        ("text/html", PAGE, False),
        ("application/xhtml+xml", PAGE, False),
        ("image/svg+xml", b"<?xml version='1.0'?><svg/>", False),
        ("application/octet-stream", b'<?xml version="1.0"?><html><body/></html>', False),
        ("application/json", b"{}", False),
    ],
)
def test_is_feed_like_by_xml_type_or_sniffed_body(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_feed_like(_result(content_type, body)) is expected


def test_content_type_header_is_split_into_media_type_and_charset() -> None:
    assert parse_content_type('Text/HTML; Charset="UTF-8"') == ("text/html", "utf-8")
    assert parse_content_type("application/rss+xml") == ("application/rss+xml", None)
    assert parse_content_type(None) == (None, None)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 7, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Tue, 01 Jul 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 01 Jul 2025 11:00:00 GMT", now) == 0.0  # in the past: no wait
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_local_feed_file_is_read_with_a_feed_type(tmp_path: Path) -> None:
    feed = tmp_path / "mine.rss"
    feed.write_bytes(RSS)
    result = read_local_file(feed, FetchPolicy())
    assert result.status == 200
    assert result.body == RSS
    assert result.bytes_read == len(RSS)
    assert result.content_type == "application/rss+xml"
    assert result.final_url == feed.resolve().as_uri()
    assert result.last_modified is not None and result.last_modified.endswith("GMT")
    assert is_feed_like(result)


def test_local_feed_file_may_be_given_as_a_file_url(tmp_path: Path) -> None:
    feed = tmp_path / "with space.xml"
    feed.write_bytes(ATOM)
    result = read_local_file(feed.as_uri(), FetchPolicy())
    assert result.body == ATOM
    assert result.url == feed.as_uri()


def test_local_file_over_the_cap_is_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss>" + b"x" * 5000 + b"</rss>")
    with pytest.raises(FetchError) as caught:
        read_local_file(big, FetchPolicy(max_bytes=1000))
    assert caught.value.outcome == "too_large"
    assert caught.value.reason == "body exceeds the 1,000-byte cap (stopped after 1,001 bytes)"


def test_missing_local_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(FetchError) as caught:
        read_local_file(missing, FetchPolicy())
    assert caught.value.outcome == "invalid_url"
    assert caught.value.reason == f"no such file: {missing}"


def test_local_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        read_local_file(tmp_path, FetchPolicy())
    assert caught.value.reason == f"not a regular file: {tmp_path}"
    with pytest.raises(FetchError) as caught:
        read_local_file("/dev/zero", FetchPolicy(max_bytes=10))
    assert caught.value.reason == "not a regular file: /dev/zero"
