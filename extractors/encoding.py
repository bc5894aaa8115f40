"""Decode a fetched page to text the way a browser would, and better where servers mislabel it.

Order of evidence: a byte-order mark, then a BOM-less UTF-16 pattern, then the charset the server
declares (Content-Type), then the page's own ``<meta charset>``, then detection. A declaration is
trusted only as far as the bytes agree with it: "iso-8859-1" on bytes that are valid UTF-8, or on
bytes that read as a run of accented capitals (a Chinese page in disguise), and "utf-8" on bytes that
are not UTF-8, are overruled. Legacy labels are widened to the supersets browsers use (GB2312/GBK to
GB18030, Big5 to Big5-HKSCS, Shift_JIS to cp932, EUC-KR to cp949, Latin-1 to windows-1252).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from presswatch.errors import ExtractionError

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# UTF-32 first: its little-endian BOM begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that servers put on pages that are really UTF-8 (or something else) more often than not.
_LATIN_LABELS = frozenset({"iso8859-1", "latin-1", "cp1252", "ascii"})
# What browsers actually decode a legacy label as: each is a superset of the labelled charset.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
}
# Single-byte charsets a detector may name for Western-European text: browsers read those as windows-1252.
_WESTERN_GUESSES = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "latin-1", "iso8859-1", "iso8859-2", "iso8859-9", "iso8859-13"}
    | {"iso8859-15", "mac-roman", "mac-latin2", "mac-turkish", "cp850", "cp437", "ascii"}
)
# UTF-7 can smuggle markup past filters; browsers refuse it too.
_REFUSED_CODECS = frozenset({"utf-7"})

_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF media file"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 file"),
    (b"\x7fELF", "an executable"),
    (b"wOFF", "a web font"),
)
_NON_HTML_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip", "application/json")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
# Markup and scripts say nothing about a page's charset and drown the text in ASCII; no byte of a tag
# can be the trail byte of a GBK, Big5 or Shift_JIS character, so this is safe on the raw bytes.
_NOT_TEXT = re.compile(
    rb"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL
)
# How much of a page the detector reads: enough text to decide, bounded time.
_DETECT_SAMPLE = 24_000


def decode_html(html: bytes | str, content_type: str | None = None) -> str:
    """Decode a page (BOM, UTF-16 pattern, declared charset checked against the bytes, then detection)."""
    if isinstance(html, str):
        text = html
    else:
        html = bytes(html)  # also accepts bytearray and memoryview
        if not html.strip():
            raise ExtractionError("empty page")
        head = html.lstrip()[:8]
        for magic, what in _MAGIC:
            if head.startswith(magic):
                raise ExtractionError(f"not HTML: the bytes are {what}")
        text = decode_bytes(html, content_type)
    if not text.strip():
        raise ExtractionError("empty page")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(_NON_HTML_TYPES):
        raise ExtractionError(f"not HTML: content type {mime}")
    sample = text[:4096]
    if len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise ExtractionError("not HTML: the page is binary data")
    return text


def decode_bytes(data: bytes, content_type: str | None = None) -> str:
    """Decode a page's bytes to text; never raises, undecodable bytes become U+FFFD."""
    return data.decode(sniff_encoding(data, content_type), errors="replace")


def sniff_encoding(data: bytes, content_type: str | None = None) -> str:
    """The codec a page's bytes should be decoded with (a Python codec name)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        return utf16
    declared = None
    if content_type:
        match = _CHARSET_PARAM.search(content_type.encode("ascii", "ignore"))
        declared = _codec(match.group(1)) if match else None
    if declared is None:
        match = _META_CHARSET.search(data[:4096])
        declared = _codec(match.group(1)) if match else None
        if declared is not None and declared.startswith(("utf-16", "utf-32")):
            # A <meta> readable as ASCII cannot be in UTF-16/32: browsers read such pages as UTF-8.
            declared = "utf-8"
    if data.isascii():
        return "utf-8" if declared is None or declared in _LATIN_LABELS else declared
    if declared is None or declared in ("utf-8", "utf-8-sig") or declared in _LATIN_LABELS:
        if _is_utf8(data):
            return "utf-8"
        if declared in _LATIN_LABELS and not _looks_multibyte(data):
            return "cp1252"
        return _detect(data) or ("utf-8" if declared is None or declared.startswith("utf") else "cp1252")
    # Bytes that are valid UTF-8 with multi-byte characters are UTF-8 whatever the label says: text in a
    # legacy multi-byte charset practically never forms valid UTF-8 sequences throughout.
    if _strict_utf8(data):
        return "utf-8"
    declared = _SUPERSETS.get(declared, declared)
    if _decodes(data, declared):
        return declared
    if _is_utf8(data):
        return "utf-8"
    return _detect(data) or declared


def _codec(label: bytes) -> str | None:
    name = label.decode("ascii", "ignore").strip().lower()
    try:
        codec = codecs.lookup(name).name
        b"".decode(codec)  # rejects bytes-to-bytes codecs such as base64
    except (LookupError, ValueError, TypeError):
        return None
    if codec in _REFUSED_CODECS:
        return None
    return codec


def _is_utf8(data: bytes) -> bool:
    # A UTF-8 page with a handful of broken sequences (a truncated character, one pasted Latin-1 byte)
    # is still UTF-8: its valid multi-byte characters far outnumber the broken ones. A page in another
    # charset hardly ever forms a valid multi-byte UTF-8 sequence at all.
    if _strict_utf8(data):
        return True
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= 10 * bad


def _strict_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _looks_multibyte(data: bytes) -> bool:
    # Western text read as windows-1252 has an accented letter here and there between ASCII letters;
    # GBK, Big5, Shift_JIS or EUC-KR text has nearly every byte of its words above 0x7F.
    text = _NOT_TEXT.sub(b" ", data[: _DETECT_SAMPLE * 4])
    high = sum(1 for b in text if b > 0x7F)
    ascii_letters = sum(1 for b in text if 0x61 <= (b | 0x20) <= 0x7A)
    return high >= 20 and high > 0.3 * (high + ascii_letters)


def _bomless_utf16(data: bytes) -> str | None:
    # HTML is mostly ASCII: in UTF-16 every other byte of it is NUL, on the even side for big-endian.
    sample = data[:1024]
    if len(sample) < 64:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    return None


def _detect(data: bytes) -> str | None:
    text = _NOT_TEXT.sub(b" ", data)
    if len(text) > _DETECT_SAMPLE:
        text = text[: _DETECT_SAMPLE // 2] + b" " + text[-_DETECT_SAMPLE // 2 :]
    best = charset_normalizer.from_bytes(text).best()
    if best is None:
        return None
    codec = _codec(best.encoding.encode("ascii"))
    if codec is None:
        return None
    if codec in _WESTERN_GUESSES:
        return "cp1252"
    return _SUPERSETS.get(codec, codec)
