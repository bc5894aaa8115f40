"""Coverage views (coverage_daily, share_of_voice, entity_pairs) and full-text search over stories.

SQLite gets an FTS5 table kept in step with `articles` by triggers; PostgreSQL a GIN index over a
`to_tsvector` expression, so no column has to be kept in step at all.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The day a story counts for: its publication time in UTC, else when it was fetched.
DAY = {
    "sqlite": "date(COALESCE(a.published_at, a.fetched_at))",
    "postgresql": "CAST(COALESCE(a.published_at, a.fetched_at) AT TIME ZONE 'UTC' AS date)",
}
PERIOD_START = {
    "sqlite": {
        "day": "d.day",
        "week": "date(d.day, '-' || ((CAST(strftime('%w', d.day) AS INTEGER) + 6) % 7) || ' days')",
        "month": "date(d.day, 'start of month')",
    },
    "postgresql": {
        "day": "d.day",
        "week": "CAST(date_trunc('week', d.day) AS date)",
        "month": "CAST(date_trunc('month', d.day) AS date)",
    },
}

COVERAGE_DAILY = """
CREATE VIEW coverage_daily AS
SELECT {day} AS day,
       m.entity_id AS entity_id,
       e.name AS entity_name,
       e.kind AS entity_kind,
       COUNT(*) AS stories,
       SUM(m.count) AS mentions,
       SUM(CASE WHEN m.in_title THEN 1 ELSE 0 END) AS headline_stories
FROM mentions AS m
JOIN articles AS a ON a.id = m.article_id
JOIN entities AS e ON e.id = m.entity_id
GROUP BY {day}, m.entity_id, e.name, e.kind
"""

# One row per period kind, period start and entity; `share` is the entity's stories over all stories
# that mention any watched entity in that period.
SHARE_OF_VOICE = """
CREATE VIEW share_of_voice AS
WITH story_days AS (
    SELECT DISTINCT a.id AS article_id, {day} AS day
    FROM articles AS a JOIN mentions AS m ON m.article_id = a.id
),
periods AS (
    SELECT 'day' AS period, {day_start} AS period_start, d.article_id FROM story_days AS d
    UNION ALL
    SELECT 'week', {week_start}, d.article_id FROM story_days AS d
    UNION ALL
    SELECT 'month', {month_start}, d.article_id FROM story_days AS d
),
totals AS (
    SELECT period, period_start, COUNT(*) AS total_stories FROM periods GROUP BY period, period_start
)
SELECT p.period AS period,
       p.period_start AS period_start,
       m.entity_id AS entity_id,
       e.name AS entity_name,
       e.kind AS entity_kind,
       COUNT(*) AS stories,
       t.total_stories AS total_stories,
       CAST(COUNT(*) AS DOUBLE PRECISION) / t.total_stories AS share
FROM periods AS p
JOIN mentions AS m ON m.article_id = p.article_id
JOIN entities AS e ON e.id = m.entity_id
JOIN totals AS t ON t.period = p.period AND t.period_start = p.period_start
GROUP BY p.period, p.period_start, m.entity_id, e.name, e.kind, t.total_stories
"""

ENTITY_PAIRS = """
CREATE VIEW entity_pairs AS
SELECT {day} AS day,
       m1.entity_id AS entity_a,
       m2.entity_id AS entity_b,
       COUNT(*) AS stories
FROM mentions AS m1
JOIN mentions AS m2 ON m2.article_id = m1.article_id AND m1.entity_id < m2.entity_id
JOIN articles AS a ON a.id = m1.article_id
GROUP BY {day}, m1.entity_id, m2.entity_id
"""

SQLITE_SEARCH = [
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]
POSTGRES_SEARCH = [
    """CREATE INDEX ix_articles_search ON articles
       USING gin (to_tsvector('english', COALESCE(title, '') || ' ' || text))""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    day = DAY[dialect]
    starts = PERIOD_START[dialect]
    op.execute(COVERAGE_DAILY.format(day=day))
    op.execute(
        SHARE_OF_VOICE.format(day=day, day_start=starts["day"], week_start=starts["week"], month_start=starts["month"])
    )
    op.execute(ENTITY_PAIRS.format(day=day))
    for statement in SQLITE_SEARCH if dialect == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
    for view in ("entity_pairs", "share_of_voice", "coverage_daily"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
