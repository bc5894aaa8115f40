"""Discover organisations and people a story names that are not on the watchlist (candidates to add).

This needs a statistical spaCy pipeline with an `ner` component, which presswatch does not ship: the user
installs one (e.g. en_core_web_sm) and names it in PRESSWATCH_SPACY_MODEL; the settings pass that name to
`load_ner_model`. Without a model, discovery is simply off: tagging never needs one.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections import Counter
from collections.abc import Iterable

import spacy
from spacy.language import Language

from extractors.models import DiscoveredName, Watchlist
from extractors.tagging import find_mentions
from presswatch.errors import ConfigError

LABELS = ("ORG", "PERSON")
SPACY_MODELS_URL = "https://github.com/explosion/spacy-models/releases"

_POSSESSIVE_RE = re.compile(r"(?:['’]s|['’])$")
_LEADING_ARTICLE_RE = re.compile(r"^(?:the|The)\s+")
_SPACE_RE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4)
def load_ner_model(name: str) -> Language:
    """Load an installed spaCy pipeline that has an `ner` component, once; ConfigError says how to install it."""
    try:
        nlp = spacy.load(name)
    except OSError:
        raise ConfigError(
            f"spaCy model {name!r} is not installed. On a machine with internet access, install it into "
            f"presswatch's environment with `.venv/bin/pip install {_wheel_url(name)}` (or "
            f"`.venv/bin/python -m spacy download {name}`), then set PRESSWATCH_SPACY_MODEL={name}; "
            f"releases are listed at {SPACY_MODELS_URL}. Leave PRESSWATCH_SPACY_MODEL empty to run without one."
        ) from None
    if "ner" not in nlp.pipe_names:
        raise ConfigError(
            f"spaCy pipeline {name!r} has no 'ner' component (it has: {', '.join(nlp.pipe_names) or 'none'}); "
            "name discovery needs one, e.g. en_core_web_sm"
        )
    return nlp


def _wheel_url(name: str) -> str:
    """The release wheel of a model for the installed spaCy minor version (models follow spaCy's x.y)."""
    major, minor = importlib.metadata.version("spacy").split(".")[:2]
    version = f"{major}.{minor}.0"
    return f"{SPACY_MODELS_URL}/download/{name}-{version}/{name}-{version}-py3-none-any.whl"


def discover_names(
    text: str,
    nlp: Language,
    watchlist: Watchlist,
    *,
    title: str | None = None,
    labels: Iterable[str] = LABELS,
) -> list[DiscoveredName]:
    """ORG and PERSON names the model finds that are not watched, most frequent first (ties by text)."""
    wanted = frozenset(labels)
    watched = _watched_spellings(watchlist)
    counts: Counter[tuple[str, str]] = Counter()
    for part in (title or "", text):
        if not part.strip():
            continue
        # A name that overlaps a watched mention ("Alibaba Group's") is the watched entity, however split.
        covered = [(m.start, m.end) for m in find_mentions(None, part, watchlist)]
        for chunk_start, chunk in _chunks(part, nlp.max_length):
            for ent in nlp(chunk).ents:
                if ent.label_ not in wanted:
                    continue
                start, end = chunk_start + ent.start_char, chunk_start + ent.end_char
                if any(s < end and start < e for s, e in covered):
                    continue
                name = _clean(ent.text)
                if name and name.lower() not in watched:
                    counts[(name, ent.label_)] += 1
    found = [DiscoveredName(name, label, count) for (name, label), count in counts.items()]
    found.sort(key=lambda item: (-item.count, item.text, item.label))
    return found


def _watched_spellings(watchlist: Watchlist) -> frozenset[str]:
    """Every watched spelling, lower-cased, to drop a name the ruler could not see as a mention."""
    spellings: set[str] = set()
    for entity in watchlist.entities:
        spellings.update(s.lower() for s in (*entity.aliases, *entity.after_full_name, *entity.native_names))
    return frozenset(spellings)


def _clean(name: str) -> str:
    """A name without a possessive, a leading "the" or odd spacing."""
    name = _SPACE_RE.sub(" ", name).strip()
    name = _POSSESSIVE_RE.sub("", name)
    return _LEADING_ARTICLE_RE.sub("", name).strip(" .,;:")


def _chunks(text: str, limit: int) -> Iterable[tuple[int, str]]:
    """Text longer than the pipeline's max_length, cut at line breaks (else anywhere), with offsets."""
    start = 0
    while len(text) - start > limit:
        cut = text.rfind("\n", start, start + limit)
        cut = cut if cut > start else start + limit
        yield start, text[start:cut]
        start = cut
    yield start, text[start:]
