"""Reports over stored coverage: share of voice, top stories, spikes, and read-only SQL.

The rules live here once; the CLI, the spike-alerts flow and the tests all call these functions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from presswatch.errors import SearchError, StorageError
from storage.db import bind_time, describe_db_error
from storage.models import UTCDateTime

# A spike: a day with at least SPIKE_MIN_STORIES stories and more than SPIKE_FACTOR times the
# trailing-14-day mean plus SPIKE_SLACK (the slack keeps a quiet entity's 0 -> 2 from counting).
BASELINE_DAYS = 14
SPIKE_MIN_STORIES = 3
SPIKE_FACTOR = 2.0
SPIKE_SLACK = 1.0


@dataclass(frozen=True)
class VoiceShare:
    """An entity's stories in a window and its share of all watched-entity stories there."""

    entity_id: str
    entity_name: str
    entity_kind: str
    stories: int
    share: float


@dataclass(frozen=True)
class TopStory:
    """One of an entity's most prominent stories in a window."""

    entity_id: str
    title: str | None
    sitename: str | None
    published_at: datetime | None  # aware, UTC; None when the story has no publication date
    url: str
    mentions: int
    in_title: bool


@dataclass(frozen=True)
class Spike:
    """A day on which an entity's stories clearly exceeded its trailing 14-day baseline."""

    entity_id: str
    entity_name: str
    day: date
    stories: int
    baseline: float


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# The window's stories: those counted at or after :since that name any watched entity. EXISTS instead of a
# DISTINCT over a join, and the story's time written exactly as migration 0004's index
# ix_articles_story_time is, so the planners read only the window's stories.
WINDOW_SHARES = """
    WITH window_stories AS MATERIALIZED (
        SELECT a.id FROM articles AS a
        WHERE COALESCE(a.published_at, a.fetched_at) >= :since
          AND EXISTS (SELECT 1 FROM mentions AS m WHERE m.article_id = a.id)
    )
    SELECT e.id, e.name, e.kind, COUNT(*) AS stories,
           CAST(COUNT(*) AS DOUBLE PRECISION) / (SELECT COUNT(*) FROM window_stories) AS share
    FROM window_stories AS w
    JOIN mentions AS m ON m.article_id = w.id
    JOIN entities AS e ON e.id = m.entity_id
    WHERE (CAST(:kind AS TEXT) IS NULL OR e.kind = :kind)
    GROUP BY e.id, e.name, e.kind
    ORDER BY stories DESC, e.id
"""

# Every entity's best stories in one pass over the window's stories (taken first, through the same index),
# ranked per entity on narrow rows; headlines and URLs are read for the winners only. The entities wanted
# are picked from the result, not in SQL: a filter on entity_id, even outside the window function, is
# pushed down by SQLite, which then walks each entity's mentions of all time through ix_mentions_entity_id
# instead of the window's stories. NULLS LAST so that undated stories sort after dated ones on both
# databases (PostgreSQL would put them first in a DESC order, SQLite last).
TOP_STORIES = """
    WITH window_stories AS MATERIALIZED (
        SELECT a.id, a.published_at FROM articles AS a
        WHERE COALESCE(a.published_at, a.fetched_at) >= :since
    ),
    ranked AS (
        SELECT m.article_id, m.entity_id, m.count AS mentions, m.in_title,
               ROW_NUMBER() OVER (
                   PARTITION BY m.entity_id
                   ORDER BY m.in_title DESC, m.count DESC, w.published_at DESC NULLS LAST, w.id DESC
               ) AS rank
        FROM window_stories AS w JOIN mentions AS m ON m.article_id = w.id
    )
    SELECT r.entity_id, a.title, a.sitename, a.published_at, a.canonical_url AS url, r.mentions, r.in_title, r.rank
    FROM ranked AS r JOIN articles AS a ON a.id = r.article_id
    WHERE r.rank <= :limit
"""


def share_of_voice(engine: Engine, since: datetime, *, kind: str | None = "company") -> list[VoiceShare]:
    """Each entity's stories since `since` and its share of all stories that mention any watched entity."""
    rows = _read(engine, WINDOW_SHARES, {"since": bind_time(engine, since), "kind": kind})
    return [VoiceShare(r.id, r.name, r.kind, int(r.stories), float(r.share)) for r in rows]


def top_stories(engine: Engine, since: datetime, entity_ids: list[str], per_entity: int = 3) -> list[TopStory]:
    """The most prominent stories per entity since `since`: headline mentions first, then mention count, newest."""
    if not entity_ids:
        return []
    order = {entity: position for position, entity in enumerate(entity_ids)}
    ranked = _read(engine, TOP_STORIES, {"since": bind_time(engine, since), "limit": per_entity})
    rows = sorted((r for r in ranked if r.entity_id in order), key=lambda r: (order[r.entity_id], r.rank))
    to_utc = UTCDateTime().process_result_value
    return [
        TopStory(
            r.entity_id,
            r.title,
            r.sitename,
            to_utc(r.published_at, engine.dialect),
            r.url,
            int(r.mentions),
            bool(r.in_title),
        )
        for r in rows
    ]


def find_spikes(engine: Engine, since: date, until: date, entity_ids: list[str] | None = None) -> list[Spike]:
    """Days in [since, until] on which an entity's stories exceeded its trailing baseline (see module notes)."""
    start = since - timedelta(days=BASELINE_DAYS)
    rows = _read(
        engine,
        "SELECT day, entity_id, entity_name, stories FROM coverage_daily WHERE day >= :start AND day <= :until",
        {
            "start": start if engine.dialect.name == "postgresql" else start.isoformat(),
            "until": until if engine.dialect.name == "postgresql" else until.isoformat(),
        },
    )
    counts: dict[str, dict[date, int]] = defaultdict(dict)
    names: dict[str, str] = {}
    for row in rows:
        counts[row.entity_id][_day(row.day)] = int(row.stories)
        names[row.entity_id] = row.entity_name
    spikes: list[Spike] = []
    for entity, per_day in counts.items():
        if entity_ids and entity not in entity_ids:
            continue
        for day, stories in sorted(per_day.items()):
            if day < since:
                continue
            window = [per_day.get(day - timedelta(days=n), 0) for n in range(1, BASELINE_DAYS + 1)]
            baseline = sum(window) / BASELINE_DAYS
            if is_spike(stories, baseline):
                spikes.append(Spike(entity, names[entity], day, stories, round(baseline, 2)))
    return sorted(spikes, key=lambda s: (s.day, -s.stories, s.entity_id))


def is_spike(stories: int, baseline: float) -> bool:
    """The documented spike rule: enough stories, and clearly more than the baseline."""
    return stories >= SPIKE_MIN_STORIES and stories > SPIKE_FACTOR * baseline + SPIKE_SLACK


def _read(engine: Engine, query: str, parameters: dict[str, Any]) -> list[Any]:
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query), parameters).all())
    except OperationalError as exc:
        raise StorageError(f"query failed on {describe_db_error(exc, engine.url)}") from None


def read_only_engine(engine: Engine) -> Engine:
    """An engine on the same database that cannot write: SQLite opened read-only, PostgreSQL read-only sessions."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise StorageError("read-only queries need a SQLite file, not an in-memory database")
        from pathlib import Path

        uri = f"file:{Path(database).resolve().as_posix()}?mode=ro"
        return create_engine("sqlite:///" + uri + "&uri=true")
    readonly = create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})

    @event.listens_for(readonly, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.read_only = True

    return readonly


def run_read_only(engine: Engine, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SQL statement that may not write; return its column names and rows."""
    readonly = read_only_engine(engine)
    try:
        with readonly.connect() as connection:
            result = connection.execute(text(sql))
            if not result.returns_rows:
                raise SearchError("the statement returned no rows")
            columns = list(result.keys())
            rows = [tuple(row) for row in (result.fetchmany(limit) if limit else result.fetchall())]
            connection.rollback()
    except DBAPIError as exc:
        message = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        lowered = message.lower()
        if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
            raise SearchError(f"refused: presswatch sql is read-only ({message})") from None
        raise SearchError(f"query failed: {message}") from None
    finally:
        readonly.dispose()
    return columns, rows


@dataclass(frozen=True)
class Report:
    """Everything `presswatch report` shows for a window."""

    since: datetime
    until: datetime
    shares: list[VoiceShare]
    top: list[TopStory]
    spikes: list[Spike]


def build_report(engine: Engine, since: datetime, until: datetime, entity_ids: list[str] | None = None) -> Report:
    """Share of voice, top stories per entity and spikes for the window [since, until]."""
    shares = share_of_voice(engine, since, kind=None if entity_ids else "company")
    if entity_ids:
        shares = [share for share in shares if share.entity_id in entity_ids]
    chosen = entity_ids or [share.entity_id for share in shares]
    return Report(
        since=since,
        until=until,
        shares=shares,
        top=top_stories(engine, since, chosen),
        spikes=find_spikes(engine, since.date(), until.date(), entity_ids),
    )
