"""Turning query results into what a person or a spreadsheet reads: tables, CSV, JSON, markdown."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.table import Table

from presswatch.errors import ConfigError
from storage.reports import Report

FORMATS = ("table", "csv", "json", "markdown")
RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """'7d', '24h', '2w' or an ISO date/datetime, as an aware UTC datetime."""
    now = now or datetime.now(UTC)
    relative = RELATIVE.match(value.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"cannot read --since {value!r}: use e.g. 7d, 24h, 2w or 2026-11-01") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_zone(name: str) -> ZoneInfo:
    """A time zone for display, by IANA name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}: use an IANA name such as UTC or Asia/Shanghai") from None


def in_zone(value: Any, zone: ZoneInfo) -> str:
    """A stored UTC timestamp shown in the given zone ('' when missing)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, title: str = "") -> str:
    """Rows in one of FORMATS."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        return buffer.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str, ensure_ascii=False)
    if fmt == "markdown":
        lines = [f"### {title}", ""] if title else []
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in cells:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=160)
    console.print(table)
    output: str = console.file.getvalue()  # type: ignore[attr-defined]
    return output


def render_report(report: Report, fmt: str, zone: ZoneInfo) -> str:
    """The report's three sections in one of FORMATS (JSON: one object with three lists); times in `zone`."""
    if fmt == "json":
        return json.dumps(
            {
                "since": report.since.isoformat(),
                "until": report.until.isoformat(),
                "share_of_voice": [asdict(s) for s in report.shares],
                "top_stories": [
                    dict(asdict(t), published_at=in_zone(t.published_at, zone) or None) for t in report.top
                ],
                "spikes": [asdict(s) for s in report.spikes],
            },
            default=str,
            ensure_ascii=False,
        )
    window = f"{in_zone(report.since, zone)} to {in_zone(report.until, zone)} ({zone.key})"
    sections = [
        render_rows(
            ["entity", "name", "stories", "share"],
            [(s.entity_id, s.entity_name, s.stories, f"{s.share:.1%}") for s in report.shares],
            fmt,
            f"Share of voice, {window}",
        ),
        render_rows(
            ["entity", "title", "outlet", "published", "mentions", "in headline", "url"],
            [
                (t.entity_id, t.title, t.sitename, in_zone(t.published_at, zone), t.mentions, t.in_title, t.url)
                for t in report.top
            ],
            fmt,
            "Top stories per entity",
        ),
        render_rows(
            ["day", "entity", "stories", "baseline (14-day mean)"],
            [(s.day, s.entity_id, s.stories, s.baseline) for s in report.spikes],
            fmt,
            "Spikes",
        ),
    ]
    return "\n".join(sections)
