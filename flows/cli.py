"""The `presswatch` command line: parses options, calls the library, prints; errors become one line here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from presswatch.errors import PresswatchError

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    name="presswatch",
    help="Media monitoring: feeds -> pages -> clean text -> entity tags -> SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
feeds_app = typer.Typer(help="The watched feeds: list with health, add, remove.", invoke_without_command=True)
app.add_typer(feeds_app, name="feeds")
watchlist_app = typer.Typer(help="The watched entities (seeds/watchlist.yaml).", invoke_without_command=True)
app.add_typer(watchlist_app, name="watchlist")

FeedsOption = Annotated[
    Path | None, typer.Option("--feeds", help="Feeds file (YAML). Default: seeds/feeds.yaml or PRESSWATCH_FEEDS_FILE.")
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy database URL. Default: sqlite:///data/presswatch.db or PRESSWATCH_DATABASE_URL.",
        show_default=False,
    ),
]

# Prefect phones home and checks for updates by default; on a machine without internet that only logs errors.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_UI_ENABLED": "true",
}


@app.command()
def run(
    feeds: FeedsOption = None,
    database_url: DatabaseOption = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Processes for extraction and tagging.")] = None,
) -> None:
    """Run one monitoring pass now and print what it stored.

    Example: presswatch run --feeds seeds/feeds.yaml
    """
    from pydantic import SecretStr

    from presswatch.feedlist import load_feed_list
    from presswatch.settings import load_settings
    from storage.db import check_connection, make_engine

    settings = load_settings(feeds_file=feeds, database_url=database_url, workers=workers)
    load_feed_list(settings.feeds_file)  # fail before Prefect starts, with one line
    engine = make_engine(settings.database_url.get_secret_value())
    check_connection(engine)
    from flows.local import local_runs
    from flows.monitor import monitor_feeds
    from flows.runner import prime_fork_server
    from storage.queries import stories_with_tags

    if settings.workers > 1:
        prime_fork_server()  # the link workers' imports run while Prefect starts its ephemeral server
    with local_runs():
        summary = monitor_feeds(
            feeds_file=str(settings.feeds_file),
            database_url=SecretStr(settings.database_url.get_secret_value()),
            workers=settings.workers,
        )
    console = Console()
    if summary.stored_ids:
        table = Table(title=summary.headline().split(":")[0])
        for column in ("Title", "Outlet", "Published (UTC)", "Companies"):
            table.add_column(column)
        for story in stories_with_tags(engine, summary.stored_ids):
            published = story.published_at.strftime("%Y-%m-%d %H:%M") if story.published_at else "unknown"
            table.add_row(story.title or story.url, story.sitename or "", published, ", ".join(story.companies))
        console.print(table)
    problems = summary.table()
    problems = [row for row in problems if row["kind"] != "story"]
    if problems:
        table = Table(title="Not stored, and why")
        for column in ("Kind", "URL", "Outcome", "Reason"):
            table.add_column(column)
        for row in problems:
            table.add_row(row["kind"], row["url"], row["outcome"], row["reason"])
        console.print(table)
    print(summary.headline())
    engine.dispose()


@app.command()
def extract(
    sources: Annotated[list[str], typer.Argument(help="HTML files or http(s) URLs.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per input line.")] = False,
) -> None:
    """Extract and tag pages without storing anything.

    Example: presswatch extract seeds/fixture/jack-ma-comeback.html --json
    """
    from flows.extract import extract_source
    from presswatch.settings import load_settings

    settings = load_settings()
    console = Console()
    failed = 0
    for source in sources:
        try:
            record = extract_source(source, settings)
        except PresswatchError as exc:
            failed += 1
            print(f"presswatch: {source}: {exc}", file=sys.stderr)
            continue
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            console.print(f"[bold]{record['title']}[/bold] ({record['sitename']}, {record['published']})")
            console.print(", ".join(f"{e['id']}×{e['mentions']}" for e in record["entities"]))
            console.print(record["text"])
    if failed:
        raise typer.Exit(1)


FormatOption = Annotated[str, typer.Option("--format", help="table, csv, json or markdown.")]
TzOption = Annotated[str, typer.Option("--tz", help="Time zone for display (IANA name); storage is UTC.")]


def _engine(database_url: str | None) -> Engine:
    """The configured database, migrated to the newest schema (a no-op when it already is)."""
    from presswatch.settings import load_settings
    from storage.db import make_engine, upgrade

    engine = make_engine(load_settings(database_url=database_url).database_url.get_secret_value())
    upgrade(engine)
    return engine


def _check_format(fmt: str) -> None:
    from flows.output import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", OR, -excluded words.', show_default=False)],
    entity: Annotated[str | None, typer.Option(help="Only stories tagged with this entity id (or its brands).")] = None,
    since: Annotated[str | None, typer.Option(help="Only stories since: 7d, 24h, 2w or 2026-11-01.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    fmt: FormatOption = "table",
    tz: TzOption = "UTC",
    database_url: DatabaseOption = None,
) -> None:
    """Full-text search over stored stories.

    Example: presswatch search "cloud price war" --entity alibaba --since 2026-11-01
    """
    from flows.output import in_zone, parse_since, parse_zone, render_rows
    from storage.search import search_stories

    _check_format(fmt)
    zone = parse_zone(tz)
    engine = _engine(database_url)
    hits = search_stories(engine, query, entity=entity, since=parse_since(since) if since else None, limit=limit)
    columns = ["title", "outlet", "published", "url", "snippet"]
    rows = [(h.title, h.sitename, in_zone(h.published_at, zone), h.url, h.snippet) for h in hits]
    print(render_rows(columns, rows, fmt, f"{len(hits)} stories match {query!r}"), end="")
    engine.dispose()


@app.command()
def report(
    since: Annotated[str, typer.Option(help="Window start: 7d, 24h, 2w or 2026-11-01.")] = "7d",
    entity: Annotated[list[str] | None, typer.Option(help="Entity id to report on (repeatable).")] = None,
    fmt: FormatOption = "table",
    tz: TzOption = "UTC",
    database_url: DatabaseOption = None,
) -> None:
    """Share of voice, top stories per entity, and spikes.

    Example: presswatch report --since 30d --entity alibaba --entity jd --format markdown
    """
    from datetime import UTC, datetime

    from flows.output import parse_since, parse_zone, render_report
    from storage.reports import build_report

    _check_format(fmt)
    zone = parse_zone(tz)
    engine = _engine(database_url)
    result = build_report(engine, parse_since(since), datetime.now(UTC), list(entity) if entity else None)
    print(render_report(result, fmt, zone), end="")
    engine.dispose()


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="One SQL query; writes are refused.", show_default=False)],
    fmt: FormatOption = "table",
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Run a read-only SQL query and print the result.

    Example: presswatch sql "SELECT entity_id, SUM(stories) FROM coverage_daily GROUP BY entity_id" --format csv
    """
    from flows.output import render_rows
    from storage.reports import run_read_only

    _check_format(fmt)
    engine = _engine(database_url)
    columns, rows = run_read_only(engine, statement, limit)
    print(render_rows(columns, rows, fmt), end="")
    engine.dispose()


@app.command()
def serve(
    limit: Annotated[int | None, typer.Option(min=1, max=64, help="Flow runs executed at once.")] = None,
    interval: Annotated[int | None, typer.Option(min=10, max=86400, help="Seconds between monitoring runs.")] = None,
) -> None:
    """Serve every deployment against the Prefect server in PREFECT_API_URL (Ctrl-C stops).

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api presswatch serve --limit 4
    """
    from flows.deployments import serve_deployments
    from presswatch.settings import load_settings

    serve_deployments(load_settings(serve_limit=limit, monitor_interval_seconds=interval))


@app.command()
def up(
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the Prefect UI/API.")] = 4200,
    data_dir: Annotated[Path, typer.Option(help="Where the Prefect server keeps its state.")] = Path("data"),
) -> None:
    """Start a local Prefect server and serve every deployment; Ctrl-C or SIGTERM stops both, in order.

    Example: presswatch up --port 4200
    """
    from flows.deployments import run_local_stack

    raise typer.Exit(run_local_stack(data_dir, port, {}))


@app.command()
def retag(
    entity: Annotated[str | None, typer.Option(help="Only stories tagged with this entity id (or its brands).")] = None,
    since: Annotated[str | None, typer.Option(help="Published since: 30d, 2w or 2026-11-01.")] = None,
    until: Annotated[str | None, typer.Option(help="Published until (ISO date or time).")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Re-tag stored stories with the current watchlist and topics, without downloading; print what changed.

    Example: presswatch retag --entity alibaba --since 30d
    """
    from pydantic import SecretStr

    from flows.local import local_runs
    from flows.output import parse_since
    from flows.retag import retag as retag_flow

    url = SecretStr(database_url) if database_url else None
    with local_runs():
        result = retag_flow(
            entity=entity,
            since=parse_since(since) if since else None,
            until=parse_since(until) if until else None,
            database_url=url,
        )
    for change in result["changed"]:
        print(
            f"story {change['article_id']}: added {change['added']}, removed {change['removed']}, "
            f"recounted {change['recounted']}"
        )
    print(f"{result['retagged']} stories re-tagged, {len(result['changed'])} changed")


@app.command()
def reextract(
    since: Annotated[str | None, typer.Option(help="Stories since: 30d, 2w or 2026-11-01 (publication time).")] = None,
    until: Annotated[str | None, typer.Option(help="Stories until (ISO date or time).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many stories, oldest first.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Re-run extraction over the stored raw pages, without downloading; print what changed.

    Example: presswatch reextract --since 30d --dry-run
    """
    from pydantic import SecretStr

    from flows.local import local_runs
    from flows.output import parse_since
    from flows.reextract import ReextractReport
    from flows.reextract import reextract as reextract_flow
    from presswatch.settings import load_settings
    from storage.db import check_connection, make_engine

    since_at = parse_since(since) if since else None
    until_at = parse_since(until) if until else None
    url = load_settings(database_url=database_url).database_url
    engine = make_engine(url.get_secret_value())  # fail before Prefect starts, with one line
    check_connection(engine)
    engine.dispose()
    with local_runs():
        result = reextract_flow(
            since=since_at,
            until=until_at,
            limit=limit,
            dry_run=dry_run,
            database_url=SecretStr(url.get_secret_value()),
        )
    report = ReextractReport(**{**result, "unreadable": [(int(i), str(r)) for i, r in result["unreadable"]]})
    changed = {
        "text": report.text_changed,
        "title": report.title_changed,
        "date": report.date_changed,
        "tags": report.tags_changed,
    }
    for story_id in sorted({i for ids in changed.values() for i in ids}):
        print(f"story {story_id}: {', '.join(kind for kind, ids in changed.items() if story_id in ids)} changed")
    for story_id, reason in report.unreadable:
        print(f"story {story_id}: unreadable raw page: {reason}")
    print(report.headline())


@watchlist_app.callback()
def watchlist_list(ctx: typer.Context) -> None:
    """List the watched entities with their kind, parent and spellings.

    Example: presswatch watchlist
    """
    if ctx.invoked_subcommand is not None:
        return
    from extractors.watchlist import load_watchlist
    from presswatch.settings import load_settings

    watchlist = load_watchlist(load_settings().watchlist_file)
    rows = [
        (e.id, e.name, e.kind, e.parent or "", ", ".join((*e.aliases, *e.native_names)), ", ".join(e.tickers))
        for e in watchlist.entities
    ]
    from flows.output import render_rows

    print(render_rows(["id", "name", "kind", "parent", "aliases", "tickers"], rows, "table"), end="")


@watchlist_app.command("sync")
def watchlist_sync(database_url: DatabaseOption = None) -> None:
    """Load the watchlist and topics into the entities, aliases and topics tables (every run does this too).

    Example: presswatch watchlist sync
    """
    from extractors.topics import load_topics
    from extractors.watchlist import load_watchlist, spellings
    from presswatch.settings import load_settings
    from storage.tags import sync_vocabulary
    from storage.writes import sync_watchlist

    settings = load_settings(database_url=database_url)
    watchlist = load_watchlist(settings.watchlist_file)
    engine = _engine(database_url)
    sync_watchlist(engine, watchlist)
    sync_vocabulary(engine, spellings(watchlist), load_topics(settings.topics_file))
    print(f"{len(watchlist.entities)} entities synced")
    engine.dispose()


@watchlist_app.command("suggest")
def watchlist_suggest(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    fmt: FormatOption = "table",
    database_url: DatabaseOption = None,
) -> None:
    """The organisations and people most often found by the NER model that are not on the watchlist.

    Example: PRESSWATCH_SPACY_MODEL=en_core_web_sm presswatch watchlist suggest --limit 10
    """
    from flows.output import render_rows
    from storage.reports import run_read_only

    _check_format(fmt)
    engine = _engine(database_url)
    columns, rows = run_read_only(
        engine,
        "SELECT name, label, COUNT(*) AS stories, SUM(count) AS mentions FROM discovered_names "
        f"GROUP BY name, label ORDER BY stories DESC, mentions DESC, name LIMIT {int(limit)}",
    )
    if not rows:
        print(
            "no discovered names yet: set PRESSWATCH_SPACY_MODEL to a spaCy pipeline with `ner` (see docs/tagging.md)"
        )
    else:
        print(render_rows(columns, rows, fmt), end="")
    engine.dispose()


@feeds_app.callback()
def feeds_list(ctx: typer.Context, fmt: FormatOption = "table", database_url: DatabaseOption = None) -> None:
    """List the feeds with their health: last status, last new story, failures, next due time.

    Example: presswatch feeds --format csv
    """
    if ctx.invoked_subcommand is not None:
        return
    from flows.output import render_rows
    from presswatch.feedlist import load_feed_list
    from presswatch.settings import load_settings
    from storage.queries import feed_health

    _check_format(fmt)
    listed = {source.url: source for source in load_feed_list(load_settings().feeds_file)}
    engine = _engine(database_url)
    health = {row.url: row for row in feed_health(engine)}
    engine.dispose()
    rows = []
    for url, source in listed.items():
        h = health.get(url)
        rows.append(
            (
                source.name or "",
                url,
                h.last_status if h else "never read",
                h.consecutive_failures if h else 0,
                h.last_new_story_at if h else "",
                h.next_due_at if h else "now",
                (h.suspended_reason or h.last_reason or "") if h else "",
            )
        )
    columns = ["name", "url", "last status", "failures", "last new story", "next due", "note"]
    print(render_rows(columns, rows, fmt), end="")


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="http(s) URL or a path relative to the feeds file.", show_default=False)],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Add a feed to the feeds file.

    Example: presswatch feeds add https://technode.com/feed/ --name TechNode
    """
    from presswatch.feedlist import add_feed
    from presswatch.settings import load_settings

    path = load_settings().feeds_file
    print(f"added {url} to {path}" if add_feed(path, url, name) else f"{url} is already in {path}")


@feeds_app.command("remove")
def feeds_remove(url: Annotated[str, typer.Argument(help="The URL as listed.", show_default=False)]) -> None:
    """Remove a feed from the feeds file (its stored stories and history stay).

    Example: presswatch feeds remove https://technode.com/feed/
    """
    from presswatch.errors import ConfigError
    from presswatch.feedlist import remove_feed
    from presswatch.settings import load_settings

    path = load_settings().feeds_file
    if not remove_feed(path, url):
        raise ConfigError(f"{url} is not listed in {path}")
    print(f"removed {url} from {path}")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None) -> None:
    """Create or migrate the schema to the newest revision.

    Example: presswatch db upgrade --database-url postgresql+psycopg://postgres@127.0.0.1:5432/presswatch
    """
    from presswatch.settings import load_settings
    from storage.db import make_engine, mask_url, upgrade

    settings = load_settings(database_url=database_url)
    engine = make_engine(settings.database_url.get_secret_value())
    upgrade(engine)
    print(f"database {mask_url(engine.url)} is at the newest schema revision")
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `presswatch` console script; returns the exit status."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="presswatch", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("presswatch: aborted", file=sys.stderr)
        return 130
    except TyperException as exc:  # usage errors: a mistyped option or command, a bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty when the help was shown because no command was given
            print(f"presswatch: error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except PresswatchError as exc:
        print(f"presswatch: error: {exc}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
