"""The article text of a pruned page: trafilatura in precision mode, and what to do when that finds too little.

1. trafilatura, favouring precision, without its slow comparison against external algorithms: this
   is the text of nearly every page, and the fastest configuration that keeps recall.
2. When that text is short (under `SHORT_TEXT_CHARS`, or well under the feed's own summary), the page
   may be laid out in a way the precision rules miss: trafilatura is run again favouring recall, and its
   text is taken when it is at least `RECALL_GAIN` times longer (a longer text that is only a little
   longer is usually the same article plus boilerplate).
3. When the text is still too short (under `FALLBACK_CHARS`, or well under the feed summary), a second,
   simpler extractor runs: trafilatura's `baseline` (embedded JSON-LD ``articleBody``, ``<article>``,
   then paragraphs). readability-lxml is not installed here, so it is not among the candidates.

Every stage's text goes through the same line filter, and the result says which extractor produced it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from lxml.html import HtmlElement
from trafilatura.baseline import baseline

from extractors.boilerplate import clean_lines, normalize_space

TRAFILATURA = f"trafilatura {trafilatura.__version__}"
RECALL = f"{TRAFILATURA} (recall)"
BASELINE = f"fallback:baseline {TRAFILATURA}"

SHORT_TEXT_CHARS = 500
RECALL_GAIN = 2.0
FALLBACK_CHARS = 200
# A text under this share of the feed's summary is "much less than the summary".
SUMMARY_SHARE = 0.8
# How much more of the feed summary's words a longer text must contain to replace the one in hand.
_COVERAGE_GAIN = 0.2
_WORD = re.compile(r"\w+")
# A fallback text must read as prose: this many characters in lines of at least _PROSE_LINE characters.
_PROSE_LINE = 60


@dataclass(frozen=True)
class TextResult:
    """The article text, the extractor that produced it, and trafilatura's unfiltered text of the same run."""

    text: str
    extractor: str
    raw: str


def extract_text(
    tree: HtmlElement, url: str | None, *, title: str | None = None, feed_summary: str | None = None
) -> TextResult:
    """The article text of a pruned page, falling back to recall mode and then to a second extractor."""
    summary = normalize_space(feed_summary) if feed_summary else ""
    result = _trafilatura(tree, url, title, precision=True)
    if _short(result.text, SHORT_TEXT_CHARS, summary):
        recall = _trafilatura(tree, url, title, precision=False)
        if _better(recall, result, summary, gain=RECALL_GAIN):
            result = recall
    if _short(result.text, FALLBACK_CHARS, summary):
        fallback = _baseline(tree, title)
        if _reads_as_prose(fallback.text) and _better(fallback, result, summary, gain=1.0):
            result = fallback
    return result


def _short(text: str, floor: int, summary: str) -> bool:
    return len(text) < floor or len(text) < SUMMARY_SHARE * len(summary)


def _better(candidate: TextResult, current: TextResult, summary: str, *, gain: float) -> bool:
    if len(candidate.text) <= len(current.text):
        return False
    if summary and len(current.text) >= FALLBACK_CHARS:
        # There is a text already: a longer one must tell more of the story the feed describes, not
        # merely add the page's other blocks.
        return _coverage(candidate.text, summary) >= _coverage(current.text, summary) + _COVERAGE_GAIN
    return len(candidate.text) >= gain * max(len(current.text), 1)


def _coverage(text: str, summary: str) -> float:
    # The share of the summary's words (of 3 letters or more) that the text contains.
    wanted = {w for w in _WORD.findall(summary.lower()) if len(w) >= 3}
    if not wanted:
        return 0.0
    have = set(_WORD.findall(text.lower()))
    return len(wanted & have) / len(wanted)


def _trafilatura(tree: HtmlElement, url: str | None, title: str | None, *, precision: bool) -> TextResult:
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=True,  # skips the readability/jusText comparison: twice the speed, and no better here
        favor_precision=precision,
        favor_recall=not precision,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
    )
    raw = (document.text if isinstance(document, trafilatura.settings.Document) else None) or ""
    return TextResult(clean_lines(raw, title=title), TRAFILATURA if precision else RECALL, raw)


def _baseline(tree: HtmlElement, title: str | None) -> TextResult:
    _, raw, _ = baseline(tree)
    return TextResult(clean_lines(raw or "", title=title), BASELINE, raw or "")


def _reads_as_prose(text: str) -> bool:
    # baseline ends with the text of the whole page body: a menu or a list of links is not an article.
    return sum(len(line) for line in text.splitlines() if len(line) >= _PROSE_LINE) >= FALLBACK_CHARS // 2
