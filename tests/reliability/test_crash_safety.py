"""Crash safety: passes SIGKILLed at random points, then one clean pass, leave every story stored exactly once."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from storage.db import make_engine
from tests.reliability.conftest import (
    SEED_COMPANIES,
    LoopbackSite,
    PassLauncher,
    Responder,
    SiteHandler,
    canonical_urls,
    companies_per_story,
    integrity,
    rss,
    story_page,
    write_feeds_file,
)

FEEDS = 4
KILLS = 10
# The site publishes new stories before every pass, as a news site does, so every killed pass has work.
NEW_PER_PASS = 8
STORIES = NEW_PER_PASS * KILLS
SEED = 20250314
# Small batches and a slow-ish site spread a pass's commits over time, so kills land between, during and
# after batch transactions, not only before the first one or after the last.
SETTINGS = {"batch_size": "4", "workers": "1"}
PAGE_DELAY = 0.05


@dataclass(frozen=True)
class Kill:
    """Where one SIGKILL landed."""

    phase: str
    delay: float
    pages_served: int
    stories_after: int
    interrupted: bool


class GrowingSite:
    """Four feeds on a loopback site; `publish(n)` makes n more stories appear, round-robin over the feeds."""

    def __init__(self, site: LoopbackSite) -> None:
        self.site = site
        self.published: list[tuple[int, str, str]] = []  # (feed, link, canonical)
        for feed in range(FEEDS):
            site.add_handler(f"/feeds/{feed}.xml", self._feed_responder(feed))

    def _feed_responder(self, feed: int) -> Responder:
        def respond(handler: SiteHandler) -> None:
            items = [(f"Story {link}", link, None) for owner, link, _ in list(self.published) if owner == feed]
            handler.send_plain(200, rss(items), "application/rss+xml")

        return respond

    def publish(self, count: int) -> None:
        """Add `count` stories (up to STORIES in all)."""
        for number in range(len(self.published), min(STORIES, len(self.published) + count)):
            feed = number % FEEDS
            canonical = f"https://news.example/{feed}/{number}"
            path = f"/news/{feed}/{number}.html"
            self.site.add(path, story_page(canonical, f"Story {number} about Alibaba"), delay=PAGE_DELAY)
            self.published.append((feed, self.site.url(path), canonical))

    def canonicals(self) -> list[str]:
        """Canonical URLs of every published story, sorted."""
        return sorted(canonical for _, _, canonical in self.published)


def kill_once(
    site: LoopbackSite,
    launcher: PassLauncher,
    feeds: Path,
    database_url: str,
    engine: Engine,
    rng: random.Random,
    pending: int,
    last: bool = False,
) -> tuple[str, float, int, bool]:
    """Start a pass, SIGKILL it at a random point; returns (phase, delay, pages served, interrupted).

    The last kill falls right after the first page download, so the clean pass always has work left to do.
    """
    before_pages = site.count("/news/")
    before_stories = _stories(engine)
    # Where to aim: start-up and migration, the middle of the downloads, or once batches start to commit
    # (between and during batch transactions, or while the feed polls are saved).
    phase = rng.choice(["startup", "fetching", "fetching", "storing", "storing"]) if pending else "startup"
    phase = "fetching" if last and pending else phase
    running = launcher.start(feeds, database_url, SETTINGS)
    if phase == "startup":
        delay = rng.uniform(0.5, 4.0)
        time.sleep(delay)
    elif phase == "fetching":
        delay = 0.0 if last else rng.uniform(0.0, 0.4)
        target = 1 if last else rng.randint(1, pending)
        site.wait_for("/news/", before_pages + target, timeout=60, give_up=lambda: not running.alive())
        time.sleep(delay)
    else:
        delay = rng.uniform(0.0, 0.6)
        deadline = time.monotonic() + 90
        while running.alive() and time.monotonic() < deadline:
            if _stories(engine) > before_stories:
                break
            time.sleep(0.02)
        time.sleep(delay)
    result = running.kill()
    return phase, delay, site.count("/news/") - before_pages, result.killed


# ~1 min per backend on 2 cores: the PostgreSQL run is marked slow (SQLite's file locking is the harder case).
@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=[pytest.mark.slow, pytest.mark.postgres])],
    indirect=True,
)
def test_passes_killed_at_random_points_then_one_clean_pass_store_every_story_once(
    site: LoopbackSite, launcher: PassLauncher, database_url: str, tmp_path: Path
) -> None:
    news = GrowingSite(site)
    feeds = write_feeds_file(tmp_path / "feeds.yaml", [site.url(f"/feeds/{n}.xml") for n in range(FEEDS)])
    engine = make_engine(database_url)
    rng = random.Random(SEED)
    kills: list[Kill] = []
    try:
        while sum(kill.interrupted for kill in kills) < KILLS and len(kills) < KILLS + 5:
            news.publish(NEW_PER_PASS)
            stored = _stories(engine)
            phase, delay, served, interrupted = kill_once(
                site,
                launcher,
                feeds,
                database_url,
                engine,
                rng,
                pending=len(news.published) - stored,
                last=sum(kill.interrupted for kill in kills) == KILLS - 1,
            )
            after = _stories(engine)
            kills.append(Kill(phase, round(delay, 2), served, after, interrupted))
            # Every kill leaves a consistent database, not only the last one.
            found = integrity(engine)
            assert found.duplicate_canonicals == [] and found.without_mentions == [], (kills[-1], found)
            assert found.stored_events_without_article == [] and found.without_stored_event == [], found

        left_for_the_clean_pass = len(news.published) - _stories(engine)
        clean = launcher.run(feeds, database_url, SETTINGS)
        expected = news.canonicals()
        print(f"\n{database_url.split(':')[0]}: kills (phase, delay s, pages served, stories after, interrupted):")
        for kill in kills:
            print(f"  {kill}")
        print(f"clean pass: {clean.seconds:.1f} s, exit {clean.returncode}; {clean.stdout.strip().splitlines()[-1]}")

        print(f"stories left for the clean pass: {left_for_the_clean_pass}")
        assert sum(kill.interrupted for kill in kills) >= KILLS
        assert left_for_the_clean_pass > 0
        assert len(expected) == STORIES
        assert clean.returncode == 0, clean.stderr
        assert canonical_urls(engine) == expected  # every story, exactly once
        found = integrity(engine)
        assert found.stories == len(expected)
        assert found.duplicate_canonicals == []
        assert found.without_mentions == []
        assert found.without_stored_event == []
        assert found.stored_events_without_article == []
        assert found.stored_events_per_article_over_one == []
        assert found.without_links == []
        tagged = companies_per_story(engine)
        assert all(SEED_COMPANIES <= tagged.get(url, set()) for url in expected)
        # Every feed ends read (or unchanged since a read that finished its links), none left half-done.
        read = "SELECT count(*) FROM feeds WHERE last_status IN ('ok', 'unchanged', 'not_modified')"
        assert _count(engine, read) == FEEDS
    finally:
        engine.dispose()


def _stories(engine: Engine) -> int:
    """Stories stored so far (0 while the first pass has not yet created the schema)."""
    try:
        return _count(engine, "SELECT count(*) FROM articles")
    except DBAPIError:
        return 0


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())
