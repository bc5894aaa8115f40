"""What a monitoring pass did, as data: returned by the flow, logged, published as an artifact, printed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

from flows.steps import BatchReport, LinkJob


class Problem(BaseModel):
    """A feed or link that did not give a story, with the fixed outcome code and a human reason."""

    url: str
    outcome: str
    reason: str | None = None


class PassSummary(BaseModel):
    """Counts and reasons for one pass over the feeds."""

    feeds_read: int = 0
    feeds_not_modified: int = 0
    feeds_not_due: int = 0
    feeds_failed: list[Problem] = Field(default_factory=list)
    links_seen: int = 0
    links_already_stored: int = 0
    stored_ids: list[int] = Field(default_factory=list)
    stored_links: list[str] = Field(default_factory=list)
    duplicates: int = 0
    links_failed: list[Problem] = Field(default_factory=list)
    stage_seconds: dict[str, float] = Field(default_factory=dict)  # wall time per stage of the pass

    @property
    def stories_stored(self) -> int:
        """How many new stories this pass stored."""
        return len(self.stored_ids)

    def headline(self) -> str:
        """One sentence saying what the pass did."""
        if not self.stored_ids:
            stored = "No new stories"
        else:
            stored = f"Stored {len(self.stored_ids)} new stor{'y' if len(self.stored_ids) == 1 else 'ies'}"
        parts = [
            f"{self.feeds_read} feed(s) read",
            f"{self.feeds_not_modified} not modified",
            *([f"{self.feeds_not_due} not due"] if self.feeds_not_due else []),
            f"{len(self.feeds_failed)} failed",
            f"{self.links_already_stored} link(s) already stored",
            f"{self.duplicates} duplicate(s) of stored stories",
            f"{len(self.links_failed)} link(s) skipped",
        ]
        return f"{stored}: " + ", ".join(parts) + "."

    def table(self) -> list[dict[str, str]]:
        """Every stored story, failed feed and skipped link as rows (kind, url, outcome, reason)."""
        rows = [{"kind": "story", "url": url, "outcome": "stored", "reason": ""} for url in self.stored_links]
        rows += [
            {"kind": "feed", "url": p.url, "outcome": p.outcome, "reason": p.reason or ""} for p in self.feeds_failed
        ]
        rows += [
            {"kind": "link", "url": p.url, "outcome": p.outcome, "reason": p.reason or ""} for p in self.links_failed
        ]
        return rows

    def outcome_counts(self) -> dict[str, int]:
        """How many problems of each outcome code."""
        return dict(Counter(p.outcome for p in [*self.feeds_failed, *self.links_failed]))


def add_batches(
    summary: PassSummary, batches: Sequence[Sequence[LinkJob]], reports: Sequence[BatchReport | BaseException]
) -> None:
    """Count what each batch of links became into `summary`; every link of a failed batch is listed with why."""
    for batch, report in zip(batches, reports, strict=True):
        if isinstance(report, BaseException):
            reason = f"batch failed: {type(report).__name__}: {report}"
            summary.links_failed += [Problem(url=job.link, outcome="internal_error", reason=reason) for job in batch]
            continue
        summary.stored_ids += report.stored_ids
        summary.stored_links += report.stored_links
        summary.duplicates += len(report.duplicate_links)
        summary.links_failed += [Problem(url=f.link, outcome=f.outcome, reason=f.reason) for f in report.failures]
