"""Near-duplicate detection over article text, to group the copies of one story (syndication, re-publication).

Both measures work on the set of overlapping word 3-grams ("shingles") of the lower-cased text, so the
same wire story republished with another outlet's furniture, a new headline or first line, or a few
edited sentences keeps most of its shingles, while two different stories share only the shingles of
whatever boilerplate they have in common.

- `jaccard` is the exact Jaccard similarity of two shingle sets: the measure to group by when both texts are
  at hand (storage/clusters.py), "same story" at `MIN_RESEMBLANCE` or more.
- `signature` is a MinHash (bottom-k) sketch: the `SIGNATURE_SIZE` smallest 64-bit shingle hashes.
  `resemblance` estimates the Jaccard similarity of two texts' shingle sets from their sketches (about
  +/-0.04), and `similar` says "same story" at `MIN_RESEMBLANCE` or more: for when only sketches are kept.
- `fingerprint` is a 64-bit SimHash: one integer per story (fits a BIGINT through `to_signed`), with
  `distance` the number of differing bits. Coarser (on real texts copies measure 0-22 bits apart, different
  stories 14-49, most 25-38: benchmarks/syndication.py), it suits a cheap first filter, not the decision.

Chinese, Japanese and Korean text has no spaces between words: each of their characters counts as a word.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection
from hashlib import blake2b

import numpy

BITS = 64
SHINGLE_WORDS = 3
SIGNATURE_SIZE = 128
# Copies of one story share well over half their shingles; different stories that share a boilerplate
# block share a tenth to a third of them.
MIN_RESEMBLANCE = 0.5
# SimHash bits two copies of one story may differ in (unrelated texts differ in about 32).
MAX_DISTANCE = 16
# Texts shorter than this (in words) have too few shingles for any measure to mean much.
MIN_WORDS = 20

_MASK = (1 << BITS) - 1
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def words(text: str) -> list[str]:
    """The text's words, lower-cased: runs of letters and digits, each CJK character a word of its own."""
    return _TOKEN.findall(text.lower())


def shingles(text: str) -> set[str]:
    """The text's distinct word 3-grams (the whole text as one shingle when it has fewer than 3 words)."""
    return shingles_of(words(text))


def shingles_of(tokens: list[str]) -> set[str]:
    """The distinct word 3-grams of a list of words (from `words`)."""
    if len(tokens) < SHINGLE_WORDS:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)}


def signature(text: str) -> tuple[int, ...]:
    """The MinHash (bottom-k) sketch of a text: its SIGNATURE_SIZE smallest shingle hashes, ascending."""
    return tuple(heapq.nsmallest(SIGNATURE_SIZE, {_hash(shingle) for shingle in shingles(text)}))


def resemblance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """The estimated Jaccard similarity (0..1) of the shingle sets two signatures were made from."""
    if not a or not b:
        return 0.0
    set_a, set_b = set(a), set(b)
    # The k smallest hashes of the union are a uniform sample of it; count those both texts have.
    sample = heapq.nsmallest(min(SIGNATURE_SIZE, len(set_a | set_b)), set_a | set_b)
    return sum(1 for h in sample if h in set_a and h in set_b) / len(sample)


def fingerprint(text: str) -> int:
    """The 64-bit SimHash of a text's word 3-grams (an unsigned int; 0 for a text with no words)."""
    return simhash(shingles(text))


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """The exact Jaccard similarity (0..1) of two shingle sets: what `resemblance` estimates from sketches.

    Cheaper than building two signatures when both texts are at hand (no hashing), and exact.
    """
    set_a = a if isinstance(a, (set, frozenset)) else set(a)
    set_b = b if isinstance(b, (set, frozenset)) else set(b)
    common = len(set_a & set_b)
    union = len(set_a) + len(set_b) - common
    return common / union if union else 0.0


def simhash(shingle_set: Collection[str]) -> int:
    """The 64-bit SimHash of a set of shingles (what `fingerprint` computes from a text's)."""
    if not shingle_set:
        return 0
    # Each shingle's 8-byte hash (`_digest`: the big-endian bytes of `_hash`) unpacked into a row of 64 bits, most
    # significant first; a bit of the result is set where more than half the rows have it set.
    digests = b"".join(map(_digest, shingle_set))
    bits = numpy.unpackbits(numpy.frombuffer(digests, dtype=numpy.uint8).reshape(-1, 8), axis=1)
    majority = bits.sum(axis=0, dtype=numpy.int64) * 2 > len(shingle_set)
    return int.from_bytes(numpy.packbits(majority).tobytes(), "big")


def distance(a: int, b: int) -> int:
    """How many of the 64 bits two fingerprints differ in (Hamming distance)."""
    return ((a ^ b) & _MASK).bit_count()


def similar(a: str | tuple[int, ...], b: str | tuple[int, ...], *, threshold: float = MIN_RESEMBLANCE) -> bool:
    """Whether two texts (or their signatures) are copies of the same story."""
    if isinstance(a, str):
        if len(words(a)) < MIN_WORDS:
            return False
        a = signature(a)
    if isinstance(b, str):
        if len(words(b)) < MIN_WORDS:
            return False
        b = signature(b)
    return resemblance(a, b) >= threshold


def pack_signature(sig: tuple[int, ...]) -> bytes:
    """A signature as bytes (8 per hash, big-endian) for a BLOB/BYTEA column."""
    return b"".join(h.to_bytes(8, "big") for h in sig)


def unpack_signature(data: bytes) -> tuple[int, ...]:
    """A signature back from `pack_signature`'s bytes."""
    return tuple(int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data) - len(data) % 8, 8))


def to_signed(value: int) -> int:
    """An unsigned 64-bit fingerprint as the signed integer a BIGINT column stores."""
    value &= _MASK
    return value - (1 << BITS) if value >= 1 << (BITS - 1) else value


def from_signed(value: int) -> int:
    """The unsigned fingerprint back from a BIGINT column's signed value."""
    return value & _MASK


def _digest(shingle: str) -> bytes:
    # A stable 64-bit hash as 8 bytes (Python's hash() changes from process to process).
    return blake2b(shingle.encode("utf-8"), digest_size=8).digest()


def _hash(shingle: str) -> int:
    return int.from_bytes(_digest(shingle), "big")
