"""The monitor-feeds flow, end to end over loopback: feed -> page -> clean text -> tags -> rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, text
from werkzeug import Request, Response

from flows.monitor import monitor_feeds
from storage.db import make_engine
from storage.models import Article, Feed, FetchEvent

FIXTURE = Path(__file__).resolve().parents[2] / "seeds" / "fixture"

EXPECTED = json.loads((FIXTURE / "jack-ma-comeback.expected.json").read_text(encoding="utf-8"))
BOILERPLATE = [
    "VCG/Visual China Group",
    "Official Partner",
    "Keep Up to Date with the Most Important News",
    "By pressing the Subscribe button",
    "Privacy Policy",
    "cookies",
    "All rights reserved",
]
SEED_COMPANIES = {"alibaba", "jd", "pdd", "tencent", "huawei", "amazon", "microsoft"}


def run_pass(feeds_file: Path, database_url: str, workers: int = 1):  # type: ignore[no-untyped-def]
    return monitor_feeds(feeds_file=str(feeds_file), database_url=SecretStr(database_url), workers=workers)


def events(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(select(FetchEvent.url, FetchEvent.outcome, FetchEvent.reason).order_by(FetchEvent.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_seed_pass_stores_clean_text_metadata_and_tags(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    feeds = feeds_file(seed_site.url_for("/feed.xml"))
    summary = run_pass(feeds, sqlite_url)
    assert summary.stories_stored == 1
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        row = connection.execute(
            select(
                Article.canonical_url,
                Article.title,
                Article.author,
                Article.sitename,
                Article.text,
                Article.published_at,
                Article.feed_id,
                Article.url,
            )
        ).one()
        coverage = connection.execute(text("SELECT entity_id, mentions, in_title FROM coverage")).all()
    assert row.canonical_url == EXPECTED["canonical_url"]
    assert row.title == EXPECTED["title"]
    assert row.author == EXPECTED["author"]
    assert row.sitename == "Pacific Wire"
    assert row.published_at.isoformat().replace("+00:00", "Z") == EXPECTED["published"]
    assert row.url == seed_site.url_for("/jack-ma-comeback.html")
    assert row.feed_id is not None
    for paragraph in EXPECTED["paragraphs"]:
        assert paragraph in row.text
    for junk in BOILERPLATE:
        assert junk not in row.text
    tagged = {entity_id: (mentions, bool(in_title)) for entity_id, mentions, in_title in coverage}
    assert SEED_COMPANIES | {"jack-ma"} <= set(tagged)
    assert tagged["alibaba"][1] is True  # "Reviving Alibaba" is in the headline
    assert tagged["alibaba"][0] >= 20
    engine.dispose()


def test_second_pass_stores_nothing_new_and_uses_a_conditional_get(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    feeds = feeds_file(seed_site.url_for("/feed.xml"))
    run_pass(feeds, sqlite_url)
    second = run_pass(feeds, sqlite_url)
    assert second.stories_stored == 0
    assert "No new stories" in second.headline()
    feed_requests = [request for request, _ in seed_site.log if request.path == "/feed.xml"]
    assert feed_requests[-1].headers.get("If-None-Match") == '"seed-v1"'
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 1
        assert connection.execute(select(Feed.etag)).scalar_one() == '"seed-v1"'
    page_requests = [request for request, _ in seed_site.log if request.path == "/jack-ma-comeback.html"]
    assert len(page_requests) == 1  # the known link was not downloaded again
    engine.dispose()


def test_two_feed_links_to_one_page_make_one_story(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    page = (FIXTURE / "jack-ma-comeback.html").read_bytes()
    seed_site.expect_request("/amp/jack-ma.html").respond_with_data(page, content_type="text/html")
    seed_site.expect_request("/other.xml").respond_with_data(
        rss(seed_site.url_for("/amp/jack-ma.html")), content_type="application/rss+xml"
    )
    feeds = feeds_file(seed_site.url_for("/feed.xml"), seed_site.url_for("/other.xml"))
    summary = run_pass(feeds, sqlite_url)
    assert summary.stories_stored == 1
    assert summary.duplicates == 1
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 1
        assert connection.execute(text("SELECT count(*) FROM article_links")).scalar_one() == 3
    engine.dispose()


def rss(*links: str) -> str:
    """A minimal RSS 2.0 feed with one item per link."""
    items = "".join(f"<item><title>Item {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'


def test_broken_feed_404_and_pdf_are_recorded_while_the_seed_story_is_stored(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    seed_site.expect_request("/broken.xml").respond_with_data("<rss><channel><item>", content_type="application/xml")
    seed_site.expect_request("/gone.html").respond_with_data("gone", status=404)
    seed_site.expect_request("/report.pdf").respond_with_data(b"%PDF-1.7\n...", content_type="application/pdf")
    seed_site.expect_request("/links.xml").respond_with_data(
        rss(seed_site.url_for("/gone.html"), seed_site.url_for("/report.pdf")), content_type="application/rss+xml"
    )
    feeds = feeds_file(
        seed_site.url_for("/feed.xml"), seed_site.url_for("/broken.xml"), seed_site.url_for("/links.xml")
    )
    summary = run_pass(feeds, sqlite_url)
    assert summary.stories_stored == 1
    engine = make_engine(sqlite_url)
    recorded = {url: (outcome, reason) for url, outcome, reason in events(engine)}
    assert recorded[seed_site.url_for("/gone.html")][0] == "http_error"
    assert "404" in (recorded[seed_site.url_for("/gone.html")][1] or "")
    assert recorded[seed_site.url_for("/report.pdf")][0] == "not_html"
    assert "application/pdf" in (recorded[seed_site.url_for("/report.pdf")][1] or "")
    assert recorded[seed_site.url_for("/broken.xml")][0] in {"parse_error", "not_feed"}
    assert recorded[seed_site.url_for("/broken.xml")][1]
    assert {p.outcome for p in summary.links_failed} == {"http_error", "not_html"}
    engine.dispose()


def test_unreachable_feed_is_recorded_and_the_pass_goes_on(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    feeds = feeds_file("http://127.0.0.1:9/feed.xml", seed_site.url_for("/feed.xml"))
    summary = run_pass(feeds, sqlite_url)
    assert summary.stories_stored == 1
    [failed] = summary.feeds_failed
    assert failed.url == "http://127.0.0.1:9/feed.xml"
    assert failed.outcome == "connection_error"


def test_local_seed_feed_from_the_default_list_is_read_without_network(sqlite_url: str) -> None:
    default_feeds = Path(__file__).resolve().parents[2] / "seeds" / "feeds.yaml"
    summary = run_pass(default_feeds, sqlite_url)
    assert summary.stories_stored == 1
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(select(Article.canonical_url)).scalar_one() == EXPECTED["canonical_url"]
    engine.dispose()


@pytest.mark.postgres
def test_seed_pass_on_postgresql_is_idempotent(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], empty_postgres_url: str
) -> None:
    feeds = feeds_file(seed_site.url_for("/feed.xml"))
    assert run_pass(feeds, empty_postgres_url).stories_stored == 1
    assert run_pass(feeds, empty_postgres_url).stories_stored == 0
    engine = make_engine(empty_postgres_url)
    with engine.connect() as connection:
        companies = set(connection.scalars(text("SELECT entity_id FROM coverage WHERE entity_kind = 'company'")))
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 1
    assert SEED_COMPANIES <= companies
    engine.dispose()


def test_several_batches_run_in_worker_processes_and_all_stories_land(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = (FIXTURE / "jack-ma-comeback.html").read_bytes()
    links = []
    for n in range(4):
        seed_site.expect_request(f"/s{n}.html").respond_with_data(
            page.replace(b"jack-ma-comeback-alibaba-ai", f"story-{n}".encode()), content_type="text/html"
        )
        links.append(seed_site.url_for(f"/s{n}.html"))
    seed_site.expect_request("/many.xml").respond_with_data(rss(*links), content_type="application/rss+xml")
    monkeypatch.setenv("PRESSWATCH_BATCH_SIZE", "2")  # two batches: the process pool is used
    summary = run_pass(feeds_file(seed_site.url_for("/many.xml")), sqlite_url, workers=2)
    assert summary.stories_stored == 4 and summary.links_failed == []
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(DISTINCT article_id) FROM mentions")).scalar_one() == 4
    engine.dispose()


SYNDICATION = Path(__file__).resolve().parents[1] / "data" / "pages" / "syndication"


def test_copies_stored_by_different_batches_of_a_pass_end_in_one_cluster(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["outlet-c-trimmed.html", "outlet-b-copy.html", "outlet-a-wire.html", "site-x-jd.html"]
    for name in names:
        httpserver.expect_request(f"/{name}").respond_with_data(
            (SYNDICATION / name).read_bytes(), content_type="text/html; charset=utf-8"
        )
    httpserver.expect_request("/wire.xml").respond_with_data(
        rss(*(httpserver.url_for(f"/{n}") for n in names)), content_type="application/rss+xml"
    )
    monkeypatch.setenv("PRESSWATCH_BATCH_SIZE", "1")  # every copy in a batch of its own, in two processes
    summary = run_pass(feeds_file(httpserver.url_for("/wire.xml")), sqlite_url, workers=2)
    assert summary.stories_stored == 4
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT url, id, cluster_id, is_original FROM articles")).all()
    engine.dispose()
    by_name = {row.url.rsplit("/", 1)[1]: row for row in rows}
    wire = by_name["outlet-a-wire.html"].id
    assert {n: (r.cluster_id, bool(r.is_original)) for n, r in by_name.items()} == {
        "outlet-a-wire.html": (wire, True),
        "outlet-b-copy.html": (wire, False),
        "outlet-c-trimmed.html": (wire, False),
        "site-x-jd.html": (by_name["site-x-jd.html"].id, True),
    }


class FlakyPage:
    """A story page that answers 503 to its first `failures` requests, then the page."""

    def __init__(self, failures: int, slug: str) -> None:
        self.failures = failures
        self.requests = 0
        self.page = (
            (FIXTURE / "jack-ma-comeback.html").read_bytes().replace(b"jack-ma-comeback-alibaba-ai", slug.encode())
        )

    def __call__(self, _request: Request) -> Response:
        self.requests += 1
        if self.requests <= self.failures:
            return Response("busy", status=503)
        return Response(self.page, content_type="text/html")


def feed_with_etag(site: HTTPServer, path: str, links: list[str]) -> None:
    """Serve an RSS feed that honours If-None-Match, as most do."""
    body = rss(*links)

    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    site.expect_request(path).respond_with_handler(answer)


def feed_outcomes(engine: Engine, feed_url: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.scalars(select(FetchEvent.outcome).where(FetchEvent.url == feed_url).order_by(FetchEvent.id))
        )


def test_a_link_that_failed_for_a_passing_reason_is_tried_again_at_the_next_pass(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    flaky = FlakyPage(failures=3, slug="flaky-story")  # every attempt of the first pass (1 + 2 retries)
    httpserver.expect_request("/flaky.html").respond_with_handler(flaky)
    httpserver.expect_request("/fine.html").respond_with_data(
        (FIXTURE / "jack-ma-comeback.html").read_bytes(), content_type="text/html"
    )
    feed_with_etag(httpserver, "/feed.xml", [httpserver.url_for("/fine.html"), httpserver.url_for("/flaky.html")])
    feeds = feeds_file(httpserver.url_for("/feed.xml"))
    first = run_pass(feeds, sqlite_url)
    assert first.stories_stored == 1 and [p.outcome for p in first.links_failed] == ["http_error"]
    second = run_pass(feeds, sqlite_url)  # the feed is read in full again, not answered 304
    assert second.stories_stored == 1 and second.links_failed == []
    third = run_pass(feeds, sqlite_url)
    assert third.stories_stored == 0 and third.feeds_not_modified == 1
    engine = make_engine(sqlite_url)
    assert feed_outcomes(engine, httpserver.url_for("/feed.xml")) == ["incomplete", "ok", "not_modified"]
    engine.dispose()


def test_a_link_that_keeps_failing_stops_holding_its_feed_after_three_attempts(
    httpserver: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str
) -> None:
    always = FlakyPage(failures=10**6, slug="down-story")
    httpserver.expect_request("/down.html").respond_with_handler(always)
    feed_with_etag(httpserver, "/feed.xml", [httpserver.url_for("/down.html")])
    feeds = feeds_file(httpserver.url_for("/feed.xml"))
    for _ in range(4):
        run_pass(feeds, sqlite_url)
    engine = make_engine(sqlite_url)
    assert feed_outcomes(engine, httpserver.url_for("/feed.xml")) == ["incomplete", "incomplete", "ok", "not_modified"]
    engine.dispose()
    assert always.requests == 3 * 3  # three passes of 1 + 2 retries; the fourth got a 304 and asked nothing
