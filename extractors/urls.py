"""URL identity: one spelling per story URL, so the same article seen twice is stored once."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import SplitResult, unquote_plus, urlsplit

# Query parameters that only say where a click came from, never which page it is.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
    }
)

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}

# Only "scheme://..." URLs have a host to normalize; anything else (mailto:, relative paths, prose) is
# returned stripped rather than guessed at.
_HIERARCHICAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

# Each pass is idempotent by design; the loop only guards against a corner of Unicode case mapping
# or urlsplit's cleaning we did not foresee, so that idempotence holds for every string.
_MAX_PASSES = 4


def normalize_url(url: str) -> str:
    """Return the canonical spelling of `url`; never raises, and normalizing twice changes nothing."""
    if not isinstance(url, str):
        return ""
    start = url.strip()
    current = start
    for _ in range(_MAX_PASSES):
        following = _one_pass(current)
        if following == current:
            return current
        current = following
    # No fixpoint reached: the stripped input is its own normal form (the same loop runs again on it
    # and ends here again), which keeps the function idempotent.
    return start


def host_of(url: str) -> str:
    """Lower-case host[:port] of `url` after normalization, or "" when it has none."""
    normalized = normalize_url(url)
    if not _HIERARCHICAL.match(normalized):
        return ""
    try:
        netloc = urlsplit(normalized).netloc
    except ValueError:
        return ""
    return netloc.rpartition("@")[2]


def _one_pass(url: str) -> str:
    """One normalization step on a stripped string; garbage comes back unchanged."""
    stripped = url.strip()
    if not _HIERARCHICAL.match(stripped):
        return stripped
    try:
        return _normalize_hierarchical(urlsplit(stripped))
    except (ValueError, UnicodeError):
        # urlsplit rejects some netlocs (bad IPv6 brackets, NFKC-unsafe characters): keep as given.
        return stripped


def _normalize_hierarchical(parts: SplitResult) -> str:
    """Rebuild a split URL with the normalized host, no tracking parameters and no fragment."""
    scheme = parts.scheme.lower()
    netloc = _normalize_netloc(parts.netloc, scheme)
    path = parts.path
    if not path and netloc:
        path = "/"
    query = _strip_tracking(parts.query)
    rebuilt = f"{scheme}://{netloc}{path}"
    if query:
        rebuilt += f"?{query}"
    return rebuilt.strip()


def _normalize_netloc(netloc: str, scheme: str) -> str:
    """Lower-case the host, decode clean punycode labels and drop the scheme's default port."""
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = _split_port(hostport)
    host = _readable_host(host.lower())
    if port is not None:
        if port.isascii() and port.isdigit():
            port = str(int(port))
            if int(port) == _DEFAULT_PORTS.get(scheme):
                port = ""
        if port:
            host = f"{host}:{port}"
    return f"{userinfo}{at}{host}"


def _split_port(hostport: str) -> tuple[str, str | None]:
    """Split "host:port" (IPv6 in brackets allowed); port is None when there is no colon."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close != -1:
            rest = hostport[close + 1 :]
            if rest.startswith(":"):
                return hostport[: close + 1], rest[1:]
            return hostport, None
    host, colon, port = hostport.rpartition(":")
    if not colon or "]" in port:
        return hostport, None
    # "host::80" is "host" with port 80; leaving "host:" would normalize differently on a second pass.
    return host.rstrip(":"), port


def _readable_host(host: str) -> str:
    """Show punycode labels ("xn--bcher-kva") in Unicode ("bücher") when they decode cleanly."""
    if "xn--" not in host:
        return host
    return ".".join(_readable_label(label) for label in host.split("."))


def _readable_label(label: str) -> str:
    """Decode one "xn--" label, or return it untouched when decoding would not round-trip."""
    if not label.startswith("xn--") or not label.isascii():
        return label
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
        round_trip = "xn--" + decoded.encode("punycode").decode("ascii")
    except (UnicodeError, ValueError):
        return label
    # Only letters, marks, digits and hyphens: a decoded "." or "/" would change the URL's structure.
    clean = all(char == "-" or unicodedata.category(char)[0] in "LMN" for char in decoded)
    if round_trip != label or not decoded or decoded != decoded.lower() or not clean or decoded.isascii():
        return label
    return decoded


def _strip_tracking(query: str) -> str:
    """Drop click-tracking parameters and blank pieces, keeping the rest in their order."""
    if not query:
        return ""
    # Blank pieces go too: a trailing one would be stripped with the URL's whitespace and leave a bare "?".
    kept = [piece for piece in query.split("&") if piece.strip() and not _is_tracking(piece)]
    return "&".join(kept).rstrip()


def _is_tracking(piece: str) -> bool:
    """True for utm_* (any case) and known click-id parameters."""
    key = unquote_plus(piece.partition("=")[0]).strip().lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS
