"""The batched feed writes of a pass over thousands of feeds, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from fetcher.schedule import FeedSchedule
from storage.db import make_engine, upgrade
from storage.models import Feed, FetchEvent
from storage.writes import FeedPoll, feed_states, known_links, record_feed_polls, store_batch, upsert_feeds
from tests.storage.test_writes import ready as ready_with_watchlist
from tests.storage.test_writes import story

MANY = 1_234  # more than two IN-list chunks


def ready(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def test_upsert_of_many_feeds_keeps_ids_order_and_names_and_adds_only_new_rows(database_url: str) -> None:
    engine = ready(database_url)
    urls = [f"https://feeds{n % 7}.example/{n}.xml" for n in range(MANY)]
    first = upsert_feeds(engine, [(url, f"Feed {n}" if n % 2 else None) for n, url in enumerate(urls)])
    assert [f.url for f in first] == urls
    assert len({f.id for f in first}) == MANY
    # Again, reversed, with one rename, one name removed (kept), one new feed and one listed twice.
    again_input = [(url, None) for url in reversed(urls)] + [(urls[1], "Renamed"), ("https://new.example/f", None)]
    again = upsert_feeds(engine, [*again_input, (urls[3], None)])
    assert [f.url for f in again] == [*reversed(urls), "https://new.example/f"]
    by_url = {f.url: f for f in again}
    assert all(by_url[f.url].id == f.id for f in first)
    assert by_url[urls[1]].name == "Renamed"
    assert by_url[urls[3]].name == "Feed 3"
    assert by_url[urls[2]].name is None
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Feed)) == MANY + 1
    engine.dispose()


def test_feed_states_by_id_in_the_order_given_without_unknown_ids(database_url: str) -> None:
    engine = ready(database_url)
    feeds = upsert_feeds(engine, [(f"https://f.example/{n}", None) for n in range(MANY)])
    wanted = [feeds[-1].id, 999_999, feeds[0].id, *(f.id for f in feeds[500:1100])]
    states = feed_states(engine, wanted)
    assert [s.id for s in states] == [feeds[-1].id, feeds[0].id, *(f.id for f in feeds[500:1100])]
    assert states[1].url == "https://f.example/0"
    engine.dispose()


def test_record_feed_polls_saves_each_kind_of_change_for_many_feeds(database_url: str) -> None:
    engine = ready(database_url)
    feeds = upsert_feeds(engine, [(f"https://f.example/{n}", None) for n in range(MANY)])
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    due = FeedSchedule(interval=timedelta(minutes=30), next_due_at=at + timedelta(minutes=30), failure_score=0.0)
    failed = FeedSchedule(interval=timedelta(hours=2), next_due_at=at + timedelta(hours=2), consecutive_failures=3)
    polls = []
    for n, feed in enumerate(feeds):
        if n % 3 == 0:
            poll = FeedPoll(feed.id, feed.url, "ok", "5 entries", 200, at, f'"e{n}"', None, f"h{n}", 60, 2, due)
        elif n % 3 == 1:
            poll = FeedPoll(feed.id, feed.url, "not_modified", "304", 304, at, schedule=due)
        else:
            poll = FeedPoll(feed.id, feed.url, "http_error", "HTTP 503", 503, at, schedule=failed)
        polls.append(poll)
    record_feed_polls(engine, polls)
    after = {s.id: s for s in feed_states(engine, [f.id for f in feeds])}
    for n, feed in enumerate(feeds):
        state = after[feed.id]
        if n % 3 == 0:
            assert (state.etag, state.body_hash, state.ttl_minutes) == (f'"e{n}"', f"h{n}", 60)
            assert state.schedule.interval == timedelta(minutes=30)
        elif n % 3 == 1:
            assert (state.etag, state.body_hash) == (None, None)
            assert state.schedule.next_due_at == at + timedelta(minutes=30)
        else:
            assert state.schedule.consecutive_failures == 3
            assert state.schedule.interval == timedelta(hours=2)
    with engine.connect() as connection:
        rows = connection.execute(select(Feed.last_status, func.count()).group_by(Feed.last_status)).all()
        statuses = {status: number for status, number in rows}
        new_story = connection.scalar(select(func.count()).where(Feed.last_new_story_at.is_not(None)))
        events = connection.scalar(select(func.count()).select_from(FetchEvent))
    assert statuses == {"ok": 412, "not_modified": 411, "http_error": 411}
    assert new_story == 412
    assert events == MANY
    engine.dispose()


def test_known_links_over_several_chunks(database_url: str) -> None:
    engine = ready_with_watchlist(database_url)
    stored = [f"https://news.example/story-{n}" for n in range(3)]
    store_batch(engine, [story(link, canonical=link) for link in stored], [])
    asked = [f"https://news.example/other-{n}" for n in range(MANY)]
    asked[700:700] = [stored[2]]
    asked[3:3] = [stored[0], stored[0]]
    assert known_links(engine, asked) == {stored[0], stored[2]}
    engine.dispose()
