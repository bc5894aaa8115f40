"""`presswatch reextract`: re-run extraction over stored raw pages, with no download, and report what changed."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, text, update

from extractors.articles import extract_article
from flows.cli import main
from flows.ingest import ingest_urls
from flows.reextract import reextract
from storage.db import make_engine
from storage.models import Article

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages" / "syndication"
NAMES = ["outlet-a-wire.html", "outlet-b-copy.html", "site-x-tencent.html"]
OLD_TEXT = (
    "Text left by an older extractor. Sign up for our newsletter. "
    "Jack Ma visited Tencent headquarters in Shenzhen on Monday, people familiar with the matter said."
)


@pytest.fixture
def stored(httpserver: HTTPServer, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Three stories stored through ingest-urls from the loopback server; their ids by page name."""
    monkeypatch.setenv("PRESSWATCH_ALLOWED_NETWORKS", "127.0.0.0/8")
    for name in NAMES:
        httpserver.expect_request(f"/{name}").respond_with_data(
            (PAGES / name).read_bytes(), content_type="text/html; charset=utf-8"
        )
    summary = ingest_urls([httpserver.url_for(f"/{n}") for n in NAMES], database_url=SecretStr(database_url))
    assert summary.stories_stored == 3
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(Article.id, Article.url)).all()
    engine.dispose()
    yield {row.url.rsplit("/", 1)[1]: row.id for row in rows}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def simulate_older_extractor(engine: Engine, article_id: int) -> None:
    """Make a stored story look extracted by an older extractor: other text, title, date and version."""
    with engine.begin() as connection:
        connection.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(
                text=OLD_TEXT,
                title="Old title",
                published_at=None,
                date_source=None,
                word_count=len(OLD_TEXT.split()),
                extractor_version="presswatch-extract 1",
                simhash=None,
            )
        )


def row(engine: Engine, article_id: int) -> dict[str, object]:
    """A story's row as a dict."""
    with engine.connect() as connection:
        found = connection.execute(select(Article).where(Article.id == article_id)).one()
    return dict(found._mapping)


def entities(engine: Engine, article_id: int) -> set[str]:
    """The entity ids a story is tagged with."""
    with engine.connect() as connection:
        query = text("SELECT entity_id FROM mentions WHERE article_id = :id")
        return set(connection.scalars(query, {"id": article_id}))


def test_reextract_restores_text_from_the_raw_page_without_downloading(
    stored: dict[str, int], database_url: str, engine: Engine, httpserver: HTTPServer
) -> None:
    wire, copy = stored["outlet-a-wire.html"], stored["outlet-b-copy.html"]
    before = row(engine, wire)
    tags_before = entities(engine, wire)
    simulate_older_extractor(engine, wire)
    requests_before = len(httpserver.log)

    result = reextract(database_url=SecretStr(database_url))

    assert len(httpserver.log) == requests_before  # nothing fetched
    assert result["examined"] == 3
    assert result["text_changed"] == [wire] and result["title_changed"] == [wire] and result["date_changed"] == [wire]
    assert result["unreadable"] == []
    after = row(engine, wire)
    expected = extract_article((PAGES / "outlet-a-wire.html").read_bytes(), "http://127.0.0.1/outlet-a-wire.html")
    assert after["text"] == before["text"] == expected.text
    for column in ("title", "published_at", "date_source", "simhash", "extractor_version", "cluster_id"):
        assert after[column] == before[column], column
    assert after["word_count"] == expected.word_count
    # The old text named Jack Ma and Tencent: tags written from it are replaced by the restored text's own.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM mentions WHERE article_id = :id"), {"id": wire})
    simulate_older_extractor(engine, wire)
    assert reextract(database_url=SecretStr(database_url))["tags_changed"] == [wire]
    assert entities(engine, wire) == tags_before and "alibaba" in tags_before
    # The copy's cluster survived the round trip: it is the wire's copy again.
    assert row(engine, copy)["cluster_id"] == wire


def test_reextract_dry_run_reports_without_writing(stored: dict[str, int], database_url: str, engine: Engine) -> None:
    wire = stored["outlet-a-wire.html"]
    simulate_older_extractor(engine, wire)
    result = reextract(database_url=SecretStr(database_url), dry_run=True)
    assert result["dry_run"] and result["text_changed"] == [wire] and result["regrouped"] == []
    assert row(engine, wire)["text"] == OLD_TEXT


def set_raw_page(engine: Engine, article_id: int, value: bytes | None) -> None:
    """Overwrite a story's stored raw page, as an older version (or a damaged database) would have left it."""
    with engine.begin() as connection:
        connection.execute(update(Article).where(Article.id == article_id).values(raw_page=value))


def test_unreadable_raw_pages_are_reported_with_their_reason(
    stored: dict[str, int], database_url: str, engine: Engine
) -> None:
    wire, copy, other = (stored[n] for n in NAMES)
    set_raw_page(engine, wire, zlib.compress(b"<html><body><p>Not the page that was downloaded.</p></body></html>"))
    set_raw_page(engine, copy, b"not zlib at all")
    set_raw_page(engine, other, None)
    result = reextract(database_url=SecretStr(database_url))
    reasons = dict(result["unreadable"])
    assert reasons[wire] == "raw page does not match its stored sha256"
    assert reasons[copy] == (
        "raw page cannot be decompressed: neither a zstd frame nor a zlib stream (starts with 6e6f7420)"
    )
    assert reasons[other] == "no raw page stored"
    assert result["text_changed"] == []


def test_a_new_story_keeps_its_page_as_a_zstd_frame_of_the_downloaded_bytes(
    stored: dict[str, int], engine: Engine
) -> None:
    for name, article_id in stored.items():
        kept = row(engine, article_id)
        page = (PAGES / name).read_bytes()
        assert isinstance(kept["raw_page"], bytes) and kept["raw_page"].startswith(b"\x28\xb5\x2f\xfd"), name
        assert zstandard.ZstdDecompressor().decompress(kept["raw_page"]) == page
        assert kept["raw_sha256"] == hashlib.sha256(page).hexdigest()  # of the page, not of the frame


def test_a_raw_page_stored_as_zlib_by_an_older_version_is_still_reextracted(
    stored: dict[str, int], database_url: str, engine: Engine
) -> None:
    wire = stored["outlet-a-wire.html"]
    page = (PAGES / "outlet-a-wire.html").read_bytes()
    legacy = zlib.compress(page, 1)  # zlib level 1: what presswatch stored before it switched to zstd
    set_raw_page(engine, wire, legacy)
    simulate_older_extractor(engine, wire)

    result = reextract(database_url=SecretStr(database_url))

    assert result["unreadable"] == [] and result["text_changed"] == [wire]
    after = row(engine, wire)
    assert after["text"] == extract_article(page, "http://127.0.0.1/outlet-a-wire.html").text
    assert after["raw_page"] == legacy  # re-extraction reads raw pages, it never rewrites them


def test_corrupt_and_oversized_raw_pages_are_unreadable_with_a_reason(
    stored: dict[str, int], database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire, copy, other = (stored[n] for n in NAMES)
    page = (PAGES / "outlet-a-wire.html").read_bytes()
    set_raw_page(engine, wire, zstandard.ZstdCompressor(level=3).compress(page)[:-20])  # cut short
    set_raw_page(engine, copy, zlib.compress(page)[:-20])
    # A blob that expands past the download cap is refused before it is expanded (a zip bomb).
    monkeypatch.setenv("PRESSWATCH_MAX_BYTES", "100000")
    set_raw_page(engine, other, zstandard.ZstdCompressor(level=3).compress(bytes(100_001)))

    result = reextract(database_url=SecretStr(database_url))

    reasons = dict(result["unreadable"])
    assert reasons[wire].startswith("raw page cannot be decompressed: corrupt zstd frame: ")
    assert reasons[copy] == "raw page cannot be decompressed: corrupt zlib stream: it ends before the page does"
    assert reasons[other] == (
        "raw page cannot be decompressed: larger than the 100,000-byte cap on a page (PRESSWATCH_MAX_BYTES): "
        "its zstd frame declares 100,001 bytes"
    )
    assert result["text_changed"] == []


def test_reextract_limit_and_range_pick_the_stories(stored: dict[str, int], database_url: str) -> None:
    assert reextract(database_url=SecretStr(database_url), limit=2)["examined"] == 2
    from datetime import UTC, datetime

    # The pages were published on 20 Nov 2026 (08:00, 09:00 and 11:30 UTC).
    since = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert reextract(database_url=SecretStr(database_url), since=since)["examined"] == 2
    assert reextract(database_url=SecretStr(database_url), until=since)["examined"] == 1


def test_cli_reextract_prints_the_changes(
    stored: dict[str, int], database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    wire = stored["outlet-a-wire.html"]
    simulate_older_extractor(engine, wire)
    assert main(["reextract", "--database-url", database_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"story {wire}: text, title, date changed" in out
    assert "3 stories examined: 1 text changed, 1 title changed, 1 date changed" in out and "dry run" in out
    assert main(["reextract", "--database-url", database_url]) == 0
    assert "1 text changed" in capsys.readouterr().out
    assert row(engine, wire)["text"] != OLD_TEXT


def test_cli_reextract_bad_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reextract", "--database-url", "mysql://nowhere/db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unsupported database 'mysql'" in err
