"""The project's one exception tree: callers catch the narrowest class they can act on."""

from __future__ import annotations


class PresswatchError(Exception):
    """Base class of every error presswatch raises on purpose."""


class ConfigError(PresswatchError):
    """A setting, a feeds file, a watchlist or a database URL is unusable."""


class FeedError(PresswatchError):
    """A feed document could not be parsed into entries."""


class ExtractionError(PresswatchError):
    """A page could not be turned into article text."""


class StorageError(PresswatchError):
    """The database refused or lost a write or a read."""


class SearchError(PresswatchError):
    """A search query or report filter that cannot be run as given."""


class FetchError(PresswatchError):
    """A URL could not be fetched; `outcome` is a fixed code, the message a human reason."""

    def __init__(
        self, outcome: str, reason: str, status: int | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After), when it said


class BlockedURLError(FetchError):
    """A URL was refused before connecting: scheme or resolved address not allowed."""

    def __init__(self, reason: str) -> None:
        super().__init__("blocked", reason)
