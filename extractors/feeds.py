"""Feed documents (RSS, Atom, RDF, CDF) to clean `ParsedFeed` values, with one error type for every failure."""

from __future__ import annotations

import calendar
import html
import io
import re
import time
import xml.sax
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.etree
import lxml.html
from feedparser.exceptions import NonXMLContentType, ThingsNobodyCaresAboutButMe

from extractors.models import FeedEntry, ParsedFeed
from extractors.urls import normalize_url
from presswatch.errors import FeedError

TITLE_MAX_CHARS = 500
SUMMARY_MAX_CHARS = 2_000
LINK_MAX_CHARS = 2_048
GUID_MAX_CHARS = 2_048

# Dates before this are placeholders (epoch zero, "0000-00-00" parsed leniently), not publication dates.
_EARLIEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
# Clock skew and time zones mislabelled by a few hours are common; a day ahead is not.
_MAX_FUTURE = timedelta(days=1)

_LINK_SCHEMES = frozenset({"http", "https", "file"})
_FEED_HEADERS = ("content-type", "content-location", "content-language")

_SY_PERIOD_MINUTES = {"hourly": 60, "daily": 1_440, "weekly": 10_080, "monthly": 43_200, "yearly": 525_600}
_MAX_TTL_MINUTES = 525_600

# C0/C1 controls except tab and newline, lone surrogates (from numeric character references), BOMs and
# non-characters: none of them is text, and several break lxml or a database driver downstream.
_NON_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
_SCRIPT_OPENER = re.compile(r"<\s*/?\s*script", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
# XML keywords are case-sensitive, and so are expat and feedparser's DOCTYPE rewrite.
_ENTITY_DECLARATION = re.compile(r"<!ENTITY")
_ENTITY_DECLARATION_BYTES = re.compile(rb"<!ENTITY")
_EXTERNAL_ID = re.compile(r"\b(?:SYSTEM|PUBLIC)\b")
_NAMED_REFERENCE = re.compile(r"&[A-Za-z_:]")
# Longer entity values make "&a;&a;&a;..." a quadratic blow-up (each 3-byte reference expands to the
# whole value, in expat and again in feedparser's fallback parser); "&#160;"-style values are tiny.
_MAX_ENTITY_VALUE_CHARS = 64
# Byte-order marks and first-bytes patterns of the encodings in which "<!DOCTYPE" is not ASCII bytes.
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\x00<", "utf-16-be", 0),
    (b"<\x00", "utf-16-le", 0),
)
_DROPPED_ELEMENTS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math")
_BLOCK_ELEMENTS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr"}
)
# Double-encoded markup ("&lt;b&gt;") needs one round per level; four covers what real feeds do.
_MAX_CLEAN_ROUNDS = 4
# Markup beyond this many characters of a field cannot reach the capped output in practice.
_MAX_MARKUP_FACTOR = 50


def parse_feed(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """Parse a fetched feed body into clean entries with absolute normalized links; raise FeedError otherwise."""
    if not body or not body.strip():
        raise FeedError("empty response")
    response_headers = _response_headers(url, content_type, headers)
    body = _defuse_dtd(body)
    try:
        # A BytesIO, never the bytes themselves: feedparser treats a bare bytes/str argument as a
        # filename or URL to open when it can.
        result = feedparser.parse(io.BytesIO(body), response_headers=response_headers, sanitize_html=True)
    except Exception as exc:  # feedparser has crash paths on hostile input; callers expect only FeedError
        raise FeedError(f"not a feed: the feed parser failed ({type(exc).__name__})") from exc

    base = response_headers.get("content-location", "") or url.strip()
    feed_info = _as_dict(result.get("feed"))
    raw_entries = [_as_dict(raw) for raw in result.get("entries") or []]
    version = str(result.get("version") or "")
    title = _plain_text(feed_info.get("title"), TITLE_MAX_CHARS, multiline=False)
    problem = _bozo_problem(result, response_headers)
    fatal = problem is not None and not isinstance(result.get("bozo_exception"), ThingsNobodyCaresAboutButMe)

    if not raw_entries:
        described = _has_metadata(feed_info)
        if not version and _looks_like_html(body, response_headers.get("content-type")):
            raise FeedError("the URL returned an HTML page, not a feed")
        if not version and not described:
            raise FeedError(f"not a feed: {problem or 'no RSS, Atom, RDF or CDF feed element found'}")
        if fatal and not described:
            # Only a root element survived the XML error: nothing tells this apart from a broken page.
            raise FeedError(f"not a feed: {problem}")

    entries = [entry for entry in (_clean_entry(raw, base) for raw in raw_entries) if entry is not None]
    notes = [problem] if problem else []
    dropped = len(raw_entries) - len(entries)
    if dropped:
        notes.append(f"{dropped} of {len(raw_entries)} entries dropped: no usable http(s) or file link")
    return ParsedFeed(
        title=title,
        entries=entries,
        ttl_minutes=_ttl_minutes(feed_info),
        warning="; ".join(notes) or None,
    )


def _as_dict(value: Any) -> dict[str, Any]:
    """A plain-dict copy of a FeedParserDict, so lookups skip its deprecated key aliases and warnings."""
    return dict(dict.items(value)) if isinstance(value, dict) else {}


def _response_headers(url: str, content_type: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers feedparser reads, lower-cased, with Content-Location made an absolute safe base."""
    given = {str(name).strip().lower(): str(value) for name, value in (headers or {}).items()}
    chosen = {name: given[name] for name in _FEED_HEADERS if name in given}
    if content_type is not None:
        chosen["content-type"] = content_type
    # feedparser would take any Content-Location as the base, even "javascript:...": resolve it
    # against the feed URL ourselves and keep it only when it stays http(s)/file.
    feed_url = url.strip() if isinstance(url, str) else ""
    base = feed_url
    location = chosen.pop("content-location", "").strip()
    if location:
        candidate = _join(feed_url, location)
        if candidate and _scheme(candidate) in _LINK_SCHEMES:
            base = candidate
    # feedparser's own resolution drops a slash from file:/// bases; relative links of a local feed are
    # left for `_usable_link` to resolve against the feed's URL instead.
    if base and _scheme(base) != "file":
        chosen["content-location"] = base
    return chosen


def _defuse_dtd(body: bytes) -> bytes:
    """`body` without its entity declarations when any of them is one a feed has no use for.

    Entity tricks are the XML bombs: nested ("billion laughs"), long-valued and referenced many times
    (quadratic blow-up), or external (XXE). expat bounds amplification only from 2.4 on and still
    spends seconds and tens of MB reaching its limit, and feedparser's fallback parser re-expands any
    entity with a plain value. So the declarations go before either parser sees them, in any encoding;
    references to them are then undefined and come out as literal text.
    """
    codec, bom_length = _wide_encoding(body)
    if codec is None:
        if _ENTITY_DECLARATION_BYTES.search(body) is None:
            return body  # the usual case, decided without copying the body
        # latin-1 maps bytes to code points one to one: an exact round trip for any ASCII-compatible encoding.
        cleaned = _without_risky_entities(body.decode("latin-1"))
        return body if cleaned is None else cleaned.encode("latin-1")
    cleaned = _without_risky_entities(body[bom_length:].decode(codec, errors="replace"))
    return body if cleaned is None else body[:bom_length] + cleaned.encode(codec, errors="replace")


def _wide_encoding(body: bytes) -> tuple[str | None, int]:
    """The UTF-16/32 variant `body` starts in (from its BOM or its first "<"), and the BOM's length."""
    for prefix, codec, bom_length in _WIDE_ENCODINGS:
        if body.startswith(prefix):
            return codec, bom_length
    return None, 0


def _without_risky_entities(text: str) -> str | None:
    """`text` with every entity declaration removed if one is risky, or None when all are harmless."""
    starts = [match.start() for match in _ENTITY_DECLARATION.finditer(text)]
    if not starts:
        return None
    # Each declaration is examined only up to the next one, so the whole scan stays linear.
    limits = [*starts[1:], len(text)]
    extents = [_entity_extent(text, start, limit) for start, limit in zip(starts, limits, strict=True)]
    if all(end is not None for end in extents):
        return None
    pieces: list[str] = []
    position = 0
    for start, limit in zip(starts, limits, strict=True):
        pieces.append(text[position:start])
        # A well-formed declaration goes whole; of a malformed one only its keyword goes, which leaves
        # a DTD syntax error: the strict parser stops there, before any expansion.
        whole = _entity_extent(text, start, limit, harmless_only=False)
        position = whole if whole is not None else start + len("<!ENTITY")
    pieces.append(text[position:])
    return "".join(pieces)


def _entity_extent(text: str, start: int, limit: int, *, harmless_only: bool = True) -> int | None:
    """End of the `<!ENTITY name "value">` at `start`; None when malformed, or (if asked) not harmless."""
    head_end = start + len("<!ENTITY")
    quotes = [index for index in (text.find('"', head_end, limit), text.find("'", head_end, limit)) if index >= 0]
    closing_bracket = text.find(">", head_end, limit)
    if not quotes or closing_bracket < 0 or closing_bracket < min(quotes):
        return None
    opening = min(quotes)
    closing = text.find(text[opening], opening + 1, limit)
    if closing < 0:
        return None
    end = text.find(">", closing + 1, limit)
    if end < 0:
        return None
    if harmless_only:
        header, value, trailer = text[head_end:opening], text[opening + 1 : closing], text[closing + 1 : end]
        if (
            "%" in header
            or _EXTERNAL_ID.search(header)
            or _NAMED_REFERENCE.search(value)
            or len(value) > _MAX_ENTITY_VALUE_CHARS
            or trailer.strip()
        ):
            return None
    return end + 1


def _bozo_problem(result: Mapping[str, Any], response_headers: Mapping[str, str]) -> str | None:
    """A short human description of feedparser's bozo exception, or None when there is nothing worth saying."""
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if isinstance(exc, NonXMLContentType) and "content-type" not in response_headers:
        return None  # the caller gave no type at all; saying so on every feed is noise
    if isinstance(exc, xml.sax.SAXParseException):
        message = f"not well-formed XML at line {exc.getLineNumber()}, column {exc.getColumnNumber()}: "
        message += str(exc.getMessage())
    elif exc is None:
        message = "malformed feed"
    else:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _cap(" ".join(message.split()), 200)


def _has_metadata(feed_info: Mapping[str, Any]) -> bool:
    """True when the document described a feed (title, link, description, date or id), items or not."""
    return any(
        isinstance(feed_info.get(key), str) and feed_info[key].strip()
        for key in ("title", "link", "subtitle", "updated", "id")
    )


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True when the response is labelled or shaped like an HTML page."""
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    return bool(_HTML_SNIFF.search(body[:2048]))


def _clean_entry(raw: Mapping[str, Any], base: str) -> FeedEntry | None:
    """One feedparser entry as a FeedEntry, or None when it has no usable link."""
    link = _entry_link(raw, base)
    if link is None:
        return None
    summary_source = raw.get("summary")
    if not summary_source:
        contents = raw.get("content")
        if isinstance(contents, list) and contents and isinstance(contents[0], Mapping):
            summary_source = contents[0].get("value")
    return FeedEntry(
        link=link,
        title=_plain_text(raw.get("title"), TITLE_MAX_CHARS, multiline=False),
        summary=_plain_text(summary_source, SUMMARY_MAX_CHARS, multiline=True),
        published=_published(raw),
        guid=_guid(raw.get("id")),
    )


def _entry_link(raw: Mapping[str, Any], base: str) -> str | None:
    """The entry's first usable link (its <link>, then rel=alternate links), absolute and normalized."""
    candidates: list[Any] = [raw.get("link")]
    links = raw.get("links")
    if isinstance(links, list):
        candidates += [
            item.get("href")
            for item in links
            if isinstance(item, Mapping) and item.get("rel", "alternate") == "alternate"
        ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            absolute = _usable_link(candidate, base)
            if absolute is not None:
                return absolute
    return None


def _usable_link(candidate: str, base: str) -> str | None:
    """Resolve `candidate` against `base` and normalize it; None unless http(s) with a host, or file."""
    joined = _join(base, _NON_TEXT.sub("", candidate).strip())
    if not joined:
        return None
    link = normalize_url(joined)
    if len(link) > LINK_MAX_CHARS:
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme not in _LINK_SCHEMES or (parts.scheme != "file" and not parts.hostname):
        return None
    return link


def _join(base: str, reference: str) -> str:
    """urljoin that answers "" instead of raising on malformed input (bad IPv6 brackets and the like)."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return ""


def _scheme(url: str) -> str:
    """Lower-case scheme of `url`, or "" when it cannot be split."""
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def _published(raw: Mapping[str, Any]) -> datetime | None:
    """The first plausible UTC date among published and updated, else None."""
    latest = datetime.now(UTC) + _MAX_FUTURE
    for key in ("published_parsed", "updated_parsed"):
        stamp = raw.get(key)
        if not isinstance(stamp, time.struct_time):
            continue
        try:
            # timegm accepts leap seconds and other overflowing fields that datetime(...) refuses.
            moment = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
        except (OverflowError, ValueError, OSError):
            continue
        if _EARLIEST_PUBLISHED <= moment <= latest:
            return moment
    return None


def _guid(value: Any) -> str | None:
    """The entry id as a stripped single-line string, or None when missing or absurdly long."""
    if not isinstance(value, str):
        return None
    guid = " ".join(_NON_TEXT.sub("", value).split())
    if not guid or len(guid) > GUID_MAX_CHARS:
        return None
    return guid


def _ttl_minutes(feed_info: Mapping[str, Any]) -> int | None:
    """Polling interval the feed asks for: <ttl>, else the syndication module's period / frequency."""
    ttl = _positive_int(feed_info.get("ttl"))
    if ttl is not None:
        return min(ttl, _MAX_TTL_MINUTES)
    period = feed_info.get("sy_updateperiod")
    frequency = _positive_int(feed_info.get("sy_updatefrequency"))
    if not isinstance(period, str) and frequency is None:
        return None
    # The syndication module's defaults: daily, once per period.
    period_key = period.strip().lower() if isinstance(period, str) and period.strip() else "daily"
    if period_key not in _SY_PERIOD_MINUTES:
        return None
    # updateFrequency counts updates per period, so the interval is period / frequency.
    return max(1, _SY_PERIOD_MINUTES[period_key] // (frequency or 1))


def _positive_int(value: Any) -> int | None:
    """A positive integer written as plain digits, else None."""
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        return None
    number = int(digits)
    return number if number > 0 else None


def _plain_text(value: Any, limit: int, *, multiline: bool) -> str | None:
    """Markup, scripts, entities and control characters out; whitespace collapsed; capped at `limit`."""
    if not isinstance(value, str):
        return None
    text = _NON_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = text[: limit * _MAX_MARKUP_FACTOR]
    for _ in range(_MAX_CLEAN_ROUNDS):
        if "<" in text:
            cleaned = _markup_to_text(text, multiline=multiline)
        elif "&" in text:
            cleaned = html.unescape(text)
        else:
            break
        cleaned = _NON_TEXT.sub("", cleaned)
        if cleaned == text:
            break
        text = cleaned
    # Text that still spells a script tag after every round (deeply escaped) loses the tag opener.
    while _SCRIPT_OPENER.search(text):
        text = _SCRIPT_OPENER.sub("", text)
    if multiline:
        lines = (" ".join(line.split()) for line in text.split("\n"))
        text = "\n".join(line for line in lines if line)
    else:
        text = " ".join(text.split())
    return _cap(text, limit) or None


def _markup_to_text(fragment: str, *, multiline: bool) -> str:
    """Text content of an HTML fragment without scripts and styles; block ends become newlines."""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return html.unescape(_ANY_TAG.sub(" ", fragment))
    lxml.etree.strip_elements(root, *_DROPPED_ELEMENTS, with_tail=False)
    for element in root.iter():
        if not isinstance(element.tag, str):
            # Comments and processing instructions: their text is not content, their tail is.
            element.text = None
        elif element.tag in _BLOCK_ELEMENTS:
            # Block boundaries separate words ("<p>a</p><p>b</p>" is "a b", not "ab").
            element.tail = ("\n" if multiline else " ") + (element.tail or "")
    return str(root.text_content())


def _cap(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
