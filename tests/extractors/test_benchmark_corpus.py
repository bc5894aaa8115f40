"""Regression guard on real pages: the Zyte article-extraction benchmark (181 pages from 126 sites).

Every page must go through without an error, and the overall F1 (the benchmark's own metric, as
`benchmarks/extraction.py` computes it) must not fall below what presswatch reached when this guard was
set. A guard on quality, not on timing: speed is measured by the benchmark script, beside trafilatura.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from extractors.articles import extract_article

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"
# Measured F1 0.978 (precision 0.980, recall 0.975); the guard leaves 0.002 for harmless drift.
F1_FLOOR = 0.976


def _benchmark() -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: load the script as a module (registered first,
    # as its dataclasses need).
    name = "presswatch_extraction_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "extraction.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results() -> list[tuple[str, str, str | None]]:
    """(truth, extracted text, error) for every page of the corpus."""
    if not (CORPUS / "ground-truth.json").is_file():
        pytest.skip(f"article-extraction benchmark corpus not found at {CORPUS}")
    found = []
    for page in _benchmark().load_corpus(CORPUS):
        try:
            text, error = extract_article(page.html, page.url, timeout=30).text, None
        except Exception as err:  # any error fails the test below, with its page named
            text, error = "", f"{page.id}: {type(err).__name__}: {err}"
        found.append((page.truth, text, error))
    return found


def test_every_benchmark_page_extracts_without_an_error(results: list[tuple[str, str, str | None]]) -> None:
    assert len(results) == 181
    assert [error for _, _, error in results if error] == []


def test_benchmark_f1_stays_at_the_level_reached(results: list[tuple[str, str, str | None]]) -> None:
    bench = _benchmark()
    precision, recall, f1 = bench.precision_recall_f1(bench.page_counts(truth, text) for truth, text, _ in results)
    assert f1 >= F1_FLOOR, f"F1 {f1:.4f} (precision {precision:.4f}, recall {recall:.4f}) fell below {F1_FLOOR}"


def test_the_metric_is_the_benchmarks_own() -> None:
    bench = _benchmark()
    # Word 4-grams, case-sensitive, counted as multisets; a text under 4 words is one short shingle.
    assert bench.page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    assert bench.page_counts("a b c d e", "A b c d e") == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert bench.page_counts("one two", "one two") == (1.0, 0.0, 0.0)
    assert bench.page_counts("a b c d a b c d", "a b c d") == pytest.approx((0.2, 0.0, 0.8))
    # An empty prediction counts against recall only; F1 comes from the two means.
    precision, recall, f1 = bench.precision_recall_f1([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    assert (precision, recall) == (1.0, 0.5)
    assert f1 == pytest.approx(2 / 3)
