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


SYNDICATION = Path(__file__).resolve().parents[1] / "data" / "pages" / "syndication"


def test_ingested_copies_of_one_story_end_in_one_cluster_with_the_earliest_original(
    httpserver: HTTPServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRESSWATCH_ALLOWED_NETWORKS", "127.0.0.0/8")
    # Listed latest first, so the first stored (lowest id) is not the earliest published.
    names = [
        "outlet-c-trimmed.html",
        "outlet-b-copy.html",
        "outlet-a-update.html",
        "outlet-a-wire.html",
        "site-x-tencent.html",
        "site-x-jd.html",
    ]
    for name in names:
        httpserver.expect_request(f"/{name}").respond_with_data(
            (SYNDICATION / name).read_bytes(), content_type="text/html; charset=utf-8"
        )
    summary = ingest_urls([httpserver.url_for(f"/{n}") for n in names], database_url=SecretStr(database_url))
    assert summary.stories_stored == 6
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT url, id, cluster_id, is_original FROM articles")).all()
        share = connection.execute(
            text(
                "SELECT stories, original_stories FROM share_of_voice WHERE entity_id = 'alibaba' AND period = 'month'"
            )
        ).one()
    engine.dispose()
    by_name = {row.url.rsplit("/", 1)[1]: row for row in rows}
    wire = by_name["outlet-a-wire.html"].id
    assert {n: (r.cluster_id, bool(r.is_original)) for n, r in by_name.items()} == {
        "outlet-a-wire.html": (wire, True),
        "outlet-b-copy.html": (wire, False),
        "outlet-c-trimmed.html": (wire, False),
        "outlet-a-update.html": (wire, False),
        "site-x-tencent.html": (by_name["site-x-tencent.html"].id, True),  # same site template, another story
        "site-x-jd.html": (by_name["site-x-jd.html"].id, True),
    }
    # Four stories naming Alibaba in November, one story once copies are counted as one.
    assert tuple(share) == (4, 1)
