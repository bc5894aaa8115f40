"""Find quoted statements in a story and who made them, resolving the speaker to a watched entity.

A quote is text in quotation marks (“…”, "…", 「…」) with an attribution next to it, in the same paragraph:

- after it: `“…,” Ma told …`, `“…,” said one Asia-based fund manager.`, `“…,” according to X.`,
  `“…,” Joe Tsai, Alibaba’s chairman, said.`, Chinese `“……”马云说。`;
- before it: `Ma said: “…”`, `Tsai told reporters, “…”`, `According to Ma, “…”`, Chinese `马云表示：“……”`;
- or it continues the previous attributed quote: it opens the next sentence of the same paragraph, or opens
  the paragraph right after one that ended with an attributed quote (the usual way a long quote goes on).

Quotation marks with no attribution (scare quotes: to “make Alibaba great again”) are not quotes.

The speaker resolves to a watched entity through the tagger's own mentions, so a bare surname after the
full name counts ("Ma" after "Jack Ma"); a person wins over a company in the same phrase ("Alibaba chairman
Joe Tsai"), and the speaker is then given by the entity's name. "He"/"she" resolve to the watched person
mentioned last in the same or the previous paragraph, if any. Otherwise the speaker is the phrase as written
("one Asia-based fund manager") and entity_id is None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from extractors.models import Mention, Quote, Watchlist
from extractors.tagging import find_mentions

_VERBS = (
    r"said|says|say|told|tells|added|adds|wrote|writes|explained|explains|noted|notes|argued|argues|stated|"
    r"states|asked|asks|warned|warns|insisted|insists|recalled|recalls|declared|declares|remarked|remarks|"
    r"replied|replies|acknowledged|acknowledges|commented|comments|continued|continues|admitted|admits|"
    r"posted|posts|predicted|predicts|cautioned|cautions|conceded|concedes|emphasised|emphasized|stressed"
)
_CHINESE_VERBS = r"说道|说|表示|称|指出|强调|透露|坦言|直言|认为|回应|介绍"
# A speaker phrase starts with a capitalised word or one of these.
_OPENERS = r"a|an|one|two|three|several|some|the|his|her|its|their|another|he|she|they|we|I"
_SPEAKER_WORD = r"[\w’'.&-]+"
_SPEAKER = rf"(?:[A-Z][\w’'.&-]*|(?:{_OPENERS})\b)(?:\s+{_SPEAKER_WORD}){{0,7}}?"
_APPOSITIVE = r"(?:,\s[^,“”\"\n]{1,60},)?"

_QUOTE_RE = re.compile(r"“(?P<curly>[^“”\n]+)”|\"(?P<straight>[^\"\n]+)\"|「(?P<corner>[^「」\n]+)」")
# After the closing mark.
_AFTER_VERB_FIRST = re.compile(rf"\s*(?:{_VERBS})\s+(?P<speaker>[^.,;:!?“”\"\n]{{1,80}})")
_AFTER_SPEAKER_FIRST = re.compile(rf"\s*(?P<speaker>{_SPEAKER}){_APPOSITIVE}\s+(?:{_VERBS})\b")
_AFTER_ACCORDING = re.compile(r"\s*,?\s*according to\s+(?P<speaker>[^.,;:!?“”\"\n]{1,80})")
_AFTER_CHINESE = re.compile(rf"\s*(?P<speaker>[^，。！？；：“”\s]{{1,20}}?)(?:{_CHINESE_VERBS})")
# Before the opening mark (matched against the sentence so far).
_BEFORE = re.compile(rf"(?P<speaker>{_SPEAKER}){_APPOSITIVE}\s+(?:{_VERBS})(?:\s+[\w’'-]+){{0,3}}?\s*[:,]\s*$")
_BEFORE_ACCORDING = re.compile(r"[Aa]ccording to\s+(?P<speaker>[^.,;:!?“”\"\n]{1,80}),\s*$")
_BEFORE_CHINESE = re.compile(rf"(?P<speaker>[^，。！？；：“”\s]{{1,20}}?)(?:{_CHINESE_VERBS})[：:，,]?\s*$")

# A phrase after the verb stops before these: "said Ma in an interview", "said Tsai, who ...".
_SPEAKER_END_RE = re.compile(
    r"\s(?:in|on|at|during|who|when|after|before|last|this|to|from|while|as|via|over)\s|\s(?:yesterday|today)\b"
)
_SENTENCE_END_RE = re.compile(r"[.!?。！？][”\"’)]?\s")
_PRONOUNS = frozenset({"he", "she"})
_CJK_RE = re.compile("[\u3400-\u9fff]")


@dataclass(frozen=True)
class _Found:
    """A quote with the paragraph it is in and where its attribution sentence ends."""

    quote: Quote
    paragraph: int
    end: int  # offset after the closing mark
    attributed_here: bool


def find_quotes(text: str, watchlist: Watchlist, *, mentions: Sequence[Mention] | None = None) -> list[Quote]:
    """Quoted statements with their speaker, in reading order; `mentions` may be find_mentions(None, text, ...)."""
    if not any(mark in text for mark in ("“", '"', "「")):
        return []
    if mentions is None:
        mentions = find_mentions(None, text, watchlist)
    body_mentions = [mention for mention in mentions if not mention.in_title]
    kinds = {entity.id: entity.kind for entity in watchlist.entities}
    names = {entity.id: entity.name for entity in watchlist.entities}
    paragraphs = _paragraphs(text)
    found: list[_Found] = []
    for paragraph_index, (start, end) in enumerate(paragraphs):
        for match in _QUOTE_RE.finditer(text, start, end):
            group = match.lastgroup
            assert group is not None
            quoted = match.group(group).strip().rstrip(",，").strip()
            if not quoted:
                continue
            speaker = _attribution(text, match.start(), match.end(), start, end)
            if speaker is not None:
                phrase_start, phrase = speaker
                label, entity_id = _resolve(
                    phrase, phrase_start, body_mentions, kinds, names, paragraphs, paragraph_index
                )
                quote = Quote(label, entity_id, quoted, match.start(group))
                found.append(_Found(quote, paragraph_index, match.end(), True))
                continue
            previous = found[-1] if found else None
            if previous is not None and _continues(text, previous, match.start(), paragraph_index, start):
                quote = Quote(previous.quote.speaker, previous.quote.entity_id, quoted, match.start(group))
                found.append(_Found(quote, paragraph_index, match.end(), False))
    return [item.quote for item in found]


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of the non-blank lines of the text."""
    spans = []
    position = 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((position, position + len(line)))
        position += len(line) + 1
    return spans


def _attribution(text: str, open_at: int, close_at: int, start: int, end: int) -> tuple[int, str] | None:
    """The speaker phrase (offset, text) attributed to the quote at [open_at, close_at), if any."""
    for pattern in (_AFTER_ACCORDING, _AFTER_VERB_FIRST, _AFTER_SPEAKER_FIRST, _AFTER_CHINESE):
        if pattern is _AFTER_CHINESE and not _CJK_RE.search(text, close_at, min(end, close_at + 24)):
            continue
        after = pattern.match(text, close_at, end)
        if after is not None:
            phrase = _trim(after.group("speaker"), cut=pattern is not _AFTER_SPEAKER_FIRST)
            if phrase:
                return after.start("speaker"), phrase
    sentence_start = _sentence_start(text, start, open_at)
    sentence = text[sentence_start:open_at]
    for pattern in (_BEFORE_ACCORDING, _BEFORE, _BEFORE_CHINESE):
        if pattern is _BEFORE_CHINESE and not _CJK_RE.search(sentence):
            continue
        before = pattern.search(sentence)
        if before is not None:
            phrase = _trim(before.group("speaker"), cut=pattern is _BEFORE_ACCORDING)
            if phrase:
                return sentence_start + before.start("speaker"), phrase
    return None


def _trim(phrase: str, *, cut: bool) -> str:
    """A speaker phrase without trailing clauses ("in an interview"), Chinese adverbials (在…) or spaces."""
    phrase = phrase.strip()
    if cut:
        found = _SPEAKER_END_RE.search(phrase)
        if found is not None:
            phrase = phrase[: found.start()]
    if _CJK_RE.search(phrase) and phrase.find("在") >= 2:
        phrase = phrase[: phrase.find("在")]
    return phrase.strip()


def _sentence_start(text: str, paragraph_start: int, position: int) -> int:
    """Offset where the sentence containing `position` starts, within its paragraph."""
    start = paragraph_start
    for match in _SENTENCE_END_RE.finditer(text, paragraph_start, position):
        start = match.end()
    for mark in ("。", "！", "？"):
        found = text.rfind(mark, paragraph_start, position)
        if found >= start:
            start = found + 1
    return start


def _continues(text: str, previous: _Found, open_at: int, paragraph: int, paragraph_start: int) -> bool:
    """True when an unattributed quote carries on the previous quote's words."""
    if previous.paragraph == paragraph:
        # Only the rest of the attribution sentence between them, and this quote opens a sentence.
        gap = text[previous.end : open_at]
        return _sentence_start(text, paragraph_start, open_at) == open_at and len(gap) <= 300 and '"' not in gap
    # The paragraph opens with the quote, and the previous paragraph ended with the previous quote.
    return previous.paragraph == paragraph - 1 and not text[paragraph_start:open_at].strip()


def _resolve(
    phrase: str,
    phrase_start: int,
    mentions: Sequence[Mention],
    kinds: dict[str, str],
    names: dict[str, str],
    paragraphs: list[tuple[int, int]],
    paragraph_index: int,
) -> tuple[str, str | None]:
    """The speaker label and watched entity id (or None) for a speaker phrase."""
    phrase_end = phrase_start + len(phrase)
    inside = [mention for mention in mentions if phrase_start <= mention.start and mention.end <= phrase_end]
    people = [mention for mention in inside if kinds.get(mention.entity_id) == "person"]
    if people:
        return names[people[-1].entity_id], people[-1].entity_id
    if inside:
        return phrase, inside[-1].entity_id
    if phrase.lower() in _PRONOUNS:
        window_start = paragraphs[max(0, paragraph_index - 1)][0]
        earlier = [
            mention
            for mention in mentions
            if window_start <= mention.start < phrase_start and kinds.get(mention.entity_id) == "person"
        ]
        if earlier:
            return names[earlier[-1].entity_id], earlier[-1].entity_id
    return phrase, None
