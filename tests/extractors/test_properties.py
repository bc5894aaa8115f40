"""Issue 8's property promise across the extractors: on any input, a result or the extractor's own typed error.

`extract_article` raises only ExtractionError, `parse_feed` only FeedError, and `normalize_url` never raises
(and is idempotent). The strategies lean on what hostile pages and feeds actually send: tag soup, deep nesting,
lying charsets, odd content types and headers, control characters, lone surrogates, entity tricks.
The per-module test files hold narrower property tests; these target the boundaries between them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from extractors.articles import extract_article
from extractors.feeds import LINK_MAX_CHARS, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, parse_feed
from extractors.models import ExtractedArticle, ParsedFeed
from extractors.urls import normalize_url
from presswatch.errors import ExtractionError, FeedError

PAGE_URL = "https://news.example/2025/03/story"
FEED_URL = "https://news.example/feed.xml"
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# C0/C1 controls except tab and newline, and lone surrogates: never text a person should see or a driver accept.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

CHARSETS = [
    "utf-8",
    "UTF-16",
    "utf-32",
    "latin-1",
    "cp1252",
    "shift_jis",
    "gb18030",
    "utf-7",
    "x-user-defined",
    "bogus",
    "",
    "utf-8'",
    '"utf-8"',
    "charset",
]
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(["text/html", "application/xhtml+xml", "application/octet-stream", "text/plain", "x/y; ="]),
    st.sampled_from(CHARSETS).map(lambda charset: f"text/html; charset={charset}"),
)

_HTML_PIECES = st.sampled_from(
    [
        "<!DOCTYPE html>", "<html>", "<html lang='zz-ZZZZZZZZZ'>", "<head>", "</head>", "<body>", "</body>",
        "<title>", "</title>", "<p>", "</p>", "<div>", "</div>", "<article>", "</article>", "<br/>", "<li>",
        "<meta charset='utf-16'>", "<meta charset='bogus'>", "<meta http-equiv='Content-Type' content='text/html; "
        "charset=shift_jis'>", "<base href='javascript:alert(1)'>", "<base href='//[::1'>",
        "<link rel='canonical' href='http://[::1'>", "<link rel='canonical' href='/'>",
        "<link rel='canonical' href='file:///etc/passwd'>", "<meta property='og:url' content='https://x.example/a'>",
        "<meta property='article:published_time' content='2999-12-31T00:00:00Z'>",
        "<meta property='article:published_time' content='1970-01-01'>",
        "<meta name='date' content='not a date at all'>", "<time datetime='0000-00-00'>", "</time>",
        "<script type='application/ld+json'>{\"datePublished\": [[[{}]]], \"@graph\": [null, 1e999]}</script>",
        "<script type='application/ld+json'>{{{{</script>", "<script>document.write('x')</script>",
        "<style>p{}</style>", "<!--", "-->", "<![CDATA[", "]]>", "<?xml version='1.0' encoding='utf-32'?>",
        "&nbsp;", "&#0;", "&#xD800;", "&#x110000;", "&bogus;", "\x00", "\ufeff", "\ud800", "\u202e",
        "Alibaba and Tencent said on Monday that ", "the quarterly results beat expectations. ",
        "Jack Ma returned to Hangzhou. ",
    ]
)  # fmt: skip


_SENTENCES = st.sampled_from(
    [
        "Alibaba and Tencent said on Monday that the quarterly results beat expectations. ",
        "Jack Ma returned to Hangzhou to push the group into artificial intelligence. ",
        "Analysts said the cloud unit would need years to catch up with its rivals. ",
        "Pinduoduo, JD.com and Meituan are fighting over the same shoppers. ",
    ]
)


@st.composite
def html_soup(draw: st.DrawFn) -> bytes:
    """Page-shaped bytes: HTML fragments, article-like sentences, random text, deep nesting, a random encoding.

    Half of the examples are a page skeleton with an article body between the hostile fragments, so the
    success path (and what it returns) is exercised as often as the failure path.
    """
    noise = st.lists(st.one_of(_HTML_PIECES, st.text(max_size=20)), max_size=20)
    if draw(st.booleans()):
        text = "".join(draw(noise)) * 2
    else:
        body = "".join(f"<p>{draw(_SENTENCES) * 2}{''.join(draw(noise))}</p>" for _ in range(draw(st.integers(2, 6))))
        text = (
            f"<html><head><title>{''.join(draw(noise))}</title>{''.join(draw(noise))}</head>"
            f"<body>{''.join(draw(noise))}<article>{body}</article>{''.join(draw(noise))}</body></html>"
        )
    depth = draw(st.sampled_from([0, 0, 0, 300, 3000]))
    text = "<div>" * depth + text + "</div>" * depth
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1", "cp1252", "shift_jis"]))
    return text.encode(encoding, errors="replace") if encoding != "utf-8" else text.encode("utf-8", "surrogatepass")


_FEED_PIECES = st.sampled_from(
    [
        "<?xml version='1.0'?>", "<?xml version='1.0' encoding='bogus'?>", "<rss version='2.0'>", "</rss>",
        "<channel>", "</channel>", "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>", "<rdf:RDF>",
        "<item>", "</item>", "<entry>", "</entry>", "<title>", "</title>", "<link>", "</link>",
        "<link href='", "'/>", "<description>", "</description>", "<summary type='html'>", "</summary>",
        "<pubDate>", "</pubDate>", "Thu, 01 Jan 1970 00:00:00 GMT", "Sat, 01 Jan 2101 00:00:00 GMT", "yesterday",
        "http://news.example/a?utm_source=x#frag", "/relative/path", "../up", "javascript:alert(1)",
        "file:///etc/passwd", "data:text/html,hi", "http://[::1", "//evil.example/x", "mailto:a@b",
        "<!DOCTYPE rss [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>", "<!DOCTYPE rss [<!ENTITY a 'aaaaaaaaaa'>]>",
        "&e;", "&a;&a;&a;&a;", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>x</script>", "&amp;lt;b&amp;gt;",
        "\x00", "\x1b[31m", "\u0085", "\ud800", "\ufeff", "x" * 3000,
    ]
)  # fmt: skip


@st.composite
def feed_soup(draw: st.DrawFn) -> bytes:
    """Feed-shaped bytes in a random encoding: loose fragments, or RSS items whose fields hold the fragments."""
    field = st.lists(st.one_of(_FEED_PIECES, st.text(max_size=12)), max_size=6).map("".join)
    if draw(st.booleans()):
        text = "".join(draw(st.lists(st.one_of(_FEED_PIECES, st.text(max_size=12)), max_size=40)))
    else:
        links = st.one_of(_LINKS, field)
        items = "".join(
            f"<item><title>{draw(field)}</title><link>{draw(links)}</link>"
            f"<description>{draw(field)}</description><pubDate>{draw(field)}</pubDate></item>"
            for _ in range(draw(st.integers(1, 4)))
        )
        text = f"<?xml version='1.0'?><rss version='2.0'><channel><title>{draw(field)}</title>{items}</channel></rss>"
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace") if encoding != "utf-8" else text.encode("utf-8", "surrogatepass")


_LINKS = st.sampled_from(
    ["http://news.example/a?utm_source=x#frag", "/relative/path", "../up", "HTTPS://News.Example:443/b",
     "javascript:alert(1)", "file:///etc/passwd", "http://[::1", "//other.example/x", " http://a.example/ws "]
)  # fmt: skip
FEED_HEADERS = st.dictionaries(
    st.sampled_from(["Content-Type", "content-location", "Content-Language", "X-Other"]),
    st.one_of(
        st.sampled_from(
            ["application/rss+xml; charset=utf-16", "text/html", "javascript:alert(1)", "/other/base/", "file:///",
             "http://[::1", "en-US", "", "text/plain; charset=bogus"]
        ),
        st.text(max_size=20),
    ),
    max_size=3,
)  # fmt: skip
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)  # lone surrogates included


def _check_article(article: ExtractedArticle) -> None:
    assert isinstance(article, ExtractedArticle)
    assert len(article.text) >= 100
    assert normalize_url(article.canonical_url) == article.canonical_url
    assert article.canonical_url.startswith(("http://", "https://"))
    if article.published is not None:
        assert article.published.tzinfo is not None
        assert EARLIEST <= article.published <= datetime.now(UTC) + timedelta(days=2)


def _check_feed(feed: ParsedFeed) -> None:
    assert isinstance(feed, ParsedFeed)
    for field in (feed.title, *(e.title for e in feed.entries), *(e.summary for e in feed.entries)):
        if field is not None:
            assert not CONTROL.search(field), field
            assert "<script" not in field.lower()
    for entry in feed.entries:
        assert entry.link.startswith(("http://", "https://", "file:"))
        assert normalize_url(entry.link) == entry.link
        assert len(entry.link) <= LINK_MAX_CHARS
        assert entry.title is None or len(entry.title) <= TITLE_MAX_CHARS
        assert entry.summary is None or len(entry.summary) <= SUMMARY_MAX_CHARS


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(html_soup(), st.binary(max_size=3000)), content_type=CONTENT_TYPES)
@example(body=b"<html><body>" + b"<div>" * 100_000 + b"</body></html>", content_type="text/html")
@example(body=b"\xff\xfe" + "<p>Alibaba</p>".encode("utf-16-le") * 50, content_type="text/html; charset=utf-8")
@example(body=b"<p>" + b"\xc3\x28 Alibaba earnings " * 40 + b"</p>", content_type="text/html; charset=utf-8")
def test_extract_article_gives_an_article_or_an_extraction_error(body: bytes, content_type: str | None) -> None:
    try:
        article = extract_article(body, PAGE_URL, content_type=content_type)
    except ExtractionError as error:
        assert str(error)
        event("ExtractionError")
        return
    event("article")
    _check_article(article)


@settings(max_examples=100, deadline=None)
@given(html=st.text(max_size=2000), url=ANY_TEXT)
@example(html="<p>" + "Alibaba said it would expand. " * 10 + "</p>", url="javascript:alert(1)")
@example(html="<p>" + "Alibaba said it would expand. " * 10 + "</p>", url="http://[::1")
def test_extract_article_on_any_text_and_any_url_gives_an_article_or_an_extraction_error(html: str, url: str) -> None:
    try:
        article = extract_article(html, url)
    except ExtractionError as error:
        assert str(error)
        return
    assert isinstance(article, ExtractedArticle) and len(article.text) >= 100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(feed_soup(), st.binary(max_size=600)),
    headers=FEED_HEADERS,
    url=st.sampled_from(
        [FEED_URL, "file:///srv/feeds/local.xml", "http://127.0.0.1:8080/f", "not a url", "", "http://[::1"]
    ),
)
@example(
    body=b"<rss><channel><item><title>\x1b[31mred\x00</title><link>/a</link></item></channel></rss>",
    headers={},
    url=FEED_URL,
)
def test_parse_feed_gives_clean_entries_or_a_feed_error(body: bytes, headers: dict[str, str], url: str) -> None:
    try:
        feed = parse_feed(body, url, headers=headers)
    except FeedError as error:
        assert str(error)
        event("FeedError")
        return
    event("feed with entries" if feed.entries else "feed without entries")
    _check_feed(feed)


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT)
@example("http://ex.com/\ud800?utm_source=\udfff#x")
@example("HTTP://[::FFFF:127.0.0.1]:0080/%zz%ff?fbclid=1&&a=%")
@example("https://xn--/a")
@example("http://a:99999999999999999999/")
def test_normalize_url_never_raises_on_any_text_and_is_idempotent(text: str) -> None:
    once = normalize_url(text)
    assert isinstance(once, str)
    assert normalize_url(once) == once


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _FEED_PIECES,
            ANY_TEXT,
            st.sampled_from(
                [
                    "http://",
                    "https://",
                    "HTTPS://",
                    "file://",
                    "@",
                    ":",
                    "::",
                    "[",
                    "]",
                    "%",
                    "%2",
                    "?",
                    "#",
                    "&",
                    "=",
                    "utm_source=a",
                    "fbclid=b",
                    "xn--",
                    ".",
                    "..",
                    "/",
                    "\\",
                    "\u3002",
                    "\uff0e",
                    "\u0130",
                ]
            ),
        ),
        max_size=12,
    )
)
def test_normalize_url_of_url_pieces_never_raises_and_is_idempotent(pieces: list[str]) -> None:
    once = normalize_url("".join(pieces))
    assert normalize_url(once) == once
