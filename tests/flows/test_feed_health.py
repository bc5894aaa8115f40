"""Feed health kept in `feeds`: same-body answers, weighted back-off, adaptive intervals, due feeds only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from flows.monitor import monitor_feeds
from storage.db import make_engine
from storage.models import Feed
from storage.queries import feed_health, health_markdown

RSS = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>60</ttl></channel></rss>'


def run(feeds: Path, url: str, only_due: bool = False):  # type: ignore[no-untyped-def]
    return monitor_feeds(feeds_file=str(feeds), database_url=SecretStr(url), only_due=only_due)


def feed_row(url: str, feed_url: str) -> Any:
    engine = make_engine(url)
    with engine.connect() as connection:
        row = connection.execute(select(Feed.__table__).where(Feed.url == feed_url)).one()
    engine.dispose()
    return row


def test_same_body_is_unchanged_and_stretches_the_interval(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    httpserver.expect_request("/same.xml").respond_with_data(RSS, content_type="application/rss+xml")
    feeds = feeds_file(httpserver.url_for("/same.xml"))
    run(feeds, sqlite_url)
    first = feed_row(sqlite_url, httpserver.url_for("/same.xml"))
    assert first.last_status == "ok" and first.body_hash and first.ttl_minutes == 60
    assert first.poll_interval_seconds == 3600  # nothing new, and the feed's own ttl is the floor
    second = run(feeds, sqlite_url)
    assert second.feeds_not_modified == 1
    assert feed_row(sqlite_url, httpserver.url_for("/same.xml")).last_status == "unchanged"


def test_a_gone_feed_backs_off_more_than_a_slow_one_and_html_is_named(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=410)
    httpserver.expect_request("/page.xml").respond_with_data(
        "<!doctype html><html><body><p>Welcome</p></body></html>", content_type="text/html"
    )
    feeds = feeds_file(httpserver.url_for("/gone.xml"), httpserver.url_for("/page.xml"), "http://127.0.0.1:9/x.xml")
    summary = run(feeds, sqlite_url)
    outcomes = {p.url: (p.outcome, p.reason) for p in summary.feeds_failed}
    assert outcomes[httpserver.url_for("/page.xml")][0] == "not_feed"
    assert "HTML" in (outcomes[httpserver.url_for("/page.xml")][1] or "")
    gone = feed_row(sqlite_url, httpserver.url_for("/gone.xml"))
    refused = feed_row(sqlite_url, "http://127.0.0.1:9/x.xml")
    assert gone.failure_score == 1.0 and refused.failure_score == 0.25
    assert gone.poll_interval_seconds > refused.poll_interval_seconds > 900
    assert gone.consecutive_failures == 1


def test_only_due_feeds_are_read_by_the_scheduled_pass(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    httpserver.expect_request("/same.xml").respond_with_data(RSS, content_type="application/rss+xml")
    feeds = feeds_file(httpserver.url_for("/same.xml"))
    run(feeds, sqlite_url)
    requests_before = len(httpserver.log)
    summary = run(feeds, sqlite_url, only_due=True)
    assert summary.feeds_not_due == 1 and len(httpserver.log) == requests_before
    engine = make_engine(sqlite_url)
    [health] = feed_health(engine)
    engine.dispose()
    assert health.next_due_at is not None and health.last_fetched_at is not None
    assert health.next_due_at - health.last_fetched_at == timedelta(hours=1)
    assert "| ok |" in health_markdown([health])


def test_retry_after_on_a_429_puts_the_next_read_of_the_feed_that_far_off(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    httpserver.expect_request("/busy.xml").respond_with_data(
        "too many requests", status=429, headers={"Retry-After": "7200"}
    )
    feeds = feeds_file(httpserver.url_for("/busy.xml"))
    summary = run(feeds, sqlite_url)
    assert [(p.outcome, p.url) for p in summary.feeds_failed] == [("http_error", httpserver.url_for("/busy.xml"))]
    assert len(httpserver.log) == 1  # two hours is too long to wait inside a pass: given up at once, not retried
    busy = feed_row(sqlite_url, httpserver.url_for("/busy.xml"))
    assert busy.last_status == "http_error" and busy.consecutive_failures == 1
    assert busy.next_due_at - busy.last_fetched_at >= timedelta(hours=2)
    assert run(feeds, sqlite_url, only_due=True).feeds_not_due == 1  # the scheduled pass leaves it alone
    assert len(httpserver.log) == 1
