"""Measure the entity tagger: precision and recall on labelled passages, and speed on real news text.

Usage: ``.venv/bin/python benchmarks/tagging.py [--passages FILE] [--watchlist FILE] [--corpus DIR] [--repeat N]
[--json]``

Accuracy: each passage in tests/data/tagging/passages.yaml is labelled with the watched entities it names
(`mentions`) and traps it sets (`absent`). A passage's expected set is its mentions plus the parent companies of
the brands among them (the tagger rolls brands up). Per entity and overall (micro-averaged over passages):
a true positive is an expected entity the tagger found, a false positive a found entity not expected, a false
negative an expected entity not found. Mention counts are not scored here (the unit tests pin them).

Speed: `tag_article` over the article bodies of the Zyte extraction benchmark (181 real pages, ../shared/corpora),
the seed article and the passages, in this one process (so on one core), after one warm-up pass; the fastest of
`--repeat` passes counts. Time is this process's CPU time, so that other work on a shared machine does not count
against it (wall-clock time is printed beside it). Words are counted as the tagger counts them (a Chinese word =
two characters).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from extractors.models import Watchlist  # noqa: E402
from extractors.quotes import find_quotes  # noqa: E402
from extractors.tagging import density_words, find_mentions, tag_article  # noqa: E402
from extractors.topics import load_topics, tag_topics  # noqa: E402
from extractors.watchlist import load_watchlist  # noqa: E402

PASSAGES = REPO / "tests" / "data" / "tagging" / "passages.yaml"
WATCHLIST = REPO / "seeds" / "watchlist.yaml"
TOPICS = REPO / "seeds" / "topics.yaml"
CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"
SEED = REPO.parent / "shared" / "seeds" / "jack-ma-comeback.txt"


@dataclass(frozen=True)
class Passage:
    """One labelled passage."""

    id: str
    lang: str
    text: str
    title: str | None = None
    mentions: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


@dataclass
class Scores:
    """True positives, false positives and false negatives per entity, and the passages that went wrong."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """Overall precision: found and expected / found."""
        found = sum(self.tp.values()) + sum(self.fp.values())
        return sum(self.tp.values()) / found if found else 1.0

    @property
    def recall(self) -> float:
        """Overall recall: found and expected / expected."""
        expected = sum(self.tp.values()) + sum(self.fn.values())
        return sum(self.tp.values()) / expected if expected else 1.0

    def per_entity(self) -> dict[str, tuple[float, float, int]]:
        """Entity id -> (precision, recall, passages expecting it)."""
        rows = {}
        for entity_id in sorted({*self.tp, *self.fp, *self.fn}):
            tp, fp, fn = self.tp[entity_id], self.fp[entity_id], self.fn[entity_id]
            rows[entity_id] = (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, tp + fn)
        return rows


def load_passages(path: Path = PASSAGES) -> list[Passage]:
    """Read the labelled passages file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Passage(
            id=raw["id"],
            lang=raw["lang"],
            text=raw["text"],
            title=raw.get("title"),
            mentions=tuple(raw.get("mentions") or ()),
            absent=tuple(raw.get("absent") or ()),
        )
        for raw in data["passages"]
    ]


def expected_ids(passage: Passage, watchlist: Watchlist) -> set[str]:
    """The passage's labelled entities plus the parent companies of its brands."""
    by_id = watchlist.by_id()
    expected = set(passage.mentions)
    for entity_id in passage.mentions:
        entity = by_id[entity_id]
        if entity.kind == "brand" and entity.parent is not None:
            expected.add(entity.parent)
    return expected


def evaluate(passages: list[Passage], watchlist: Watchlist) -> Scores:
    """Score tag_article against the labels."""
    scores = Scores()
    for passage in passages:
        expected = expected_ids(passage, watchlist)
        found = {tag.entity_id for tag in tag_article(passage.title, passage.text, watchlist)}
        for entity_id in found & expected:
            scores.tp[entity_id] += 1
        for entity_id in found - expected:
            scores.fp[entity_id] += 1
        for entity_id in expected - found:
            scores.fn[entity_id] += 1
        if found != expected:
            scores.errors.append(
                {"passage": passage.id, "missed": sorted(expected - found), "wrong": sorted(found - expected)}
            )
    return scores


def speed_texts(passages: list[Passage], corpus: Path = CORPUS) -> list[tuple[str | None, str]]:
    """(title, text) pairs to time: the Zyte article bodies when present, the seed article, the passages."""
    texts: list[tuple[str | None, str]] = []
    truth = corpus / "ground-truth.json"
    if truth.exists():
        texts.extend((None, page["articleBody"]) for page in json.loads(truth.read_text(encoding="utf-8")).values())
    if SEED.exists():
        title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
        texts.append((title, body))
    texts.extend((passage.title, passage.text) for passage in passages)
    return texts


def words_per_second(
    texts: list[tuple[str | None, str]], watchlist: Watchlist, repeat: int = 3, *, clock: str = "cpu"
) -> float:
    """Words tagged per second by tag_article in this process, fastest of `repeat` passes after a warm-up.

    clock "cpu" times this process's CPU time (one core's work), "wall" the elapsed time.
    """
    timer = time.process_time if clock == "cpu" else time.perf_counter
    words = sum(density_words(title or "") + density_words(text) for title, text in texts)
    for title, text in texts:  # warm-up: the pipeline, the tokenizer's vocabulary
        tag_article(title, text, watchlist)
    best = float("inf")
    for _ in range(repeat):
        started = timer()
        for title, text in texts:
            tag_article(title, text, watchlist)
        best = min(best, timer() - started)
    return words / best


def full_analysis_words_per_second(texts: list[tuple[str | None, str]], watchlist: Watchlist) -> float:
    """Words per second for entity tags, topics and quotes together (what the flow runs per story)."""
    topics = load_topics(TOPICS)
    words = sum(density_words(title or "") + density_words(text) for title, text in texts)
    started = time.process_time()
    for title, text in texts:
        mentions = find_mentions(title, text, watchlist)  # shared, as the flow does
        tag_article(title, text, watchlist, mentions=mentions)
        tag_topics(title, text, topics)
        find_quotes(text, watchlist, mentions=mentions)
    return words / (time.process_time() - started)


def main(argv: list[str] | None = None) -> int:
    """Print per-entity and overall precision and recall, the passages that went wrong, and words/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--passages", type=Path, default=PASSAGES)
    parser.add_argument("--watchlist", type=Path, default=WATCHLIST)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    watchlist = load_watchlist(args.watchlist)
    passages = load_passages(args.passages)
    scores = evaluate(passages, watchlist)
    texts = speed_texts(passages, args.corpus)
    speed = words_per_second(texts, watchlist, args.repeat)
    wall_speed = words_per_second(texts, watchlist, args.repeat, clock="wall")
    full_speed = full_analysis_words_per_second(texts, watchlist)
    words = sum(density_words(title or "") + density_words(text) for title, text in texts)
    if args.json:
        result = {
            "passages": len(passages),
            "precision": scores.precision,
            "recall": scores.recall,
            "per_entity": {
                k: dict(zip(("precision", "recall", "support"), v, strict=True)) for k, v in scores.per_entity().items()
            },
            "errors": scores.errors,
            "speed_words": words,
            "words_per_second": speed,
            "wall_clock_words_per_second": wall_speed,
            "full_analysis_words_per_second": full_speed,
        }
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'entity':<16} {'precision':>9} {'recall':>7} {'support':>7}")
    for entity_id, (precision, recall, support) in scores.per_entity().items():
        print(f"{entity_id:<16} {precision:>9.3f} {recall:>7.3f} {support:>7}")
    print(
        f"\n{len(passages)} passages ({sum(p.lang == 'zh' for p in passages)} Chinese): "
        f"precision {scores.precision:.3f}, recall {scores.recall:.3f} "
        f"(tp {sum(scores.tp.values())}, fp {sum(scores.fp.values())}, fn {sum(scores.fn.values())})"
    )
    for error in scores.errors:
        print(f"  {error['passage']}: missed {error['missed'] or '-'}, wrong {error['wrong'] or '-'}")
    print(
        f"\nspeed: {speed:,.0f} words/s on one core, CPU time ({wall_speed:,.0f} by the wall clock; "
        f"{words:,} words, {len(texts)} texts, best of {args.repeat})"
    )
    print(f"entity tags, topics and quotes together: {full_speed:,.0f} words/s (CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
