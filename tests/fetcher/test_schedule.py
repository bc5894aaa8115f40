"""Adaptive polling: stretch when nothing is new, shrink when much is, back off on failures, suspend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fetcher.schedule import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    SUSPEND_AFTER_FAILURES,
    FeedSchedule,
    after_failure,
    after_success,
    is_due,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_feed_with_nothing_new_is_read_less_often_up_to_a_bound() -> None:
    state = FeedSchedule()
    intervals = []
    for _ in range(20):
        state = after_success(state, NOW, new_items=0, total_items=10)
        intervals.append(state.interval)
    assert intervals[0] == DEFAULT_INTERVAL * 1.5
    assert intervals == sorted(intervals) and intervals[-1] == MAX_INTERVAL


def test_a_feed_with_mostly_new_items_is_read_more_often_down_to_a_bound() -> None:
    state = FeedSchedule(interval=timedelta(hours=2))
    for _ in range(10):
        state = after_success(state, NOW, new_items=8, total_items=10)
    assert state.interval == MIN_INTERVAL
    assert state.next_due_at == NOW + MIN_INTERVAL


def test_the_feeds_own_ttl_is_a_floor() -> None:
    state = after_success(FeedSchedule(), NOW, new_items=10, total_items=10, feed_ttl=timedelta(hours=1))
    assert state.interval == timedelta(hours=1)


def test_a_404_weighs_more_than_a_timeout() -> None:
    gone = after_failure(FeedSchedule(), NOW, outcome="http_error", status=404)
    slow = after_failure(FeedSchedule(), NOW, outcome="timeout")
    assert gone.interval > slow.interval > DEFAULT_INTERVAL
    assert gone.failure_score == 1.0 and slow.failure_score == 0.25


def test_retry_after_is_honoured_up_to_a_day() -> None:
    state = after_failure(FeedSchedule(), NOW, outcome="http_error", status=429, retry_after=3 * 3600)
    assert state.next_due_at == NOW + timedelta(hours=3)
    capped = after_failure(FeedSchedule(), NOW, outcome="http_error", status=503, retry_after=10 * 86400)
    assert capped.interval == timedelta(days=1)


def test_a_feed_that_keeps_failing_is_suspended_with_its_reason_then_recovers() -> None:
    state = FeedSchedule()
    for _ in range(SUSPEND_AFTER_FAILURES):
        state = after_failure(state, NOW, outcome="http_error", status=410, reason="HTTP 410 Gone")
    assert state.suspended_reason is not None and "HTTP 410 Gone" in state.suspended_reason
    assert state.next_due_at == NOW + timedelta(days=7)
    assert not is_due(state, NOW + timedelta(days=6)) and is_due(state, NOW + timedelta(days=7))
    recovered = after_success(state, NOW, new_items=1, total_items=5)
    assert recovered.suspended_reason is None and recovered.failure_score == 0
    assert recovered.interval == DEFAULT_INTERVAL
