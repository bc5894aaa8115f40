"""Beyond the watchlist: with an NER pipeline configured, a pass stores unlisted names and `suggest` ranks them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from flows.cli import main
from storage.db import make_engine
from tests.tiny_ner import train_tiny_ner

# Sentences in the frames the tiny model was trained on, about organisations it never saw.
PARAGRAPHS = {
    "veltrax-results": [
        "Shares of Veltrax Group fell sharply in Hong Kong.",
        "Analysts expect Veltrax Group to report higher profit.",
        "Investors in Alibaba Group welcomed the news, Tomas Brenner said.",
    ],
    "veltrax-deal": [
        "Veltrax Group said on Monday that sales rose.",
        "The deal was announced by Sara Lindqvist in Shanghai.",
        "Shares of Alibaba Group fell sharply in Hong Kong.",
    ],
    "orbanis-profit": [
        "Analysts expect Orbanis Technologies to report higher profit.",
        "Shares of Alibaba Group fell sharply in Hong Kong.",
    ],
}


def page(slug: str) -> str:
    body = "".join(f"<p>{sentence} {FILLER}</p>" for sentence in PARAGRAPHS[slug])
    return (
        f"<html><head><title>{slug}</title></head><body><article><h1>{slug.replace('-', ' ').title()}</h1>"
        f"{body}</article></body></html>"
    )


FILLER = (
    "The market reaction was muted through the morning session, and traders said they were waiting for more "
    "detail on margins, spending and the outlook for the rest of the year before taking a view."
)


def feed(base: str) -> str:
    items = "".join(
        f"<item><title>{slug}</title><link>{base}/{slug}.html</link>"
        f"<pubDate>Mon, 23 Nov 2026 0{n}:00:00 GMT</pubDate></item>"
        for n, slug in enumerate(PARAGRAPHS)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


@pytest.fixture
def stored(httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database after one pass with the tiny NER pipeline configured through PRESSWATCH_SPACY_MODEL."""
    model = tmp_path / "tiny-ner"
    train_tiny_ner().to_disk(model)
    monkeypatch.setenv("PRESSWATCH_SPACY_MODEL", str(model))
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.xml").respond_with_data(feed(base), content_type="application/rss+xml")
    for slug in PARAGRAPHS:
        httpserver.expect_request(f"/{slug}.html").respond_with_data(page(slug), content_type="text/html")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {base}/feed.xml\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'presswatch.db'}"
    assert main(["run", "--feeds", str(feeds), "--database-url", url]) == 0
    return url


def test_unlisted_names_are_stored_per_story_and_watched_ones_are_not(stored: str) -> None:
    engine = make_engine(stored)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.url, d.name, d.label, d.count FROM discovered_names d JOIN articles a ON a.id = d.article_id"
            )
        ).all()
    engine.dispose()
    found = {(url.rsplit("/", 1)[-1], name, label) for url, name, label, _count in rows}
    assert ("veltrax-results.html", "Veltrax Group", "ORG") in found
    assert ("veltrax-deal.html", "Veltrax Group", "ORG") in found
    assert ("orbanis-profit.html", "Orbanis Technologies", "ORG") in found
    assert not any(name == "Alibaba Group" for _url, name, _label in found), found
    counts = {(url.rsplit("/", 1)[-1], name): count for url, name, _label, count in rows}
    assert counts[("veltrax-results.html", "Veltrax Group")] == 2


def test_suggest_ranks_the_most_frequent_unlisted_names_first(stored: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["watchlist", "suggest", "--format", "csv", "--database-url", stored]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["name"] == "Veltrax Group"
    assert (rows[0]["label"], rows[0]["stories"], rows[0]["mentions"]) == ("ORG", "2", "3")
    assert "Orbanis Technologies" in {row["name"] for row in rows}
    assert "Alibaba Group" not in {row["name"] for row in rows}


def test_suggest_without_a_model_says_how_to_get_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    capsys.readouterr()
    assert main(["watchlist", "suggest", "--database-url", url]) == 0
    assert "set PRESSWATCH_SPACY_MODEL" in capsys.readouterr().out
