"""Which language an article is written in, from its text: writing system first, then function words.

No language-identification package is installed (trafilatura would use py3langid), so this is a small,
honest detector: it names a language only when the evidence is clear, and returns None otherwise.

- Scripts that belong to one language decide alone: Hangul is Korean, kana is Japanese (kanji alone
  is Chinese), Greek, Hebrew, Thai; Cyrillic is Russian unless it has Ukrainian letters; Arabic script
  is Arabic unless it has Persian letters.
- Latin-script text is scored by its most frequent function words, for the languages listed in
  `_STOPWORDS`: a language wins when its words are common in the text and clearly ahead of the runner-up.
"""

from __future__ import annotations

import re
from collections import Counter

# Enough text to be sure, bounded work on very long articles.
_SAMPLE_CHARS = 2500
_MIN_LETTERS = 20
_MIN_STOPWORD_HITS = 4
_MIN_STOPWORD_SHARE = 0.08  # of all words
_MIN_LEAD = 1.5  # the winner's hits over the runner-up's

_LATIN_WORD = re.compile(r"[a-zà-öø-ÿœß’']+")

# Frequent function words, each list keeping only words that are NOT frequent in the other languages
# listed (so "de", "a", "que", "en" count for no one): a hit is evidence for one language only.


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "the of and to is was for that with on as are it by this be from at have has had not but they were which"
        " you his her their been would will there its an or we who said do"
    ),
    "de": _wordset(
        "der die und das ist nicht mit sich auf für dem den ein eine einer eines im auch es an werden aus er hat"
        " dass daß sie nach wird bei noch wie um über so zum zur vom sind war wurde oder ich"
    ),
    "fr": _wordset(
        "le les et des du est un une dans pour pas qui sur au avec il ce sont aux ont mais ou cette été elle"
        " plus par nous vous leur ses été être fait comme"
    ),
    "es": _wordset(
        "el los las y del es por una su al lo como más pero sus le ya fue este ha son está muy también"
        " entre cuando sin sobre hasta desde donde porque esta no"
    ),
    "it": _wordset(
        "il di che è per una sono della del non gli le nel alla anche si ha ma dei delle più questo come"
        " essere nella stato degli sul ed e da"
    ),
    "pt": _wordset(
        "o os e do da dos das em no na um uma não é com ao pelo pela mais foi são seu sua ele ela também"
        " já isso está muito quando"
    ),
    "nl": _wordset(
        "het een van en is dat op te zijn voor met niet aan er ook als bij door maar dan nog wordt werd naar"
        " deze heeft hij zij wij"
    ),
}
# A word in two lists is evidence for neither.
_SHARED = frozenset(
    w
    for lang, words in _STOPWORDS.items()
    for w in words
    for other, ow in _STOPWORDS.items()
    if other != lang and w in ow
)

# Each function word that is evidence for exactly one language, with that language.
_EVIDENCE = {word: lang for lang, words in _STOPWORDS.items() for word in words if word not in _SHARED}
_ASCII_LETTERS = re.compile(r"[A-Za-z]+")

# Languages this module can recognise: only for these can it say that a page's declaration is wrong.
DETECTABLE = frozenset(
    {"en", "de", "fr", "es", "it", "pt", "nl", "zh", "ja", "ko", "ru", "uk", "el", "he", "th", "ar", "fa"}
)

_UKRAINIAN = frozenset("іїєґ")
_PERSIAN = frozenset("پچژگکی")


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language, or None when the text does not make it clear."""
    sample = text[:_SAMPLE_CHARS]
    letters = sum(map(str.isalpha, sample))
    if letters < _MIN_LETTERS:
        return None
    # Most articles are in a Latin script: count ASCII letters first and skip the other scripts then.
    if sum(map(len, _ASCII_LETTERS.findall(sample))) >= 0.7 * letters:
        return _latin_language(sample)
    scripts = {name: len(pattern.findall(sample)) for name, pattern in _SCRIPTS.items()}
    han, kana, hangul = scripts["han"], scripts["kana"], scripts["hangul"]
    cjk = han + kana + hangul
    if cjk >= 0.3 * letters:
        if hangul >= 0.5 * cjk:
            return "ko"
        if kana >= 0.1 * cjk:
            return "ja"
        return "zh" if han >= 0.6 * cjk else None
    script = max(scripts, key=lambda name: scripts[name])
    count = scripts[script]
    if count < 0.6 * letters:
        return None
    if script == "cyrillic":
        return "uk" if any(ch in _UKRAINIAN for ch in sample.lower()) else "ru"
    if script == "arabic":
        return "fa" if sum(ch in _PERSIAN for ch in sample) > 0.01 * count else "ar"
    if script in ("greek", "hebrew", "thai"):
        return {"greek": "el", "hebrew": "he", "thai": "th"}[script]
    if script == "latin":
        return _latin_language(sample)
    return None


def choose_language(declared: str | None, text: str) -> str | None:
    """The page's declared language, unless the text is clearly in another (or the page declares none)."""
    detected = detect_language(text)
    if detected is None:
        return declared
    if declared is None or declared == detected:
        return detected
    # A declaration we cannot check (Catalan, Norwegian...) stands: the detector does not know those.
    return detected if declared in DETECTABLE else declared


def _latin_language(sample: str) -> str | None:
    words = Counter(_LATIN_WORD.findall(sample.lower()))
    total = sum(words.values())
    if not total:
        return None
    hits: Counter[str] = Counter()
    for word, count in words.items():
        lang = _EVIDENCE.get(word)
        if lang is not None:
            hits[lang] += count
    ranked = hits.most_common(2)
    if not ranked:
        return None
    lang, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if best < _MIN_STOPWORD_HITS or best < _MIN_STOPWORD_SHARE * total or best < _MIN_LEAD * runner_up:
        return None
    return lang


# Letters by writing system (regular expressions count them far faster than a loop over characters).
_SCRIPTS = {
    "latin": re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "cyrillic": re.compile(r"[\u0400-\u052f]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "kana": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]"),
    "hangul": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"),
}
