"""Writes are idempotent and whole: a story never appears twice, never without its mentions and its event."""

from __future__ import annotations

import hashlib
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard
from sqlalchemy import Engine, func, select, text

from extractors.articles import count_words
from extractors.models import EntityTag, ExtractedArticle, WatchedEntity, Watchlist
from extractors.similarity import fingerprint, to_signed
from presswatch.errors import StorageError
from storage.db import make_engine, upgrade
from storage.models import Article, ArticleLink, Entity, FetchEvent, Mention
from storage.rawpages import compress_page, decompress_page
from storage.writes import (
    FeedPoll,
    LinkFailure,
    Story,
    known_links,
    record_feed_polls,
    store_batch,
    sync_watchlist,
    upsert_feeds,
)

WATCHLIST = Watchlist(
    (
        WatchedEntity("alibaba", "Alibaba", "company", aliases=("Alibaba",)),
        WatchedEntity("taobao", "Taobao", "brand", parent="alibaba"),
        WatchedEntity("jack-ma", "Jack Ma", "person", parent="alibaba"),
    )
)
PUBLISHED = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)


def ready(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    sync_watchlist(engine, WATCHLIST)
    return engine


def story(link: str, canonical: str = "https://news.example/a", feed_id: int | None = None) -> Story:
    article = ExtractedArticle(
        url=link,
        canonical_url=canonical,
        text="Alibaba and Taobao. Jack Ma spoke.",
        title="Alibaba news",
        published=PUBLISHED,
        sitename="News Example",
    )
    tags = [EntityTag("alibaba", "Alibaba", "company", 2, True), EntityTag("jack-ma", "Jack Ma", "person", 1, False)]
    return Story(link, article, tags, feed_id, datetime.now(UTC))


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_storing_the_same_story_twice_keeps_one_row_and_its_mentions(database_url: str) -> None:
    engine = ready(database_url)
    first = store_batch(engine, [story("https://news.example/a?x=1")], [])
    second = store_batch(engine, [story("https://news.example/a?x=1")], [])
    assert first[0].created and not second[0].created
    assert first[0].article_id == second[0].article_id
    assert count(engine, Article) == 1
    assert count(engine, Mention) == 2
    with engine.connect() as connection:
        outcomes = connection.scalars(select(FetchEvent.outcome).order_by(FetchEvent.id)).all()
    assert outcomes == ["stored", "duplicate"]
    engine.dispose()


def test_two_links_to_one_canonical_page_are_one_story_and_both_links_are_known(database_url: str) -> None:
    engine = ready(database_url)
    store_batch(engine, [story("https://news.example/a?ref=rss"), story("https://m.news.example/a")], [])
    assert count(engine, Article) == 1
    links = known_links(engine, ["https://news.example/a?ref=rss", "https://m.news.example/a", "https://other/"])
    assert links == {"https://news.example/a?ref=rss", "https://m.news.example/a"}
    engine.dispose()


def test_published_time_round_trips_as_aware_utc(database_url: str) -> None:
    engine = ready(database_url)
    store_batch(engine, [story("https://news.example/a")], [])
    with engine.connect() as connection:
        published = connection.execute(select(Article.published_at)).scalar_one()
    assert published == PUBLISHED and published.tzinfo is not None
    engine.dispose()


def test_failures_are_recorded_with_their_reason(database_url: str) -> None:
    engine = ready(database_url)
    failure = LinkFailure("https://news.example/gone", None, "http_error", "HTTP 404 Not Found", 404)
    store_batch(engine, [], [failure])
    with engine.connect() as connection:
        row = connection.execute(select(FetchEvent.outcome, FetchEvent.reason, FetchEvent.status_code)).one()
    assert tuple(row) == ("http_error", "HTTP 404 Not Found", 404)
    engine.dispose()


def test_coverage_view_has_one_row_per_story_and_entity(database_url: str) -> None:
    engine = ready(database_url)
    store_batch(engine, [story("https://news.example/a")], [])
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT entity_id, entity_kind, mentions, in_title, url, sitename FROM coverage ORDER BY entity_id")
        ).all()
    assert [(r.entity_id, r.entity_kind, r.mentions, bool(r.in_title)) for r in rows] == [
        ("alibaba", "company", 2, True),
        ("jack-ma", "person", 1, False),
    ]
    assert {r.url for r in rows} == {"https://news.example/a"}
    engine.dispose()


def test_watchlist_sync_updates_names_and_keeps_dropped_entities(database_url: str) -> None:
    engine = ready(database_url)
    store_batch(engine, [story("https://news.example/a")], [])
    renamed = Watchlist((WatchedEntity("alibaba", "Alibaba Group", "company"),))
    sync_watchlist(engine, renamed)
    with engine.connect() as connection:
        names = dict(connection.execute(select(Entity.id, Entity.name)).tuples().all())
    assert names["alibaba"] == "Alibaba Group"
    assert "jack-ma" in names  # its stored mentions still point at it
    assert count(engine, Mention) == 2
    engine.dispose()


def test_concurrent_writers_never_duplicate_a_story(database_url: str) -> None:
    engine = ready(database_url)
    links = [f"https://news.example/story-{n}" for n in range(20)]

    def write(worker: int) -> None:
        for link in links:
            store_batch(engine, [story(link + f"?w={worker}", canonical=link)], [])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    assert count(engine, Article) == 20
    assert count(engine, Mention) == 40
    assert count(engine, ArticleLink) == 20 + 80
    engine.dispose()


def test_feed_validators_are_saved_only_when_the_poll_is_recorded(database_url: str) -> None:
    engine = ready(database_url)
    [feed] = upsert_feeds(engine, [("https://news.example/feed.xml", "News")])
    assert feed.etag is None
    poll = FeedPoll(feed.id, feed.url, "ok", "3 entries", 200, datetime.now(UTC), etag='"v1"', last_modified=None)
    record_feed_polls(engine, [poll])
    [again] = upsert_feeds(engine, [("https://news.example/feed.xml", None)])
    assert (again.id, again.etag, again.name) == (feed.id, '"v1"', "News")
    engine.dispose()


def test_word_count_is_the_extractors_count_so_chinese_text_is_counted_by_character(database_url: str) -> None:
    engine = ready(database_url)
    text_zh = "阿里巴巴今天发布了新的人工智能模型。"
    article = replace(story("https://news.example/zh").article, text=text_zh, word_count=count_words(text_zh))
    store_batch(engine, [replace(story("https://news.example/zh"), article=article)], [])
    with engine.connect() as connection:
        stored = connection.execute(select(Article.word_count)).scalar_one()
    assert stored == count_words(text_zh) == 17  # one word per CJK character; str.split() would say 1
    engine.dispose()


def test_a_new_story_is_stored_with_the_fingerprint_of_its_text(database_url: str) -> None:
    engine = ready(database_url)
    stored = store_batch(engine, [story("https://news.example/a")], [])
    with engine.connect() as connection:
        row = connection.execute(select(Article.text, Article.simhash, Article.cluster_id, Article.is_original)).one()
    assert row.simhash == to_signed(fingerprint(row.text)) and row.simhash != 0
    assert (row.cluster_id, row.is_original) == (stored[0].article_id, True)  # its own cluster until grouped
    engine.dispose()


PAGE = (Path(__file__).resolve().parents[1] / "data" / "pages" / "syndication" / "outlet-a-wire.html").read_bytes()
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def test_a_new_storys_raw_page_is_a_zstd_frame_of_the_downloaded_bytes(database_url: str) -> None:
    engine = ready(database_url)
    store_batch(engine, [replace(story("https://news.example/a"), raw_page=PAGE, content_type="text/html")], [])
    with engine.connect() as connection:
        row = connection.execute(select(Article.raw_page, Article.raw_sha256, Article.raw_content_type)).one()
    assert row.raw_page.startswith(ZSTD_MAGIC) and len(row.raw_page) < len(PAGE)
    assert zstandard.ZstdDecompressor().decompress(row.raw_page) == PAGE  # any zstd reader can read it
    assert decompress_page(row.raw_page, len(PAGE)) == PAGE
    assert row.raw_sha256 == hashlib.sha256(PAGE).hexdigest()  # of the page as downloaded, not of the frame
    assert row.raw_content_type == "text/html"
    engine.dispose()


def test_a_raw_page_written_as_zlib_by_an_older_version_still_reads() -> None:
    assert decompress_page(zlib.compress(PAGE, 1), len(PAGE)) == PAGE
    assert decompress_page(zlib.compress(PAGE, 9), len(PAGE)) == PAGE


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"", "neither a zstd frame nor a zlib stream (starts with nothing)"),
        (b"<html>", "neither a zstd frame nor a zlib stream (starts with 3c68746d)"),
        (zlib.compress(PAGE)[:-30], "corrupt zlib stream: it ends before the page does"),
        (b"\x78\x9c" + b"\xff" * 20, "corrupt zlib stream: Error -3 while decompressing data: invalid block type"),
        (compress_page(PAGE)[:-30], "corrupt zstd frame: decompression error: did not decompress full frame"),
        (ZSTD_MAGIC + b"\xff" * 20, "corrupt zstd frame: error when determining content size"),
    ],
    ids=["empty", "html", "zlib-cut-short", "zlib-garbage", "zstd-cut-short", "zstd-garbage"],
)
def test_an_unreadable_raw_page_says_why(blob: bytes, reason: str) -> None:
    with pytest.raises(StorageError) as raised:
        decompress_page(blob, 10_000_000)
    assert str(raised.value) == reason


def test_a_raw_page_larger_than_the_cap_is_refused_without_expanding_it() -> None:
    cap = len(PAGE) - 1
    with pytest.raises(StorageError, match=rf"its zstd frame declares {len(PAGE):,} bytes"):
        decompress_page(compress_page(PAGE), cap)
    with pytest.raises(StorageError, match=r"its zlib stream expands further"):
        decompress_page(zlib.compress(PAGE), cap)
    # A frame that does not declare its size (not one presswatch writes) is bounded all the same.
    undeclared = zstandard.ZstdCompressor(level=3, write_content_size=False).compress(PAGE)
    with pytest.raises(StorageError, match=rf"it decompresses to {len(PAGE):,} bytes"):
        decompress_page(undeclared, cap)
    with pytest.raises(StorageError, match=r"^corrupt zstd frame, or larger than the 1,000-byte cap"):
        decompress_page(undeclared, 1000)
    assert decompress_page(undeclared, len(PAGE)) == PAGE


def test_raw_pages_compressed_in_several_threads_at_once_each_read_back_whole() -> None:
    # Link batches run in threads of one process: a compressor shared between them would mix up their frames.
    pages = [PAGE.replace(b"<p>", f"<p>{n} ".encode() * 50) for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        frames = list(pool.map(compress_page, pages * 25))
    assert [decompress_page(frame, 10_000_000) for frame in frames] == pages * 25


def test_the_documented_python_reader_reads_both_formats() -> None:
    # docs/schema.md shows how to read raw_page outside presswatch; the snippet must keep working.
    schema = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text(encoding="utf-8")
    [snippet] = re.findall(r"^```python\n(.*?)^```", schema, flags=re.S | re.M)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    assert namespace["page_bytes"](compress_page(PAGE)) == PAGE
    assert namespace["page_bytes"](zlib.compress(PAGE, 1)) == PAGE
