"""Tag a story with the watched entities it mentions: counts, headline, lead, position, salience, primary.

Three matchers find candidate mentions, then one pass resolves them in reading order (headline first):

- Names: a blank English spaCy pipeline (no statistical model, nothing to download) with an
  `entity_ruler` whose patterns are the watchlist's aliases and short forms, tokenized by that pipeline.
- Tickers: one regular expression for the watchlist's symbols in a ticker context only ("NYSE: BABA",
  "$BABA", "BABA.N", "(BABA)", "9988.HK", "HKEX: 9988"), never as ordinary words.
- Chinese: Chinese has no spaces, so spaCy sees "阿里巴巴的" as one token; a regex alternation of the
  native names (longest first) scans the text instead, together with Latin aliases written against Chinese
  characters ("旗下的Lazada"). It only runs on text that contains CJK characters.

The rules:

- Case: an alias matches with its exact case, or written entirely in capitals ("ALIBABA" in a
  shouting headline); never in lower case, so "amazon" or "ant" in ordinary prose is not tagged.
  Short after_full_name forms ("Ma") match in their exact case only ("MA" is Massachusetts).
- Whole tokens, as spaCy's tokenizer splits them: "Alibaba’s", "Alibaba's" and "Alibaba-backed"
  contain the token "Alibaba"; "Alibaba.com" does not (it is one token, so it is its own alias).
- Longest match wins: "Alibaba Cloud" is one mention of alibaba-cloud (so alibaba gets one, by roll-up).
  A ticker or native-name match wins over a name match on the same characters ("NASDAQ: PDD").
- Exclusions: a match in one of its entity's excluded contexts ("Amazon rainforest", "一百度") is dropped.
- A brand's mentions also count for its parent company (the parent is tagged even when only a
  brand is named, and is in_title when a brand is); people do not roll up to their company.
- An after_full_name form counts only once its entity was named in full earlier in the story (the
  headline comes before the body). A form shared by several people goes to the one named most
  recently. In the body it does not count when the next word is capitalised ("Ma Ying-jeou",
  "Tsai Ing-wen"): it is then part of somebody else's name.

Salience and primary are explained in docs/tagging.md (SALIENCE_WEIGHTS, PRIMARY_MIN, PRIMARY_GAP).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Span

from extractors.models import EntityTag, Exclusion, Mention, Watchlist

FULL_LABEL = "WATCHED"
SHORT_LABEL = "WATCHED_SHORT"
_ID_SEPARATOR = "|"  # joins the candidate ids of a shared short form; ids are slugs, never contain it

LEAD_WORDS = 60
# salience = sum of weight * feature, each feature in 0..1 (docs/tagging.md).
SALIENCE_WEIGHTS = {"headline": 0.30, "lead": 0.20, "share": 0.25, "density": 0.15, "position": 0.10}
DENSITY_SATURATION = 1.5  # mentions per 100 words at which the density feature reaches 1
PRIMARY_MIN = 0.5  # a primary subject has at least this salience...
PRIMARY_GAP = 0.3  # ...and is within this of the story's most salient entity

# Odd horizontal spaces ("Jack\u00a0Ma") and runs of spaces become whitespace tokens in spaCy,
# which would split a name; newlines are kept.
_ODD_SPACE_RE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"  # kana, ideographs, hangul
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"  # ideographic punctuation and full-width forms
_CJK_RE = re.compile(f"[{_CJK}]")
# A Chinese word is counted as two characters; other words are runs of non-space, non-CJK characters.
_WORD_UNIT_RE = re.compile(f"[{_CJK}]{{1,2}}|[^\\s{_CJK}{_CJK_PUNCT}]+")
# A letter or digit of a spaced script (Latin, Greek, Cyrillic): one that could continue an alias.
_LATIN = "[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"
_LATIN_RE = re.compile(_LATIN)

# Exchange names seen before a symbol: "NYSE: BABA", "HKEX: 9988", "OTC: TCEHY", "港交所：9988".
_EXCHANGES = (
    r"NYSE(?:\s?American)?|NASDAQ(?:GS|GM)?|Nasdaq(?:GS|GM)?|OTC(?:MKTS|QX|\s?Markets|\s?Pink)?|"
    r"HKEX|HKEx|HKG|HKSE|SEHK|HK|Hong\s?Kong|SSE|SHA|SZSE|SHE|US|港交所|纽交所|纳斯达克"
)
_VENUE_SUFFIXES = r"N|O|OQ|K|P|US"  # Reuters-style BABA.N, JD.O; Chinese press PDD.US


def build_tagger(watchlist: Watchlist) -> Language:
    """A blank English pipeline with an entity_ruler for the watchlist, built once per watchlist."""
    return _matchers(watchlist).nlp


def tag_article(
    title: str | None,
    text: str,
    watchlist: Watchlist,
    *,
    lead_words: int = LEAD_WORDS,
    mentions: Sequence[Mention] | None = None,
) -> list[EntityTag]:
    """Tag a headline and body: mentions, in_title, in_lead, first_position, salience, primary per entity.

    Sorted by mentions (desc), then id. Brands roll up to their parent company. `mentions`, when given, must
    be find_mentions(title, text, watchlist) (the caller may share it with find_quotes).
    """
    if mentions is None:
        mentions = find_mentions(title, text, watchlist)
    if not mentions:
        return []
    entities = _matchers(watchlist).entities
    lead_limit = lead_end(text, lead_words)
    stats: dict[str, _Stats] = {}
    for mention in mentions:
        _stats_for(stats, mention.entity_id).add(mention, lead_limit)
        entity = entities[mention.entity_id]
        if entity.kind == "brand" and entity.parent is not None:
            _stats_for(stats, entity.parent).add(mention, lead_limit)
    words = max(1, density_words(title or "") + density_words(text))
    top_mentions = max(stat.mentions for stat in stats.values())
    salience = {
        entity_id: _salience(stat, words=words, top_mentions=top_mentions, length=len(text))
        for entity_id, stat in stats.items()
    }
    top_salience = max(salience.values())
    tags = [
        EntityTag(
            entity_id=entity_id,
            name=entities[entity_id].name,
            kind=entities[entity_id].kind,
            mentions=stat.mentions,
            in_title=stat.in_title,
            in_lead=stat.in_lead,
            first_position=stat.first_position,
            salience=salience[entity_id],
            primary=salience[entity_id] >= PRIMARY_MIN and salience[entity_id] >= top_salience - PRIMARY_GAP,
        )
        for entity_id, stat in stats.items()
    ]
    tags.sort(key=lambda tag: (-tag.mentions, tag.entity_id))
    return tags


def find_mentions(title: str | None, text: str, watchlist: Watchlist) -> list[Mention]:
    """Every resolved mention of a watched entity, headline first, then the body in reading order.

    Offsets are character offsets into `title` (in_title) or `text` as given; brands are not rolled up.
    """
    matchers = _matchers(watchlist)
    candidates: list[_Candidate] = []
    for part, source in ((0, title or ""), (1, text)):
        if source:
            candidates.extend(matchers.candidates(part, source))
    candidates.sort(key=lambda candidate: (candidate.part, candidate.start))
    mentions: list[Mention] = []
    last_named: dict[str, int] = {}  # entity id -> index of its latest full mention
    for index, candidate in enumerate(candidates):
        if not candidate.short:
            entity_id = candidate.ids[0]
            last_named[entity_id] = index
        else:
            named = [(last_named[c], c) for c in candidate.ids if c in last_named]
            # Headlines are in title case, so a capitalised next word says nothing there.
            if not named or (candidate.part == 1 and candidate.capital_next):
                continue
            entity_id = max(named)[1]
        mentions.append(Mention(entity_id, candidate.start, candidate.end, candidate.part == 0, candidate.source))
    return mentions


def density_words(text: str) -> int:
    """Words to divide mentions by for density: whitespace-separated, Chinese one word per two characters.

    Unlike `extractors.articles.count_words` (the stored word_count), which counts each CJK character as a word:
    density (DENSITY_SATURATION here, `min_density` in `extractors.topics`) is per 100 words, and a Chinese word
    is about two characters, so one per character would make a Chinese story count twice as long as the same
    story in English and halve its density.
    """
    if not _CJK_RE.search(text):
        return len(text.split())
    return len(_WORD_UNIT_RE.findall(text))


def lead_end(text: str, lead_words: int = LEAD_WORDS) -> int:
    """Offset where the lead ends: the end of the first paragraph, kept between `lead_words` and twice that.

    At least `lead_words` words, so that a caption or dateline line does not make the lead; at most twice
    as many, so that a text without paragraph breaks is not all lead.
    """
    stripped = text.lstrip()
    if not stripped:
        return 0
    paragraph_end = text.find("\n", len(text) - len(stripped))
    end = len(text) if paragraph_end < 0 else paragraph_end
    pattern = _WORD_UNIT_RE if _CJK_RE.search(text) else _NON_SPACE_RE
    shortest = longest = len(text)
    for count, match in enumerate(pattern.finditer(text), start=1):
        if count == lead_words:
            shortest = match.end()
        if count == 2 * lead_words:
            longest = match.end()
            break
    return min(max(end, shortest), longest)


_NON_SPACE_RE = re.compile(r"\S+")


class _Stats:
    """What one entity (brands rolled up) adds up to in one story."""

    def __init__(self) -> None:
        self.mentions = 0
        self.in_title = False
        self.in_lead = False
        self.first_position: int | None = None

    def add(self, mention: Mention, lead_limit: int) -> None:
        """Count one mention."""
        self.mentions += 1
        if mention.in_title:
            self.in_title = True
            return
        if mention.start < lead_limit:
            self.in_lead = True
        if self.first_position is None or mention.start < self.first_position:
            self.first_position = mention.start


def _stats_for(stats: dict[str, _Stats], entity_id: str) -> _Stats:
    """The entity's running stats, created on first use."""
    found = stats.get(entity_id)
    if found is None:
        found = stats[entity_id] = _Stats()
    return found


def _salience(stat: _Stats, *, words: int, top_mentions: int, length: int) -> float:
    """The documented salience formula: headline, lead, share of the top count, density and position."""
    density = min(1.0, stat.mentions * 100 / (words * DENSITY_SATURATION))
    position = 0.0 if stat.first_position is None else 1.0 - stat.first_position / max(1, length)
    features = {
        "headline": 1.0 if stat.in_title else 0.0,
        "lead": 1.0 if stat.in_lead else 0.0,
        "share": stat.mentions / top_mentions,
        "density": density,
        "position": position,
    }
    return round(sum(SALIENCE_WEIGHTS[name] * value for name, value in features.items()), 3)


@dataclass(frozen=True)
class _Candidate:
    """A match before short forms are resolved: where it is and which entities it may name."""

    part: int  # 0 headline, 1 body
    start: int
    end: int
    ids: tuple[str, ...]
    short: bool = False
    capital_next: bool = False
    source: str = "name"


@dataclass(frozen=True)
class _Rule:
    """An exclusion with its words lower-cased, and the lower-cased spellings it is limited to (empty: all)."""

    spellings: frozenset[str]
    preceded_by: tuple[str, ...]
    followed_by: tuple[str, ...]


class _Matchers:
    """The three matchers of one watchlist, and its exclusion rules by entity id."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.entities = watchlist.by_id()
        nlp = spacy.blank("en")
        # phrase_matcher_attr None: patterns match on exact token text, hence case-sensitively.
        ruler = nlp.add_pipe(
            "entity_ruler",
            config={"phrase_matcher_attr": None, "validate": False, "overwrite_ents": True},
        )
        ruler.add_patterns(_patterns(nlp, watchlist))  # type: ignore[attr-defined]
        self.nlp = nlp
        self.rules = {
            entity.id: [_rule(exclusion) for exclusion in entity.exclusions]
            for entity in watchlist.entities
            if entity.exclusions
        }
        self.tickers = _TickerMatcher(watchlist)
        self.native, self.native_owner = _native_regex(nlp, watchlist)

    def candidates(self, part: int, source: str) -> list[_Candidate]:
        """All non-excluded, non-overlapping candidate mentions in one headline or body."""
        strong = self.tickers.find(part, source)
        if self.native is not None and _CJK_RE.search(source):
            for match in self.native.finditer(source):
                owner = self.native_owner[match.group()]
                if not self._excluded(owner, source, match.start(), match.end()):
                    strong.append(_Candidate(part, match.start(), match.end(), (owner,), source="native"))
        strong.sort(key=lambda candidate: candidate.start)
        starts = [candidate.start for candidate in strong]
        found = list(strong)
        for candidate in self._ruler_candidates(part, source):
            if strong and _overlaps(strong, starts, candidate):
                continue
            if candidate.ids[0] in self.rules or candidate.short:
                ids = tuple(i for i in candidate.ids if not self._excluded(i, source, candidate.start, candidate.end))
                if not ids:
                    continue
                candidate = _Candidate(
                    part, candidate.start, candidate.end, ids, candidate.short, candidate.capital_next
                )
            found.append(candidate)
        return found

    def _ruler_candidates(self, part: int, source: str) -> Iterator[_Candidate]:
        """The entity ruler's matches, with offsets mapped back onto the original text."""
        normalized, to_original = _normalize(source)
        chunks = list(_chunks(normalized, self.nlp.max_length))
        for doc, (offset, _) in zip(self.nlp.pipe(chunk for _, chunk in chunks), chunks, strict=True):
            for span in doc.ents:
                short = span.label_ == SHORT_LABEL
                yield _Candidate(
                    part,
                    to_original(offset + span.start_char),
                    to_original(offset + span.end_char - 1) + 1,
                    tuple(span.ent_id_.split(_ID_SEPARATOR)) if short else (span.ent_id_,),
                    short=short,
                    capital_next=short and _followed_by_capitalised_word(span),
                )

    def _excluded(self, entity_id: str, text: str, start: int, end: int) -> bool:
        """True when the match text[start:end] sits in one of the entity's excluded contexts."""
        rules = self.rules.get(entity_id)
        if not rules:
            return False
        spelling = _ODD_SPACE_RE.sub(" ", text[start:end]).lower()
        before = text[max(0, start - 40) : start].rstrip().lower()
        after = text[end : end + 40].lstrip().lower()
        for rule in rules:
            if rule.spellings and spelling not in rule.spellings:
                continue
            if rule.preceded_by and not any(_ends_with_word(before, word) for word in rule.preceded_by):
                continue
            if rule.followed_by and not any(_starts_with_word(after, word) for word in rule.followed_by):
                continue
            return True
        return False


@functools.lru_cache(maxsize=8)
def _matchers(watchlist: Watchlist) -> _Matchers:
    """The matchers for a watchlist, built once per watchlist (an equal watchlist is the same key)."""
    return _Matchers(watchlist)


def _rule(exclusion: Exclusion) -> _Rule:
    """An exclusion prepared for case-insensitive comparison."""
    return _Rule(
        spellings=frozenset(_ODD_SPACE_RE.sub(" ", spelling).lower() for spelling in exclusion.spellings),
        preceded_by=tuple(word.lower() for word in exclusion.preceded_by),
        followed_by=tuple(word.lower() for word in exclusion.followed_by),
    )


def _ends_with_word(before: str, word: str) -> bool:
    """`before` ends with `word`, which does not start in the middle of a Latin word."""
    if not before.endswith(word):
        return False
    prior = before[-len(word) - 1 : -len(word)]
    return not (prior and _is_latin_word_char(prior) and _is_latin_word_char(word[0]))


def _starts_with_word(after: str, word: str) -> bool:
    """`after` starts with `word`, which does not end in the middle of a Latin word."""
    if not after.startswith(word):
        return False
    following = after[len(word) : len(word) + 1]
    return not (following and _is_latin_word_char(following) and _is_latin_word_char(word[-1]))


def _is_latin_word_char(char: str) -> bool:
    """A letter or digit of a spaced script: CJK characters never form words across a boundary."""
    return bool(_LATIN_RE.match(char))


def _overlaps(strong: list[_Candidate], starts: list[int], candidate: _Candidate) -> bool:
    """True when the candidate shares characters with one of the (sorted) ticker or native matches."""
    index = bisect.bisect_left(starts, candidate.end)
    return index > 0 and strong[index - 1].end > candidate.start


# The context checks of a symbol found in the text, tried around it (a symbol-first scan: one regex of every
# form at every position cost a third of the tagging time on stories that name a symbol).
_EXCHANGE_BEFORE_RE = re.compile(rf"(?<!\w)(?:{_EXCHANGES})\s?[:：]\s?$")
_BRACKET_BEFORE_RE = re.compile(r"[(（]\s*$")
_VENUE_AFTER_RE = re.compile(rf"\.(?:{_VENUE_SUFFIXES})(?![\w.])")
_LISTED_AFTER_RE = re.compile(r"(?:\.[A-Z]{1,2})?(?!\w)")
_MARKET_AFTER_RE = re.compile(r"\.[A-Z]{2}(?!\w)")
_BLOOMBERG_AFTER_RE = re.compile(r"\sHK(?=\s*(?:Equity|[)）,;，；]))")
# A bare symbol alone in brackets, or first of a list of symbols: "(JD)", "(BABA, 9988.HK)".
_BRACKET_AFTER_RE = re.compile(
    rf"\s*(?:[)）]|[,;，；、/]\s*(?:(?:{_EXCHANGES})\s?[:：]|\d{{1,6}}\.[A-Z]{{2}}|[A-Z]{{2,6}}\s*[)）]))"
)
_CONTEXT = 24  # characters before a symbol that may hold its exchange ("Hong Kong: ")


class _TickerMatcher:
    """Finds the watchlist's stock symbols where the context says they are symbols.

    Letter symbols: "$BABA", "BABA.N", "NYSE: BABA", "(BABA)". Exchange numbers: "9988.HK", "HKEX: 9988",
    "9988 HK Equity"; leading zeros do not matter.
    """

    def __init__(self, watchlist: Watchlist) -> None:
        self.letters: dict[str, str] = {}
        self.numbers: dict[str, str] = {}
        for entity in watchlist.entities:
            for ticker in entity.tickers:
                symbol = ticker.split(".")[0]
                if symbol.isdigit():
                    self.numbers.setdefault(symbol.lstrip("0") or "0", entity.id)
                else:
                    self.letters.setdefault(symbol, entity.id)
        forms = []
        if self.letters:
            forms.append(rf"(?<![A-Za-z0-9])(?P<letters>{_alternation(self.letters)})(?![A-Za-z0-9])")
        if self.numbers:
            forms.append(rf"(?<![0-9])(?P<number>0*(?:{_alternation(self.numbers)}))(?![0-9])")
        self.regex = re.compile("|".join(forms)) if forms else None
        # Most stories name no symbol at all: a few substring tests spare them the scan.
        self.symbols = tuple(sorted({*self.letters, *self.numbers}))

    def find(self, part: int, text: str) -> list[_Candidate]:
        """Ticker mentions in one headline or body."""
        if self.regex is None or not any(symbol in text for symbol in self.symbols):
            return []
        found = []
        for match in self.regex.finditer(text):
            start, end = match.span()
            if match.lastgroup == "letters":
                owner = self.letters[match.group()] if self._letters_in_context(text, start, end) else None
            else:
                owner = self.numbers[match.group().lstrip("0")] if self._number_in_context(text, start, end) else None
            if owner is not None:
                found.append(_Candidate(part, start, end, (owner,), source="ticker"))
        return found

    @staticmethod
    def _letters_in_context(text: str, start: int, end: int) -> bool:
        """A letter symbol after "$", an exchange or a bracket, or with a venue suffix."""
        before = text[start - 1] if start else ""
        if before == "$":
            return start < 2 or not _WORD_CHAR_RE.match(text[start - 2])
        if before != "." and _VENUE_AFTER_RE.match(text, end):
            return True
        window = max(0, start - _CONTEXT)
        if _EXCHANGE_BEFORE_RE.search(text, window, start) and _LISTED_AFTER_RE.match(text, end):
            return True
        return bool(_BRACKET_BEFORE_RE.search(text, window, start) and _BRACKET_AFTER_RE.match(text, end))

    @staticmethod
    def _number_in_context(text: str, start: int, end: int) -> bool:
        """An exchange number with its market suffix, after an exchange, or in Bloomberg form."""
        before = text[start - 1] if start else ""
        if _WORD_CHAR_RE.match(before) or before == ".":
            return False
        if _MARKET_AFTER_RE.match(text, end) or _BLOOMBERG_AFTER_RE.match(text, end):
            return True
        window = max(0, start - _CONTEXT)
        following = text[end : end + 1]
        return (
            bool(_EXCHANGE_BEFORE_RE.search(text, window, start))
            and following != "."
            and not (_WORD_CHAR_RE.match(following))
        )


_WORD_CHAR_RE = re.compile(r"\w")


def _alternation(strings: dict[str, str]) -> str:
    """A regex alternation of literal strings, longest first so that the longest one wins."""
    return "|".join(re.escape(s) for s in sorted(strings, key=lambda s: (-len(s), s)))


def _native_regex(nlp: Language, watchlist: Watchlist) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One regex for native names, and for Latin aliases written against CJK text; and who owns each spelling."""
    owner: dict[str, str] = {}
    for entity in watchlist.entities:
        for native in entity.native_names:
            owner.setdefault(native, entity.id)
    latin: dict[str, str] = {}
    for entity in watchlist.entities:
        for alias in entity.aliases:
            for spelling in (_clean(alias), _clean(alias.upper())):
                latin.setdefault(spelling, entity.id)
    latin = {spelling: entity_id for spelling, entity_id in latin.items() if spelling not in owner}
    owner.update(latin)
    if not owner:
        return None, owner
    forms = []
    if len(owner) > len(latin):
        forms.append(_alternation({s: i for s, i in owner.items() if s not in latin}))
    if latin:
        names = _alternation(latin)
        edge = f"[{_CJK}{_CJK_PUNCT}]"
        # Only where spaCy cannot see the alias as a token: against a CJK character or full-width sign.
        forms.append(rf"(?<={edge})(?:{names})(?!{_LATIN})|(?<!{_LATIN})(?:{names})(?={edge})")
    return re.compile("|".join(forms)), owner


def _followed_by_capitalised_word(span: Span) -> bool:
    """True when the next token is a title-case word: "Ma Ying-jeou", but not "Ma’s" or "Ant IPO"."""
    if span.end >= len(span.doc):
        return False
    following = span.doc[span.end]
    return bool(following.is_alpha and following.is_title)


def _patterns(nlp: Language, watchlist: Watchlist) -> list[dict[str, str]]:
    """Entity-ruler patterns: full aliases (as written and in capitals), then short forms.

    Each pattern is a string, which the ruler runs through this pipeline's tokenizer and matches
    token by token on exact text (ORTH) with its PhraseMatcher: the same matches as a list of
    {"ORTH": ...} token patterns, about four times faster (the token Matcher tries every pattern
    at every token). Spellings are keyed by their tokens so that one spelling has one owner.
    """
    full: dict[tuple[str, ...], tuple[str, str]] = {}
    for entity in watchlist.entities:
        for alias in entity.aliases:
            full.setdefault(_tokens(nlp, alias), (_clean(alias), entity.id))
    # Capitals second, so that they never take a spelling another entity owns as written.
    for entity in watchlist.entities:
        for alias in entity.aliases:
            upper = _clean(alias.upper())
            full.setdefault(_tokens(nlp, upper), (upper, entity.id))
    short: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    for entity in watchlist.entities:
        for alias in entity.after_full_name:
            tokens = _tokens(nlp, alias)
            if tokens not in full:
                short.setdefault(tokens, (_clean(alias), []))[1].append(entity.id)
    patterns = [{"label": FULL_LABEL, "pattern": text, "id": entity_id} for text, entity_id in full.values()]
    patterns.extend(
        {"label": SHORT_LABEL, "pattern": text, "id": _ID_SEPARATOR.join(ids)} for text, ids in short.values()
    )
    return patterns


def _tokens(nlp: Language, alias: str) -> tuple[str, ...]:
    """The alias split exactly as the pipeline's tokenizer splits running text."""
    return tuple(token.text for token in nlp.make_doc(_clean(alias)))


def _clean(alias: str) -> str:
    """An alias as the ruler should see it: single plain spaces, none at the ends."""
    return _ODD_SPACE_RE.sub(" ", alias).strip()


def _normalize(text: str) -> tuple[str, _OffsetMap]:
    """The text stripped and with odd spaces made single plain spaces, and a map back to original offsets.

    Stripped because a doc that starts with whitespace turns off spaCy's tokenizer cache for the whole
    doc (measured: about half the speed on the seed article, whose body starts with a newline).
    """
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    breaks: list[tuple[int, int]] = [(0, lead)]
    pieces: list[str] = []
    position = 0
    removed = 0  # characters dropped so far
    for match in _ODD_SPACE_RE.finditer(stripped):
        pieces.append(stripped[position : match.start()])
        pieces.append(" ")
        removed += len(match.group()) - 1
        position = match.end()
        # The character after the run: its normalized offset, and its offset in the original text.
        breaks.append((match.end() - removed, match.end() + lead))
    if len(breaks) == 1:
        return stripped, _OffsetMap(breaks)
    pieces.append(stripped[position:])
    return "".join(pieces), _OffsetMap(breaks)


class _OffsetMap:
    """Maps an offset in normalized text back to the original: piecewise shifts at each collapsed space run."""

    def __init__(self, breaks: list[tuple[int, int]]) -> None:
        self.normalized = [normalized for normalized, _ in breaks]
        self.original = [original for _, original in breaks]

    def __call__(self, offset: int) -> int:
        """The original offset of a normalized one."""
        index = bisect.bisect_right(self.normalized, offset) - 1
        return self.original[index] + offset - self.normalized[index]


def _chunks(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """Split text longer than spaCy's max_length at line breaks (else spaces), in order, with start offsets."""
    start = 0
    while len(text) - start > limit:
        cut = text.rfind("\n", start, start + limit)
        if cut <= start:
            cut = text.rfind(" ", start, start + limit)
        if cut <= start:
            cut = start + limit
        yield start, text[start:cut]
        start = cut
    if start < len(text) or start == 0:
        yield start, text[start:]
