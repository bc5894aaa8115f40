"""A story's publication time, read from what the page itself declares, with where it was found.

Evidence in order of trust: JSON-LD ``datePublished`` ("json-ld"), ``article:published_time`` and its
kin in ``<meta>`` ("meta"), a ``<time>`` marked as the publication time ("time-element"), then
htmldate's markup search ("htmldate"). Never invented: no "today", no date read from the URL, no date
found in the running text, nothing before 1990 or more than a day in the future. Always UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import htmldate
from lxml.html import HtmlElement

# Where a date came from; the flow adds "feed" when it falls back to the feed entry's date.
JSON_LD, META, TIME_ELEMENT, HTMLDATE, FEED = "json-ld", "meta", "time-element", "htmldate", "feed"

_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "og:published_time",
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
    "citation_date",
)
_ISO_LIKE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$"
)
_SLASHED = re.compile(r"^\d{4}/\d{2}/\d{2}(?=$|[T ])")
_FRACTION = re.compile(r"([.,]\d{1,6})\d*")
_PUBLISHED_CLASS = re.compile(r"publish|posted|pubdate|date-?created|article-?date|byline", re.IGNORECASE)
_NOT_PUBLISHED = re.compile(r"updat|modif|edited|revis", re.IGNORECASE)
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_JSONLD_MAX_DEPTH = 6


def find_published(tree: HtmlElement, *, search_markup: bool = True) -> tuple[datetime | None, str | None]:
    """The page's publication time (UTC) and its source ("json-ld", "meta", "time-element", "htmldate")."""
    readers = ((JSON_LD, _jsonld_candidates), (META, _meta_candidates), (TIME_ELEMENT, _time_candidates))
    for source, candidates in readers:
        for value in candidates(tree):
            parsed = parse_timestamp(value)
            if parsed is not None and _plausible(parsed):
                return parsed, source
    if search_markup:
        found = htmldate_published(tree)
        if found is not None:
            return found, HTMLDATE
    return None, None


def htmldate_published(tree: HtmlElement) -> datetime | None:
    """htmldate's publication day from the page's markup (no URL, no free-text search), as midnight UTC."""
    max_date = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    try:
        # url="" stops htmldate from reading a date out of the URL or the canonical link.
        value = htmldate.find_date(
            _without_modification_dates(tree),
            extensive_search=False,
            original_date=True,
            url="",
            max_date=max_date,
            min_date="1990-01-01",
        )
    except Exception:  # htmldate parses arbitrary markup; its failure means "no date", not a crash
        return None
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return parsed if _plausible(parsed) else None


def _without_modification_dates(tree: HtmlElement) -> HtmlElement:
    # htmldate falls back to a page's "modified"/"updated" time when it finds no publication time; a
    # story's last edit is not when it was published, so those are removed from the copy it reads.
    # JSON-LD goes too: its datePublished has been read already, its dateModified must not be.
    copy = deepcopy(tree)
    doomed = [
        el
        for el in copy.iter("meta", "time", "script")
        if (el.tag == "script" and (el.get("type") or "").strip().lower() == "application/ld+json")
        or _NOT_PUBLISHED.search(
            " ".join(filter(None, (el.get("property"), el.get("name"), el.get("itemprop"), el.get("class"))))
        )
    ]
    for el in doomed:
        el.drop_tree()
    return copy


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 (or RFC 2822) timestamp to aware UTC; naive times are read as UTC, dates as midnight."""
    value = value.strip()
    if not value or len(value) > 64:
        return None
    if _SLASHED.match(value):
        value = value[:10].replace("/", "-") + value[10:]
    if _ISO_LIKE.match(value):
        value = _FRACTION.sub(lambda m: m.group(1)[:7].replace(",", "."), value, count=1)
        if value.endswith(("UTC", "GMT")):
            value = value[:-3].rstrip() + "+00:00"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _plausible(value: datetime) -> bool:
    return _EARLIEST <= value <= datetime.now(UTC) + timedelta(days=1)


def _meta_candidates(tree: HtmlElement) -> Iterator[str]:
    by_key: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        content = meta.get("content")
        if key in _PUBLISHED_META and content and key not in by_key:
            by_key[key] = content
    for key in _PUBLISHED_META:
        if key in by_key:
            yield by_key[key]


def _jsonld_candidates(tree: HtmlElement) -> Iterator[str]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        yield from _jsonld_dates(data, depth=0)


def _jsonld_dates(data: object, depth: int) -> Iterator[str]:
    # Only the page's own item: an article's "datePublished", not that of a video or a review it embeds,
    # which sit deeper; @graph lists hold the page's items side by side.
    if depth > _JSONLD_MAX_DEPTH:
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
        main = data.get("mainEntity") or data.get("mainEntityOfPage")
        if isinstance(main, dict | list):
            yield from _jsonld_dates(main, depth + 1)


def _time_candidates(tree: HtmlElement) -> Iterator[str]:
    for time in tree.iter("time"):
        value = time.get("datetime")
        if not value:
            continue
        itemprop = (time.get("itemprop") or "").lower()
        if itemprop == "datepublished" or time.get("pubdate") is not None:
            yield value
            continue
        if itemprop:
            continue  # dateModified and kin
        # A <time> styled as the publication date, by its own class or its parent's. WordPress marks a
        # never-edited post "published updated": "publish" on the element itself settles it.
        own = time.get("class") or ""
        classes = f"{own} {_parent_class(time) or ''}"
        if "publish" in own.lower() or (_PUBLISHED_CLASS.search(classes) and not _NOT_PUBLISHED.search(classes)):
            yield value


def _parent_class(el: HtmlElement) -> str | None:
    parent = el.getparent()
    return parent.get("class") if parent is not None else None
