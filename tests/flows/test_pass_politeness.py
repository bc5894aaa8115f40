"""Per-host politeness over a whole monitoring pass (the real `monitor-feeds` flow), not only inside one gate.

The link batches of a pass run at once (threads with one worker, processes with more); the sites below
count the requests they have in flight, so "at most 2 at once per host" is checked where it matters.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from flows.monitor import monitor_feeds
from flows.summary import PassSummary
from storage.db import make_engine

PAGE = (Path(__file__).resolve().parents[2] / "seeds" / "fixture" / "jack-ma-comeback.html").read_bytes()
STORY_PATH = re.compile(r"^/story-\d+\.html$")


class Site:
    """A threaded loopback site serving distinct story pages, recording concurrency and request times."""

    def __init__(self, hold: float, host: str = "127.0.0.1") -> None:
        self.hold = hold
        self.server = HTTPServer(host=host, port=0, threaded=True)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.spans: list[tuple[float, float]] = []  # (start, end) of each story request, monotonic
        self.asked: dict[str, list[float]] = {}  # path -> when each request for it arrived
        self.busy_once: set[str] = set()  # paths answered 429 (Retry-After: 1) the first time
        self.server.expect_request(STORY_PATH).respond_with_handler(self.story)

    def story(self, request: Request) -> Response:
        """A story page whose canonical URL names this site and path, so every link is a distinct story."""
        started = time.monotonic()
        with self.lock:
            self.asked.setdefault(request.path, []).append(started)
            if request.path in self.busy_once:
                self.busy_once.discard(request.path)
                return Response("slow down", status=429, headers={"Retry-After": "1"})
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.hold)
        with self.lock:
            self.in_flight -= 1
            self.spans.append((started, time.monotonic()))
        slug = f"{self.server.port}{request.path.removesuffix('.html')}".encode()
        return Response(PAGE.replace(b"jack-ma-comeback-alibaba-ai", slug), content_type="text/html")

    def feed(self, path: str, count: int) -> str:
        """Serve an RSS feed at `path` listing `count` story links on this site; return its URL."""
        links = [self.server.url_for(f"/story-{n}.html") for n in range(count)]
        items = "".join(f"<item><title>Story {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        self.server.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
        return self.server.url_for(path)


@pytest.fixture
def sites() -> Iterator[Callable[..., Site]]:
    """A factory of started sites, all stopped after the test."""
    started: list[Site] = []

    def make(hold: float, host: str = "127.0.0.1") -> Site:
        site = Site(hold, host)
        site.server.start()
        started.append(site)
        return site

    yield make
    for site in started:
        site.server.clear()
        if site.server.is_running():
            site.server.stop()


def run_pass(tmp_path: Path, database: str, *feeds: str, workers: int) -> PassSummary:
    """One monitoring pass over the given feed URLs."""
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in feeds), encoding="utf-8")
    summary: PassSummary = monitor_feeds(feeds_file=str(feeds_file), database_url=SecretStr(database), workers=workers)
    return summary


def stored(database: str) -> int:
    """Stories in the database."""
    engine = make_engine(database)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM articles")).scalar_one())
    engine.dispose()
    return count


@pytest.mark.parametrize("workers", [1, 2])
def test_one_host_never_sees_more_than_two_requests_from_a_whole_pass(
    workers: int, sites: Callable[..., Site], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four batches of five links, all on one host: threads (workers=1) or two worker processes at once.
    monkeypatch.setenv("PRESSWATCH_BATCH_SIZE", "5")
    site = sites(0.2)
    summary = run_pass(tmp_path, sqlite_url, site.feed("/feed.xml", 20), workers=workers)
    assert summary.stories_stored == 20 and summary.links_failed == []
    assert stored(sqlite_url) == 20
    assert len(site.spans) == 20
    assert site.most <= 2
    if workers == 1:
        assert site.most == 2  # the bound is reached, not just respected: the batches do run at once


def test_a_slow_host_does_not_hold_up_another_hosts_links(
    sites: Callable[..., Site], sqlite_url: str, tmp_path: Path
) -> None:
    # One batch (the default size, 25) mixing both hosts, the slow host's links first.
    slow, fast = sites(1.0, "127.0.0.2"), sites(0.0, "127.0.0.3")  # two hosts: politeness is per host name
    summary = run_pass(tmp_path, sqlite_url, slow.feed("/slow.xml", 6), fast.feed("/fast.xml", 6), workers=1)
    assert summary.stories_stored == 12
    slow_starts = sorted(start for start, _ in slow.spans)
    # Six slow pages, two at a time: the third can start only once one of the first two (1 s each) is done.
    # Every fast page is answered before that: the fast host never queued behind the slow one.
    assert max(end for _, end in fast.spans) < slow_starts[2], (fast.spans, slow.spans)


def test_a_link_host_answering_429_is_waited_for_and_the_story_stored(
    sites: Callable[..., Site], sqlite_url: str, tmp_path: Path
) -> None:
    site = sites(0.0)
    site.busy_once.add("/story-0.html")
    summary = run_pass(tmp_path, sqlite_url, site.feed("/feed.xml", 2), workers=1)
    assert summary.stories_stored == 2 and summary.links_failed == []
    first, second = site.asked["/story-0.html"]
    assert second - first >= 0.95  # Retry-After: 1 was honoured before asking again
    assert stored(sqlite_url) == 2
