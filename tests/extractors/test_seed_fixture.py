"""The committed seed fixture is what seeds/make_fixture.py makes from the shared seed text, and it is usable."""

from __future__ import annotations

import calendar
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import feedparser
import pytest
from lxml import html as lxml_html

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "seeds" / "make_fixture.py"
FIXTURE = REPO / "seeds" / "fixture"
SEED_TEXT = REPO.parent / "shared" / "seeds" / "jack-ma-comeback.txt"


def load_script() -> ModuleType:
    # seeds/ is a folder of scripts, not a package: load the script by path (registered first, as
    # dataclasses look their module up while the class is being built).
    spec = importlib.util.spec_from_file_location("presswatch_seed_make_fixture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_fixture = load_script()
needs_seed = pytest.mark.skipif(not SEED_TEXT.is_file(), reason=f"shared seed text not found at {SEED_TEXT}")


@needs_seed
@pytest.mark.parametrize("name", ["jack-ma-comeback.html", "feed.xml", "jack-ma-comeback.expected.json"])
def test_committed_fixture_is_what_the_script_generates(name: str) -> None:
    generated = make_fixture.render_all(SEED_TEXT.read_text(encoding="utf-8"))
    committed = (FIXTURE / name).read_text(encoding="utf-8")
    assert committed == generated[name], f"run: python seeds/make_fixture.py  ({name} is stale)"


@needs_seed
def test_every_seed_paragraph_is_on_the_page_verbatim() -> None:
    seed = make_fixture.parse_seed(SEED_TEXT.read_text(encoding="utf-8"))
    page_text = (FIXTURE / "jack-ma-comeback.html").read_text(encoding="utf-8")
    doc = lxml_html.fromstring(page_text)
    page_paragraphs = {p.text_content() for p in doc.iter("p", "h2")}
    assert len(seed.paragraphs) == 17
    assert len(seed.headings) == 7
    for block in [*seed.paragraphs, *seed.headings]:
        assert block in page_paragraphs


@needs_seed
def test_seed_parser_separates_boilerplate_from_the_article() -> None:
    seed = make_fixture.parse_seed(SEED_TEXT.read_text(encoding="utf-8"))
    assert seed.title.startswith("Jack Ma’s Bold Comeback")
    assert seed.credit == "Photo: VCG/Visual China Group/Getty images"
    assert [b.text for b in seed.blocks if b.kind == "ad-label"] == ["Official Partner"]
    assert seed.newsletter_heading == "Keep Up to Date with the Most Important News"
    assert seed.newsletter_consent.startswith("By pressing the Subscribe button")
    assert not any("Subscribe" in p for p in seed.paragraphs)


def test_seed_parser_rejects_text_without_the_expected_credit_line() -> None:
    with pytest.raises(ValueError, match="credit"):
        make_fixture.parse_seed("A title\n\nJust a paragraph.\n")


def test_page_declares_the_metadata_the_expectations_promise() -> None:
    expected = json.loads((FIXTURE / "jack-ma-comeback.expected.json").read_text(encoding="utf-8"))
    doc = lxml_html.fromstring((FIXTURE / "jack-ma-comeback.html").read_bytes())
    meta = {(m.get("property") or m.get("name")): m.get("content") for m in doc.iter("meta")}
    assert meta["author"] == expected["author"]
    assert meta["og:site_name"] == expected["sitename"]
    assert meta["article:published_time"] == expected["published"]
    canonical = [link.get("href") for link in doc.iter("link") if link.get("rel") == "canonical"]
    assert canonical == [expected["canonical_url"]]
    assert doc.get("lang") == expected["language"]


def test_feed_parses_and_links_to_the_page_relative_to_the_feed() -> None:
    feed_path = FIXTURE / "feed.xml"
    parsed = feedparser.parse(feed_path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.get("ttl") == "30"
    links = [entry.link for entry in parsed.entries]
    assert "jack-ma-comeback.html" in links
    # Resolved against wherever the feed is read from, each link lands on the committed page.
    for link in links:
        resolved = urljoin(feed_path.as_uri(), link)
        assert resolved.split("?")[0].split("#")[0] == (FIXTURE / "jack-ma-comeback.html").as_uri()


def test_feed_items_match_the_page() -> None:
    expected = json.loads((FIXTURE / "jack-ma-comeback.expected.json").read_text(encoding="utf-8"))
    parsed = feedparser.parse((FIXTURE / "feed.xml").read_bytes())
    original = next(e for e in parsed.entries if e.link == "jack-ma-comeback.html")
    assert original.title == expected["title"]
    published = datetime.fromtimestamp(calendar.timegm(original.published_parsed), UTC)
    assert published == datetime.fromisoformat(expected["published"])
    assert 1 <= original.summary.count(".") <= 2
    assert len({e.id for e in parsed.entries}) == len(parsed.entries) == 2
