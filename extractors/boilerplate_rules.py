"""What boilerplate lines say: the text rules behind `extractors.boilerplate`, by kind of boilerplate.

`classify` names the kind of a short line or block ("credit", "newsletter", "related", "dateline", ...)
or returns None for content. Every rule is capped to short text, so a real paragraph that merely
mentions a word such as "subscribe" or "cookies" is never removed. Rules are written for what news
sites share, never for one site's markup; English first, with the common German, French, Spanish,
Portuguese and Chinese forms where they differ.
"""

from __future__ import annotations

import re

# No block longer than this (in characters, whitespace collapsed) is ever treated as boilerplate.
MAX_BLOCK_CHARS = 400

_I = re.IGNORECASE

_LEAD = re.compile(r"[\W_]*")


def _words(text: str) -> tuple[str, ...]:
    # Word lists are written as one string: long vocabularies stay readable and diffable.
    return tuple(text.split("|"))


# Rules that match anywhere in a line rather than at its start, by their telltale words.
_ANYWHERE = _words("newsletter|cookie|privacy|terms|rights reserved|©|inbox|enter your e|comment|/") + _words(
    "相关|相關|推荐|推薦|阅读|閱讀|热门|熱門|猜你|更多|大家都在|编辑|編輯|校对|校對|审核|審核|来源|來源|稿源|作者|记者|記者"
    "|通讯|通訊|图片|圖片|图源|圖源|摄影|攝影|原标题|原標題|时间|時間|日期|分享|扫码|掃碼|扫描|掃描|关注|關注|客户端|客戶端"
    "|版权|版權|未经|未經|转载|轉載|免责|免責|评论|評論|标签|標籤|关键词|關鍵詞|广告|廣告|推广|推廣"
)
# Substring tests beat one regex alternation several times over; the non-ASCII words can only occur in
# text that is not all ASCII, so most text skips them.
_ANYWHERE_ASCII = tuple(word for word in _ANYWHERE if word.isascii())
_ANYWHERE_OTHER_RE = re.compile("|".join(re.escape(word) for word in _ANYWHERE if not word.isascii()))

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
    r"|commented)(?: in [^.]{1,30})?|trending(?: now| stories| news)?"
    r"|recommended(?: for you| stories| reading| articles)?"
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

# Agency and desk credits at the foot of a wire story; "Source: Reuters" lines.
_DESK_CREDIT = re.compile(
    r"^[(\[]?\s*(?:(?:additional |with )?reporting by|(?:writing|editing|edited|compiled|produced) by|source\s*:)"
    r"|\bcontributed (?:reporting|to this (?:report|story|article))\b",
    _I,
)
_CREDIT_WORDS = frozenset(
    _words(
        "reporting|reported|by|additional|with|editing|edited|writing|written|compiled|produced|and|in|from|of|for"
        "|contributed|contributing|to|this|report|story|article|source|the|staff|writer|writers|reporter|reporters"
        "|correspondent|correspondents|s|a|an|news|agencies|agency|wire|wires"
    )
)
# How to reach the reporter: "Have a tip? ... may be reached at", "Write to ... at name@site".
_CONTACT = re.compile(
    r"^(?:have a (?:news )?tip\b|reach (?:the )?(?:reporters?|writers?|authors?)\b|write to \S.{0,60}@"
    r"|[\w.-]+@[\w-]+(?:\.[\w-]+)+$|(?:https?://)?(?:www\.)?(?:twitter|x|instagram|facebook)\.com/\w+/?$|@\w+$)"
    r"|\b(?:can|may) be (?:reached|contacted) at\b",
    _I,
)
_READING_TIME = re.compile(
    r"[\W_]*(?:(?:estimated )?reading time|tempo de leitura|tiempo de lectura|temps de lecture|lesezeit"
    r"|tempo di lettura)\s*:?\s*\d+\s*\w*\.?|\d+\s*(?:-|\s)?min(?:ute)?s?\.? read|text size",
    _I,
)
_PROMO = re.compile(
    r"\bclick here\b|^like this (?:story|article)\?|^also on [\w-]+\.\w+\b"
    r"|\bfor your personal,? non-?commercial use only\b|^order reprints?$",
    _I,
)
_PROMO_WORDS = re.compile(r"click here|like this|also on|commercial|reprint")
# A WordPress shortcode that was never rendered: [button link="..."]Label[/button].
_SHORTCODE = re.compile(r"^\[(\w+)\b[^\]]*\].*\[/\1\]$")
# A line that only dates the story: "Updated at 1:23 p.m.", "Tuesday, 19 November 2019 10:03 GMT".
_DATE_WORDS = frozenset(
    _words(
        "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august"
        "|september|october|november|december|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday"
        "|wednesday|thursday|friday|saturday|sunday|am|pm|a|m|p|gmt|utc|est|edt|cst|cdt|pst|pdt|bst|cet|cest|et|pt"
        "|updated|update|published|posted|last|modified|on|at|de|do|da|del|el|às|um|uhr|le|h|à|janeiro|fevereiro"
        "|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro|segunda|terça|quarta|quinta"
        "|sexta|feira|sábado|domingo|enero|febrero|marzo|mayo|junio|julio|septiembre|octubre|noviembre"
        "|diciembre|lunes|martes|miércoles|jueves|viernes|janvier|février|mars|avril|mai|juin|juillet|août"
        "|septembre|octobre|novembre|décembre|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|januar"
        "|februar|märz|juni|juli|oktober|dezember|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
        "|aktualisiert|veröffentlicht|publicado|atualizado|actualizado|publié|mis|jour"
    )
)
_CLOCK_OR_DATE = re.compile(r"\b\d{1,2}[:.h]\d{2}\b|\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b|\b(?:19|20)\d{2}\b")
_CALENDAR_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b|\b(?:19|20)\d{2}\b")
_DATED = re.compile(
    r"\b(?:updated|published|posted|modified|aktualisiert|veröffentlicht|publicado|atualizado|actualizado|publié"
    r"|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)|feira\b|[일월년]",
    _I,
)
# Chinese news furniture (simplified and traditional): related headings, editor and source lines, share
# rows, copyright notices, QR-code and app promotions, comment counters.
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ZH_RELATED = re.compile(
    r"[\W_]*(?:相[关關](?:新[闻聞]|[阅閱][读讀]|文章|[报報][道导導]|推[荐薦]|[链鏈]接|[专專][题題])|推[荐薦][阅閱][读讀]"
    r"|延伸[阅閱][读讀]|[热熱][门門](?:文章|新[闻聞]|推[荐薦]|排行)|猜你喜[欢歡]|更多(?:新[闻聞]|精彩|[阅閱][读讀]|推[荐薦])"
    r"|[热熱][点點]推[荐薦]|大家都在看)[\W_]*"
)
_ZH_CREDIT = re.compile(
    r"^[(\[（【]?\s*(?:[责責]任[编編][辑輯]|[责責][编編]|[编編][辑輯]|校[对對]|[审審]核|[来來]源|稿源|作者|[记記]者|通[讯訊]員?"
    r"|[图圖]片[来來]源|[图圖]源|[摄攝]影|原[标標][题題]|本文[来來]源|文章[来來]源|[发發][布佈][时時][间間]|更新[时時][间間]"
    r"|[时時][间間]|日期)\s*[：:]"
)
_ZH_PROMO = re.compile(
    r"分享[到至]|[扫掃][码碼][关關]注|[扫掃]描二[维維][码碼]|[关關]注(?:我[们們]|公[众眾][号號]|微信)|下[载載].{0,12}客[户戶]端"
    r"|版[权權]所有|版[权權][声聲]明|未[经經](?:授[权權]|[许許]可)|不得[转轉][载載]|[转轉][载載][请請]注明|免[责責][声聲]明"
    r"|[发發]表[评評][论論]|[网網]友[评評][论論]|我要[评評][论論]|[评評][论論][（(]\d+[)）]|^(?:[标標][签籤]|[关關][键鍵][词詞])\s*[：:]"
    r"|^(?:[广廣]告|推[广廣])$"
)
_ZH_DATELINE = re.compile(r"^\d{4}[-/年]\d{1,2}[-/月]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?")
_TAG_HEADING = re.compile(
    r"[\W_]*(?:tags?|topics?|categories|categorias|categorías|catégories|kategorien|etiquetas|temas|themen"
    r"|schlagwörter|keywords|mots-clés|标签|关键词|分类)[\W_]*",
    _I,
)

_WORD = re.compile(r"[^\W\d_]+|\d+")


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
# The prefixes by first character: one small tuple to try instead of all of them.
_PREFIXES_BY_CHAR: dict[str, tuple[str, ...]] = {
    char: tuple(p for p in _PREFIXES if p[0] == char) for char in {p[0] for p in _PREFIXES}
}


def may_be_boilerplate(text: str) -> bool:
    """A cheap test that rules out most text that no rule could match (a False is certain, a True is not)."""
    # Every rule in `classify` anchors at the start of the text (after punctuation) or needs one of the
    # _ANYWHERE strings, so plain string tests rule out most text nodes before any regex runs.
    low = text.lower()
    lead = low if low[:1].isalnum() else low[_LEAD.match(low).end() :]  # type: ignore[union-attr]
    prefixes = _PREFIXES_BY_CHAR.get(lead[:1])
    if prefixes is not None and lead.startswith(prefixes):
        return True
    for word in _ANYWHERE_ASCII:
        if word in low:
            return True
    return not low.isascii() and _ANYWHERE_OTHER_RE.search(low) is not None


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
    return _classify_more(text, n, low)


def _classify_more(text: str, n: int, low: str) -> str | None:
    # The rules added for lines that trafilatura keeps at the edges of the story.
    # Each regex runs only when the words it needs are there: most lines are judged by substring tests.
    if (
        n <= 300
        and ("by" in low or "source" in low or "contributed" in low)
        and _DESK_CREDIT.search(text)
        and _names_only(text)
    ):
        return "credit"
    if n <= 200 and ("@" in low or "tip" in low or "reach" in low or ".com/" in low) and _CONTACT.search(text):
        return "bio"
    if n <= 40 and _READING_TIME.fullmatch(text):
        return "label"
    if n <= 30 and _TAG_HEADING.fullmatch(text):
        return "tags"
    if n <= 300 and _PROMO_WORDS.search(low) and _PROMO.search(text) and (n <= 160 or "commercial" in low):
        return "promo"
    if n <= 300 and text.startswith("[") and _SHORTCODE.match(text):
        return "shortcode"
    if n <= 80 and _is_dateline(low):
        return "dateline"
    if n <= 150 and _HAN.search(text):
        return _classify_chinese(text, n)
    return None


def _classify_chinese(text: str, n: int) -> str | None:
    if n <= 30 and _ZH_RELATED.fullmatch(text):
        return "related"
    if n <= 80 and _ZH_CREDIT.match(text):
        return "credit"
    if _ZH_PROMO.search(text):
        return "promo"
    if n <= 60 and _ZH_DATELINE.match(text):
        return "dateline"
    return None


def _names_only(text: str) -> bool:
    # A desk credit is credit words and names: "Reporting by Jane Roe; Editing by Mark Poe". A sentence that
    # starts the same way ("Reporting by the local paper revealed...") goes on in lower case.
    words = [w for w in _WORD.findall(text) if w.lower() not in _CREDIT_WORDS and not w.isdigit()]
    return not words or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _is_dateline(low: str) -> bool:
    # A bare clock time ("4:14 p.m.") heads an entry of a live blog: only a date or a dating verb marks a dateline.
    if not _CLOCK_OR_DATE.search(low) or not (_DATED.search(low) or _CALENDAR_DATE.search(low)):
        return False
    words = _WORD.findall(low)
    dated = sum(1 for w in words if w.isdigit() or w in _DATE_WORDS)
    return dated >= 0.75 * len(words) and any(not w.isdigit() for w in words)


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
