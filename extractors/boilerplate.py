"""Boilerplate that news sites leave inside the article container, removed before and after trafilatura.

trafilatura drops most navigation by markup (classes, ids, tags), but keeps boilerplate that sits in
plain ``<div>``/``<p>`` elements next to the article's paragraphs: photo credits, ad labels,
newsletter boxes and their consent lines, "Related stories" headings, share rows, copyright lines.
These are recognised here by their *text*, which is what news sites share, never by one site's markup:

- `prune_tree` removes, from a parsed page, the smallest short element whose whole text is such a
  line (plus the list that follows a "Related"/"Read more" heading, newsletter boxes built around an
  e-mail field, and lists made only of short links);
- `clean_lines` filters trafilatura's text line by line with the same rules, drops a first line that
  repeats the headline and trims author bios and other boilerplate off the end.

Every rule is capped to short text, so a real paragraph that merely mentions a word such as
"subscribe" or "cookies" is never removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.html import HtmlElement

# No block longer than this (in characters, whitespace collapsed) is ever treated as boilerplate.
MAX_BLOCK_CHARS = 400

_I = re.IGNORECASE

_LEAD = re.compile(r"[\W_]*")


def _words(text: str) -> tuple[str, ...]:
    # Word lists are written as one string: long vocabularies stay readable and diffable.
    return tuple(text.split("|"))


# Rules that match anywhere in a line rather than at its start, by their telltale words.
_ANYWHERE = _words("newsletter|cookie|privacy|terms|rights reserved|©|inbox|enter your e|comment|/")
# Text inside these elements is never article text and never worth examining.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "title"})

_LABEL = re.compile(
    r"[\W_]*(?:advertisements?|advertising|advert|ads?|anzeige|publicité|publicidad"
    r"|sponsored(?: (?:content|post|story|links?|by [^.]{1,40}))?|paid (?:content|post|partnership|promotion)"
    r"|partner content|official partner|in partnership with [^.]{1,40}|promoted(?: (?:content|stories|links))?"
    r"|presented by [^.]{1,40}|(?:supported|powered) by [^.]{1,40}"
    r"|(?:the )?(?:story|article|content|text) continues (?:below|after)(?: (?:this |the )?(?:advertisement|ad))?"
    r"|continue reading(?: (?:below|the main story|after (?:the )?ad(?:vertisement)?))?"
    r"|scroll (?:down )?to continue(?: (?:with|reading) (?:the )?(?:content|article))?"
    r"|skip (?:advertisement|ad)|advertisement\W+scroll to continue(?: with content)?)[\W_]*",
    _I,
)

_CREDIT = (
    re.compile(
        r"^[(\[]?\s*(?:photos?|photograph(?:y|s)?|images?|pictures?|pics?|illustrations?|graphics?|videos?|footage"
        r"|credits?)(?:\s+(?:credits?|courtesy|source|by))?\s*[:|]",
        _I,
    ),
    re.compile(
        r"^[(\[]?\s*(?:photos?|photograph|images?|pictures?|illustrations?|videos?)\s+"
        r"(?:by|courtesy(?:\s+of)?|via)\s+\S",
        _I,
    ),
    re.compile(
        r"/\s*(?:getty\s*images?|afp|reuters|ap|ap photo|shutterstock|istock(?:photo)?|alamy|epa|efe|sipa(?: usa)?"
        r"|bloomberg|xinhua|dpa|anadolu|nurphoto|zuma(?: press| wire)?|visual china group|imago|pa(?: images)?"
        r"|the associated press|corbis|agencies)\s*[)\]]?\.?$",
        _I,
    ),
)

_NEWSLETTER = (
    re.compile(
        r"^(?:sign(?:ing)? up|subscribe|register|join|enter your e-?mail)\b.*"
        r"\b(?:newsletters?|e-?mails?|inbox|updates|alerts|briefings?|digest|bulletin)\b",
        _I,
    ),
    re.compile(r"^get\b.*\b(?:newsletters?|inbox|briefings?|digest|bulletin)\b", _I),
    re.compile(r"^(?:keep|stay)\s+(?:up[\s-]to[\s-]date|updated|informed|in the loop|in the know|connected)\b", _I),
    re.compile(r"^(?:thank you|thanks) for (?:subscribing|signing up|registering|your interest)", _I),
    re.compile(r"^already (?:a subscriber|subscribed|have an account|registered)\b", _I),
    re.compile(
        r"^(?:subscribe|sign up|register|log ?in|sign in)(?: now| today)? (?:to|for) (?:continue|read|unlock"
        r"|get|access|receive|our|the|free|unlimited|more)\b",
        _I,
    ),
    re.compile(r"\benter your e-?mail\b|\bdelivered (?:straight |directly )?to your inbox\b", _I),
    re.compile(
        r"(?:your )?e-?mail(?: address)?\s*\*?:?|(?:subscribe|sign up|sign in|log ?in|register|submit"
        r"|join now|get started)(?: now| today| for free)?[.!]?",
        _I,
    ),
)

_CONSENT_START = re.compile(
    r"^by (?:pressing|clicking|tapping|signing up|subscribing|submitting|entering|registering|providing"
    r"|continuing|creating|selecting|checking|using)\b",
    _I,
)
_CONSENT_TERMS = re.compile(
    r"\b(?:privacy|terms|agree\w*|consent\w*|confirm\w*|accept\w*|polic(?:y|ies)|recaptcha)\b", _I
)
_POLICY = re.compile(
    r"\b(?:privacy (?:policy|notice|statement)|terms (?:of (?:use|service)|and conditions|& conditions)"
    r"|cookie (?:policy|notice))\b",
    _I,
)
# A form's consent sentence speaks as the site ("our Privacy Policy") to the reader ("you agree").
_AGREEMENT = re.compile(r"\b(?:you|i)\b.*\b(?:agree\w*|consent\w*|confirm\w*|acknowledge\w*|accept\w*)\b", _I)
_OUR_POLICY = re.compile(r"\bour (?:updated )?(?:privacy|terms|cookie|user agreement)", _I)

_COOKIE_VOICE = re.compile(
    r"\b(?:we use|we and our|our partners|(?:this|our) (?:web)?site uses|uses cookies|by (?:continuing|using"
    r"|clicking|browsing)|you (?:can )?(?:accept|consent|agree|change|manage|reject)|manage (?:your )?(?:cookie )?"
    r"(?:preferences|settings|choices)|cookie (?:policy|settings|preferences|notice))\b",
    _I,
)
_CONSENT_BUTTON = re.compile(
    r"(?:accept|reject|allow|decline|deny|refuse)(?: all| necessary| essential)?(?: cookies)?"
    r"|manage (?:cookies|preferences|settings|options|choices)|cookie (?:settings|preferences)"
    r"|(?:i )?agree|ok(?:ay)?,? (?:got it|i agree)|got it|customi[sz]e(?: settings)?|save (?:and|&) (?:exit|close)",
    _I,
)

_SHARE_WORDS = frozenset(
    _words(
        "share|shares|sharing|shared|this|the|article|story|post|page|on|via|to|with|facebook|twitter|x|linkedin"
        "|email|e|mail|whatsapp|reddit|pinterest|telegram|print|copy|copied|link|url|tweet|flipboard|messenger"
        "|bluesky|threads|mastodon|save|saved|gift|pocket|tumblr|sms|weibo|wechat|vk|xing|bookmark"
    )
)
_SHARE_CORE = frozenset(
    _words("share|facebook|twitter|linkedin|whatsapp|reddit|pinterest|telegram|tweet|flipboard|messenger|bluesky")
    + _words("mastodon|email|print")
)
# Words a share row can start with (a row never starts with "on" or "the").
_SHARE_LEADS = _SHARE_CORE | frozenset(
    _words("x|copy|save|gift|pocket|bookmark|mail|tumblr|sms|weibo|wechat|vk|xing|threads|link")
)
_SHARE_LEADS_T = tuple(sorted(_SHARE_LEADS))
_SHARE_START = re.compile(r"^share (?:this|on|via|the|to|article|story|post|page)\b", _I)

_RELATED_HEADING = re.compile(
    r"[\W_]*(?:related(?: (?:stories|articles|news|content|coverage|posts|reading|topics|links|videos|items))?"
    r"|read (?:more|also|next)|also read|see also|more|also|more (?:stories|news|articles|coverage|to read|like this"
    r"|on (?:this|the) (?:topic|story)|from [^.]{1,40}|in [^.]{1,30})|most (?:read|popular|viewed|shared|watched"
    r"|commented)|trending(?: now| stories| news)?|recommended(?: for you| stories| reading| articles)?"
    r"|you (?:may|might) (?:also )?(?:like|enjoy|be interested in|have missed)|what to read next"
    r"|editor'?s?’?s? picks?|top stories|latest (?:news|stories|articles|headlines)|further reading|in other news"
    r"|don[’']?t miss|popular (?:now|stories|articles)|up next)[\W_]*",
    _I,
)
_INLINE_LINK_LABEL = re.compile(
    r"^[\W_]*(?:read more|read also|also read|see also|see more|related(?: (?:post|story|article|content|video)s?)?"
    r"|read next|recommended|more on this|watch|listen|read)\s*[:|»›>→]\s*\S",
    _I,
)
_COMMENTS_HEADING = re.compile(
    r"(?:\d+\s+)?comments?(?:\s*\(\d+\))?|(?:leave|post|add|write) a (?:comment|reply)"
    r"|join the (?:conversation|discussion|debate)|(?:show|view|load(?: more)?|hide) comments"
    r"|comments are closed|be the first to comment|what do you think\??|have your say",
    _I,
)
_COPYRIGHT = re.compile(r"^(?:©|\(c\)\s|copyright\b)|\ball rights reserved\b", _I)
_TAGS = re.compile(r"^(?:tags?|topics?|filed under|categories|category|keywords)\s*:", _I)
_BIO = (
    re.compile(
        r"^(?:about the (?:authors?|writer|reporter)|author bio|follow (?:him|her|them|me|us|the author)"
        r" on\b|contact (?:the )?(?:author|reporter|writer)\b|(?:you can )?(?:email|reach|contact)"
        r" (?:him|her|them|the author) (?:at|on|via)\b|follow\b.{0,80}\bon (?:facebook|twitter|instagram|x"
        r"|linkedin|tiktok|youtube|threads|bluesky)\b)",
        _I,
    ),
    re.compile(
        r"^(?:[A-Z][\w.’'-]+ ){1,3}[A-Z][\w.’'-]+ is an? (?:[\w’'-]+ ){0,5}(?:reporter|correspondent|journalist"
        r"|writer|editor|columnist|contributor|producer|analyst|critic|photographer|freelancer)\b"
    ),
)

_WORD = re.compile(r"[^\W\d_]+|\d+")
_RELATED_CONTAINER_MAX = 3000
_BOX_STOP_TAGS = frozenset({"article", "main", "body", "html"})
_INLINE_TAGS = frozenset(_words("a|span|b|strong|em|i|u|small|abbr|cite|mark|sub|sup|time|font|q|s"))
_LIST_TAGS = ("ul", "ol")


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split())


# How each rule's text can start (lowercase, after leading punctuation): plain string tests that let most
# text skip the rule's regex.
_LABEL_START = _words(
    "ad|anzeige|publicit|sponsor|paid|partner|official|in partnership|promoted|presented|supported|powered|story"
    "|article|content|text|the |continue|scroll|skip"
)
_RELATED_START = _words(
    "related|read|also|see also|more|most|trending|recommended|you may|you might|what to read|editor|top stories"
    "|latest|further|in other|don|popular|up next"
)
_INLINE_START = _words("read|also read|see|related|recommended|more on this|watch|listen")
_COMMENTS_START = _words(
    "0|1|2|3|4|5|6|7|8|9|comment|leave|post|add|write|join|show|view|load|hide|be the first|what do you|have your"
)
_CREDIT_START = _words("photo|image|picture|pic|illustration|graphic|video|footage|credit")
_NEWSLETTER_START = _words(
    "sign|subscribe|register|join|enter your|get|keep|stay|thank|already|log|your e|e-mail|email|submit"
)
_BUTTON_START = _words("accept|reject|allow|decline|deny|refuse|manage|cookie|i agree|agree|ok|got it|customi|save")
_TAGS_START = _words("tag|topic|filed under|categor|keyword")
_BIO_START = _words("about the|author|follow|contact|you can|email|reach")
_COPYRIGHT_START = _words("c)|copyright")
_PREFIXES = tuple(
    sorted(
        {
            *_LABEL_START,
            *_RELATED_START,
            *_INLINE_START,
            *_COMMENTS_START,
            *_CREDIT_START,
            *_NEWSLETTER_START,
            *_BUTTON_START,
            *_TAGS_START,
            *_BIO_START,
            *_COPYRIGHT_START,
            "by ",
            *_SHARE_LEADS,
        }
    )
)


def _may_be_boilerplate(text: str) -> bool:
    # Every rule in `classify` anchors at the start of the text (after punctuation) or needs one of the
    # _ANYWHERE strings, so plain string tests rule out most text nodes before any regex runs.
    low = text.lower()
    if low[_LEAD.match(low).end() :].startswith(_PREFIXES):  # type: ignore[union-attr]
        return True
    return any(word in low for word in _ANYWHERE)


def classify(text: str) -> str | None:
    """The kind of boilerplate a short line of text is ("credit", "newsletter", ...), or None for content."""
    n = len(text)
    if n == 0 or n > MAX_BLOCK_CHARS:
        return None
    low = text.lower()
    lead = low[_LEAD.match(low).end() :]  # type: ignore[union-attr]
    if n <= 80 and lead.startswith(_LABEL_START) and _LABEL.fullmatch(text):
        return "label"
    if n <= 80 and lead.startswith(_RELATED_START) and _RELATED_HEADING.fullmatch(text):
        return "related"
    if n <= 200 and lead.startswith(_INLINE_START) and _INLINE_LINK_LABEL.match(text):
        return "related-link"
    if n <= 60 and lead.startswith(_COMMENTS_START) and _COMMENTS_HEADING.fullmatch(text):
        return "comments"
    if n <= 200 and (
        (lead.startswith(_CREDIT_START) and (_CREDIT[0].search(text) or _CREDIT[1].search(text)))
        or ("/" in low and _CREDIT[2].search(text))
    ):
        return "credit"
    if n <= 200 and _is_newsletter(text, low, lead):
        return "newsletter"
    if lead.startswith("by ") and _CONSENT_START.match(text) and _CONSENT_TERMS.search(text):
        return "consent"
    if (
        ("privacy" in low or "terms" in low or "cookie" in low)
        and _POLICY.search(text)
        and ((_OUR_POLICY.search(text) and _AGREEMENT.search(text)) or _only_links_vocabulary(text))
    ):
        return "consent"
    if "cookie" in low and _COOKIE_VOICE.search(text):
        return "cookie"
    if n <= 40 and lead.startswith(_BUTTON_START) and _CONSENT_BUTTON.fullmatch(text):
        return "cookie"
    if n <= 100 and lead.startswith(_SHARE_LEADS_T) and (_SHARE_START.match(text) or _is_share_row(text)):
        return "share"
    if (
        n <= 200
        and ("©" in low or lead.startswith(_COPYRIGHT_START) or "rights reserved" in low)
        and (_COPYRIGHT.search(text))
    ):
        return "copyright"
    if n <= 200 and lead.startswith(_TAGS_START) and _TAGS.match(text):
        return "tags"
    if n <= 200 and lead.startswith(_BIO_START) and _BIO[0].match(text):
        return "bio"
    return None


def _is_newsletter(text: str, low: str, lead: str) -> bool:
    if lead.startswith(_NEWSLETTER_START) and any(
        p.fullmatch(text) if p is _NEWSLETTER[-1] else p.search(text) for p in _NEWSLETTER
    ):
        return True
    if ("enter your e" in low or "inbox" in low) and _NEWSLETTER[-2].search(text):
        return True
    return len(text) <= 80 and "newsletter" in low


def _is_share_row(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text) if not w.isdigit()]
    return bool(words) and all(w in _SHARE_WORDS for w in words) and any(w in _SHARE_CORE for w in words)


_FOOTER_WORDS = frozenset(
    _words(
        "privacy|policy|notice|statement|terms|of|use|service|and|conditions|cookie|cookies|contact|us|about"
        "|accessibility|sitemap|site|map|help|faq|imprint|impressum|legal|advertise|careers|do|not|sell|or|share|my"
        "|personal|information|your|choices"
    )
)


def _only_links_vocabulary(text: str) -> bool:
    # A row of footer links ("Privacy Policy | Terms of Use"), not a sentence about a privacy policy.
    words = [w.lower() for w in _WORD.findall(text)]
    return bool(words) and all(w in _FOOTER_WORDS for w in words)


def is_bio(text: str) -> bool:
    """Whether a line reads like an author bio or an author contact line."""
    return len(text) <= MAX_BLOCK_CHARS and any(p.match(text) for p in _BIO)


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


def _fragments(root: HtmlElement) -> Iterator[tuple[HtmlElement, str]]:
    # Each text node with the element that owns it (a tail belongs to the parent of its element).
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.text and el.tag not in _SKIP_TAGS and not el.text.isspace():
            yield el, el.text
        if el.tail and not el.tail.isspace():
            parent = el.getparent()
            if parent is not None:
                yield parent, el.tail


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
            items = [li for li in lst if isinstance(li.tag, str) and li.tag == "li"]
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
    return _link_chars(li) >= 0.8 * len(text)


def prune_tree(root: HtmlElement) -> int:
    """Remove boilerplate elements from a parsed page in place; returns how many subtrees were removed."""
    cache: _Cache = {}
    doomed: dict[int, HtmlElement] = {}
    examined: dict[int, HtmlElement] = {}  # holds the proxies so their ids stay unique
    for owner, fragment in _fragments(root):
        if len(fragment) > MAX_BLOCK_CHARS * 2 or not _may_be_boilerplate(fragment):
            continue
        el: HtmlElement | None = owner
        while el is not None and el.tag not in _BOX_STOP_TAGS:
            if id(el) in examined:
                break  # already judged on behalf of an earlier text node
            examined[id(el)] = el
            text = _text_of(el, cache)
            if len(text) > MAX_BLOCK_CHARS:
                break
            kind = classify(text)
            if kind is not None:
                widest = _widest_same_text(el, text, cache)
                parent = widest.getparent()
                if widest.tag in _INLINE_TAGS and parent is not None and parent.tag not in _BOX_STOP_TAGS:
                    # A link or span inside running text ("follow us on <a>Facebook</a>") belongs to its
                    # sentence: only the enclosing block as a whole may be judged boilerplate.
                    el = parent
                    continue
                targets = _related_targets(widest, cache) if kind == "related" else [widest]
                for target in targets:
                    doomed[id(target)] = target
                break
            el = el.getparent()
    for box in _email_boxes(root, cache):
        doomed[id(box)] = box
    for lst in _link_lists(root, cache):
        doomed[id(lst)] = lst
    removed = 0
    for el in doomed.values():
        if el.getparent() is not None and not _has_doomed_ancestor(el, doomed):
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
