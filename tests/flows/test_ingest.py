"""The ad-hoc flows: ingest-urls takes URLs from a form (untrusted), backfill-feed reads one feed whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import select, text

from flows.ingest import backfill_feed, ingest_urls
from storage.db import make_engine
from storage.models import FetchEvent

PAGE = (Path(__file__).resolve().parents[2] / "seeds" / "fixture" / "jack-ma-comeback.html").read_bytes()


def test_ingest_urls_stores_the_story(seed_site: HTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A form's URL is untrusted: loopback is refused unless the deployment opens it, as a private one would.
    monkeypatch.setenv("PRESSWATCH_ALLOWED_NETWORKS", "127.0.0.0/8")
    summary = ingest_urls([seed_site.url_for("/jack-ma-comeback.html")], database_url=SecretStr(sqlite_url))
    assert summary.stories_stored == 1
    again = ingest_urls([seed_site.url_for("/jack-ma-comeback.html")], database_url=SecretStr(sqlite_url))
    assert again.stories_stored == 0 and again.links_already_stored == 1


def test_ingest_urls_refuses_private_addresses_by_default(seed_site: HTTPServer, sqlite_url: str) -> None:
    summary = ingest_urls([seed_site.url_for("/jack-ma-comeback.html")], database_url=SecretStr(sqlite_url))
    assert summary.stories_stored == 0
    [problem] = summary.links_failed
    assert problem.outcome == "blocked" and "127.0.0.1" in (problem.reason or "")
    assert seed_site.log == []  # refused before connecting


def test_ingest_urls_rejects_non_http_input_before_the_run_starts(sqlite_url: str) -> None:
    with pytest.raises(ParameterTypeError):
        ingest_urls(["file:///etc/passwd"], database_url=SecretStr(sqlite_url))  # type: ignore[arg-type]
    with pytest.raises(ParameterTypeError):
        ingest_urls([], database_url=SecretStr(sqlite_url))


def test_backfill_feed_stores_every_entry_and_records_the_read(seed_site: HTTPServer, sqlite_url: str) -> None:
    seed_site.expect_request("/old.html").respond_with_data(
        PAGE.replace(b"jack-ma-comeback-alibaba-ai", b"older-story"), content_type="text/html"
    )
    items = "".join(
        f"<item><title>{n}</title><link>{seed_site.url_for(p)}</link></item>"
        for n, p in enumerate(["/jack-ma-comeback.html", "/old.html"])
    )
    seed_site.expect_request("/archive.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    summary = backfill_feed(seed_site.url_for("/archive.xml"), database_url=SecretStr(sqlite_url))
    assert summary.stories_stored == 2
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 2
        outcomes = connection.scalars(select(FetchEvent.outcome).where(FetchEvent.url.like("%archive.xml"))).all()
    assert outcomes == ["ok"]
    engine.dispose()
