"""Turn one fetched article page into clean text and metadata (trafilatura plus our own boilerplate removal).

The steps: decode (`extractors.encoding`), parse, read the metadata from the whole page (title, author,
site name, description, canonical URL, declared language, publication date from `extractors.dates`),
prune boilerplate (`extractors.boilerplate`), extract the text with fallbacks (`extractors.fallback`),
then judge it: language detected from the text (`extractors.language`), word count, and whether it
looks cut short (a paywall or teaser).

Limits: a page over `max_chars` characters is refused before it is parsed, and with ``timeout`` an
extraction that runs longer is stopped (see `run_with_timeout` for how, and what it cannot stop).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import htmldate
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_sitename, extract_title

from extractors.boilerplate import normalize_space, prune_tree
from extractors.dates import find_published, parse_timestamp
from extractors.encoding import decode_html
from extractors.fallback import SUMMARY_SHARE, TRAFILATURA, extract_text
from extractors.language import choose_language
from extractors.models import ExtractedArticle
from extractors.urls import normalize_url
from presswatch.errors import ExtractionError

__all__ = ["extract_article", "parse_timestamp", "decode_html", "canonical_url", "page_language", "count_words"]

EXTRACTOR_NAME = TRAFILATURA
# Bump when a change to presswatch's own rules may change extracted text or metadata.
RULES_VERSION = "2"
EXTRACTOR_VERSION = f"presswatch-extract {RULES_VERSION}; {TRAFILATURA}; htmldate {htmldate.__version__}"
# Below this many characters of article text the page is treated as having no article.
MIN_TEXT_CHARS = 100
# Larger than any article page (the fetcher's byte cap is 10 MB); a larger page is refused unparsed.
DEFAULT_MAX_CHARS = 10_000_000
# A page declared paywalled whose text is shorter than this is a teaser.
_PAYWALL_TEASER_CHARS = 1500

# trafilatura and htmldate log every discarded page at WARNING/ERROR; a failed page is reported to the
# caller through ExtractionError instead, so keep their loggers from flooding the run's output.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_LANG_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_WORD = re.compile(r"\w+")
# What a paywall or a teaser leaves at the end of the text it lets through.
_CUT_MARKER = re.compile(
    r"(?:subscribe|sign up|register|log ?in|sign in|join|become an? (?:member|subscriber)|start your"
    r"(?: free)? trial)\b.{0,60}\b(?:to (?:continue|keep) reading|to read (?:the|this|more|on|full|the full"
    r"|the rest)|for (?:full|unlimited|complete) access|to unlock|to access (?:this|the full))"
    r"|\b(?:to continue reading|continue reading (?:with|your article)|read the (?:full|rest of the) (?:story"
    r"|article)|the rest of this (?:story|article)|this (?:article|story|content) is (?:for|only available to"
    r"|reserved for|exclusive to|available to) (?:paying |our )?(?:subscribers|members|premium)"
    r"|(?:for )?subscribers only|already a (?:subscriber|member)\b)"
    r"|weiterlesen mit|jetzt (?:abonnieren|weiterlesen)|abonnez-vous pour (?:lire|continuer)|la suite est réservée"
    r"|(?:para )?(?:seguir|continuar) leyendo|suscríbete para|订阅后阅读|登录后阅读|付费阅读|阅读全文|剩余\d+%",
    re.IGNORECASE,
)
_CUT_TAIL_LINES = 3
_INERT_TAGS = ("style", "svg", "template", "iframe", "noscript", "link", "meta")
_CUT_NOTICE_MAX = 300
_PARAGRAPH_CHARS = 150

T = TypeVar("T")


def extract_article(
    html: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    feed_summary: str | None = None,
    timeout: float | None = None,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> ExtractedArticle:
    """Extract an article's main text and metadata from a page; raises ExtractionError when there is none."""
    if max_chars is not None:
        # Bytes are at least as many as the characters they decode to, at most four times as many.
        size = len(html)
        if size > max_chars * (4 if isinstance(html, bytes | bytearray | memoryview) else 1):
            raise ExtractionError(f"page too large: {size:,} bytes (limit {max_chars:,} characters)")

    def run() -> ExtractedArticle:
        return _extract(html, url, content_type, feed_summary, max_chars)

    return run() if timeout is None else run_with_timeout(run, timeout)


def _extract(
    html: bytes | str, url: str, content_type: str | None, feed_summary: str | None, max_chars: int | None
) -> ExtractedArticle:
    url = normalize_url(url)
    text_html = decode_html(html, content_type)
    if max_chars is not None and len(text_html) > max_chars:
        raise ExtractionError(f"page too large: {len(text_html):,} characters (limit {max_chars:,})")
    try:
        tree = trafilatura.load_html(text_html)
    except Exception as err:  # lxml raises a handful of unrelated classes on hostile input
        raise ExtractionError(f"not HTML: the page could not be parsed ({type(err).__name__})") from err
    if tree is None or len(tree) == 0:
        raise ExtractionError("not HTML: no document structure could be parsed")
    try:
        return _extract_from_tree(tree, url, feed_summary)
    except ExtractionError:
        raise
    except Exception as err:  # third-party code must not crash the caller's loop (RecursionError included)
        raise ExtractionError(f"extraction failed: {type(err).__name__}: {err}") from err


def _extract_from_tree(tree: HtmlElement, url: str, feed_summary: str | None) -> ExtractedArticle:
    # Metadata is read from the whole page before pruning: bylines and dates may sit in pruned blocks.
    meta = _metadata(tree)
    published, date_source = find_published(tree)
    canonical = normalize_url(canonical_url(tree, url))
    declared_language = page_language(tree)
    paywalled = _declared_paywalled(tree)
    _drop_inert(tree)
    if not meta.author:
        meta.author = extract_author(tree)

    cut_notices: list[str] = []
    prune_tree(tree, on_remove=lambda el: _note_cut_notice(el, cut_notices))
    result = extract_text(tree, url, title=meta.title, feed_summary=feed_summary)
    text = result.text
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
        language=choose_language(declared_language, text),
        sitename=_clean(meta.sitename) or readable_host(canonical) or readable_host(url),
        description=_clean(meta.description),
        extractor=result.extractor,
        date_source=date_source,
        word_count=count_words(text),
        # A paywall notice among the paragraphs means the text stops there, unless a fallback found more.
        truncated=(bool(cut_notices) and result.extractor == EXTRACTOR_NAME)
        or looks_truncated(text, result.raw, feed_summary, paywalled=paywalled),
        extractor_version=EXTRACTOR_VERSION,
    )


def _metadata(tree: HtmlElement) -> trafilatura.settings.Document:
    # trafilatura's extract_metadata minus what presswatch does not store (categories, tags, licence, image)
    # and minus its date search, which `extractors.dates` does with stricter rules: half the time. The
    # author, when no <meta> or JSON-LD names one, is searched later in the page's markup.
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a handle or a URL, not a name
    # trafilatura's JSON-LD reader has failed on odd documents; the <meta> values then stand.
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    if not meta.title:
        meta.title = extract_title(tree)
    if not meta.sitename:
        meta.sitename = extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if "." not in meta.sitename and not meta.sitename[:1].isupper():
            meta.sitename = meta.sitename.title()
    return meta


def _drop_inert(tree: HtmlElement) -> None:
    # Scripts, styles, SVG drawings and head links are a fifth of a typical page's elements and never
    # article text; every later step walks the tree (trafilatura copies it twice), so they go once their
    # metadata has been read. JSON scripts stay: the fallback extractor reads articleBody from JSON-LD.
    etree.strip_elements(tree, *_INERT_TAGS, with_tail=False)
    for script in [s for s in tree.iter("script") if "json" not in (s.get("type") or "").lower()]:
        script.drop_tree()


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = normalize_space(value)
    return value or None


# ---------------------------------------------------------------------------------------------------------------
# Quality flags


def count_words(text: str) -> int:
    """Words in a text: runs of letters and digits, each CJK character counting as one word."""
    cjk = len(_CJK_CHAR.findall(text))
    rest = _CJK_CHAR.sub(" ", text) if cjk else text
    return cjk + len(_WORD.findall(rest))


def looks_truncated(text: str, raw: str = "", feed_summary: str | None = None, *, paywalled: bool = False) -> bool:
    """Whether the text looks cut: a paywall marker at its end, much shorter than the feed summary, a paywall teaser."""
    tail = [line for line in (raw or text).splitlines() if line.strip()][-_CUT_TAIL_LINES:]
    if any(_CUT_MARKER.search(line) for line in tail):
        return True
    lines = text.splitlines()
    if lines and _CUT_MARKER.search(lines[-1]):
        return True
    if feed_summary and len(text) < SUMMARY_SHARE * len(normalize_space(feed_summary)):
        return True
    return paywalled and len(text) < _PAYWALL_TEASER_CHARS


def _note_cut_notice(el: HtmlElement, found: list[str]) -> None:
    # A paywall notice removed as boilerplate still says the story is cut, when it sat among the story's
    # paragraphs (the same notice in a site-wide banner says nothing about this story).
    text = normalize_space(el.text_content())
    if len(text) > _CUT_NOTICE_MAX or not _CUT_MARKER.search(text):
        return
    parent = el.getparent()
    if parent is not None and any(p is not el and len(p.text_content()) > _PARAGRAPH_CHARS for p in parent.iter("p")):
        found.append(text)


def _declared_paywalled(tree: HtmlElement) -> bool:
    # schema.org's paywall markup: "isAccessibleForFree": false on the page's article.
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        if "isAccessibleForFree" not in script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and str(item.get("isAccessibleForFree", "")).strip().lower() == "false":
                return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Time limit


class _Timeout(BaseException):
    """Raised inside the extracting thread when its time is up (a BaseException: no `except Exception` eats it)."""


def run_with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """Run fn in this thread; if it takes longer than `seconds`, stop it with ExtractionError.

    A watchdog timer thread raises an exception asynchronously in the calling thread when time is up
    (CPython's PyThreadState_SetAsyncExc). This works in any thread, unlike signal.setitimer (main thread
    only), so it works inside a Prefect task on a worker thread or in a process-pool worker, and costs
    nothing while the work runs. The exception lands between two Python bytecodes: a single long call
    into C (lxml parsing one huge document) finishes first, which is why oversized pages are refused
    before parsing.
    """
    if seconds <= 0:
        raise ValueError("timeout must be positive")
    watchdog = _Watchdog(threading.get_ident(), seconds)
    try:
        try:
            watchdog.start()
            return fn()
        finally:
            watchdog.disarm()
    except _Timeout:
        raise ExtractionError(f"extraction took longer than {seconds:g} s") from None


class _Watchdog:
    def __init__(self, thread_id: int, seconds: float) -> None:
        self._thread_id = thread_id
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._armed:
                self._fired = True
                _async_raise(self._thread_id, _Timeout)

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
            fired = self._fired
        self._timer.cancel()
        if fired:
            # The exception may still be pending (not yet delivered): withdraw it and raise it here, so
            # it can never surface later in the caller's code.
            _async_raise(self._thread_id, None)
            raise _Timeout


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


# ---------------------------------------------------------------------------------------------------------------
# Page metadata


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


def published_from_markup(tree: HtmlElement) -> datetime | None:
    """The publication time the page declares in JSON-LD, <meta> or <time> (no htmldate search), as UTC."""
    return find_published(tree, search_markup=False)[0]
