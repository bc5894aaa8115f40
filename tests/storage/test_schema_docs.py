"""docs/schema.md is a checked contract: its data set, every example query and command, on SQLite and PostgreSQL.

The documented data set is read from the document's own tables and written through storage.writes, as a
monitoring pass would; then every ```sql block runs and must return exactly the ```text table after it,
and every ```console command must print exactly the ```text after it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    inspect,
    text,
)

from extractors.analysis import StoryAnalysis
from extractors.articles import count_words
from extractors.models import (
    DiscoveredName,
    EntityTag,
    ExtractedArticle,
    Quote,
    TopicTag,
    WatchedEntity,
    Watchlist,
)
from extractors.topics import Topic, Topics
from extractors.watchlist import spellings
from fetcher.schedule import FeedSchedule
from storage.db import make_engine, upgrade
from storage.models import UNMODELLED_TABLE_PREFIXES
from storage.reports import BASELINE_DAYS, SPIKE_FACTOR, SPIKE_MIN_STORIES, SPIKE_SLACK
from storage.tags import sync_vocabulary
from storage.writes import FeedPoll, LinkFailure, Story, record_feed_polls, store_batch, sync_watchlist, upsert_feeds

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
VIEWS = ("coverage", "coverage_daily", "share_of_voice", "entity_pairs")
TABLES = (
    "articles",
    "article_links",
    "entities",
    "aliases",
    "mentions",
    "topics",
    "article_topics",
    "quotes",
    "discovered_names",
    "feeds",
    "fetch_events",
)
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
SQLITE_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(\.\d+)?$")


@dataclass(frozen=True)
class Block:
    """One fenced block of the document: its info string, body and first line number."""

    info: str
    body: str
    line: int


@dataclass(frozen=True)
class QueryExample:
    """A documented SQL query with its documented result table."""

    backend: str | None  # None: both
    sql: str
    columns: list[str]
    rows: list[list[str]]
    line: int


@dataclass(frozen=True)
class CommandExample:
    """A documented presswatch command line with its documented output, per backend when they differ."""

    argv: list[str]
    outputs: dict[str | None, str]  # None: both backends
    line: int

    def output(self, backend: str) -> str:
        """What the command must print on this backend."""
        return self.outputs.get(backend, self.outputs.get(None, ""))


def doc_text() -> str:
    """docs/schema.md as text."""
    return DOC.read_text(encoding="utf-8")


def blocks(document: str) -> list[Block]:
    """Every fenced block, in order."""
    return [
        Block(m.group(1).strip(), m.group(2), document.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(document)
    ]


def split_row(line: str) -> list[str]:
    """The cells of one pipe-table row (`\\|` is a literal bar)."""
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [cell.strip().replace("\\|", "|") for cell in cells]


def pipe_table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """A markdown pipe table's header and rows."""
    rows = [line for line in lines if line.strip().startswith("|")]
    assert len(rows) >= 2 and set(rows[1].replace("|", "").strip()) <= set("-: "), f"not a pipe table: {lines[:2]}"
    return split_row(rows[0]), [split_row(row) for row in rows[2:]]


def examples() -> tuple[list[QueryExample], list[CommandExample]]:
    """Every documented query and command with its documented result."""
    found = blocks(doc_text())
    queries: list[QueryExample] = []
    commands: list[CommandExample] = []
    for index, block in enumerate(found):
        kind, *rest = block.info.split() or [""]
        if kind not in ("sql", "console"):
            continue
        after = found[index + 1] if index + 1 < len(found) else None
        assert after is not None and after.info.startswith("text"), f"line {block.line}: ```{kind} needs a ```text"
        assert kind == "console" or after.info == "text", f"line {block.line}: one ```text block per ```sql"
        if kind == "sql":
            backend = rest[0] if rest else None
            assert backend in (None, "sqlite", "postgresql"), f"line {block.line}: unknown backend {backend!r}"
            columns, rows = pipe_table(after.body.splitlines())
            queries.append(QueryExample(backend, block.body.strip().rstrip(";"), columns, rows, block.line))
        else:
            [line] = [line for line in block.body.splitlines() if line.strip()]
            assert line.startswith("$ presswatch "), f"line {block.line}: expected `$ presswatch ...`"
            outputs: dict[str | None, str] = {None: after.body}
            if after.info != "text":  # ```text sqlite then ```text postgresql: the output differs per backend
                pair = found[index + 1 : index + 3]
                assert [b.info for b in pair] == ["text sqlite", "text postgresql"], f"line {block.line}"
                outputs = {b.info.split()[1]: b.body for b in pair}
            commands.append(CommandExample(shlex.split(line)[2:], outputs, block.line))
    return queries, commands


def section(document: str, heading: str) -> list[str]:
    """The lines under a markdown heading, up to the next heading of the same or a higher level."""
    lines = document.splitlines()
    level = heading.split(" ", 1)[0]
    start = lines.index(heading) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(rf"#{{1,{len(level)}}} ", lines[i])),
        len(lines),
    )
    return lines[start:end]


def table_after(document: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """The first pipe table under a heading."""
    lines = section(document, heading)
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    last = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    return pipe_table(lines[first:last])


def records(document: str, heading: str) -> list[dict[str, str]]:
    """The first pipe table under a heading, one dict per row."""
    header, rows = table_after(document, heading)
    return [dict(zip(header, row, strict=True)) for row in rows]


def utc(value: str) -> datetime:
    """A documented `YYYY-MM-DD HH:MM` UTC time."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def optional(value: str) -> str | None:
    """An empty or `—` cell as None."""
    return None if value in ("", "—") else value


def words(value: str) -> tuple[str, ...]:
    """A comma-separated cell as a tuple."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def yes(value: str) -> bool:
    """A yes/no cell."""
    assert value in ("yes", "no"), value
    return value == "yes"


def tables_under(document: str, heading: str) -> list[list[dict[str, str]]]:
    """Every pipe table under a heading, as records."""
    lines = section(document, heading)
    found: list[list[dict[str, str]]] = []
    index = 0
    while index < len(lines):
        if lines[index].startswith("|"):
            end = next((i for i in range(index, len(lines)) if not lines[i].startswith("|")), len(lines))
            header, rows = pipe_table(lines[index:end])
            found.append([dict(zip(header, row, strict=True)) for row in rows])
            index = end
        index += 1
    return found


def analyses(document: str, watchlist: Watchlist) -> dict[int, StoryAnalysis]:
    """Each story's documented mentions, topics, quotes and discovered names."""
    entities = watchlist.by_id()
    tags: dict[int, list[EntityTag]] = {}
    for r in records(document, "### Mentions"):
        entity = entities[r["entity"]]
        position = None if r["first position"] == "" else int(r["first position"])
        tag = EntityTag(
            entity.id,
            entity.name,
            entity.kind,
            int(r["mentions"]),
            yes(r["headline"]),
            in_lead=yes(r["lead"]),
            first_position=position,
            salience=float(r["salience"]),
            primary=yes(r["primary"]),
        )
        tags.setdefault(int(r["#"]), []).append(tag)
    topic_rows, quote_rows, name_rows = tables_under(document, "### Story topics, quotes and names")
    names = {r["id"]: r["name"] for r in records(document, "### Topics")}
    topics: dict[int, list[TopicTag]] = {}
    for r in topic_rows:
        topic = TopicTag(r["topic"], names[r["topic"]], float(r["score"]), int(r["hits"]))
        topics.setdefault(int(r["#"]), []).append(topic)
    quotes: dict[int, list[Quote]] = {}
    for r in quote_rows:
        quotes.setdefault(int(r["#"]), []).append(Quote(r["speaker"], optional(r["entity"]), r["quote"]))
    found: dict[int, list[DiscoveredName]] = {}
    for r in name_rows:
        found.setdefault(int(r["#"]), []).append(DiscoveredName(r["name"], r["label"], int(r["count"])))
    return {n: StoryAnalysis(tags[n], topics.get(n, []), quotes.get(n, []), found.get(n, [])) for n in sorted(tags)}


def build_documented_data_set(engine: Engine) -> None:
    """Write the data set exactly as docs/schema.md describes it, through the pipeline's own writes."""
    document = doc_text()
    entities = [
        WatchedEntity(
            r["id"],
            r["name"],
            r["kind"],
            optional(r["parent"]),
            aliases=(r["name"], *words(r["aliases"])),
            after_full_name=words(r["short forms"]),
            tickers=words(r["tickers"]),
            native_names=words(r["native names"]),
        )
        for r in records(document, "### Watchlist")
    ]
    watchlist = Watchlist(tuple(entities))
    sync_watchlist(engine, watchlist)
    topics = Topics(tuple(Topic(r["id"], r["name"], ()) for r in records(document, "### Topics")))
    sync_vocabulary(engine, spellings(watchlist), topics)
    analysis = analyses(document, watchlist)
    feed_rows = records(document, "### Feeds")
    states = upsert_feeds(engine, [(r["url"], r["name"]) for r in feed_rows])
    assert [state.id for state in states] == [int(r["feed"]) for r in feed_rows]
    texts = {r["#"]: r for r in records(document, "### Story links and text")}
    articles: dict[str, ExtractedArticle] = {}
    for row in records(document, "### Stories"):
        extra = texts[row["#"]]
        published = optional(row["published (as given)"])
        article = ExtractedArticle(
            url=extra["link"],
            canonical_url=extra["link"] if extra["canonical URL"] == "same" else extra["canonical URL"],
            text=extra["text"],
            word_count=count_words(extra["text"]),  # as the extractor counts them
            title=row["title"],
            published=None if published is None else datetime.strptime(published, "%Y-%m-%d %H:%M %z"),
            language="en",
            sitename=row["outlet"],
            date_source=optional(row["date source"]),
        )
        articles[article.canonical_url] = article
        about = analysis[int(row["#"])]
        story = Story(article.url, article, about.tags, int(row["feed"]), utc(row["fetched (UTC)"]), about)
        [stored] = store_batch(engine, [story], [])
        assert stored.created and stored.article_id == int(row["#"])
    duplicates: list[Story] = []
    failures: list[LinkFailure] = []
    for row in records(document, "### Links that did not become new stories"):
        if row["outcome"] == "duplicate":
            canonical = re.fullmatch(r"same story as (\S+), already stored", row["reason"])
            assert canonical, row["reason"]
            original = articles[canonical.group(1)]
            duplicates.append(Story(row["link"], original, [], int(row["feed"]), utc(row["at (UTC)"])))
        else:
            failures.append(
                LinkFailure(row["link"], int(row["feed"]), row["outcome"], row["reason"], int(row["status"]))
            )
    store_batch(engine, duplicates, failures)
    polls = [
        FeedPoll(
            feed_id=int(r["feed"]),
            url=feed_rows[int(r["feed"]) - 1]["url"],
            outcome=r["outcome"],
            reason=optional(r["reason"]),
            status_code=int(r["status"]),
            fetched_at=utc(r["at (UTC)"]),
            etag=optional(r["etag"]),
            last_modified=optional(r["last modified"]),
            new_items=int(r["new items"]),
            schedule=FeedSchedule(
                interval=timedelta(seconds=int(r["interval (s)"])),
                next_due_at=utc(r["at (UTC)"]) + timedelta(seconds=int(r["interval (s)"])),
                failure_score=float(r["failure score"]),
                consecutive_failures=int(r["failures in a row"]),
            ),
        )
        for r in records(document, "### Feed polls")
    ]
    for poll in polls:  # one call per poll, in order, as successive passes would record them
        record_feed_polls(engine, [poll])


def shown(value: Any, expected: str) -> str:
    """A result value as the document prints it (see "How results are shown" in docs/schema.md)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        stamp = value.astimezone(UTC) if value.tzinfo else value
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, float | Decimal):
        decimals = len(expected.split(".", 1)[1]) if "." in expected else 0
        return f"{float(value):.{decimals}f}"
    if isinstance(value, str):
        stamp_match = SQLITE_STAMP.match(value)
        return stamp_match.group(1) if stamp_match else value
    return str(value)


@pytest.fixture
def documented(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    build_documented_data_set(engine)
    yield engine
    engine.dispose()


def test_the_document_has_checked_examples_for_every_view_and_table() -> None:
    queries, commands = examples()
    for name in VIEWS + TABLES:
        assert any(re.search(rf"\b(FROM|JOIN)\s+{name}\b", q.sql) for q in queries), f"no example query on {name}"
    assert {c.argv[0] for c in commands} >= {"search", "report", "sql"}
    assert any(q.backend == "sqlite" for q in queries) and any(q.backend == "postgresql" for q in queries)


def test_every_documented_query_returns_the_documented_rows(documented: Engine) -> None:
    backend = documented.dialect.name
    queries, _ = examples()
    failures = []
    checked = 0
    with documented.connect() as connection:
        for example in queries:
            if example.backend not in (None, backend):
                continue
            result = connection.execute(text(example.sql))
            columns = list(result.keys())
            got = []
            for index, row in enumerate(result):
                expected = example.rows[index] if index < len(example.rows) else []
                got.append([shown(v, expected[i] if i < len(expected) else "") for i, v in enumerate(row)])
            if columns != example.columns or got != example.rows:
                failures.append(
                    f"docs/schema.md line {example.line} on {backend}:\n{example.sql}\n"
                    f"documented: {example.columns} {example.rows}\n"
                    f"got:        {columns} {got}"
                )
            checked += 1
    assert checked >= 20
    assert not failures, "\n\n".join(failures)


def test_every_documented_command_prints_the_documented_output(
    documented: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    backend = documented.dialect.name
    _, commands = examples()
    failures = []
    for example in commands:
        capsys.readouterr()
        status = main([*example.argv, "--database-url", database_url])
        out = capsys.readouterr().out
        normalise = "\n".join(line.rstrip() for line in out.strip("\n").splitlines())
        expected = "\n".join(line.rstrip() for line in example.output(backend).strip("\n").splitlines())
        if status != 0 or normalise != expected:
            failures.append(
                f"docs/schema.md line {example.line} on {backend}: presswatch {shlex.join(example.argv)}"
                f" (exit {status})\n--- documented\n{expected}\n--- printed\n{normalise}"
            )
    assert not failures, "\n\n".join(failures)


def documented_columns(document: str, name: str) -> list[dict[str, str]]:
    """The column table under a table's or view's heading."""
    headings = [line for line in document.splitlines() if re.match(rf"^### `{name}`", line)]
    assert len(headings) == 1, f"docs/schema.md needs one '### `{name}`' heading, found {headings}"
    columns = records(document, headings[0])
    assert columns and set(columns[0]) == {"column", "type", "meaning"}, f"{name}: column table expected first"
    for column in columns:
        column["column"] = column["column"].strip("`")
        assert column["meaning"], f"{name}.{column['column']} has no meaning documented"
    return columns


def type_word(column_type: Any) -> str:
    """The document's word for a column type: integer, bigint, text, varchar(N), timestamp, boolean, double, blob."""
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, BigInteger):
        return "bigint"
    if isinstance(column_type, LargeBinary):
        return "blob"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, DateTime):
        return "timestamp"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Float):
        return "double"
    if isinstance(column_type, Text) or (isinstance(column_type, String) and not column_type.length):
        return "text"
    if isinstance(column_type, String):
        return f"varchar({column_type.length})"
    return str(column_type).lower()


def test_every_table_and_view_is_documented_with_its_columns_and_types(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    inspector = inspect(engine)
    document = doc_text()
    tables = [
        t for t in inspector.get_table_names() if t != "alembic_version" and not t.startswith(UNMODELLED_TABLE_PREFIXES)
    ]
    assert sorted(tables) == sorted(TABLES)
    assert sorted(inspector.get_view_names()) == sorted(VIEWS)
    for name in tables:
        # A column documented as "(PostgreSQL only)" (articles.search_vector) must exist there and only there.
        documented = [
            c
            for c in documented_columns(document, name)
            if engine.dialect.name == "postgresql" or "(PostgreSQL only)" not in c["type"]
        ]
        actual = inspector.get_columns(name)
        assert [c["column"] for c in documented] == [c["name"] for c in actual], name
        for doc_column, column in zip(documented, actual, strict=True):
            declared = doc_column["type"]
            expected = type_word(column["type"]) + ("" if column["nullable"] else " NOT NULL")
            assert declared.split(" (")[0] == expected, f"{name}.{column['name']}: documented {declared!r}"
    for name in VIEWS:
        documented = documented_columns(document, name)
        assert [c["column"] for c in documented] == [c["name"] for c in inspector.get_columns(name)], name
    engine.dispose()


def test_the_spike_rule_in_the_document_is_the_one_the_code_applies() -> None:
    document = doc_text()
    rule = (
        f"stories ≥ {SPIKE_MIN_STORIES} and stories > {SPIKE_FACTOR:g} × baseline + {SPIKE_SLACK:g}, where baseline "
        f"is the mean of its daily stories over the {BASELINE_DAYS} days before"
    )
    assert rule in " ".join(document.split())


def test_the_data_set_counts_a_story_on_its_utc_publication_day_else_its_fetch_day() -> None:
    # The examples only prove the day rule if the data set holds both cases; keep it that way.
    stories = records(doc_text(), "### Stories")
    published = [optional(r["published (as given)"]) for r in stories]
    assert None in published
    stamps = [datetime.strptime(p, "%Y-%m-%d %H:%M %z") for p in published if p]
    assert any(stamp.date() != stamp.astimezone(UTC).date() for stamp in stamps)
