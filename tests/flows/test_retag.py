"""What a stored story is about: salience, topics, quotes, aliases; and re-tagging after the rules change."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from flows.monitor import monitor_feeds
from flows.retag import retag
from storage.db import make_engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(sqlite_url: str) -> str:
    summary = monitor_feeds(feeds_file=str(REPO / "seeds" / "feeds.yaml"), database_url=SecretStr(sqlite_url))
    assert summary.stories_stored == 1
    return sqlite_url


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return rows


def test_stored_seed_story_has_salience_primary_topics_quotes_and_its_raw_page(seeded: str) -> None:
    primary = {r[0] for r in query(seeded, 'SELECT entity_id FROM coverage WHERE "primary"')}
    assert primary == {"alibaba", "jack-ma"}
    salience = dict(query(seeded, "SELECT entity_id, salience FROM coverage"))
    assert salience["alibaba"] > 0.9 > 0.2 > salience["amazon"]  # type: ignore[operator]
    topics = {r[0] for r in query(seeded, "SELECT topic_id FROM article_topics")}
    assert {"ai", "e-commerce", "global-expansion", "leadership", "competition"} <= topics
    quotes = query(seeded, "SELECT speaker, entity_id, text FROM quotes ORDER BY id")
    assert any(e == "jack-ma" and "Alibaba must lead, not follow" in str(t) for _, e, t in quotes)
    assert any(s == "one Asia-based fund manager" and e is None and "back in the arena" in str(t) for s, e, t in quotes)
    assert ("alibaba", "阿里巴巴", "native") in query(seeded, "SELECT entity_id, text, kind FROM aliases")
    [(raw_hash, cluster, original)] = query(seeded, "SELECT raw_sha256, cluster_id, is_original FROM articles")
    assert len(str(raw_hash)) == 64 and cluster == 1 and original


def test_retag_picks_up_a_watchlist_change_without_downloading(
    seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watchlist = (REPO / "seeds" / "watchlist.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "watchlist.yaml"
    changed.write_text(watchlist + "\n  - id: hangzhou\n    name: Hangzhou\n    kind: company\n", encoding="utf-8")
    monkeypatch.setenv("PRESSWATCH_WATCHLIST_FILE", str(changed))
    result = retag(database_url=SecretStr(seeded))
    assert result["retagged"] == 1
    [change] = result["changed"]
    assert change["added"] == ["hangzhou"] and change["removed"] == []
    assert ("hangzhou",) in query(seeded, "SELECT entity_id FROM coverage")
    assert retag(database_url=SecretStr(seeded), entity="tencent")["changed"] == []
