"""When trafilatura finds too little, a second pass or extractor does, and the story says which; quality flags."""

from __future__ import annotations

import json

import pytest
import trafilatura

from extractors.articles import EXTRACTOR_VERSION, count_words, extract_article, looks_truncated
from extractors.models import ExtractedArticle

TRAFILATURA = f"trafilatura {trafilatura.__version__}"
URL = "https://news.example.org/business/port-volumes"
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
FEED_SUMMARY = " ".join(STORY)
MORE = [
    "Port workers' unions said they would press for higher pay in talks due to start next month, citing the rise "
    "in volumes and the operator's record profits in the first half of the year.",
    "The city council is expected to vote on the terminal lease in December, after a public consultation that drew "
    "more than two thousand responses from residents and businesses.",
    "Environmental groups have asked the council to require shore power at the new berths, so that ships can switch "
    "off their diesel engines while they are moored in the harbour.",
]


def page(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>Port volumes rise</title>{head}</head><body>"
        f"<nav><a href='/'>Home</a></nav><h1>Port volumes rise</h1>{body}<footer><a href='/about'>About</a></footer>"
        "</body></html>"
    )


def assert_whole_story(article: ExtractedArticle) -> None:
    for paragraph in STORY:
        assert paragraph in article.text


def test_an_ordinary_article_comes_from_trafilatura_in_precision_mode() -> None:
    article = extract_article(page("<article>" + "".join(f"<p>{p}</p>" for p in STORY) + "</article>"), URL)
    assert article.extractor == TRAFILATURA
    assert article.extractor_version == EXTRACTOR_VERSION
    assert "presswatch-extract" in article.extractor_version and TRAFILATURA in article.extractor_version
    assert_whole_story(article)


def test_a_story_written_as_list_items_is_recovered_by_the_recall_pass() -> None:
    article = extract_article(page("<ul>" + "".join(f"<li>{p}</li>" for p in STORY) + "</ul>"), URL)
    assert article.extractor == f"{TRAFILATURA} (recall)"
    assert_whole_story(article)


def test_a_story_inside_a_comments_container_falls_back_to_the_baseline_extractor() -> None:
    body = "<div class='comments-section'>" + "".join(f"<p>{p}</p>" for p in STORY) + "</div>"
    article = extract_article(page(body), URL)
    assert article.extractor == f"fallback:baseline {TRAFILATURA}"
    assert_whole_story(article)


def test_a_script_rendered_page_yields_the_json_ld_article_body() -> None:
    ld = json.dumps({"@type": "NewsArticle", "headline": "Port volumes rise", "articleBody": "\n\n".join(STORY)})
    html = (
        f"<html><head><title>Port volumes rise</title><script type='application/ld+json'>{ld}</script></head>"
        "<body><div id='app'></div><script>window.start()</script></body></html>"
    )
    article = extract_article(html, URL)
    assert article.extractor != TRAFILATURA  # the precision pass found nothing
    assert_whole_story(article)


def test_a_text_much_shorter_than_the_feed_summary_is_completed_from_a_fallback() -> None:
    # The page shows three paragraphs; its JSON-LD holds the whole story, which the feed summarises.
    ld = json.dumps({"@type": "NewsArticle", "articleBody": "\n\n".join(STORY + MORE)})
    html = page(
        "<article>" + "".join(f"<p>{p}</p>" for p in STORY[:3]) + "</article>",
        head=f"<script type='application/ld+json'>{ld}</script>",
    )
    without_summary = extract_article(html, URL)
    assert without_summary.extractor == TRAFILATURA
    assert MORE[0] not in without_summary.text
    with_summary = extract_article(html, URL, feed_summary=" ".join(STORY[2:] + MORE))
    assert with_summary.extractor == f"fallback:baseline {TRAFILATURA}"
    assert all(p in with_summary.text for p in STORY + MORE)
    assert with_summary.truncated is False


def test_a_longer_fallback_that_tells_no_more_of_the_story_is_not_taken() -> None:
    others = "".join(f"<div class='teaser'><div>{p}</div></div>" for p in MORE)
    html = page("<article>" + "".join(f"<p>{p}</p>" for p in STORY) + f"</article><section>{others}</section>")
    article = extract_article(html, URL, feed_summary=FEED_SUMMARY + " " + FEED_SUMMARY)
    assert article.extractor == TRAFILATURA
    assert MORE[0] not in article.text


def test_a_paywall_notice_does_not_mark_a_text_recovered_in_full_as_truncated() -> None:
    ld = json.dumps({"@type": "NewsArticle", "articleBody": "\n\n".join(STORY)})
    notice = "<p>Subscribe to read the full story.</p>"
    head = f"<script type='application/ld+json'>{ld}</script>"
    html = page(f"<article><p>{STORY[0]}</p>{notice}</article>", head=head)
    article = extract_article(html, URL)
    assert article.extractor != TRAFILATURA
    assert_whole_story(article)
    assert article.truncated is False


def test_a_menu_is_not_taken_for_an_article_by_the_fallback() -> None:
    links = "".join(f"<li><a href='/s{i}'>Section number {i} of the site</a></li>" for i in range(30))
    with pytest.raises(Exception, match="no article text"):
        extract_article(page(f"<ul>{links}</ul>"), URL)


# ---------------------------------------------------------------------------------------------------------------
# Quality flags


def test_a_full_article_is_not_truncated() -> None:
    article = extract_article(page("".join(f"<p>{p}</p>" for p in STORY)), URL, feed_summary=STORY[0])
    assert article.truncated is False


def test_a_teaser_much_shorter_than_the_feed_summary_is_truncated() -> None:
    teaser = f"<article><p>{STORY[0]}</p><p>{STORY[1][:60]}</p></article>"
    article = extract_article(page(teaser), URL, feed_summary=FEED_SUMMARY)
    assert article.truncated is True
    assert STORY[0] in article.text


def test_a_text_ending_in_a_subscribe_to_continue_reading_marker_is_truncated_and_the_marker_dropped() -> None:
    body = "".join(f"<p>{p}</p>" for p in STORY[:2]) + "<p>Subscribe to continue reading this article.</p>"
    article = extract_article(page(f"<article>{body}</article>"), URL)
    assert article.truncated is True
    assert "Subscribe" not in article.text


def test_a_page_declared_paywalled_with_only_a_teaser_is_truncated() -> None:
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": false}</script>'
    article = extract_article(page(f"<article><p>{STORY[0]}</p><p>{STORY[1]}</p></article>", head=ld), URL)
    assert article.truncated is True


@pytest.mark.parametrize(
    "tail",
    [
        "To continue reading, subscribe now.",
        "This article is for subscribers only.",
        "Already a subscriber? Log in",
        "Jetzt weiterlesen mit Z+",
        "订阅后阅读全文",
    ],
)
def test_paywall_markers_flag_the_text_as_truncated(tail: str) -> None:
    assert looks_truncated("\n".join([*STORY[:2], tail]))


def test_a_sentence_about_subscriptions_is_not_a_paywall_marker() -> None:
    text = "\n".join([*STORY, "The publisher said subscriptions to its print edition fell 4 percent last year."])
    assert not looks_truncated(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The port authority said on Tuesday that volumes rose 4.5%.", 11),
        ("阿里巴巴和京东", 7),
        ("Alibaba（阿里巴巴）rose 3%", 7),
        ("", 0),
    ],
)
def test_word_count_counts_words_and_cjk_characters(text: str, words: int) -> None:
    assert count_words(text) == words


def test_word_count_is_recorded_on_the_article() -> None:
    article = extract_article(page("".join(f"<p>{p}</p>" for p in STORY)), URL)
    assert article.word_count == count_words("\n".join(STORY)) > 100
