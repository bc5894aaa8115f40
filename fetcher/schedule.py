"""When to read a feed next: adaptive polling, weighted failure back-off and suspension, as pure functions.

Modelled on Media Cloud's rss-fetcher: a feed that rarely has anything new is read less often, one that
often does is read more often, failures lengthen the interval linearly by their weight, and a feed that
keeps failing is suspended with its reason and retried rarely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=24)
DEFAULT_INTERVAL = timedelta(minutes=15)
SUSPEND_AFTER_FAILURES = 30
SUSPENDED_RETRY = timedelta(days=7)
MAX_RETRY_AFTER = timedelta(days=1)

# How much a failure weighs: a feed that is gone counts more than one that is slow today.
HARD_FAILURES = frozenset({"http_error_4xx", "not_feed", "parse_error", "blocked", "invalid_url", "redirect_error"})
SOFT_FAILURES = frozenset({"http_error", "too_large", "empty"})
TEMPORARY_FAILURES = frozenset({"timeout", "connection_error", "rate_limited", "deferred"})
FAILURE_WEIGHT = {
    **dict.fromkeys(HARD_FAILURES, 1.0),
    **dict.fromkeys(SOFT_FAILURES, 0.5),
    **dict.fromkeys(TEMPORARY_FAILURES, 0.25),
}
SUCCESSES = frozenset({"ok", "not_modified", "unchanged"})


@dataclass(frozen=True)
class FeedSchedule:
    """A feed's polling state as stored in `feeds`."""

    interval: timedelta = DEFAULT_INTERVAL
    next_due_at: datetime | None = None
    failure_score: float = 0.0
    consecutive_failures: int = 0
    suspended_reason: str | None = None


def failure_kind(outcome: str, status: int | None) -> str:
    """The weight class of a failed poll: a 404/410 is a hard failure, a 503 a soft one, a 429 temporary."""
    if outcome == "http_error" and status is not None:
        if status == 429:
            return "rate_limited"
        if status in (404, 410, 401, 403):
            return "http_error_4xx"
    return outcome


def is_passing(outcome: str, status: int | None) -> bool:
    """Whether a failed download may well succeed if tried again soon: a time-out, a dropped connection, a 5xx/429,
    or a turn at the host that did not come in time (`deferred`: nothing was sent)."""
    if outcome == "http_error":
        return status is not None and (status >= 500 or status in (408, 425, 429))
    return outcome in ("timeout", "connection_error", "deferred")


def stretch_for_novelty(interval: timedelta, new_items: int, total_items: int) -> timedelta:
    """Shorter when most items are new, longer when none are, unchanged in between."""
    if total_items <= 0 or new_items == 0:
        return interval * 1.5
    if new_items / total_items >= 0.5:
        return interval / 2
    return interval


def clamp(interval: timedelta, floor: timedelta = MIN_INTERVAL, ceiling: timedelta = MAX_INTERVAL) -> timedelta:
    """The interval within the bounds."""
    return max(floor, min(ceiling, interval))


def after_success(
    state: FeedSchedule,
    now: datetime,
    *,
    new_items: int,
    total_items: int,
    feed_ttl: timedelta | None = None,
    base: timedelta = DEFAULT_INTERVAL,
) -> FeedSchedule:
    """The next schedule after a read that worked (new items, none, or a 304/same body)."""
    interval = stretch_for_novelty(state.interval if state.failure_score == 0 else base, new_items, total_items)
    # The feed's own <ttl>/sy:updatePeriod says how often it changes at most: never poll faster than that.
    floor = max(MIN_INTERVAL, min(feed_ttl, MAX_INTERVAL)) if feed_ttl else MIN_INTERVAL
    interval = clamp(interval, floor=floor)
    return FeedSchedule(interval=interval, next_due_at=now + interval)


def after_failure(
    state: FeedSchedule,
    now: datetime,
    *,
    outcome: str,
    status: int | None = None,
    reason: str = "",
    retry_after: float | None = None,
    base: timedelta = DEFAULT_INTERVAL,
) -> FeedSchedule:
    """The next schedule after a failed read: linear back-off by weight, suspension after many failures."""
    kind = failure_kind(outcome, status)
    score = state.failure_score + FAILURE_WEIGHT.get(kind, 0.5)
    failures = state.consecutive_failures + 1
    if failures >= SUSPEND_AFTER_FAILURES:
        why = f"suspended after {failures} failures in a row; last: {reason or outcome}"
        return FeedSchedule(SUSPENDED_RETRY, now + SUSPENDED_RETRY, score, failures, why)
    interval = clamp(base * (1 + score))
    if retry_after is not None:
        interval = max(interval, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return replace(
        state,
        interval=interval,
        next_due_at=now + interval,
        failure_score=score,
        consecutive_failures=failures,
        suspended_reason=None,
    )


def is_due(state: FeedSchedule, now: datetime) -> bool:
    """Whether a feed should be read in a pass starting now."""
    return state.next_due_at is None or state.next_due_at <= now
