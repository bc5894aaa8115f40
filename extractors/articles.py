"""Turn one fetched article page into clean text and metadata (trafilatura plus our own boilerplate removal)."""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement

from extractors.boilerplate import clean_lines, normalize_space, prune_tree
from extractors.models import ExtractedArticle
from extractors.urls import normalize_url
from presswatch.errors import ExtractionError

EXTRACTOR_NAME = f"trafilatura {trafilatura.__version__}"
# Below this many characters of article text the page is treated as having no article.
MIN_TEXT_CHARS = 100

# trafilatura and htmldate log every discarded page at WARNING/ERROR; a failed page is reported to the
# caller through ExtractionError instead, so keep their loggers from flooding the run's output.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Labels that servers put on pages that are really UTF-8 more often than not.
_LATIN_LABELS = frozenset({"iso8859-1", "latin-1", "cp1252", "ascii"})
# UTF-7 can smuggle markup past filters; browsers refuse it too.
_REFUSED_CODECS = frozenset({"utf-7"})

_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF media file"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 file"),
    (b"\x7fELF", "an executable"),
    (b"wOFF", "a web font"),
)
_NON_HTML_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip", "application/json")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")

_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "datepublished",
    "publishdate",
    "publish-date",
    "publish_date",
    "pubdate",
    "sailthru.date",
    "parsely-pub-date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "citation_publication_date",
)
_ISO_LIKE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$"
)
_LANG_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def extract_article(html: bytes | str, url: str, *, content_type: str | None = None) -> ExtractedArticle:
    """Extract an article's main text and metadata from a page; raises ExtractionError when there is none."""
    url = normalize_url(url)
    text_html = decode_html(html, content_type)
    try:
        tree = trafilatura.load_html(text_html)
    except Exception as err:  # lxml raises a handful of unrelated classes on hostile input
        raise ExtractionError(f"not HTML: the page could not be parsed ({type(err).__name__})") from err
    if tree is None or len(tree) == 0:
        raise ExtractionError("not HTML: no document structure could be parsed")
    try:
        return _extract_from_tree(tree, url)
    except ExtractionError:
        raise
    except Exception as err:  # third-party code must not crash the caller's loop (RecursionError included)
        raise ExtractionError(f"extraction failed: {type(err).__name__}: {err}") from err


def _extract_from_tree(tree: HtmlElement, url: str) -> ExtractedArticle:
    # Metadata is read from the whole page before pruning: bylines and dates may sit in pruned blocks.
    meta = trafilatura.extract_metadata(tree, default_url=url, date_config=_date_config(), extensive=False)
    published = published_from_markup(tree) or _date_only(meta.date)
    canonical = normalize_url(canonical_url(tree, url))
    language = page_language(tree)

    prune_tree(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        include_comments=False,
        favor_precision=True,
        include_tables=True,
        include_images=False,
        include_links=False,
    )
    raw = document.text if isinstance(document, trafilatura.settings.Document) else None
    text = clean_lines(raw or "", title=meta.title)
    if len(text) < MIN_TEXT_CHARS:
        found = f"only {len(text)} characters of text" if text else "no text"
        raise ExtractionError(f"no article text found: {found} (minimum {MIN_TEXT_CHARS})")

    return ExtractedArticle(
        url=url,
        canonical_url=canonical,
        text=text,
        title=_clean(meta.title),
        author=_clean(meta.author),
        published=published,
        language=language,
        sitename=_clean(meta.sitename) or readable_host(canonical) or readable_host(url),
        description=_clean(meta.description),
        extractor=EXTRACTOR_NAME,
    )


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = normalize_space(value)
    return value or None


def _date_config() -> dict[str, Any]:
    # Publication date only, from markup only: no free-text search that could pick up a copyright
    # year or a date quoted in the story; htmldate never falls back to the extraction date itself.
    return {
        "original_date": True,
        "extensive_search": False,
        "max_date": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d"),
    }


# ---------------------------------------------------------------------------------------------------------------
# Decoding


def decode_html(html: bytes | str, content_type: str | None = None) -> str:
    """Decode a page: BOM, then the Content-Type charset, then <meta charset>, then UTF-8 with replacement."""
    if isinstance(html, str):
        text = html
    else:
        html = bytes(html)  # also accepts bytearray and memoryview
        if not html.strip():
            raise ExtractionError("empty page")
        head = html.lstrip()[:8]
        for magic, what in _MAGIC:
            if head.startswith(magic):
                raise ExtractionError(f"not HTML: the bytes are {what}")
        text = _decode_bytes(html, content_type)
    if not text.strip():
        raise ExtractionError("empty page")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(_NON_HTML_TYPES):
        raise ExtractionError(f"not HTML: content type {mime}")
    sample = text[:4096]
    if len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise ExtractionError("not HTML: the page is binary data")
    return text


def _decode_bytes(data: bytes, content_type: str | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    declared = None
    if content_type:
        match = _CHARSET_PARAM.search(content_type.encode("ascii", "ignore"))
        declared = _codec(match.group(1)) if match else None
    if declared is None:
        match = _META_CHARSET.search(data[:4096])
        declared = _codec(match.group(1)) if match else None
        if declared is not None and declared.startswith(("utf-16", "utf-32")):
            # A <meta> readable as ASCII cannot be in UTF-16/32: browsers read such pages as UTF-8.
            declared = "utf-8"
    if declared is None:
        return data.decode("utf-8", errors="replace")
    if declared in _LATIN_LABELS and not data.isascii():
        # "iso-8859-1" on a page whose bytes are valid UTF-8 is a mislabel: real Latin-1 text almost
        # never forms valid multi-byte UTF-8 sequences.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Browsers read Latin-1 labels as windows-1252 (curly quotes live in 0x80-0x9f).
            return data.decode("cp1252", errors="replace")
    try:
        return data.decode(declared)
    except UnicodeDecodeError:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode(declared, errors="replace")


def _codec(label: bytes) -> str | None:
    name = label.decode("ascii", "ignore").strip().lower()
    try:
        codec = codecs.lookup(name).name
        b"".decode(codec)  # rejects bytes-to-bytes codecs such as base64
    except (LookupError, ValueError, TypeError):
        return None
    if codec in _REFUSED_CODECS:
        return None
    return codec


# ---------------------------------------------------------------------------------------------------------------
# Metadata


def published_from_markup(tree: HtmlElement) -> datetime | None:
    """The publication time the page declares in its <meta> tags, JSON-LD or <time itemprop>, as UTC."""
    for value in _published_candidates(tree):
        parsed = parse_timestamp(value)
        if parsed is not None and _EARLIEST <= parsed <= datetime.now(UTC) + timedelta(days=1):
            return parsed
    return None


def _published_candidates(tree: HtmlElement) -> Iterator[str]:
    by_key: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        content = meta.get("content")
        if key in _PUBLISHED_META and content and key not in by_key:
            by_key[key] = content
    for key in _PUBLISHED_META:
        if key in by_key:
            yield by_key[key]
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json" and script.text:
            try:
                data = json.loads(script.text)
            except ValueError:
                continue
            yield from _jsonld_dates(data, depth=0)
    for time in tree.iter("time"):
        if time.get("itemprop", "").lower() == "datepublished" or time.get("pubdate") is not None:
            value = time.get("datetime")
            if value:
                yield value


def _jsonld_dates(data: object, depth: int) -> Iterator[str]:
    if depth > 5:
        return
    if isinstance(data, list):
        for item in data:
            yield from _jsonld_dates(item, depth + 1)
    elif isinstance(data, dict):
        value = data.get("datePublished")
        if isinstance(value, str):
            yield value
        graph = data.get("@graph")
        if graph is not None:
            yield from _jsonld_dates(graph, depth + 1)


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp to an aware UTC datetime; naive times are read as UTC, dates as midnight."""
    value = value.strip()
    if not _ISO_LIKE.match(value):
        return None
    value = value.replace(",", ".")
    if value.endswith(("UTC", "GMT")):
        value = value[:-3].rstrip() + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _date_only(value: str | None) -> datetime | None:
    # htmldate returns YYYY-MM-DD: a day the page states, kept as midnight UTC of that day.
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def canonical_url(tree: HtmlElement, url: str) -> str:
    """The page's <link rel=canonical> or og:url, resolved against url; url itself when absent or unusable."""
    base = url
    for el in tree.iter("base"):
        href = el.get("href")
        if href:
            base = urljoin(url, href.strip())
        break
    candidates: list[str] = []
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = link.get("href")
        if "canonical" in rels and href:
            candidates.append(href)
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").strip().lower() == "og:url" and meta.get("content"):
            candidates.append(meta.get("content") or "")
    for href in candidates:
        resolved = _usable_canonical(base, href, url)
        if resolved is not None:
            return resolved
    return url


def _usable_canonical(base: str, href: str, url: str) -> str | None:
    try:
        resolved = urljoin(base, href.strip())
        parts = urlsplit(resolved)
        page = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # A CMS that points every article at the home page would merge all stories into one.
    if parts.path in ("", "/") and not parts.query and page.path not in ("", "/"):
        return None
    return resolved


def page_language(tree: HtmlElement) -> str | None:
    """The page's declared language as a lowercase ISO 639 code ("en"), or None when it declares none."""
    declared = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"), tree.get("xml:lang")]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("name") or meta.get("property") or "").strip().lower()
        if key in ("content-language", "language", "og:locale", "dc.language", "dcterms.language"):
            declared.append(meta.get("content"))
    for value in declared:
        if value:
            match = _LANG_TAG.match(value.strip().split(",")[0].strip())
            if match:
                return match.group(1).lower()
    return None


def readable_host(url: str) -> str | None:
    """The URL's host without a leading "www.", as a last-resort site name."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")
