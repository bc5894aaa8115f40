"""Stored raw pages (`articles.raw_page`): written as zstd frames, read back from zstd or legacy zlib.

Measured on the 181 pages of the article-extraction benchmark corpus: zstd level 3 costs 0.40 ms per page at
ratio 5.08, where the zlib level 1 used before cost 1.02 ms at ratio 4.26; the compression runs in the link
workers of every pass, so it is both cheaper CPU and a smaller database. Rows written before the switch hold
zlib streams and are never rewritten, so reading accepts both, told apart by their first bytes.
"""

from __future__ import annotations

import threading
import zlib

import zstandard

from presswatch.errors import StorageError

ZSTD_LEVEL = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts with it
ZLIB_FIRST_BYTE = 0x78  # zlib.compress's header with its default 32 KB window, as earlier versions wrote

# A ZstdCompressor (or decompressor) must not be used by two threads at once, and link batches run in threads
# of a flow's process: one per thread keeps its context (about 1 MB, allocated on first use) across pages.
_per_thread = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    compressor: zstandard.ZstdCompressor | None = getattr(_per_thread, "compressor", None)
    if compressor is None:
        compressor = _per_thread.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    decompressor: zstandard.ZstdDecompressor | None = getattr(_per_thread, "decompressor", None)
    if decompressor is None:
        decompressor = _per_thread.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def compress_page(page: bytes) -> bytes:
    """The value to store in `articles.raw_page` for a downloaded page: one zstd frame (level 3)."""
    # The frame records the page's size, so reading allocates once and can refuse an oversized one up front.
    return _compressor().compress(page)


def decompress_page(stored: bytes, max_size: int) -> bytes:
    """A stored `raw_page` as the page's bytes, zstd or legacy zlib; StorageError says why it cannot be read.

    `max_size` bounds the output, so a corrupt or hostile blob cannot expand without limit: a page was capped at
    download time (settings.max_bytes), so nothing larger can be a page presswatch stored under that cap.
    """
    if stored.startswith(ZSTD_MAGIC):
        return _unzstd(stored, max_size)
    if stored[:1] == bytes([ZLIB_FIRST_BYTE]):
        return _unzlib(stored, max_size)
    raise StorageError(f"neither a zstd frame nor a zlib stream (starts with {stored[:4].hex() or 'nothing'})")


def _unzstd(stored: bytes, max_size: int) -> bytes:
    try:
        declared = zstandard.frame_content_size(stored)  # -1 when the frame does not say
    except zstandard.ZstdError as exc:
        raise StorageError(f"corrupt zstd frame: {exc}") from None
    if declared > max_size:
        raise StorageError(_too_large(max_size, f"its zstd frame declares {declared:,} bytes"))
    try:
        # With a declared size the output is allocated once at that size; without one (not a frame presswatch
        # writes) max_output_size bounds it, and a page that would exceed it fails as an incomplete frame.
        page = _decompressor().decompress(stored, max_output_size=max_size + 1)
    except zstandard.ZstdError as exc:
        undeclared = "" if declared >= 0 else f", or larger than the {max_size:,}-byte cap (its size is not declared)"
        raise StorageError(f"corrupt zstd frame{undeclared}: {exc}") from None
    if len(page) > max_size:
        raise StorageError(_too_large(max_size, f"it decompresses to {len(page):,} bytes"))
    return page


def _unzlib(stored: bytes, max_size: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        page = inflater.decompress(stored, max_size + 1)
    except zlib.error as exc:
        raise StorageError(f"corrupt zlib stream: {exc}") from None
    if len(page) > max_size:
        raise StorageError(_too_large(max_size, "its zlib stream expands further"))
    if not inflater.eof:
        raise StorageError("corrupt zlib stream: it ends before the page does")
    return page


def _too_large(max_size: int, detail: str) -> str:
    return f"larger than the {max_size:,}-byte cap on a page (PRESSWATCH_MAX_BYTES): {detail}"
