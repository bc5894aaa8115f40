"""Query speed at 100,000 stories: a stored search vector on PostgreSQL, indexes on the story's time and day,
share_of_voice rolled up from daily counts, and entity_pairs ordered by code point on every database.

- PostgreSQL search: ranking re-parsed the text of every matching story; the vector is now stored
  (`articles.search_vector`, a generated column, so nothing has to keep it in step) with a GIN index on it,
  replacing the GIN expression index of 0002. Adding the column rewrites the table once.
- `COALESCE(published_at, fetched_at)` (the moment a story counts for) and its UTC day get expression indexes,
  written exactly as the views and storage/reports.py write them, or the planners would not use them.
- `share_of_voice` sums per-day counts into weeks and months instead of expanding every story into three
  period rows; exact, because a story has exactly one day. Originals are counted as stories that are their
  cluster's original (`articles.is_original`), which daily sums can give and COUNT(DISTINCT cluster_id) cannot.
- `entity_pairs` compares entity ids with COLLATE "C" on PostgreSQL, so the pair's order (`entity_a <
  entity_b`) is by code point there too, as SQLite always compares, whatever the database's collation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 08:00:00
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HERE = Path(__file__).resolve().parent


def _revision_module(stem: str) -> ModuleType:
    path = next(_HERE.glob(f"*-{stem}_*.py"))
    spec = importlib.util.spec_from_file_location(f"presswatch_migration_{stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The expressions exactly as 0002's views and storage/reports.py write them (there on `a.`, here on the table).
STORY_TIME = "COALESCE(published_at, fetched_at)"
STORY_DAY = {
    "sqlite": f"date({STORY_TIME})",
    "postgresql": f"CAST({STORY_TIME} AT TIME ZONE 'UTC' AS date)",
}
INDEXES = ("ix_articles_story_time", "ix_articles_story_day")

POSTGRES_SEARCH_VECTOR = [
    """ALTER TABLE articles ADD COLUMN search_vector tsvector
       GENERATED ALWAYS AS (to_tsvector('english', COALESCE(title, '') || ' ' || text)) STORED""",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
    "DROP INDEX IF EXISTS ix_articles_search",
]

# Each story's day computed once (story_days: one pass over the stories that name any watched entity), counted
# per day and entity and per day, then summed into periods. CASTs keep the column types of 0003 (bigint counts
# on PostgreSQL, where SUM(bigint) would be numeric).
SHARE_OF_VOICE = """
CREATE VIEW share_of_voice AS
WITH story_days AS MATERIALIZED (
    SELECT a.id AS article_id, {day} AS day, CASE WHEN a.is_original THEN 1 ELSE 0 END AS original
    FROM articles AS a
    WHERE EXISTS (SELECT 1 FROM mentions AS m WHERE m.article_id = a.id)
),
entity_days AS (
    SELECT s.day AS day, m.entity_id AS entity_id, COUNT(*) AS stories, SUM(s.original) AS originals
    FROM story_days AS s JOIN mentions AS m ON m.article_id = s.article_id
    GROUP BY s.day, m.entity_id
),
day_totals AS (
    SELECT s.day AS day, COUNT(*) AS stories, SUM(s.original) AS originals FROM story_days AS s GROUP BY s.day
),
entity_periods AS (
    SELECT 'day' AS period, {day_start} AS period_start, d.entity_id, d.stories, d.originals FROM entity_days AS d
    UNION ALL
    SELECT 'week', {week_start}, d.entity_id, d.stories, d.originals FROM entity_days AS d
    UNION ALL
    SELECT 'month', {month_start}, d.entity_id, d.stories, d.originals FROM entity_days AS d
),
story_periods AS (
    SELECT 'day' AS period, {day_start} AS period_start, d.stories, d.originals FROM day_totals AS d
    UNION ALL
    SELECT 'week', {week_start}, d.stories, d.originals FROM day_totals AS d
    UNION ALL
    SELECT 'month', {month_start}, d.stories, d.originals FROM day_totals AS d
),
totals AS (
    SELECT period, period_start, CAST(SUM(stories) AS BIGINT) AS total_stories,
           CAST(SUM(originals) AS BIGINT) AS total_originals
    FROM story_periods GROUP BY period, period_start
)
SELECT p.period AS period,
       p.period_start AS period_start,
       p.entity_id AS entity_id,
       e.name AS entity_name,
       e.kind AS entity_kind,
       CAST(SUM(p.stories) AS BIGINT) AS stories,
       t.total_stories AS total_stories,
       CAST(SUM(p.stories) AS DOUBLE PRECISION) / t.total_stories AS share,
       CAST(SUM(p.originals) AS BIGINT) AS original_stories,
       t.total_originals AS total_originals,
       CAST(SUM(p.originals) AS DOUBLE PRECISION) / NULLIF(t.total_originals, 0) AS original_share
FROM entity_periods AS p
JOIN entities AS e ON e.id = p.entity_id
JOIN totals AS t ON t.period = p.period AND t.period_start = p.period_start
GROUP BY p.period, p.period_start, p.entity_id, e.name, e.kind, t.total_stories, t.total_originals
"""

# As in 0002, with the comparison that orders a pair made by code point on PostgreSQL.
ENTITY_PAIRS = """
CREATE VIEW entity_pairs AS
SELECT {day} AS day,
       m1.entity_id AS entity_a,
       m2.entity_id AS entity_b,
       COUNT(*) AS stories
FROM mentions AS m1
JOIN mentions AS m2 ON m2.article_id = m1.article_id AND m1.entity_id < m2.entity_id{collate}
JOIN articles AS a ON a.id = m1.article_id
GROUP BY {day}, m1.entity_id, m2.entity_id
"""


def _views(dialect: str) -> tuple[str, str]:
    views = _revision_module("0002")
    starts = views.PERIOD_START[dialect]
    day = views.DAY[dialect]
    share = SHARE_OF_VOICE.format(
        day=day, day_start=starts["day"], week_start=starts["week"], month_start=starts["month"]
    )
    pairs = ENTITY_PAIRS.format(day=day, collate=' COLLATE "C"' if dialect == "postgresql" else "")
    return share, pairs


def upgrade() -> None:
    """Add the story-time indexes and PostgreSQL's stored search vector; redefine the two views."""
    dialect = op.get_bind().dialect.name
    op.execute(f"CREATE INDEX ix_articles_story_time ON articles (({STORY_TIME}))")
    op.execute(f"CREATE INDEX ix_articles_story_day ON articles (({STORY_DAY[dialect]}))")
    if dialect == "postgresql":
        for statement in POSTGRES_SEARCH_VECTOR:
            op.execute(statement)
    share, pairs = _views(dialect)
    op.execute("DROP VIEW IF EXISTS share_of_voice")
    op.execute(share)
    op.execute("DROP VIEW IF EXISTS entity_pairs")
    op.execute(pairs)


def downgrade() -> None:
    """Drop what upgrade added and restore 0003's views and 0002's search index."""
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW IF EXISTS entity_pairs")
    op.execute(_revision_module("0002").ENTITY_PAIRS.format(day=_revision_module("0002").DAY[dialect]))
    op.execute("DROP VIEW IF EXISTS share_of_voice")
    revision_0003 = _revision_module("0003")
    op.execute(revision_0003._share_of_voice(revision_0003.SHARE_OF_VOICE, dialect))
    if dialect == "postgresql":
        for statement in _revision_module("0002").POSTGRES_SEARCH:
            op.execute(statement)
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    for index in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
