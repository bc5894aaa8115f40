"""Tag a story with topics from a rule set (seeds/topics.yaml): weighted keywords, English and Chinese.

Each topic has keywords with weights. A story's score for a topic is the sum of the weights of its
keyword hits, a headline hit counting TITLE_FACTOR times. The topic is tagged when the score reaches the
topic's `min_score`, at least `min_hits` hits were found, and the score is at least `min_density` points
per 100 words of the story (so that two passing mentions in a long feature do not make it a topic).
Keyword matching:

- all lower case ("cloud computing"): any case; with a capital ("AI", "GMV"): exactly as written;
- Latin keywords match whole words, hyphens and apostrophes separating words ("e-commerce" = "e commerce");
  a trailing `*` matches any ending of the last word ("regulat*": regulator, regulatory);
- where several keywords start at one word, the longest wins ("generative AI" rather than "AI");
- Chinese keywords (no spaces in Chinese) match anywhere in the text, longest first.

Latin text is split into words once and keywords are looked up by their first word (a regex alternation of
every keyword was measured at under 5,000 words/s; this runs at several hundred thousand).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from extractors.filecache import cached_per_version
from extractors.models import TopicTag
from extractors.tagging import density_words
from presswatch.errors import ConfigError

TITLE_FACTOR = 2.0
DEFAULT_MIN_SCORE = 3.0
DEFAULT_MIN_HITS = 1
DEFAULT_MIN_DENSITY = 1.0
TOPIC_KEYS = ("id", "name", "keywords", "min_score", "min_hits", "min_density")

_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_WORD_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+")
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_PREFIX_KEY = 3  # prefix keywords are indexed by their first three letters, so they need at least three


@dataclass(frozen=True)
class Topic:
    """One topic: its keywords with their weights, and the thresholds to tag it."""

    id: str
    name: str
    keywords: tuple[tuple[str, float], ...]
    min_score: float = DEFAULT_MIN_SCORE
    min_hits: int = DEFAULT_MIN_HITS
    min_density: float = DEFAULT_MIN_DENSITY


@dataclass(frozen=True)
class Topics:
    """A topic rule set, in file order."""

    topics: tuple[Topic, ...] = ()


def load_topics(path: str | Path) -> Topics:
    """Read a topics YAML file and return it validated, raising ConfigError (one line) on any problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"topics file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read topics file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'topics' list")
    unknown = [key for key in data if key != "topics"]
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {unknown[0]!r} (allowed: topics)")
    topics = [_parse_topic(path, index, raw) for index, raw in enumerate(data["topics"])]
    ids = [topic.id for topic in topics]
    duplicates = sorted({topic_id for topic_id in ids if ids.count(topic_id) > 1})
    if duplicates:
        raise ConfigError(f"{path}: duplicate topic id {duplicates[0]!r}")
    return Topics(topics=tuple(topics))


def cached_topics(path: str | Path) -> Topics:
    """`load_topics`, parsed once per process while the file stays the same (inode, size, mtime)."""
    return _cached_topics(path)


def _parse_topic(path: Path, index: int, raw: Any) -> Topic:
    """Validate one topic entry."""
    where = f"{path}: topics[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id, name, keywords")
    topic_id = raw.get("id")
    if not isinstance(topic_id, str) or not _ID_RE.fullmatch(topic_id):
        raise ConfigError(f"{where}: 'id' must be a lower-case slug like 'global-expansion'")
    where = f"{where} (id {topic_id!r})"
    unknown = [key for key in raw if key not in TOPIC_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(TOPIC_KEYS)})")
    name = raw.get("name", topic_id)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' must be a non-empty string")
    keywords = raw.get("keywords")
    if not isinstance(keywords, dict) or not keywords:
        raise ConfigError(f"{where}: 'keywords' must be a mapping of keyword: weight")
    parsed: list[tuple[str, float]] = []
    for keyword, weight in keywords.items():
        if not isinstance(keyword, str) or not keyword.strip().rstrip("*"):
            raise ConfigError(f"{where}: keyword {keyword!r} is not a string (quote it)")
        if not _CJK_RE.search(keyword) and not _WORD_RE.search(keyword):
            raise ConfigError(f"{where}: keyword {keyword!r} has no letters or digits to match")
        words = _WORD_RE.findall(keyword)
        if keyword.endswith("*") and len(words) == 1 and len(words[0]) < _PREFIX_KEY:
            raise ConfigError(f"{where}: prefix keyword {keyword!r} needs at least {_PREFIX_KEY} letters before '*'")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise ConfigError(f"{where}: keyword {keyword!r} needs a positive number as its weight")
        parsed.append((" ".join(keyword.split()), float(weight)))
    min_score = _number(where, "min_score", raw.get("min_score", DEFAULT_MIN_SCORE))
    min_density = _number(where, "min_density", raw.get("min_density", DEFAULT_MIN_DENSITY), zero_ok=True)
    min_hits = raw.get("min_hits", DEFAULT_MIN_HITS)
    if isinstance(min_hits, bool) or not isinstance(min_hits, int) or min_hits < 1:
        raise ConfigError(f"{where}: 'min_hits' must be a whole number of at least 1")
    return Topic(topic_id, name.strip(), tuple(parsed), min_score, min_hits, min_density)


def _number(where: str, key: str, value: Any, *, zero_ok: bool = False) -> float:
    """A positive (or, when allowed, zero) number from the file."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{where}: {key!r} must be a {'non-negative' if zero_ok else 'positive'} number")
    return float(value)


def tag_topics(title: str | None, text: str, topics: Topics) -> list[TopicTag]:
    """The topics a story is about, highest score first (ties by id)."""
    matcher = _matcher(topics)
    scores: dict[int, float] = {}
    hits: Counter[int] = Counter()
    matched: dict[int, dict[str, None]] = {}
    for source, factor in ((title or "", TITLE_FACTOR), (text, 1.0)):
        if not source:
            continue
        for keyword in matcher.find(source):
            for topic_index, weight in keyword.targets:
                scores[topic_index] = scores.get(topic_index, 0.0) + weight * factor
                hits[topic_index] += 1
                matched.setdefault(topic_index, {})[keyword.written] = None
    words = density_words(title or "") + density_words(text) if scores else 0
    tags = []
    for topic_index, score in scores.items():
        topic = topics.topics[topic_index]
        dense_enough = score * 100 >= topic.min_density * words
        if score >= topic.min_score and hits[topic_index] >= topic.min_hits and dense_enough:
            tags.append(TopicTag(topic.id, topic.name, round(score, 2), hits[topic_index], tuple(matched[topic_index])))
    tags.sort(key=lambda tag: (-tag.score, tag.topic_id))
    return tags


@dataclass
class _Keyword:
    """One keyword as matched: its words (lower-cased unless case-sensitive) and the topics it counts for."""

    written: str
    words: tuple[str, ...]
    case_sensitive: bool
    prefix: bool
    targets: list[tuple[int, float]]

    def matches(self, original: list[str], lowered: list[str], index: int) -> bool:
        """True when the keyword's words start at word `index`."""
        source = original if self.case_sensitive else lowered
        if index + len(self.words) > len(source):
            return False
        last = len(self.words) - 1
        for offset, word in enumerate(self.words):
            candidate = source[index + offset]
            if candidate != word and not (self.prefix and offset == last and candidate.startswith(word)):
                return False
        return True


class _Matcher:
    """A rule set's keywords indexed for one pass over a text's words, plus one regex for Chinese keywords."""

    def __init__(self, topics: Topics) -> None:
        self.exact_first: dict[str, list[_Keyword]] = {}  # case-sensitive, by first word as written
        self.folded_first: dict[str, list[_Keyword]] = {}  # any case, by first word lower-cased
        self.prefix_first: dict[str, list[_Keyword]] = {}  # one-word prefixes, by their first letters
        chinese: dict[str, _Keyword] = {}
        latin: dict[tuple[tuple[str, ...], bool, bool], _Keyword] = {}
        for topic_index, topic in enumerate(topics.topics):
            for written, weight in topic.keywords:
                if _CJK_RE.search(written):
                    keyword = chinese.setdefault(written, _Keyword(written, (written,), True, False, []))
                else:
                    case_sensitive = written != written.lower()
                    words = tuple(_WORD_RE.findall(written if case_sensitive else written.lower()))
                    key = (words, case_sensitive, written.endswith("*"))
                    keyword = latin.setdefault(key, _Keyword(written, *key, []))
                # One keyword listed twice in a topic (two apostrophes) counts once, at its higher weight.
                existing = [i for i, (t, _) in enumerate(keyword.targets) if t == topic_index]
                if existing:
                    keyword.targets[existing[0]] = (topic_index, max(weight, keyword.targets[existing[0]][1]))
                else:
                    keyword.targets.append((topic_index, weight))
        for keyword in latin.values():
            if keyword.prefix and len(keyword.words) == 1:
                self.prefix_first.setdefault(keyword.words[0][:_PREFIX_KEY].lower(), []).append(keyword)
            elif keyword.case_sensitive:
                self.exact_first.setdefault(keyword.words[0], []).append(keyword)
            else:
                self.folded_first.setdefault(keyword.words[0], []).append(keyword)
        self.chinese = chinese
        ordered = sorted(chinese, key=lambda written: (-len(written), written))
        self.chinese_regex = re.compile("|".join(re.escape(written) for written in ordered)) if ordered else None

    def find(self, text: str) -> list[_Keyword]:
        """Every keyword hit in a text, in order for Latin words, then the Chinese ones."""
        found: list[_Keyword] = []
        original = _WORD_RE.findall(text)
        lowered = [word.lower() for word in original]
        resume = 0
        for index, word in enumerate(original):
            if index < resume:
                continue
            lower = lowered[index]
            best: _Keyword | None = None
            for bucket in (
                self.exact_first.get(word),
                self.folded_first.get(lower),
                self.prefix_first.get(lower[:_PREFIX_KEY]),
            ):
                for keyword in bucket or ():
                    longer = best is None or len(keyword.words) > len(best.words)
                    if longer and keyword.matches(original, lowered, index):
                        best = keyword
            if best is not None:
                found.append(best)
                resume = index + len(best.words)
        if self.chinese_regex is not None and _CJK_RE.search(text):
            found.extend(self.chinese[match.group()] for match in self.chinese_regex.finditer(text))
        return found


@functools.lru_cache(maxsize=8)
def _matcher(topics: Topics) -> _Matcher:
    """The matcher of a rule set, built once per rule set."""
    return _Matcher(topics)


_cached_topics = cached_per_version(load_topics)
