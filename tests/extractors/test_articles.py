"""extract_article keeps an article's text and metadata and drops the boilerplate news sites wrap it in."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from extractors.articles import extract_article
from extractors.boilerplate import classify, prune_tree
from extractors.models import ExtractedArticle
from presswatch.errors import ExtractionError

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "seeds" / "fixture"
EXPECTED = json.loads((FIXTURE / "jack-ma-comeback.expected.json").read_text(encoding="utf-8"))
SEED_URL = "http://127.0.0.1:8765/jack-ma-comeback.html"

# Real sentences for hand-made pages: trafilatura needs a few paragraphs to recognise an article.
STORY = [
    "The port authority said on Tuesday that container volumes rose for a third straight month, as shipping "
    "lines added capacity on routes between Asia and northern Europe ahead of the holiday season.",
    "Analysts at two brokerages said the increase reflected restocking by retailers rather than a lasting "
    "recovery in demand, and warned that freight rates could fall again early next year.",
    "The authority expects to publish its full-year figures in January, together with an update on the "
    "expansion of its eastern terminal, which has been delayed by a dispute over dredging permits.",
    "Officials declined to comment on reports that a second operator had approached the city about leasing "
    "land next to the terminal, saying only that talks with several companies were continuing.",
]


def page(body: str, *, head: str = "", lang: str | None = "en") -> str:
    """A whole HTML document around an article body."""
    lang_attr = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attr}><head><meta charset='utf-8'><title>Port volumes rise</title>{head}</head>"
        f"<body><header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<main><article><h1>Port volumes rise</h1><div>{body}</div></article></main>"
        f"<footer><a href='/about'>About</a></footer></body></html>"
    )


def paragraphs(*extra: str, at: int = 2) -> str:
    """The story's paragraphs with `extra` markup inserted before paragraph number `at`."""
    blocks = [f"<p>{p}</p>" for p in STORY]
    return "".join(blocks[:at]) + "".join(extra) + "".join(blocks[at:])


def extract(html: str | bytes, content_type: str | None = None) -> ExtractedArticle:
    return extract_article(html, "https://news.example.org/business/port-volumes", content_type=content_type)


# ---------------------------------------------------------------------------------------------------------------
# The seed page


@pytest.fixture(scope="module")
def seed_article() -> ExtractedArticle:
    return extract_article((FIXTURE / "jack-ma-comeback.html").read_bytes(), SEED_URL, content_type="text/html")


def test_seed_text_is_exactly_the_articles_headings_and_paragraphs_in_order(seed_article: ExtractedArticle) -> None:
    assert seed_article.text.split("\n") == EXPECTED["body"]
    assert set(EXPECTED["body"]) == {*EXPECTED["paragraphs"], *EXPECTED["headings"]}


def test_seed_text_keeps_every_paragraph_verbatim(seed_article: ExtractedArticle) -> None:
    for paragraph in EXPECTED["paragraphs"]:
        assert paragraph in seed_article.text


@pytest.mark.parametrize("boilerplate", EXPECTED["boilerplate"])
def test_seed_boilerplate_is_not_in_article_text(seed_article: ExtractedArticle, boilerplate: str) -> None:
    assert boilerplate not in seed_article.text


@pytest.mark.parametrize(
    "fragment",
    [
        "Photo:",
        "Getty images",
        "Official Partner",
        "Keep Up to Date with the Most Important News",
        "By pressing the Subscribe button",
        "Privacy Policy",
        "Tencent unveils",
        "Related stories",
        "We use cookies",
        "All rights reserved",
        "Share on",
        "Subscribe",
    ],
)
def test_seed_boilerplate_fragments_are_not_in_article_text(seed_article: ExtractedArticle, fragment: str) -> None:
    assert fragment not in seed_article.text


def test_seed_headline_is_not_repeated_as_first_line(seed_article: ExtractedArticle) -> None:
    assert seed_article.text.split("\n")[0] == EXPECTED["paragraphs"][0]


def test_seed_metadata_comes_from_the_page(seed_article: ExtractedArticle) -> None:
    assert seed_article.title == EXPECTED["title"]
    assert seed_article.author == EXPECTED["author"] == "Lena Whitfield"
    assert seed_article.published == datetime(2025, 3, 14, 8, 30, tzinfo=UTC)
    assert seed_article.sitename == "Pacific Wire"
    assert seed_article.canonical_url == EXPECTED["canonical_url"]
    assert seed_article.url == SEED_URL
    assert seed_article.language == "en"
    assert seed_article.description == EXPECTED["description"]
    assert seed_article.extractor.startswith("trafilatura 2.")


def test_seed_published_is_the_publication_time_not_the_modification_time(seed_article: ExtractedArticle) -> None:
    # The page also declares article:modified_time 11:05; the story's date is when it was published.
    assert seed_article.published is not None
    assert seed_article.published.utcoffset() is not None
    assert (seed_article.published.hour, seed_article.published.minute) == (8, 30)


# ---------------------------------------------------------------------------------------------------------------
# Boilerplate on hand-made pages


def test_long_paragraph_mentioning_subscribers_and_newsletter_is_kept() -> None:
    subscriber_paragraph = (
        "The publisher said paying subscribers rose to 1.2 million, and that readers who subscribe to its "
        "morning newsletter were twice as likely to renew, a trend executives called the clearest sign yet "
        "that the company's bet on email briefings was working."
    )
    article = extract(page(paragraphs(f"<p>{subscriber_paragraph}</p>")))
    assert subscriber_paragraph in article.text


def test_short_real_sentence_about_subscribers_is_kept() -> None:
    sentence = "Subscribers grew 12 percent to 40 million in the quarter, the company said."
    article = extract(page(paragraphs(f"<p>{sentence}</p>")))
    assert sentence in article.text


def test_paragraph_about_cookie_rules_and_privacy_policies_is_kept() -> None:
    sentence = (
        "Regulators said websites must let users reject cookies as easily as they accept them, and that "
        "a privacy policy alone is not consent."
    )
    article = extract(page(paragraphs(f"<p>{sentence}</p>")))
    assert sentence in article.text


@pytest.mark.parametrize(
    "label",
    [
        "<div>Sponsored</div>",
        "<p>Advertisement</p>",
        "<div><span>ADVERTISEMENT</span></div>",
        "<p>- Advertisement -</p>",
        "<div>Story continues below advertisement</div>",
        "<div>Official Partner</div>",
    ],
)
def test_ad_labels_between_paragraphs_are_removed(label: str) -> None:
    article = extract(page(paragraphs(label)))
    assert article.text.split("\n") == STORY


@pytest.mark.parametrize(
    "credit",
    [
        "<p>Photo: Jane Roe/Reuters</p>",
        "<p>Image: Shutterstock</p>",
        "<p>(Photo by John Doe/Getty Images)</p>",
        "<p>Credit: AP</p>",
        "<p>Harbour cranes at dusk. Jane Roe/AFP</p>",
    ],
)
def test_photo_credit_lines_are_removed(credit: str) -> None:
    article = extract(page(paragraphs(credit, at=0)))
    assert article.text.split("\n") == STORY


def test_newsletter_box_without_a_wrapper_is_removed() -> None:
    box = (
        "<p><strong>Get our morning briefing</strong></p>"
        "<p>Sign up for our free newsletter to get the day's top stories in your inbox.</p>"
        "<input type='email' placeholder='Email address'><button>Sign up</button>"
        "<p>By clicking Sign up, you agree to our Terms of Service and Privacy Policy.</p>"
    )
    article = extract(page(paragraphs(box, at=4)))
    assert article.text.split("\n") == STORY


def test_related_heading_takes_its_link_list_with_it() -> None:
    related = (
        "<h3>Read more</h3><ul>"
        "<li><a href='/a'>Shipping lines cut Asia-Europe capacity</a></li>"
        "<li><a href='/b'>Freight rates slump to a two-year low</a></li>"
        "<li><a href='/c'>Dock workers vote on new contract</a></li></ul>"
    )
    article = extract(page(paragraphs(related)))
    assert article.text.split("\n") == STORY


def test_inline_read_more_link_line_is_removed() -> None:
    line = "<p>Read more: <a href='/x'>Freight rates slump to a two-year low</a></p>"
    article = extract(page(paragraphs(line)))
    assert "Freight rates slump" not in article.text
    assert article.text.split("\n") == STORY


def test_share_row_cookie_banner_and_copyright_inside_the_article_are_removed() -> None:
    extras = (
        "<div><a href='#'>Share on Facebook</a> <a href='#'>Share on X</a> <a href='#'>Email</a></div>",
        "<div><p>We use cookies to improve your experience on our site.</p><button>Accept all</button></div>",
        "<p>© 2025 News Example. All rights reserved.</p>",
    )
    article = extract(page(paragraphs(*extras)))
    assert article.text.split("\n") == STORY


def test_links_inside_a_real_sentence_are_kept() -> None:
    sentence = (
        "The operator announced the lease on <a href='https://facebook.com/x'>Facebook</a> and "
        "<a href='https://twitter.com/x'>Twitter</a> late on Monday, hours before the city council met."
    )
    article = extract(page(paragraphs(f"<p>{sentence}</p>")))
    assert "announced the lease on Facebook and Twitter late on Monday" in article.text


def test_trailing_author_bio_is_removed() -> None:
    bio = "<p>Jane Roe is a senior correspondent covering shipping and trade for News Example.</p>"
    article = extract(page(paragraphs() + bio))
    assert article.text.split("\n") == STORY


@pytest.mark.parametrize(
    ("short", "kind"),
    [
        ("Subscribe to our newsletter", "newsletter"),
        ("Photo: Jane Roe/Reuters", "credit"),
        ("Related: Freight rates slump", "related-link"),
        ("Advertisement", "label"),
        ("We use cookies to improve your experience.", "cookie"),
        ("© 2025 News Example", "copyright"),
    ],
)
def test_a_boilerplate_line_stops_being_boilerplate_inside_a_long_paragraph(short: str, kind: str) -> None:
    assert classify(short) == kind
    long_text = f"{short} {STORY[0]} {STORY[1]} {STORY[2]}"
    assert len(long_text) > 400
    assert classify(long_text) is None


# ---------------------------------------------------------------------------------------------------------------
# Pages with no article


def test_page_with_only_navigation_raises() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>Home</title></head><body><nav><ul>"
        + "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(20))
        + "</ul></nav><footer>© 2025 News Example</footer></body></html>"
    )
    with pytest.raises(ExtractionError, match="no article text"):
        extract(html)


@pytest.mark.parametrize("html", [b"", b"   \n", ""])
def test_empty_page_raises(html: bytes | str) -> None:
    with pytest.raises(ExtractionError, match="empty"):
        extract(html)


def test_pdf_bytes_raise_extraction_error() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" * 20
    with pytest.raises(ExtractionError, match="PDF"):
        extract(pdf)


def test_image_content_type_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="content type image/png"):
        extract(page(paragraphs()).encode(), content_type="image/png")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_raise_extraction_error(seed: int) -> None:
    data = random.Random(seed).randbytes(4096)
    with pytest.raises(ExtractionError):
        extract(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048) | st.text(max_size=1024).map(lambda t: f"<html><body><p>{t}</p></body></html>"))
def test_arbitrary_input_returns_an_article_or_raises_extraction_error(data: bytes | str) -> None:
    try:
        article = extract(data)
    except ExtractionError as err:
        assert str(err)
    else:
        assert len(article.text) >= 100


# ---------------------------------------------------------------------------------------------------------------
# Decoding


def test_utf8_page_labelled_latin1_by_the_server_is_read_as_utf8() -> None:
    sentence = "Zürich’s harbour master, Élodie Brönnimann, said the expansion “cannot wait”."
    html = page(paragraphs(f"<p>{sentence}</p>")).encode("utf-8")
    article = extract(html, content_type="text/html; charset=ISO-8859-1")
    assert sentence in article.text


def test_windows_1252_page_declared_in_meta_only_is_decoded() -> None:
    sentence = "The café’s owner said the “new” terminal was a relief."
    html = page(paragraphs(f"<p>{sentence}</p>")).replace("charset='utf-8'", "charset='windows-1252'")
    article = extract(html.encode("cp1252"), content_type="text/html")
    assert sentence in article.text


def test_unknown_charset_label_falls_back_instead_of_failing() -> None:
    sentence = "Zürich’s port said volumes rose."
    html = page(paragraphs(f"<p>{sentence}</p>")).encode("utf-8")
    article = extract(html, content_type="text/html; charset=x-no-such-charset")
    assert sentence in article.text


def test_undeclared_legacy_bytes_are_detected_as_windows_1252() -> None:
    html = page(paragraphs("<p>Caf\xe9 owners in Z\xfcrich were not consulted about the plan.</p>"))
    html = html.replace("<meta charset='utf-8'>", "")
    article = extract(html.encode("latin-1"))
    assert "Café owners in Zürich" in article.text


# ---------------------------------------------------------------------------------------------------------------
# Metadata


def test_page_without_a_declared_date_has_no_published_date() -> None:
    html = page(paragraphs("<p>© 2024 News Example</p>"))
    assert extract(html).published is None


def test_json_ld_publication_time_is_converted_to_utc() -> None:
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-05-06T10:00:00+02:00"}'
    article = extract(page(paragraphs(), head=ld + "</script>"))
    assert article.published == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def test_date_only_metadata_becomes_midnight_utc() -> None:
    head = '<meta name="date" content="2023-11-02">'
    article = extract(page(paragraphs(), head=head))
    assert article.published == datetime(2023, 11, 2, tzinfo=UTC)


def test_language_is_the_primary_subtag_of_html_lang() -> None:
    assert extract(page(paragraphs(), lang="en-GB")).language == "en"


def test_language_is_detected_from_the_text_when_the_page_declares_none() -> None:
    assert extract(page(paragraphs(), lang=None)).language == "en"


def test_language_is_detected_from_the_text_when_the_page_declares_the_wrong_one() -> None:
    assert extract(page(paragraphs(), lang="de")).language == "en"


def test_sitename_falls_back_to_the_host_without_www() -> None:
    article = extract_article(page(paragraphs()), "https://www.harbour-news.example/port")
    assert article.sitename is not None
    assert "harbour-news.example" in article.sitename.lower()


def test_relative_canonical_is_resolved_against_the_page_url() -> None:
    article = extract(page(paragraphs(), head="<link rel='canonical' href='/stories/port-volumes-rise'>"))
    assert article.canonical_url == "https://news.example.org/stories/port-volumes-rise"


def test_og_url_is_the_canonical_when_there_is_no_link_rel_canonical() -> None:
    head = "<meta property='og:url' content='https://news.example.org/stories/port'>"
    assert extract(page(paragraphs(), head=head)).canonical_url == "https://news.example.org/stories/port"


@pytest.mark.parametrize(
    "href",
    ["javascript:void(0)", "ftp://news.example.org/story", "https://news.example.org/", "mailto:desk@example.org"],
)
def test_unusable_canonical_falls_back_to_the_page_url(href: str) -> None:
    article = extract(page(paragraphs(), head=f"<link rel='canonical' href='{href}'>"))
    assert article.canonical_url == "https://news.example.org/business/port-volumes"


def test_page_url_is_normalized() -> None:
    article = extract_article(page(paragraphs()), "HTTPS://News.Example.org/business/port-volumes#comments")
    assert article.url == "https://news.example.org/business/port-volumes"


# ---------------------------------------------------------------------------------------------------------------
# Real pages


def test_pruning_removes_a_bare_label_div_and_keeps_the_paragraphs_around_it() -> None:
    tree = lxml_html.fromstring(
        "<html><body><article><p>First paragraph.</p><div>Official Partner</div><p>Second paragraph.</p>"
        "<p>Photo: <a href='/p'>Jane Roe</a>/Getty Images</p></article></body></html>"
    )
    assert prune_tree(tree) == 2
    assert [p.text_content() for p in tree.iter("p", "div")] == ["First paragraph.", "Second paragraph."]


# ---------------------------------------------------------------------------------------------------------------
# Lines trafilatura keeps at the edges of a story


@pytest.mark.parametrize(
    "line",
    [
        "(Reporting by Jane Roe; additional reporting by John Doe; Editing by Mark Poe)",
        "Jane Roe contributed reporting from Rotterdam.",
        "Associated Press writers Jane Roe and John Doe contributed to this report.",
        "SOURCE: News agencies",
        "Have a tip? Jane Roe may be reached at jroe@news.example.org.",
        "Write to Jane Roe at jane.roe@news.example.org",
        "jane.roe@news.example.org",
        "twitter.com/janeroe",
        "Updated at 1:23 p.m.",
        "Tuesday, 19 November 2019 10:03 GMT",
        "segunda-feira, 22 de janeiro de 2018 às 0:13",
        "Reading time: 4 minutes",
        "5 min read",
        "Get our print edition delivered every month. Click here for more information.",
        "This copy is for your personal, non-commercial use only.",
        "Like this story? Share it with a friend!",
        '[button link="https://news.example.org/submit"]Send us your story[/button]',
        "Most read in world news",
    ],
)
def test_desk_credits_contact_lines_datelines_and_promos_are_removed(line: str) -> None:
    article = extract(page(paragraphs(f"<p>{line}</p>", at=4)))
    assert article.text.split("\n") == STORY


@pytest.mark.parametrize(
    "sentence",
    [
        "The terminal opened in May 2019 and handled 4.1 million containers by 10:30 p.m. on its busiest day.",
        "Reporting by the local newspaper first revealed the dispute over dredging permits in March.",
        "The mayor said residents can reach the harbour office by ferry from the old town in ten minutes.",
    ],
)
def test_sentences_that_merely_mention_dates_or_reporting_are_kept(sentence: str) -> None:
    article = extract(page(paragraphs(f"<p>{sentence}</p>")))
    assert sentence in article.text


def test_a_live_blog_time_stamp_is_kept() -> None:
    assert classify("4:14 p.m.") is None


def test_a_dont_miss_block_inside_one_paragraph_is_removed() -> None:
    block = (
        "<p><strong>DON'T MISS</strong><br><strong><a href='/a'>Freight rates slump to a two-year low</a> [NEWS]"
        "</strong><br><strong><a href='/b'>Dock workers vote on a new contract</a> [INSIGHT]</strong></p>"
    )
    article = extract(page(paragraphs(block)))
    assert article.text.split("\n") == STORY


def test_teaser_cards_with_linked_headlines_are_removed() -> None:
    cards = "".join(
        f"<div class='card'><a href='/s{i}'><h3>Shipping story number {i} of the week</h3></a>"
        f"<p>A short blurb about story {i}.</p></div>"
        for i in range(3)
    )
    article = extract(page(paragraphs() + cards))
    assert "Shipping story number" not in article.text
    assert "A short blurb" not in article.text


def test_pruning_keeps_a_section_heading_that_links_to_itself() -> None:
    tree = lxml_html.fromstring(page(paragraphs("<h2><a href='#terminal'>The eastern terminal</a></h2>")))
    prune_tree(tree)
    assert [h.text_content() for h in tree.iter("h2")] == ["The eastern terminal"]


def test_a_paragraph_that_is_only_a_link_is_removed() -> None:
    article = extract(page(paragraphs("<p><a href='/other'>Freight rates slump to a two-year low</a></p>")))
    assert article.text.split("\n") == STORY


def test_a_tags_heading_takes_its_link_list_with_it() -> None:
    tags = "<h4>Tags</h4><ul><li><a href='/t/ports'>ports</a></li><li><a href='/t/shipping'>shipping</a></li></ul>"
    article = extract(page(paragraphs() + tags))
    assert article.text.split("\n") == STORY
