"""Boilerplate that news sites leave inside the article container, removed before and after trafilatura.

trafilatura drops most navigation by markup (classes, ids, tags), but keeps boilerplate that sits in
plain ``<div>``/``<p>`` elements next to the article's paragraphs: photo credits, ad labels,
newsletter boxes and their consent lines, "Related stories" headings, share rows, copyright lines.
These are recognised here by their *text*, which is what news sites share, never by one site's markup:

- `prune_tree` removes, from a parsed page, the smallest short element whose whole text is such a
  line (plus the list that follows a "Related"/"Read more"/"Tags" heading, or the links sharing its
  paragraph), newsletter boxes built around an e-mail field, lists made only of short links,
  paragraphs that are one short link, and teaser cards (a headline that is a link, with its blurb);
- `clean_lines` filters trafilatura's text line by line with the same rules, drops a first line that
  repeats the headline and trims author bios and other boilerplate off the end.

The text rules themselves live in `extractors.boilerplate_rules`. Every rule is capped to short text,
so a real paragraph that merely mentions a word such as "subscribe" or "cookies" is never removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lxml import etree
from lxml.html import HtmlElement

from extractors.boilerplate_rules import MAX_BLOCK_CHARS, classify, is_bio, may_be_boilerplate, normalize_space

__all__ = ["MAX_BLOCK_CHARS", "classify", "clean_lines", "is_bio", "normalize_space", "prune_tree"]

# Text inside these elements is never article text and never worth examining.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "title"})
_RELATED_CONTAINER_MAX = 3000
_LINK_PARAGRAPH_MAX = 150
_TEASER_MAX = 300
_BOX_STOP_TAGS = frozenset({"article", "main", "body", "html"})
_INLINE_TAGS = frozenset(
    {"a", "span", "b", "strong", "em", "i", "u", "small", "abbr", "cite", "mark", "sub", "sup", "time", "font"}
    | {"q", "s"}
)
_LIST_TAGS = ("ul", "ol")
_TEXT_NODES = etree.XPath(".//text()[normalize-space()]")
_ONE_LINK_PARAGRAPHS = etree.XPath(".//p[count(.//a) = 1]")
_HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6")

# ---------------------------------------------------------------------------------------------------------------
# Tree pruning


# Caches are keyed by id() and hold the element itself: lxml makes Python proxies on demand and frees
# them when unreferenced, so an id is only stable while its proxy is kept alive.
_Cache = dict[int, tuple[HtmlElement, str]]
# No caller needs to know more about a long text than that it is longer than this.
_TEXT_CAP = 3000


def _text_of(el: HtmlElement, cache: _Cache) -> str:
    # The element's text, whitespace collapsed; a long text is only collapsed far enough to show it
    # exceeds _TEXT_CAP, which is all any caller asks of it.
    found = cache.get(id(el))
    if found is not None:
        return found[1]
    raw = el.text_content()
    text = normalize_space(raw[: _TEXT_CAP * 4])
    if len(text) <= _TEXT_CAP and len(raw) > _TEXT_CAP * 4:
        text = normalize_space(raw)
    cache[id(el)] = (el, text)
    return text


def _candidate_owners(root: HtmlElement) -> Iterator[HtmlElement]:
    # The element owning each non-blank text node that may be boilerplate (a tail belongs to the parent of its
    # element). XPath finds them in C: walking every element from Python costs a proxy object per element.
    # Three text nodes in four fail the cheap text test, so it runs before their owners are looked up.
    for fragment in _TEXT_NODES(root):
        if len(fragment) > MAX_BLOCK_CHARS * 2 or not may_be_boilerplate(fragment):
            continue
        el = fragment.getparent()
        if el is None:
            continue
        if fragment.is_tail:
            owner = el.getparent()
            if owner is not None:
                yield owner
        elif el.tag not in _SKIP_TAGS:
            yield el


def _link_chars(el: HtmlElement) -> int:
    return sum(len(normalize_space(a.text_content())) for a in el.iter("a"))


def _is_link_dense(el: HtmlElement, threshold: float = 0.6) -> bool:
    text = normalize_space(el.text_content())
    if not text:
        return False
    return _link_chars(el) >= threshold * len(text)


def _widest_same_text(el: HtmlElement, text: str, cache: _Cache) -> HtmlElement:
    # Climb through wrappers that add no text (<h3><span>Related</span></h3>), so no empty shell is left.
    while True:
        parent = el.getparent()
        if parent is None or parent.tag in _BOX_STOP_TAGS or _text_of(parent, cache) != text:
            return el
        el = parent


def _related_targets(heading: HtmlElement, cache: _Cache) -> list[HtmlElement]:
    # A "Related stories" heading takes its box with it when the box is otherwise links,
    # else the link lists that follow it.
    parent = heading.getparent()
    if parent is not None and parent.tag not in _BOX_STOP_TAGS:
        parent_text = _text_of(parent, cache)
        rest = len(parent_text) - len(_text_of(heading, cache))
        if rest > 0 and len(parent_text) <= _RELATED_CONTAINER_MAX and _link_chars(parent) >= 0.6 * rest:
            return [parent]
    targets = [heading]
    sibling = heading.getnext()
    while sibling is not None:
        if isinstance(sibling.tag, str):
            sibling_text = _text_of(sibling, cache)
            if sibling_text and not _is_link_dense(sibling):
                break
            targets.append(sibling)
        sibling = sibling.getnext()
    return targets


def _email_boxes(root: HtmlElement, cache: _Cache) -> list[HtmlElement]:
    # A newsletter box is a small container built around an e-mail field: take the widest one still short.
    boxes: list[HtmlElement] = []
    for field in root.iter("input"):
        kind = (field.get("type") or "").lower()
        hints = " ".join(field.get(a) or "" for a in ("name", "id", "placeholder", "aria-label")).lower()
        if kind != "email" and not (kind in ("", "text") and ("email" in hints or "e-mail" in hints)):
            continue
        box: HtmlElement | None = None
        el = field.getparent()
        while el is not None and el.tag not in _BOX_STOP_TAGS:
            text = _text_of(el, cache)
            if len(text) > MAX_BLOCK_CHARS or _has_long_paragraph(el, cache):
                break
            box = el
            el = el.getparent()
        if box is not None:
            boxes.append(box)
    return boxes


def _has_long_paragraph(el: HtmlElement, cache: _Cache) -> bool:
    for p in el.iter("p"):
        text = _text_of(p, cache)
        if len(text) > 150 and classify(text) is None:
            return True
    return False


def _link_lists(root: HtmlElement, cache: _Cache) -> list[HtmlElement]:
    # Lists whose every item is one short link: teasers, tags, "more stories". Lists of sentences stay.
    found: list[HtmlElement] = []
    for tag in _LIST_TAGS:
        for lst in root.iter(tag):
            items = list(lst.iterchildren("li"))
            if len(items) < 2:
                continue
            if all(_is_link_item(li, cache) for li in items):
                found.append(lst)
    return found


def _is_link_item(li: HtmlElement, cache: _Cache) -> bool:
    text = _text_of(li, cache)
    if not text:
        return True
    if len(text) > 160:
        return False
    if len(li) == 1:
        # <li><a>Story</a></li>, the usual item: the link's text is the item's text, no need to count it.
        link = li[0]
        if link.tag == "a" and not (li.text or "").strip() and not (link.tail or "").strip():
            return True
    return _link_chars(li) >= 0.8 * len(text)


def _links_after_heading(block: HtmlElement, heading: str, cache: _Cache) -> bool:
    text = _text_of(block, cache)
    rest = len(text) - len(heading)
    return rest > 0 and len(text) <= _RELATED_CONTAINER_MAX and _link_chars(block) >= 0.6 * rest


def _linked_headings(root: HtmlElement, cache: _Cache) -> list[HtmlElement]:
    # A heading that is all link (or sits inside one) is another story's teaser headline.
    found: list[HtmlElement] = []
    # iterdescendants() filters by tag in C; an XPath with a predicate tests every element of the page.
    for heading in root.iterdescendants(*_HEADING_TAGS):
        below = list(heading.iter("a"))
        inside = list(heading.iterancestors("a"))
        if not below and not inside:
            continue
        text = _text_of(heading, cache)
        if not text or len(text) > _LINK_PARAGRAPH_MAX:
            continue
        links = below or inside
        if all((a.get("href") or "#").startswith("#") for a in links):
            continue  # a section heading that links to itself
        if inside or _link_chars(heading) >= 0.9 * len(text):
            found.append(_teaser_card(heading, cache))
    return found


def _teaser_card(heading: HtmlElement, cache: _Cache) -> HtmlElement:
    # The headline takes its card with it (the blurb and byline under it), as far as the card stays short.
    card = heading
    parent = heading.getparent()
    while parent is not None and parent.tag not in _BOX_STOP_TAGS and len(_text_of(parent, cache)) <= _TEASER_MAX:
        card, parent = parent, parent.getparent()
    return card


def _link_paragraphs(root: HtmlElement, cache: _Cache) -> list[HtmlElement]:
    # A paragraph that is nothing but one short link is a teaser for another page, not part of the story.
    found: list[HtmlElement] = []
    for para in _ONE_LINK_PARAGRAPHS(root):
        text = _text_of(para, cache)
        if text and len(text) <= _LINK_PARAGRAPH_MAX and _link_chars(para) >= 0.9 * len(text):
            found.append(para)
    return found


def prune_tree(root: HtmlElement, on_remove: Callable[[HtmlElement], None] | None = None) -> int:
    """Remove boilerplate elements from a parsed page in place; returns how many subtrees were removed.

    `on_remove` sees each element just before it is removed (still in the tree), for callers that want
    to know what was there (a paywall notice says the story is cut).
    """
    cache: _Cache = {}
    doomed: dict[int, HtmlElement] = {}
    examined: dict[int, HtmlElement] = {}  # holds the proxies so their ids stay unique
    kinds: dict[str, str | None] = {}  # wrappers repeat their child's text: classify each text once
    for owner in _candidate_owners(root):
        el: HtmlElement | None = owner
        while el is not None and el.tag not in _BOX_STOP_TAGS:
            if id(el) in examined:
                break  # already judged on behalf of an earlier text node
            examined[id(el)] = el
            text = _text_of(el, cache)
            if len(text) > MAX_BLOCK_CHARS:
                break
            if text in kinds:
                kind = kinds[text]
            else:
                kind = kinds[text] = classify(text)
            if kind is not None:
                widest = _widest_same_text(el, text, cache)
                parent = widest.getparent()
                if widest.tag in _INLINE_TAGS and parent is not None and parent.tag not in _BOX_STOP_TAGS:
                    if kind == "related" and _links_after_heading(parent, text, cache):
                        # <p><b>Don't miss</b><br><a>Story</a><br><a>Story</a></p>: a related box in one block.
                        doomed[id(parent)] = parent
                        break
                    # A link or span inside running text ("follow us on <a>Facebook</a>") belongs to its
                    # sentence: only the enclosing block as a whole may be judged boilerplate.
                    el = parent
                    continue
                targets = _related_targets(widest, cache) if kind in ("related", "tags") else [widest]
                for target in targets:
                    doomed[id(target)] = target
                break
            el = el.getparent()
    for box in _email_boxes(root, cache):
        doomed[id(box)] = box
    for lst in _link_lists(root, cache):
        doomed[id(lst)] = lst
    for para in _link_paragraphs(root, cache):
        doomed[id(para)] = para
    for heading in _linked_headings(root, cache):
        doomed[id(heading)] = heading
    removed = 0
    for el in doomed.values():
        if el.getparent() is not None and not _has_doomed_ancestor(el, doomed):
            if on_remove is not None:
                on_remove(el)
            el.drop_tree()  # keeps the tail text, which belongs to the surrounding content
            removed += 1
    return removed


def _has_doomed_ancestor(el: HtmlElement, doomed: dict[int, HtmlElement]) -> bool:
    parent = el.getparent()
    while parent is not None:
        if id(parent) in doomed:
            return True
        parent = parent.getparent()
    return False


# ---------------------------------------------------------------------------------------------------------------
# Line filtering


def clean_lines(text: str, title: str | None = None) -> str:
    """Filter extracted text line by line: boilerplate lines out, a repeated headline and trailing bios off."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and title and normalize_space(lines[0]).casefold() == normalize_space(title).casefold():
        lines = lines[1:]
    kept = [line for line in lines if classify(normalize_space(line)) is None]
    while kept and (is_bio(normalize_space(kept[-1])) or classify(normalize_space(kept[-1])) is not None):
        kept.pop()
    return "\n".join(kept)
