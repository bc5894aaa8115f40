"""Score presswatch's article extraction on the Zyte article-extraction benchmark, beside plain trafilatura.

Usage: ``.venv/bin/python benchmarks/extraction.py [--corpus DIR] [--repeat N] [--json]``

The metric is the benchmark's own (see ../shared/corpora/README.md): word 4-gram multisets per page, per-page
tp/fp/fn normalised so every page weighs the same, precision and recall averaged over pages, F1 from the two
means. Both extractors get the same bytes and the same URL; pages alternate between them (and which goes first)
so that a slow stretch of the machine hurts both alike, and with ``--repeat`` the fastest pass of each counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import trafilatura

from extractors.articles import extract_article
from presswatch.errors import ExtractionError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"
NGRAM = 4
_TOKEN = re.compile(r"\w+")

Extractor = Callable[[bytes, str], str]


@dataclass(frozen=True)
class Page:
    """One benchmark page: its id, URL, raw bytes and the true article body."""

    id: str
    url: str
    html: bytes
    truth: str


@dataclass(frozen=True)
class Score:
    """The benchmark's figures for one extractor over a corpus."""

    name: str
    f1: float
    precision: float
    recall: float
    pages: int
    errors: int
    seconds: float
    cpu_seconds: float

    @property
    def pages_per_second(self) -> float:
        """Pages extracted per second of extraction time (wall clock)."""
        return self.pages / self.seconds if self.seconds > 0 else float("inf")

    @property
    def pages_per_cpu_second(self) -> float:
        """Pages extracted per second of this process's CPU time (steadier on a busy machine)."""
        return self.pages / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """The multiset of word 4-grams of a text; a text of fewer than 4 words is one short shingle."""
    tokens = _TOKEN.findall(text or "")
    counts: Counter[tuple[str, ...]] = Counter()
    for i in range(max(1, len(tokens) - NGRAM + 1)):
        shingle = tuple(tokens[i : i + NGRAM])
        if shingle:  # an empty text has no shingle at all
            counts[shingle] += 1
    return counts


def page_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """A page's (tp, fp, fn) over shingles, normalised to sum to 1 so every page weighs the same."""
    true_counts, pred_counts = shingles(truth), shingles(prediction)
    tp = fp = fn = 0
    for key in true_counts.keys() | pred_counts.keys():
        t, p = true_counts.get(key, 0), pred_counts.get(key, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def precision_recall_f1(counts: Iterable[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Mean precision and mean recall over pages (each where defined), and F1 of those two means."""
    precisions: list[float] = []
    recalls: list[float] = []
    for tp, fp, fn in counts:
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def load_corpus(corpus: Path = DEFAULT_CORPUS) -> list[Page]:
    """The benchmark's pages with their ground truth, in id order."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        path = corpus / "html" / f"{page_id}.html.gz"
        html = gzip.decompress(path.read_bytes())
        pages.append(Page(page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"]))
    return pages


def presswatch_text(html: bytes, url: str) -> str:
    """presswatch's article text for a page; a page it refuses counts as an empty prediction."""
    try:
        return extract_article(html, url).text
    except ExtractionError:
        return ""


def trafilatura_text(html: bytes, url: str) -> str:
    """Plain trafilatura with its default settings."""
    return trafilatura.extract(html, url=url) or ""


def run(pages: list[Page], extractors: dict[str, Extractor], repeat: int = 1) -> list[Score]:
    """Extract every page with every extractor (interleaved), and score each."""
    names = list(extractors)
    best = dict.fromkeys(names, float("inf"))
    best_cpu = dict.fromkeys(names, float("inf"))
    outputs: dict[str, list[str]] = {name: [""] * len(pages) for name in names}
    errors = dict.fromkeys(names, 0)
    for _ in range(max(1, repeat)):
        elapsed = dict.fromkeys(names, 0.0)
        cpu = dict.fromkeys(names, 0.0)
        for i, page in enumerate(pages):
            order = names if i % 2 == 0 else names[::-1]
            for name in order:
                started, started_cpu = time.perf_counter(), time.process_time()
                try:
                    text = extractors[name](page.html, page.url)
                except Exception:  # the benchmark reports a crash as an error, it does not stop
                    text = ""
                    errors[name] += 1
                elapsed[name] += time.perf_counter() - started
                cpu[name] += time.process_time() - started_cpu
                outputs[name][i] = text
        for name in names:
            best[name] = min(best[name], elapsed[name])
            best_cpu[name] = min(best_cpu[name], cpu[name])
    scores = []
    for name in names:
        precision, recall, f1 = precision_recall_f1(
            page_counts(page.truth, text) for page, text in zip(pages, outputs[name], strict=True)
        )
        failed = errors[name] // max(1, repeat)
        scores.append(Score(name, f1, precision, recall, len(pages), failed, best[name], best_cpu[name]))
    return scores


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with ground-truth.json and html/")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the corpus; the fastest counts for speed")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if not (args.corpus / "ground-truth.json").is_file():
        print(f"benchmark corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    pages = load_corpus(args.corpus)
    extractors: dict[str, Extractor] = {
        "presswatch": presswatch_text,
        f"trafilatura {trafilatura.__version__} (defaults)": trafilatura_text,
    }
    ours, plain = run(pages, extractors, args.repeat)
    ratio = ours.pages_per_second / plain.pages_per_second
    cpu_ratio = ours.pages_per_cpu_second / plain.pages_per_cpu_second
    if args.json:
        result = {
            "corpus": str(args.corpus),
            "pages": len(pages),
            "results": [
                {**asdict(s), "pages_per_second": s.pages_per_second, "pages_per_cpu_second": s.pages_per_cpu_second}
                for s in (ours, plain)
            ],
            "speed_ratio": ratio,
            "cpu_speed_ratio": cpu_ratio,
        }
        print(json.dumps(result, indent=2))
        return 0
    print(f"{len(pages)} pages from {args.corpus}")
    print(f"{'extractor':<34} {'F1':>6} {'prec.':>6} {'recall':>6} {'pages/s':>8} {'p/cpu-s':>8} {'errors':>6}")
    for s in (ours, plain):
        print(
            f"{s.name:<34} {s.f1:6.3f} {s.precision:6.3f} {s.recall:6.3f} {s.pages_per_second:8.1f}"
            f" {s.pages_per_cpu_second:8.1f} {s.errors:6d}"
        )
    print(f"speed ratio presswatch / trafilatura: {ratio:.2f}x (wall clock), {cpu_ratio:.2f}x (CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
