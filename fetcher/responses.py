"""Reading an HTTP response the same way in both fetchers: status classes, headers, bounded decoding, wording.

`fetcher.http` (httpx, sync) and `fetcher.aio` (aiohttp, async) share everything here, so that a status,
a header or a compressed body means the same in both and their errors are worded alike. Nothing here knows
which client sent the request.
"""

from __future__ import annotations

import email.utils
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx

from presswatch.errors import FetchError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# 500 is in: an overloaded app server answers 500 as often as 503.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SLOW_DOWN_STATUSES = frozenset({429, 503})
PIECE_SIZE = 64 * 1024  # most bytes one decompression step may produce


# --- bounded decompression ---------------------------------------------------------------------


class Inflater:
    """Streaming gzip/deflate decoder that never produces more than `PIECE_SIZE` bytes per step."""

    def __init__(self, gzip: bool) -> None:
        """A gzip decoder, or a deflate one (zlib-wrapped or raw, told apart by the first bytes)."""
        self._gzip = gzip
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._head = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of `data`, each at most `PIECE_SIZE` bytes."""
        if self._obj is None:
            # "deflate" is zlib-wrapped by the spec but raw in some servers: tell them apart by the header.
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        while True:
            if self._obj.eof:
                rest = self._obj.unused_data + data
                if not (self._gzip and rest):
                    return
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a further gzip member
                data = rest
            out = self._obj.decompress(data, PIECE_SIZE)
            if out:
                yield out
            data = self._obj.unconsumed_tail
            if not data and len(out) < PIECE_SIZE:
                return

    def flush(self) -> Iterator[bytes]:
        """The decoded pieces still held back at the end of the body."""
        if self._obj is None:
            return iter(())
        return self.feed(b"")


class Identity:
    """The decoder of a body sent without content encoding: passes bytes through."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """`data` as it is."""
        yield data

    def flush(self) -> Iterator[bytes]:
        """Nothing: no bytes are held back."""
        return iter(())


Decoder = Inflater | Identity


def body_decoders(content_encoding: str, status: int) -> list[Decoder]:
    """The decoders that undo a Content-Encoding header, in the order to apply them; FetchError if unsupported."""
    names = [part.strip().lower() for part in content_encoding.split(",") if part.strip()]
    names = [name for name in names if name != "identity"]
    if len(names) > 2:
        raise FetchError("http_error", f"too many content encodings ({content_encoding})", status)
    decoders: list[Decoder] = []
    for name in reversed(names):  # the last encoding applied is the first to undo
        if name in ("gzip", "x-gzip"):
            decoders.append(Inflater(gzip=True))
        elif name == "deflate":
            decoders.append(Inflater(gzip=False))
        else:
            raise FetchError("http_error", f"unsupported content encoding {name!r}", status)
    return decoders or [Identity()]


def run_decoders(decoders: list[Decoder], data: bytes) -> Iterator[bytes]:
    """The decoded pieces of one raw chunk, passed through every decoder in turn."""
    if not decoders:
        yield data
        return
    for piece in decoders[0].feed(data):
        yield from run_decoders(decoders[1:], piece)


def flush_decoders(decoders: list[Decoder]) -> Iterator[bytes]:
    """The decoded pieces every decoder still holds at the end of the body, passed through those after it."""
    for index, decoder in enumerate(decoders):
        for piece in decoder.flush():
            yield from run_decoders(decoders[index + 1 :], piece)


# --- error wording -------------------------------------------------------------------------------


def seconds_text(seconds: float) -> str:
    """A duration as the error messages write it, e.g. "2.5 s"."""
    return f"{seconds:g} s"


def shorten(text: str, limit: int = 120) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_text(status: int) -> str:
    """An HTTP status as the error messages write it, e.g. "HTTP 404 Not Found"."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def cap_error(max_bytes: int, detail: str) -> FetchError:
    """The error for a body larger than the `max_bytes` cap."""
    return FetchError("too_large", f"body exceeds the {max_bytes:,}-byte cap ({detail})")


def deadline_error(total_timeout: float, received: int) -> FetchError:
    """The error for a fetch that ran past its total deadline after `received` body bytes."""
    return FetchError("timeout", f"total deadline of {seconds_text(total_timeout)} exceeded after {received:,} bytes")


# --- statuses and headers ------------------------------------------------------------------------


class Retry(Exception):
    """Raised inside a fetcher when an attempt failed transiently; never leaves its `fetch`."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        """The error to raise if no retry is left, and the server's Retry-After in seconds."""
        super().__init__(error.reason)
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class Redirect:
    """A redirect answer: its Location as sent and its status."""

    target: str
    status: int


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None when unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """Split a Content-Type header into (lower-case media type, charset)."""
    if not value:
        return None, None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset" and raw.strip():
            charset = raw.strip().strip("\"'").lower() or None
    return (media.strip().lower() or None), charset


def redirect_target(current: httpx.URL, location: str, status: int, visited: set[str]) -> httpx.URL:
    """Where a redirect leads, refused unless it is http(s) and not yet visited; the target joins `visited`."""
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError):
        raise FetchError("redirect_error", "redirected to an invalid URL", status) from None
    if target.scheme not in ("http", "https"):
        raise FetchError(
            "redirect_error",
            f"redirected to a {target.scheme or 'scheme-less'}: URL; only http and https are followed",
            status,
        )
    if str(target) in visited:
        raise FetchError("redirect_error", f"redirect loop: {shorten(str(target), 100)} was already visited", status)
    visited.add(str(target))
    return target
