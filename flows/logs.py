"""Logging: an expected failure (a PresswatchError) is logged as its one-line reason, never as a traceback."""

from __future__ import annotations

import logging

from presswatch.errors import PresswatchError

# The loggers Prefect's engines use to report a task or flow run that ended in an exception.
RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class DropExpectedTracebacks(logging.Filter):
    """Strip the traceback from records about a PresswatchError: its message already says what went wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record; remove `exc_info` when it holds one of presswatch's own errors."""
        if record.exc_info and isinstance(record.exc_info[1], PresswatchError):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_expected_errors() -> None:
    """Install the filter on Prefect's run loggers, once per process (Prefect's logging setup keeps filters)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropExpectedTracebacks) for f in logger.filters):
            logger.addFilter(DropExpectedTracebacks())
