"""parse_feed turns RSS/Atom bytes into clean entries, and every failure into a FeedError with a reason."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from extractors.feeds import LINK_MAX_CHARS, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, parse_feed
from extractors.models import ParsedFeed
from presswatch.errors import FeedError

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
FEED_URL = "https://news.example.com/feeds/world.xml"
RSS_TYPE = "application/rss+xml"


def _rss(items: str, channel: str = "", *, attributes: str = "") -> bytes:
    """A small RSS 2.0 document around the given <item> elements."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" {attributes}>'
        f"<channel><title>World</title><link>https://news.example.com/</link>{channel}{items}</channel></rss>"
    ).encode()


def _item(title: str = "Story", link: str = "https://news.example.com/story", extra: str = "") -> str:
    """One RSS <item>."""
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


def _parse(body: bytes, *, content_type: str | None = RSS_TYPE, headers: dict[str, str] | None = None) -> ParsedFeed:
    """parse_feed with the test feed URL and, unless told otherwise, an RSS content type."""
    return parse_feed(body, FEED_URL, content_type=content_type, headers=headers)


# --- links --------------------------------------------------------------------------------------


def test_relative_rss_links_resolve_against_the_feed_url() -> None:
    feed = _parse(_rss(_item(link="/2024/story-one") + _item(link="story-two?id=2")))
    assert [entry.link for entry in feed.entries] == [
        "https://news.example.com/2024/story-one",
        "https://news.example.com/feeds/story-two?id=2",
    ]


def test_xml_base_on_channel_and_item_is_honoured() -> None:
    items = _item(link="a.html") + '<item xml:base="/archive/"><title>B</title><link>b.html</link></item>'
    feed = _parse(_rss(items, attributes='xml:base="https://cdn.example.org/news/"'))
    assert [entry.link for entry in feed.entries] == [
        "https://cdn.example.org/news/a.html",
        "https://cdn.example.org/archive/b.html",
    ]


def test_atom_alternate_links_resolve_against_xml_base() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.net/posts/">
  <title>Blog</title><id>urn:x</id><updated>2024-03-01T10:00:00Z</updated>
  <entry xml:base="2024/">
    <title type="html">First &lt;em&gt;post&lt;/em&gt;</title>
    <id>urn:1</id>
    <link rel="self" href="/api/1"/>
    <link rel="alternate" type="text/html" href="first.html?utm_source=rss#comments"/>
    <updated>2024-03-01T10:00:00+02:00</updated>
  </entry>
  <entry>
    <title>Second</title><id>urn:2</id><updated>2024-03-02T10:00:00Z</updated>
    <link href="../second.html"/>
  </entry>
</feed>"""
    feed = _parse(atom, content_type="application/atom+xml")
    assert [entry.link for entry in feed.entries] == [
        "https://blog.example.net/posts/2024/first.html",
        "https://blog.example.net/second.html",
    ]
    assert feed.entries[0].title == "First post"
    assert feed.entries[0].published == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert feed.entries[0].guid == "urn:1"


def test_content_location_header_sets_the_base_and_a_javascript_one_is_ignored() -> None:
    body = _rss(_item(link="story.html"))
    moved = _parse(body, headers={"Content-Location": "/mirror/feed.xml"})
    hostile = _parse(body, headers={"Content-Location": "javascript:alert(1)"})
    assert moved.entries[0].link == "https://news.example.com/mirror/story.html"
    assert hostile.entries[0].link == "https://news.example.com/feeds/story.html"


def test_links_are_normalized() -> None:
    feed = _parse(_rss(_item(link="HTTPS://News.Example.COM:443/a?utm_medium=rss&id=3&fbclid=x#top")))
    assert feed.entries[0].link == "https://news.example.com/a?id=3"


def test_entries_without_a_usable_link_are_dropped_and_counted_in_the_warning() -> None:
    items = (
        _item(title="Good")
        + _item(title="Script", link="javascript:alert(1)")
        + _item(title="Mail", link="mailto:desk@example.com")
        + "<item><title>No link at all</title></item>"
        + _item(title="Too long", link="https://news.example.com/" + "a" * LINK_MAX_CHARS)
    )
    feed = _parse(_rss(items))
    assert [entry.title for entry in feed.entries] == ["Good"]
    assert feed.warning is not None
    assert "4 of 5 entries dropped" in feed.warning


def test_guid_permalink_serves_as_the_link_when_there_is_no_link_element() -> None:
    feed = _parse(_rss("<item><title>G</title><guid>https://news.example.com/g</guid></item>"))
    assert feed.entries[0].link == "https://news.example.com/g"
    assert feed.entries[0].guid == "https://news.example.com/g"


# --- text cleaning ------------------------------------------------------------------------------


def test_titles_and_summaries_lose_markup_scripts_and_entities() -> None:
    title = "Markets &lt;b&gt;rally&lt;/b&gt; &amp;amp; &lt;script&gt;alert(1)&lt;/script&gt;fall"
    summary = (
        "<![CDATA[<p>First&nbsp;paragraph &amp; more.</p><script>steal()</script>"
        "<style>p{}</style><p>Second <a href='/x'>link</a></p>]]>"
    )
    feed = _parse(_rss(_item(title=title, extra=f"<description>{summary}</description>")))
    entry = feed.entries[0]
    assert entry.title == "Markets rally & fall"
    assert entry.summary == "First paragraph & more.\nSecond link"


def test_double_escaped_script_in_a_title_never_survives() -> None:
    feed = _parse(_rss(_item(title="a &amp;lt;script&amp;gt;x()&amp;lt;/script&amp;gt; b")))
    assert feed.entries[0].title is not None
    assert "<script" not in feed.entries[0].title.lower()


def test_control_characters_are_removed_but_text_kept() -> None:
    body = _rss(_item(title="Bell\x07 and\x1b escape\x00", extra="<description>one\x0btwo\x0c three</description>"))
    feed = _parse(body)
    assert feed.entries[0].title == "Bell and escape"
    assert feed.entries[0].summary == "onetwo three"


def test_whitespace_collapses_to_single_spaces_in_titles() -> None:
    feed = _parse(_rss(_item(title="\n   Spread\t\tacross \n\n lines   ")))
    assert feed.entries[0].title == "Spread across lines"


def test_long_titles_and_summaries_are_capped() -> None:
    feed = _parse(_rss(_item(title="word " * 400, extra=f"<description>{'text ' * 2000}</description>")))
    entry = feed.entries[0]
    assert entry.title is not None and entry.summary is not None
    assert len(entry.title) == TITLE_MAX_CHARS and entry.title.endswith("…")
    assert len(entry.summary) == SUMMARY_MAX_CHARS and entry.summary.endswith("…")


def test_link_of_exactly_the_cap_is_kept() -> None:
    link = "https://news.example.com/" + "a" * (LINK_MAX_CHARS - len("https://news.example.com/"))
    feed = _parse(_rss(_item(link=link)))
    assert [entry.link for entry in feed.entries] == [link]


# --- dates --------------------------------------------------------------------------------------


def _published(pub_date: str) -> datetime | None:
    """The published value parse_feed gives an item with this <pubDate>."""
    return _parse(_rss(_item(extra=f"<pubDate>{pub_date}</pubDate>"))).entries[0].published


def test_rfc822_dates_become_utc_aware_datetimes() -> None:
    assert _published("Tue, 02 Jan 2024 10:00:00 +0200") == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "pub_date",
    [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Sat, 31 Dec 1989 23:59:59 GMT",
        "Fri, 01 Jan 2999 00:00:00 GMT",
        "yesterday-ish",
        "",
    ],
)
def test_bogus_missing_and_far_future_dates_become_none(pub_date: str) -> None:
    assert _published(pub_date) is None


def test_a_date_two_days_ahead_is_none_but_one_hour_ahead_is_kept() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert _published(format_datetime(now + timedelta(days=2))) is None
    assert _published(format_datetime(now + timedelta(hours=1))) == now + timedelta(hours=1)


def test_updated_date_is_used_when_published_is_bogus() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>e</title><link href="https://x.example/e"/>
<published>1970-01-01T00:00:00Z</published><updated>2023-05-06T07:08:09Z</updated></entry></feed>"""
    feed = _parse(atom, content_type="application/atom+xml")
    assert feed.entries[0].published == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)


# --- polling hints ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "minutes"),
    [
        ("<ttl>45</ttl>", 45),
        ("<ttl>45</ttl><sy:updatePeriod>daily</sy:updatePeriod>", 45),
        ("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 30),
        ("<sy:updatePeriod>weekly</sy:updatePeriod>", 10_080),
        ("<sy:updateFrequency>4</sy:updateFrequency>", 360),
        ("<ttl>soon</ttl>", None),
        ("<ttl>0</ttl>", None),
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", None),
        ("", None),
    ],
)
def test_ttl_comes_from_ttl_or_the_syndication_module(channel: str, minutes: int | None) -> None:
    assert _parse(_rss(_item(), channel)).ttl_minutes == minutes


# --- errors and recoveries ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t "])
def test_empty_body_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="^empty response$"):
        _parse(body)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_html_page_is_a_feed_error_saying_so(content_type: str | None) -> None:
    with pytest.raises(FeedError, match="^the URL returned an HTML page, not a feed$"):
        parse_feed((DATA / "html_page.html").read_bytes(), FEED_URL, content_type=content_type)


def test_a_real_feed_served_as_text_html_still_parses() -> None:
    feed = parse_feed(_rss(_item()), FEED_URL, content_type="text/html")
    assert [entry.link for entry in feed.entries] == ["https://news.example.com/story"]


@pytest.mark.parametrize("body", [b"hello world", b'{"items": []}', b"<note><to>x</to></note>", b"\x00\x01\x02"])
def test_documents_that_are_not_feeds_are_feed_errors(body: bytes) -> None:
    with pytest.raises(FeedError, match="^not a feed: "):
        _parse(body, content_type="application/xml")


def test_a_valid_feed_with_no_items_is_an_empty_list_not_an_error() -> None:
    feed = _parse(_rss("", "<ttl>15</ttl>"))
    assert feed == ParsedFeed(title="World", entries=[], ttl_minutes=15, warning=None)


def test_truncated_xml_still_yields_its_complete_entries_with_a_warning() -> None:
    feed = _parse((DATA / "truncated.xml").read_bytes())
    assert [entry.title for entry in feed.entries] == ["First", "Second"]
    assert feed.warning is not None
    assert "not well-formed XML" in feed.warning


def test_html_entities_undefined_in_xml_are_recovered_with_a_warning() -> None:
    feed = _parse(_rss(_item(title="Caf&eacute; &mdash; open")))
    assert feed.entries[0].title == "Café — open"
    assert feed.warning is not None and "undefined entity" in feed.warning


def test_a_body_that_names_a_local_file_is_not_opened(tmp_path: Path) -> None:
    local_feed = tmp_path / "feed.xml"
    local_feed.write_bytes(_rss(_item(title="from disk")))
    with pytest.raises(FeedError):
        _parse(str(local_feed).encode())


# --- encodings ----------------------------------------------------------------------------------


def test_utf16_feed_is_decoded() -> None:
    feed = _parse((DATA / "utf16.xml").read_bytes())
    assert feed.title == "Zürich – 東京 news"
    assert feed.entries[0].title == "Grüße aus 東京"
    assert feed.entries[0].summary == "Ça marche."


def test_wrong_charset_declaration_is_overridden_with_a_warning() -> None:
    feed = _parse((DATA / "wrong_charset_declaration.xml").read_bytes())
    assert feed.title == "Café crème – “quoted”"
    assert feed.entries[0].title == "Naïve résumé"
    assert feed.warning is not None and "declared as utf-8" in feed.warning


def test_charset_in_the_content_type_beats_a_wrong_xml_declaration() -> None:
    body = _rss(_item(title="Ærø ångström")).replace(b'encoding="utf-8"', b'encoding="iso-8859-1"')
    feed = _parse(body, content_type="application/rss+xml; charset=utf-8")
    assert feed.entries[0].title == "Ærø ångström"


# --- hostile XML --------------------------------------------------------------------------------


def _parse_measured(body: bytes) -> tuple[ParsedFeed | FeedError, float, int]:
    """parse_feed's result or error, with the seconds and peak Python-allocated bytes it took."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome: ParsedFeed | FeedError = _parse(body)
    except FeedError as error:
        outcome = error
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, elapsed, peak


def _all_text(outcome: ParsedFeed | FeedError) -> str:
    """Every string a caller could see from a parse outcome."""
    return repr(outcome)


@pytest.mark.parametrize("name", ["billion_laughs.xml", "billion_laughs_one_line_dtd.xml"])
def test_billion_laughs_neither_hangs_nor_expands(name: str) -> None:
    outcome, elapsed, peak = _parse_measured((DATA / name).read_bytes())
    assert elapsed < 2.0
    assert peak < 20_000_000
    assert "lollol" not in _all_text(outcome)
    assert isinstance(outcome, ParsedFeed)
    assert [entry.link for entry in outcome.entries] == ["http://example.com/laughs"]


@pytest.mark.parametrize(("line_break", "encoding"), [("\n", "utf-8"), ("", "utf-8"), ("\n", "utf-16")])
def test_quadratic_blowup_entity_is_not_expanded(line_break: str, encoding: str) -> None:
    # One 50 KB entity referenced 4,000 times: 200 MB if expanded, from a 62 KB document.
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>{line_break}'
        f'<!DOCTYPE rss [{line_break}<!ENTITY big "{"x" * 50_000}">{line_break}]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>{'&big;' * 4_000}</title><link>http://example.com/big</link></item></channel></rss>"
    )
    outcome, elapsed, peak = _parse_measured(document.encode(encoding))
    assert elapsed < 2.0
    assert peak < 30_000_000
    assert "xxxxxxxxxx" not in _all_text(outcome)


@pytest.mark.parametrize(
    "name", ["external_entity.xml", "external_entity_one_line_dtd.xml", "external_parameter_entity.xml"]
)
def test_external_entities_do_not_leak_etc_passwd(name: str) -> None:
    outcome, _, _ = _parse_measured((DATA / name).read_bytes())
    assert "root:" not in _all_text(outcome)
    assert isinstance(outcome, ParsedFeed)
    assert len(outcome.entries) == 1


@pytest.mark.parametrize(
    "declaration",
    [
        '\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>',
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',
        '<!DOCTYPE rss [<!ENTITY xxe PUBLIC "-//x//y" "{uri}">]>',
        '<!DOCTYPE rss [<!ENTITY % xxe SYSTEM "{uri}"> %xxe;]>',
    ],
)
def test_external_entities_never_read_a_local_file(tmp_path: Path, declaration: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4f1c9e")
    body = (
        '<?xml version="1.0"?>' + declaration.format(uri=secret.as_uri()) + '\n<rss version="2.0"><channel>'
        "<title>&xxe;</title><item><title>&xxe;</title><link>http://example.com/a</link>"
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()
    outcome, _, _ = _parse_measured(body)
    assert "TOPSECRET" not in _all_text(outcome)


def test_external_dtd_and_entities_are_never_fetched(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY leak "FETCHED">', content_type="text/plain")
    httpserver.expect_request("/entity").respond_with_data("FETCHED", content_type="text/plain")
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "' + httpserver.url_for("/evil.dtd") + '">\n'
        '<rss version="2.0"><channel><title>&leak;</title>'
        "<item><title>t</title><link>http://example.com/a</link></item></channel></rss>"
    ).encode()
    entity_body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e SYSTEM "' + httpserver.url_for("/entity") + '">]>\n'
        '<rss version="2.0"><channel><title>&e;</title>'
        "<item><title>&e;</title><link>http://example.com/a</link></item></channel></rss>"
    ).encode()
    outcomes = [_parse_measured(body)[0], _parse_measured(entity_body)[0]]
    assert httpserver.log == []
    assert all("FETCHED" not in _all_text(outcome) for outcome in outcomes)


# --- robustness ---------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "<rss>",
        '<rss version="2.0">',
        "<channel>",
        "</channel>",
        "<item>",
        "</item>",
        "<title>",
        "</title>",
        "<link>",
        "</link>",
        "<description>",
        "<pubDate>",
        "</pubDate>",
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        "<entry>",
        '<link href="',
        '"/>',
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE rss [",
        '<!ENTITY a "',
        "]>",
        "&a;",
        "&amp;",
        "&#0;",
        "&#xD800;",
        "<script>",
        "http://example.com/x",
        "javascript:",
        "../",
        "Mon, 01 Jan 2024 00:00:00 GMT",
        "\x00",
        "\ufeff",
        "<?xml version='1.0' encoding='utf-16'?>",
    ]
)


@st.composite
def _feedish_bytes(draw: st.DrawFn) -> bytes:
    """Bytes shaped like a broken feed: feed syntax fragments mixed with arbitrary text."""
    pieces = draw(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=25))
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
    return "".join(pieces).encode(encoding, errors="replace")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(st.binary(max_size=400), _feedish_bytes()),
    content_type=st.sampled_from([None, "application/rss+xml", "text/html", "text/plain; charset=utf-16", "x/y; ="]),
)
@example(body=b"\xff\xfe<\x00", content_type=None)
@example(body=b'<rss version="2.0"><channel><item><link>http://[::1</link></item></channel></rss>', content_type=None)
def test_any_bytes_give_a_parsed_feed_or_a_feed_error(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(body, FEED_URL, content_type=content_type)
    except FeedError as error:
        assert str(error)
        return
    for entry in feed.entries:
        assert entry.link.startswith(("http://", "https://", "file:"))
        assert entry.title is None or "<script" not in entry.title.lower()
