"""Story quality flags, raw pages and clusters; salience, topics, quotes, aliases, discovered names;
feed polling state. The coverage view gains cluster_id, salience and primary, and share_of_voice
counts with and without syndicated copies.

Columns are added and dropped with plain ALTER TABLE (SQLite 3.35+), never by rebuilding a table,
so the full-text triggers and the views on `articles` survive.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 06:18:46.525243
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

# Earlier revisions' view definitions, restored on downgrade exactly as those revisions wrote them.
_HERE = Path(__file__).resolve().parent


def _revision_module(stem: str) -> ModuleType:
    path = next(_HERE.glob(f"*-{stem}_*.py"))
    spec = importlib.util.spec_from_file_location(f"presswatch_migration_{stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COVERAGE_VIEW = """
CREATE VIEW coverage AS
SELECT a.id AS article_id,
       a.canonical_url AS url,
       a.title AS title,
       a.sitename AS sitename,
       a.published_at AS published_at,
       m.entity_id AS entity_id,
       e.name AS entity_name,
       e.kind AS entity_kind,
       m.count AS mentions,
       m.in_title AS in_title,
       m.salience AS salience,
       m."primary" AS "primary",
       a.cluster_id AS cluster_id,
       a.is_original AS is_original
FROM mentions AS m
JOIN articles AS a ON a.id = m.article_id
JOIN entities AS e ON e.id = m.entity_id
"""

# As in 0002, plus the same counts over syndication clusters (a wire story republished by five outlets
# counts once in original_stories).
SHARE_OF_VOICE = """
CREATE VIEW share_of_voice AS
WITH story_days AS (
    SELECT DISTINCT a.id AS article_id, COALESCE(a.cluster_id, a.id) AS cluster_id, {day} AS day
    FROM articles AS a JOIN mentions AS m ON m.article_id = a.id
),
periods AS (
    SELECT 'day' AS period, {day_start} AS period_start, d.article_id, d.cluster_id FROM story_days AS d
    UNION ALL
    SELECT 'week', {week_start}, d.article_id, d.cluster_id FROM story_days AS d
    UNION ALL
    SELECT 'month', {month_start}, d.article_id, d.cluster_id FROM story_days AS d
),
totals AS (
    SELECT period, period_start, COUNT(*) AS total_stories, COUNT(DISTINCT cluster_id) AS total_originals
    FROM periods GROUP BY period, period_start
)
SELECT p.period AS period,
       p.period_start AS period_start,
       m.entity_id AS entity_id,
       e.name AS entity_name,
       e.kind AS entity_kind,
       COUNT(*) AS stories,
       t.total_stories AS total_stories,
       CAST(COUNT(*) AS DOUBLE PRECISION) / t.total_stories AS share,
       COUNT(DISTINCT p.cluster_id) AS original_stories,
       t.total_originals AS total_originals,
       CAST(COUNT(DISTINCT p.cluster_id) AS DOUBLE PRECISION) / t.total_originals AS original_share
FROM periods AS p
JOIN mentions AS m ON m.article_id = p.article_id
JOIN entities AS e ON e.id = m.entity_id
JOIN totals AS t ON t.period = p.period AND t.period_start = p.period_start
GROUP BY p.period, p.period_start, m.entity_id, e.name, e.kind, t.total_stories, t.total_originals
"""


def _share_of_voice(sql: str, dialect: str) -> str:
    views = _revision_module("0002")
    starts = views.PERIOD_START[dialect]
    return sql.format(
        day=views.DAY[dialect], day_start=starts["day"], week_start=starts["week"], month_start=starts["month"]
    )


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS coverage")
    op.execute("DROP VIEW IF EXISTS share_of_voice")
    op.create_table(
        "topics",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
    )
    op.create_table(
        "aliases",
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_aliases_entity_id_entities"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entity_id", "text", "kind", name=op.f("pk_aliases")),
    )
    op.create_table(
        "article_topics",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_topics_article_id_articles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_article_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", "topic_id", name=op.f("pk_article_topics")),
    )
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_topics_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "discovered_names",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_discovered_names_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", "name", "label", name=op.f("pk_discovered_names")),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_quotes_article_id_articles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_quotes_entity_id_entities"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotes_article_id"), ["article_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quotes_entity_id"), ["entity_id"], unique=False)

    op.add_column("articles", sa.Column("date_source", sa.String(length=16), nullable=True))
    op.add_column("articles", sa.Column("truncated", sa.Boolean(), server_default="0", nullable=False))
    op.add_column("articles", sa.Column("extractor_version", sa.String(length=128), nullable=True))
    op.add_column("articles", sa.Column("raw_page", sa.LargeBinary(), nullable=True))
    op.add_column("articles", sa.Column("raw_sha256", sa.String(length=64), nullable=True))
    op.add_column("articles", sa.Column("raw_content_type", sa.String(length=128), nullable=True))
    op.add_column("articles", sa.Column("simhash", sa.BigInteger(), nullable=True))
    op.add_column("articles", sa.Column("cluster_id", sa.Integer(), nullable=True))
    op.add_column("articles", sa.Column("is_original", sa.Boolean(), server_default="1", nullable=False))
    op.create_index(op.f("ix_articles_cluster_id"), "articles", ["cluster_id"], unique=False)

    op.add_column("feeds", sa.Column("body_hash", sa.String(length=64), nullable=True))
    op.add_column("feeds", sa.Column("ttl_minutes", sa.Integer(), nullable=True))
    op.add_column("feeds", sa.Column("poll_interval_seconds", sa.Integer(), server_default="900", nullable=False))
    op.add_column("feeds", sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("feeds", sa.Column("failure_score", sa.Float(), server_default="0", nullable=False))
    op.add_column("feeds", sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False))
    op.add_column("feeds", sa.Column("suspended_reason", sa.Text(), nullable=True))
    op.add_column("feeds", sa.Column("last_new_story_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_feeds_next_due_at"), "feeds", ["next_due_at"], unique=False)

    op.add_column("mentions", sa.Column("in_lead", sa.Boolean(), server_default="0", nullable=False))
    op.add_column("mentions", sa.Column("first_position", sa.Integer(), nullable=True))
    op.add_column("mentions", sa.Column("salience", sa.Float(), server_default="0", nullable=False))
    op.add_column("mentions", sa.Column("primary", sa.Boolean(), server_default="0", nullable=False))
    op.execute("UPDATE articles SET cluster_id = id WHERE cluster_id IS NULL")
    dialect = op.get_bind().dialect.name
    op.execute(COVERAGE_VIEW)
    op.execute(_share_of_voice(SHARE_OF_VOICE, dialect))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW IF EXISTS coverage")
    op.execute("DROP VIEW IF EXISTS share_of_voice")
    op.drop_column("mentions", "primary")
    op.drop_column("mentions", "salience")
    op.drop_column("mentions", "first_position")
    op.drop_column("mentions", "in_lead")

    op.drop_index(op.f("ix_feeds_next_due_at"), table_name="feeds")
    op.drop_column("feeds", "last_new_story_at")
    op.drop_column("feeds", "suspended_reason")
    op.drop_column("feeds", "consecutive_failures")
    op.drop_column("feeds", "failure_score")
    op.drop_column("feeds", "next_due_at")
    op.drop_column("feeds", "poll_interval_seconds")
    op.drop_column("feeds", "ttl_minutes")
    op.drop_column("feeds", "body_hash")

    op.drop_index(op.f("ix_articles_cluster_id"), table_name="articles")
    op.drop_column("articles", "is_original")
    op.drop_column("articles", "cluster_id")
    op.drop_column("articles", "simhash")
    op.drop_column("articles", "raw_content_type")
    op.drop_column("articles", "raw_sha256")
    op.drop_column("articles", "raw_page")
    op.drop_column("articles", "extractor_version")
    op.drop_column("articles", "truncated")
    op.drop_column("articles", "date_source")

    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quotes_entity_id"))
        batch_op.drop_index(batch_op.f("ix_quotes_article_id"))

    op.drop_table("quotes")
    op.drop_table("discovered_names")
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_topics_topic_id"))

    op.drop_table("article_topics")
    op.drop_table("aliases")
    op.drop_table("topics")
    op.execute(_revision_module("0001").COVERAGE_VIEW)
    op.execute(_share_of_voice(_revision_module("0002").SHARE_OF_VOICE, dialect))
