"""benchmarks/queries.py at a tiny scale: it fills, queries and reports row counts that match what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "queries.py"
QUERIES = [
    "coverage_daily: 1 entity, 30 days",
    "share_of_voice: weeks of 1 month",
    "share_of_voice: months of the year",
    "entity_pairs: 7 days",
    "coverage_daily: all-time totals",
    "coverage: latest 20 headlines",
    "build_report 7 days",
    "build_report 30 days",
    "search 'cloud'",
    "search 'cloud' --entity alibaba --since 30d",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--repeat", "1", "--end", "2026-11-25", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def sqlite_figures() -> dict[str, Any]:
    done = run("--stories", "2000", "--backends", "sqlite", "--json")
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def test_the_corpus_has_the_requested_stories_three_mentions_each_and_20_entities(
    sqlite_figures: dict[str, Any],
) -> None:
    assert (sqlite_figures["stories"], sqlite_figures["mentions"], sqlite_figures["entities"]) == (2000, 6000, 20)
    sqlite = sqlite_figures["backends"]["sqlite"]
    assert sqlite["skipped"] is None and sqlite["size_bytes"] > 0
    assert {"migrate", "articles", "mentions"} <= set(sqlite["fill_seconds"])


def test_every_query_returns_the_rows_the_generator_says_it_must(sqlite_figures: dict[str, Any]) -> None:
    timings = sqlite_figures["backends"]["sqlite"]["timings"]
    assert [t["name"] for t in timings] == QUERIES
    assert [t["rows"] for t in timings] == [t["expected_rows"] for t in timings]
    rows = {t["name"]: t["rows"] for t in timings}
    # Fixed by construction: every entity is named somewhere; a quarter of 2,000 stories say "cloud".
    assert rows["coverage_daily: all-time totals"] == 20
    assert rows["coverage: latest 20 headlines"] == 20 and rows["search 'cloud'"] == 20
    assert 0 < rows["coverage_daily: 1 entity, 30 days"] <= 30
    assert all(t["rows"] > 0 and len(t["runs"]) == 1 and t["seconds"] >= 0 for t in timings)


def test_the_table_names_each_query_and_judges_it_against_one_second() -> None:
    done = run("--stories", "300", "--backends", "sqlite")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "300 stories, 900 mentions, 20 entities, 365 days to 2026-11-25"
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| query | sqlite (s) | sqlite cpu (s) | rows | under 1 s |"
    assert [line.split(" | ")[0].removeprefix("| ") for line in table[1:]] == QUERIES
    assert "WRONG" not in done.stdout


def test_postgresql_answers_with_the_same_row_counts_or_says_why_it_was_skipped() -> None:
    done = run("--stories", "500", "--backends", "sqlite,postgresql", "--json")
    assert done.returncode == 0, done.stderr
    backends = json.loads(done.stdout)["backends"]
    if backends["postgresql"]["skipped"]:
        assert backends["postgresql"]["skipped"].startswith("no PostgreSQL at ")
        pytest.skip(backends["postgresql"]["skipped"])
    counts = {name: [t["rows"] for t in b["timings"]] for name, b in backends.items()}
    assert counts["postgresql"] == counts["sqlite"] == [t["expected_rows"] for t in backends["sqlite"]["timings"]]


def test_an_unreachable_postgresql_is_skipped_with_a_reason() -> None:
    done = run("--stories", "50", "--backends", "postgresql", "--pg-admin-url",
               "postgresql+psycopg://postgres@127.0.0.1:9/postgres", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    skipped = json.loads(done.stdout)["backends"]["postgresql"]["skipped"]
    assert skipped.startswith("no PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:9/postgres: ")
