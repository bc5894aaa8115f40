"""Flow runs that the command line starts in its own process (`presswatch run`, `retag`, `reextract`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings


@contextmanager
def local_runs() -> Iterator[None]:
    """Flow calls in this block send no heartbeats when no Prefect server is configured (the ephemeral API).

    Heartbeats let a Prefect server notice a run whose process died. The ephemeral API server is a child of
    this process and dies with it, so no one is left to notice; and Prefect 3.8 joins its heartbeat thread,
    which sleeps in 1-second steps, at the end of every flow call, so a call returns only at the next whole
    second after its run started (measured: 0.2-1.0 s added per call; 0.09 s without heartbeats). Runs
    against a real server (PREFECT_API_URL set) keep them.
    """
    if get_current_settings().api.url:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
