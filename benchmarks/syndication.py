"""Measure the syndication rule on real article texts: how far copies and different stories lie apart.

Usage: ``.venv/bin/python benchmarks/syndication.py [--corpus DIR] [--seed N] [--json]``

The texts are the 181 true article bodies of the Zyte extraction benchmark (126 sites, written by no one on
this project). Different stories: every pair of them (16,290 pairs), as they are and with the same block of
site boilerplate appended to both (two pages of one site template whose extraction let the furniture
through). Copies: each text made into the copies syndication produces, with a seeded random generator:

- ``wire``: another outlet's headline first, its credit line last, 3 small wording edits;
- ``edited``: as wire, plus 15 % of the sentences rewritten (replaced by sentences of another article);
- ``trimmed``: the last 30 % of the paragraphs cut (outlets trim wire copy to fit);
- ``updated``: the same outlet's later version: 25 % more paragraphs added at the end, one sentence changed;
- ``shifted``: the first fifth of the sentences dropped and as many new ones added at the end (a rewrite that
  keeps about two thirds of the text: the hard case, near the 0.5 resemblance threshold).

For each kind it prints the SimHash distance (percentiles) and the shingle resemblance, and for the different
stories how many pairs fall within each SimHash distance (the candidates the database would hand over for a
text comparison) and how many pass the final rule (false positives). Texts under `MIN_CLUSTER_WORDS` are left
out, as the clustering leaves them out.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from extractors.models import ExtractedArticle
from extractors.similarity import (
    MIN_RESEMBLANCE,
    distance,
    fingerprint,
    jaccard,
    resemblance,
    shingles,
    signature,
    to_signed,
    words,
)
from storage.clusters import MAX_SIMHASH_DISTANCE, MIN_CLUSTER_WORDS, assign_clusters, same_story, story_time
from storage.db import make_engine, upgrade
from storage.models import Article
from storage.writes import Story, store_batch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"
BOILERPLATE = (
    "Sign up for our morning newsletter and get the day's top business and technology stories in your inbox.\n"
    "Copyright 2026 Example Media Group. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.\nFollow us on Facebook, X, LinkedIn and Instagram for the latest news.\n"
    "Most read: Markets close higher; Chip stocks rally; Retail sales slow; The week in tech"
)
THRESHOLDS = (16, 20, 22, 24, 26, 28)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def load_texts(corpus: Path) -> list[str]:
    """The benchmark's true article bodies long enough to be clustered."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    texts = [str(item["articleBody"]) for item in truth.values()]
    return [t for t in texts if len(words(t)) >= MIN_CLUSTER_WORDS]


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def _small_edits(text: str, rng: random.Random, count: int) -> str:
    tokens = text.split(" ")
    for _ in range(count):
        i = rng.randrange(len(tokens))
        tokens[i] = tokens[i].upper() if rng.random() < 0.5 else tokens[i] + ","
    return " ".join(tokens)


def make_copy(kind: str, text: str, other: str, rng: random.Random) -> str:
    """One copy of `text` of the given kind (`other` lends sentences for rewrites and updates)."""
    headline = "Outlet headline: " + " ".join(words(text)[:8])
    if kind == "wire":
        return f"{headline}\n{_small_edits(text, rng, 3)}\n(Reporting by Jane Roe; Editing by John Doe)"
    if kind == "edited":
        sentences, spare = _sentences(text), _sentences(other) or ["A new sentence."]
        for i in rng.sample(range(len(sentences)), max(1, len(sentences) * 15 // 100)):
            sentences[i] = rng.choice(spare)
        return f"{headline}\n{' '.join(sentences)}\n(Reporting by Jane Roe)"
    paragraphs = _paragraphs(text)
    if kind == "trimmed":
        keep = max(1, round(len(paragraphs) * 0.7)) if len(paragraphs) > 1 else 1
        kept = "\n".join(paragraphs[:keep])
        if keep == len(paragraphs):  # one paragraph: cut its words instead
            kept = " ".join(text.split(" ")[: int(len(text.split(" ")) * 0.7)])
        return kept
    if kind == "updated":
        extra = " ".join(words(other)[: max(10, len(words(text)) // 4)])
        sentences = _sentences(text)
        sentences[rng.randrange(len(sentences))] = "This sentence was changed in the update."
        return " ".join(sentences) + "\nUPDATE: " + extra
    if kind == "shifted":
        sentences, spare = _sentences(text), _sentences(other) or ["A new sentence."]
        cut = max(1, len(sentences) // 5)
        return " ".join(sentences[cut:] + spare[:cut])
    raise ValueError(kind)


def percentiles(values: list[float]) -> dict[str, float]:
    """Min, 5th, 50th, 95th percentile and max."""
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"min": ordered[0], "p5": pick(0.05), "p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1]}


def measure(texts: list[str], seed: int) -> dict[str, object]:
    """Distances and resemblances of copies and of different stories, and the rule's outcome on each."""
    rng = random.Random(seed)
    results: dict[str, object] = {"texts": len(texts), "threshold": MAX_SIMHASH_DISTANCE}
    for kind in ("wire", "edited", "trimmed", "updated", "shifted"):
        dists, sims, verdicts = [], [], []
        for i, text in enumerate(texts):
            copy = make_copy(kind, text, texts[(i + 1) % len(texts)], rng)
            dists.append(float(distance(fingerprint(text), fingerprint(copy))))
            sims.append(resemblance(signature(text), signature(copy)))
            verdicts.append(same_story(text, copy))
        grouped = sum(verdicts)
        results[kind] = {
            "distance": percentiles(dists),
            "resemblance": percentiles(sims),
            "same_story": grouped,
            # copies the rule groups when the SimHash filter lets pairs up to t bits through
            "grouped_within": {
                str(t): sum(d <= t and ok for d, ok in zip(dists, verdicts, strict=True)) for t in THRESHOLDS
            },
        }
    for label, suffix in (("different", ""), ("different+boilerplate", "\n" + BOILERPLATE)):
        prints = [fingerprint(t + suffix) for t in texts]
        pairs = list(combinations(range(len(texts)), 2))
        dists = [distance(prints[a], prints[b]) for a, b in pairs]
        sets = [shingles(t + suffix) for t in texts]
        # The text rule alone, over every pair whatever its SimHash distance: the false positives it would make.
        same = [
            len(words(texts[a] + suffix)) >= MIN_CLUSTER_WORDS and jaccard(sets[a], sets[b]) >= MIN_RESEMBLANCE
            for a, b in pairs
        ]
        results[label] = {
            "pairs": len(pairs),
            "distance": percentiles([float(d) for d in dists]),
            "within": {str(t): sum(d <= t for d in dists) for t in THRESHOLDS},
            "jaccard_max": round(max(jaccard(sets[a], sets[b]) for a, b in pairs), 3),
            "grouped": sum(ok and d <= MAX_SIMHASH_DISTANCE for ok, d in zip(same, dists, strict=True)),
            "text_rule_alone": sum(same),
        }
    results["short+boilerplate"] = short_texts_with_boilerplate(texts)
    return results


def short_texts_with_boilerplate(texts: list[str]) -> dict[str, object]:
    """Pairs of different short texts carrying the same furniture that resemble at the threshold (no length rule).

    Shows why short texts are left out: the shared block weighs more the shorter the story.
    """
    block = " ".join(words(BOILERPLATE)[:35])  # a newsletter box and a copyright line
    found: dict[str, object] = {"boilerplate_words": 35}
    for size in (20, 40, 60, 90):
        sketches = [signature(" ".join(words(t)[:size]) + "\n" + block) for t in texts[:80]]
        pairs = list(combinations(range(len(sketches)), 2))
        found[f"{size}_words"] = sum(resemblance(sketches[a], sketches[b]) >= 0.5 for a, b in pairs)
    found["pairs"] = len(list(combinations(range(min(80, len(texts))), 2)))
    return found


def fill(engine: Engine, count: int, texts: list[str], rng: random.Random) -> None:
    """`count` different stories spread over a year: random-word texts, random fingerprints (as unrelated
    texts' are: each bit a coin toss), each its own cluster."""
    vocabulary = sorted({w for t in texts for w in words(t)})
    for start in range(0, count, 5000):
        rows = []
        for i in range(start, min(count, start + 5000)):
            when = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
            body = " ".join(rng.choices(vocabulary, k=120))
            rows.append(
                {"url": f"https://filler.example/{i}", "canonical_url": f"https://filler.example/{i}", "text": body,
                 "fetched_at": when, "published_at": when, "extractor": "benchmark", "word_count": 120,
                 "truncated": False, "is_original": True, "simhash": to_signed(rng.getrandbits(64))}
            )  # fmt: skip
        with engine.begin() as connection:
            connection.execute(insert(Article), rows)
    with engine.begin() as connection:
        connection.execute(update(Article).where(Article.cluster_id.is_(None)).values(cluster_id=Article.id))


def window_plan(engine: Engine) -> list[str]:
    """The database's plan for the candidate query (one ±3-day window)."""
    when = story_time()
    query = select(Article.id, when, Article.cluster_id, Article.is_original, Article.simhash).where(
        when >= YEAR_START + timedelta(days=100), when <= YEAR_START + timedelta(days=106)
    )
    with engine.connect() as connection:
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
        return [" ".join(str(c) for c in row) for row in connection.exec_driver_sql(prefix + sql)]


def at_scale(url: str, count: int, texts: list[str], batch: int) -> dict[str, object]:
    """Fill a database with `count` stories, then store a batch of new ones (copies of stored stories among
    them) and cluster it: the clustering time beside the store time of the same batch (the baseline)."""
    rng = random.Random(3)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    fill(engine, count, texts, rng)
    filled = time.perf_counter() - started

    def story(n: int, body: str, day: int) -> Story:
        when = YEAR_START + timedelta(days=day, hours=n % 24)
        article = ExtractedArticle(url=f"https://new.example/{n}", canonical_url=f"https://new.example/{n}",
                                   text=body, title=f"Story {n}", published=when, extractor="benchmark")  # fmt: skip
        return Story(article.url, article, [], None, when)

    # Half the batch: originals stored first (in the database already); the other half: their copies.
    originals = [story(n, texts[n], 100 + n % 60) for n in range(batch // 2)]
    assign_clusters(engine, [r.article_id for r in store_batch(engine, originals, [])])
    copies = [story(1000 + n, make_copy("wire", texts[n], texts[n + 1], rng), 100 + n % 60) for n in range(batch // 2)]
    fresh = [story(2000 + n, texts[batch + n], 100 + n % 60) for n in range(batch - batch // 2)]
    started = time.perf_counter()
    stored = store_batch(engine, copies + fresh, [])
    store_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = assign_clusters(engine, [s.article_id for s in stored])
    cluster_seconds = time.perf_counter() - started
    plan = window_plan(engine)
    engine.dispose()
    return {
        "stories": count, "batch": batch, "fill_seconds": round(filled, 1),
        "store_seconds": round(store_seconds, 3), "cluster_seconds": round(cluster_seconds, 3),
        "cluster_vs_store": round(cluster_seconds / store_seconds, 2), "compared": report.compared,
        "confirmed": report.confirmed, "relabelled": len(report.relabelled), "window_plan": plan,
    }  # fmt: skip


def main() -> None:
    """Print the measurements (a table, or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scale", type=int, default=0, help="also time clustering among this many stories")
    parser.add_argument("--database-url", default="", help="empty database for --scale (default: a temporary SQLite)")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.scale:
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite:///{folder}/scale.db"
            results = at_scale(url, args.scale, load_texts(args.corpus), args.batch)
        print(json.dumps(results, indent=2))
        return
    results = measure(load_texts(args.corpus), args.seed)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
