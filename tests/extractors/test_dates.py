"""The publication date comes from what the page declares, with its source, in UTC, and is never invented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import html as lxml_html

from extractors.articles import extract_article
from extractors.dates import find_published, parse_timestamp

BODY = "".join(
    f"<p>{s}</p>"
    for s in (
        "The port authority said on Tuesday that container volumes rose for a third straight month, as shipping "
        "lines added capacity on routes between Asia and northern Europe ahead of the holiday season.",
        "Analysts at two brokerages said the increase reflected restocking by retailers rather than a lasting "
        "recovery in demand, and warned that freight rates could fall again early next year.",
        "The authority expects to publish its full-year figures in January, together with an update on the "
        "expansion of its eastern terminal, which has been delayed by a dispute over dredging permits.",
    )
)


def page(head: str = "", before_body: str = "") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>Port volumes rise</title>{head}</head><body><article>"
        f"<h1>Port volumes rise</h1>{before_body}{BODY}</article></body></html>"
    )


def published(html: str, url: str = "https://news.example.org/port") -> tuple[datetime | None, str | None]:
    article = extract_article(html, url)
    return article.published, article.date_source


def test_json_ld_date_published_is_used_and_converted_to_utc() -> None:
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-05-06T10:00:00+02:00"}'
    assert published(page(ld + "</script>")) == (datetime(2024, 5, 6, 8, 0, tzinfo=UTC), "json-ld")


def test_json_ld_inside_a_graph_is_found() -> None:
    ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "WebPage"}, {"@type": "NewsArticle", "datePublished": "2024-05-06T10:00:00Z"}]}</script>'
    )
    assert published(page(ld)) == (datetime(2024, 5, 6, 10, 0, tzinfo=UTC), "json-ld")


def test_json_ld_wins_over_a_meta_tag() -> None:
    head = (
        '<meta property="article:published_time" content="2024-05-07T00:00:00Z">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-05-06T09:00:00Z"}</script>'
    )
    assert published(page(head)) == (datetime(2024, 5, 6, 9, 0, tzinfo=UTC), "json-ld")


def test_article_published_time_meta_is_used() -> None:
    head = '<meta property="article:published_time" content="2024-05-06T08:15:00-04:00">'
    assert published(page(head)) == (datetime(2024, 5, 6, 12, 15, tzinfo=UTC), "meta")


def test_the_modification_time_is_never_taken_for_the_publication_time() -> None:
    head = '<meta property="article:modified_time" content="2024-05-09T08:15:00Z">'
    time = '<p><time class="updated" datetime="2024-05-09T08:15:00Z">Updated May 9</time></p>'
    assert published(page(head, time)) == (None, None)


def test_a_time_element_marked_as_publication_is_used() -> None:
    time = '<p class="byline">By Jane Roe, <time itemprop="datePublished" datetime="2024-05-06T07:00:00Z">May 6</time>'
    assert published(page(before_body=time + "</p>")) == (datetime(2024, 5, 6, 7, 0, tzinfo=UTC), "time-element")


def test_a_time_element_styled_as_the_publication_date_is_used() -> None:
    time = '<div class="published"><time datetime="2024-05-06 07:30">May 6, 2024</time></div>'
    assert published(page(before_body=time)) == (datetime(2024, 5, 6, 7, 30, tzinfo=UTC), "time-element")


def test_a_wordpress_time_marked_published_and_updated_is_the_publication_time() -> None:
    time = '<div class="entry-meta"><time class="entry-date published updated" datetime="2024-05-06T07:30:00+00:00">'
    assert published(page(before_body=time + "May 6</time></div>"))[1] == "time-element"


def test_htmldate_reads_a_date_only_meta_tag_as_midnight_utc() -> None:
    head = '<meta name="date" content="2023-11-02">'
    assert published(page(head)) == (datetime(2023, 11, 2, tzinfo=UTC), "htmldate")


def test_a_page_without_a_declared_date_has_none_even_if_its_url_has_one() -> None:
    html = page(before_body="<p>© 2024 News Example</p>")
    assert published(html, "https://news.example.org/2021/03/04/port-volumes") == (None, None)


def test_a_date_in_the_future_is_rejected() -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f'<meta property="article:published_time" content="{future}">'
    found, _ = published(page(head))
    assert found is None or found <= datetime.now(UTC) + timedelta(days=1)


def test_a_date_before_1990_is_rejected() -> None:
    tree = lxml_html.fromstring(page('<meta property="article:published_time" content="1970-01-01T00:00:00Z">'))
    assert find_published(tree, search_markup=False) == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-06T10:00:00Z", datetime(2024, 5, 6, 10, 0, tzinfo=UTC)),
        ("2024-05-06T10:00:00.123456789+02:00", datetime(2024, 5, 6, 8, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-06 10:00:00 GMT", datetime(2024, 5, 6, 10, 0, tzinfo=UTC)),
        ("2024-05-06T10:00:00-0500", datetime(2024, 5, 6, 15, 0, tzinfo=UTC)),
        ("2024/05/06", datetime(2024, 5, 6, tzinfo=UTC)),
        ("2024-05-06", datetime(2024, 5, 6, tzinfo=UTC)),
        ("Mon, 06 May 2024 10:00:00 +0200", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        ("2024-13-45T99:00:00Z", None),
    ],
)
def test_timestamps_parse_to_utc(value: str, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected
