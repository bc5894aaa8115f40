"""Tag a story with the watched entities it mentions: counts per entity and whether in the headline.

A blank English spaCy pipeline (no statistical model, nothing to download) with an `entity_ruler`
whose patterns are the watchlist's aliases, tokenized by that same pipeline. The rules:

- Case: an alias matches with its exact case, or written entirely in capitals ("ALIBABA" in a
  shouting headline); never in lower case, so "amazon" or "ant" in ordinary prose is not tagged.
  Short after_full_name forms ("Ma") match in their exact case only ("MA" is Massachusetts).
- Whole tokens, as spaCy's tokenizer splits them: "Alibaba’s", "Alibaba's" and "Alibaba-backed"
  contain the token "Alibaba"; "Alibaba.com" does not (it is one token, so it is its own alias).
- Longest match wins: "Alibaba Cloud" is one mention of alibaba-cloud (so alibaba gets one, by roll-up).
- A brand's mentions also count for its parent company (the parent is tagged even when only a
  brand is named, and is in_title when a brand is); people do not roll up to their company.
- An after_full_name form counts only once its entity was named in full earlier in the story (the
  headline comes before the body). A form shared by several people goes to the one named most
  recently. In the body it does not count when the next word is capitalised ("Ma Ying-jeou",
  "Tsai Ing-wen"): it is then part of somebody else's name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Span

from extractors.models import EntityTag, WatchedEntity, Watchlist

FULL_LABEL = "WATCHED"
SHORT_LABEL = "WATCHED_SHORT"
_ID_SEPARATOR = "|"  # joins the candidate ids of a shared short form; ids are slugs, never contain it

# Odd horizontal spaces ("Jack\u00a0Ma") and runs of spaces become whitespace tokens in spaCy,
# which would split a name; newlines are kept.
_ODD_SPACE_RE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")


@functools.lru_cache(maxsize=8)
def build_tagger(watchlist: Watchlist) -> Language:
    """A blank English pipeline with an entity_ruler for the watchlist, built once per watchlist."""
    nlp = spacy.blank("en")
    # phrase_matcher_attr None: patterns match on exact token text, hence case-sensitively.
    ruler = nlp.add_pipe(
        "entity_ruler",
        config={"phrase_matcher_attr": None, "validate": False, "overwrite_ents": True},
    )
    ruler.add_patterns(_patterns(nlp, watchlist))  # type: ignore[attr-defined]
    return nlp


def tag_article(title: str | None, text: str, watchlist: Watchlist) -> list[EntityTag]:
    """Count the watched entities in a headline and body; sorted by mentions (desc), then id."""
    nlp = build_tagger(watchlist)
    # Stripped: a doc that starts with whitespace turns off spaCy's tokenizer cache for the whole
    # doc (measured: about half the speed on the seed article, whose body starts with a newline).
    parts = [(_normalize_spaces(title).strip(), True)] if title else []
    parts.extend((chunk, False) for chunk in _chunks(_normalize_spaces(text).strip(), nlp.max_length))
    tally = _Tally()
    for doc, (_, is_title) in zip(nlp.pipe(part for part, _ in parts), parts, strict=True):
        for span in doc.ents:
            tally.add(span, is_title)
    return _tags(tally, _entities_by_id(watchlist))


class _Tally:
    """Mentions and headline hits per entity id, in reading order, before brands roll up."""

    def __init__(self) -> None:
        self.mentions: dict[str, int] = {}
        self.in_title: set[str] = set()
        self._last_named: dict[str, int] = {}  # entity id -> position of its latest full mention
        self._position = 0

    def add(self, span: Span, is_title: bool) -> None:
        """Count one ruler match, resolving a short form to the entity it refers to, if any."""
        self._position += 1
        if span.label_ == FULL_LABEL:
            entity_id: str | None = span.ent_id_
            self._last_named[span.ent_id_] = self._position
        else:
            entity_id = self._resolve_short(span, is_title)
        if entity_id is None:
            return
        self.mentions[entity_id] = self.mentions.get(entity_id, 0) + 1
        if is_title:
            self.in_title.add(entity_id)

    def _resolve_short(self, span: Span, is_title: bool) -> str | None:
        """The most recently named candidate of a short form, or None if none was named yet."""
        named = [
            (self._last_named[candidate], candidate)
            for candidate in span.ent_id_.split(_ID_SEPARATOR)
            if candidate in self._last_named
        ]
        if not named:
            return None
        # Headlines are in title case, so a capitalised next word says nothing there.
        if not is_title and _followed_by_capitalised_word(span):
            return None
        return max(named)[1]


def _followed_by_capitalised_word(span: Span) -> bool:
    """True when the next token is a title-case word: "Ma Ying-jeou", but not "Ma’s" or "Ant IPO"."""
    if span.end >= len(span.doc):
        return False
    following = span.doc[span.end]
    return bool(following.is_alpha and following.is_title)


def _tags(tally: _Tally, entities: dict[str, WatchedEntity]) -> list[EntityTag]:
    """Roll brand mentions up to their parent company and build sorted tags."""
    mentions = dict(tally.mentions)
    in_title = set(tally.in_title)
    for entity_id, count in tally.mentions.items():
        entity = entities[entity_id]
        if entity.kind == "brand" and entity.parent is not None:
            mentions[entity.parent] = mentions.get(entity.parent, 0) + count
            if entity_id in tally.in_title:
                in_title.add(entity.parent)
    tags = [
        EntityTag(
            entity_id=entity_id,
            name=entities[entity_id].name,
            kind=entities[entity_id].kind,
            mentions=count,
            in_title=entity_id in in_title,
        )
        for entity_id, count in mentions.items()
    ]
    tags.sort(key=lambda tag: (-tag.mentions, tag.entity_id))
    return tags


@functools.lru_cache(maxsize=8)
def _entities_by_id(watchlist: Watchlist) -> dict[str, WatchedEntity]:
    """Watchlist.by_id, once per watchlist (callers must not mutate the result)."""
    return watchlist.by_id()


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
    return _normalize_spaces(alias).strip()


def _normalize_spaces(text: str) -> str:
    """Turn non-breaking and repeated horizontal spaces into one plain space."""
    return _ODD_SPACE_RE.sub(" ", text)


def _chunks(text: str, limit: int) -> Iterator[str]:
    """Split text longer than spaCy's max_length at line breaks (else spaces), in order."""
    start = 0
    while len(text) - start > limit:
        cut = text.rfind("\n", start, start + limit)
        if cut <= start:
            cut = text.rfind(" ", start, start + limit)
        if cut <= start:
            cut = start + limit
        yield text[start:cut]
        start = cut
    if start < len(text) or start == 0:
        yield text[start:]
