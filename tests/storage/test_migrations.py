"""The schema is owned by Alembic: upgrade, downgrade and the models agree, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from storage.db import downgrade, make_engine, upgrade
from storage.models import Base, include_in_autogenerate

PUBLIC_TABLES = {
    "articles",
    "article_links",
    "entities",
    "mentions",
    "feeds",
    "fetch_events",
    "aliases",
    "topics",
    "article_topics",
    "quotes",
    "discovered_names",
}


def test_upgrade_creates_the_public_tables_and_the_coverage_view(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    inspector = inspect(engine)
    assert PUBLIC_TABLES <= set(inspector.get_table_names())
    assert "coverage" in inspector.get_view_names()
    columns = {column["name"] for column in inspector.get_columns("coverage")}
    assert columns == {
        "article_id",
        "url",
        "title",
        "sitename",
        "published_at",
        "entity_id",
        "entity_name",
        "entity_kind",
        "mentions",
        "in_title",
        "salience",
        "primary",
        "cluster_id",
        "is_original",
    }
    engine.dispose()


# SQLite's reflection cannot read expression indexes (0004's ix_articles_story_*) and says so while
# autogenerate reflects `articles`; they are migration-managed and skipped by include_in_autogenerate.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_name": include_in_autogenerate}), Base.metadata
        )
    assert differences == []
    engine.dispose()


def test_downgrade_to_base_removes_everything_and_upgrade_is_repeatable(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    downgrade(engine, "base")
    remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    assert "coverage" not in inspect(engine).get_view_names()
    upgrade(engine)
    upgrade(engine)
    assert PUBLIC_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_every_migration_upgrades_and_downgrades_a_database_holding_data(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    engine = make_engine(database_url)
    revisions = [
        script.revision
        for script in reversed(list(ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()))
    ]
    upgrade(engine, revisions[0])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO entities (id, name, kind) VALUES ('alibaba', 'Alibaba', 'company')"))
        connection.execute(
            text(
                "INSERT INTO articles (id, url, canonical_url, title, fetched_at, text, word_count, extractor) "
                "VALUES (1, 'https://n.example/a', 'https://n.example/a', 'Alibaba cloud', :at, "
                "'Alibaba cuts cloud prices', 4, 'test')"
            ),
            {"at": "2026-11-02 09:00:00"},
        )
        connection.execute(text("INSERT INTO mentions VALUES (1, 'alibaba', 2, true)"))
    for revision in revisions[1:]:
        upgrade(engine, revision)
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(text("SELECT entity_id, mentions FROM coverage"))] == [
            ("alibaba", 2)
        ]
    for revision in reversed(revisions[:-1]):
        downgrade(engine, revision)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM mentions")).scalar_one() == 1
    upgrade(engine)
    from storage.search import search_stories

    assert [hit.article_id for hit in search_stories(engine, "cloud prices")] == [1]
    engine.dispose()


def query_objects(engine: Engine) -> set[str]:
    """The names of 0004's indexes and of PostgreSQL's search column and indexes that exist now."""
    if engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'articles'"
    else:
        sql = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'articles' UNION ALL "
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'articles'"
        )
    with engine.connect() as connection:
        names = set(connection.execute(text(sql)).scalars())
    wanted = {"ix_articles_story_time", "ix_articles_story_day", "ix_articles_search", "ix_articles_search_vector"}
    return names & (wanted | {"search_vector"})


def test_0004_adds_the_query_indexes_and_its_downgrade_restores_0003(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    before = query_objects(engine)
    assert before == (set() if engine.dialect.name == "sqlite" else {"ix_articles_search"})
    upgrade(engine, "0004")
    after = query_objects(engine)
    if engine.dialect.name == "sqlite":
        assert after == {"ix_articles_story_time", "ix_articles_story_day"}
    else:
        assert after == {
            "ix_articles_story_time",
            "ix_articles_story_day",
            "ix_articles_search_vector",
            "search_vector",
        }
    downgrade(engine, "0003")
    assert query_objects(engine) == before
    with engine.connect() as connection:  # 0003's views are back, with their columns
        columns = connection.execute(text("SELECT * FROM share_of_voice")).keys()
        assert list(columns)[-3:] == ["original_stories", "total_originals", "original_share"]
    upgrade(engine)
    assert query_objects(engine) == after
    engine.dispose()
