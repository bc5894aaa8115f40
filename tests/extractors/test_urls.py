"""normalize_url gives one spelling per URL, never raises, and is idempotent; host_of reads the host."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from extractors.urls import host_of, normalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:/a", "http://example.com/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com?a=1", "http://example.com/?a=1"),
        ("  http://example.com/a \n", "http://example.com/a"),
        ("http://example.com/a#section-2", "http://example.com/a"),
        ("http://example.com/a?", "http://example.com/a"),
        ("http://www.example.com/", "http://www.example.com/"),
        ("http://example.com/A/B?Q=Keep&case=AS-IS", "http://example.com/A/B?Q=Keep&case=AS-IS"),
        ("http://User:Pass@Example.com/", "http://User:Pass@example.com/"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("http://[2001:db8::1]:8443/x", "http://[2001:db8::1]:8443/x"),
        ("file:///srv/feeds/a.xml#frag", "file:///srv/feeds/a.xml"),
    ],
)
def test_scheme_host_port_path_and_fragment_are_normalized(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://example.com/a?utm_source=x&utm_medium=y&id=7", "http://example.com/a?id=7"),
        ("http://example.com/a?UTM_Source=x&id=7&Utm_Campaign=z", "http://example.com/a?id=7"),
        ("http://example.com/a?b=2&fbclid=abc&a=1", "http://example.com/a?b=2&a=1"),
        ("http://example.com/a?gclid=1&msclkid=2&igshid=3&mc_cid=4&mc_eid=5", "http://example.com/a"),
        ("http://example.com/a?z=1&y=2&x=3", "http://example.com/a?z=1&y=2&x=3"),
        ("http://example.com/a?utm_source=x#top", "http://example.com/a"),
        ("http://example.com/a?id=1&&utm_term=q&", "http://example.com/a?id=1"),
        ("http://example.com/a?futm_source=keep", "http://example.com/a?futm_source=keep"),
    ],
)
def test_tracking_parameters_are_dropped_and_the_rest_keep_their_order(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://xn--bcher-kva.de/buch", "https://bücher.de/buch"),
        ("https://BÜCHER.de/buch", "https://bücher.de/buch"),
        ("https://news.xn--wgv71a119e.jp/", "https://news.日本語.jp/"),
        # Not valid punycode: left exactly as written rather than guessed at.
        ("https://xn--.example/", "https://xn--.example/"),
        ("https://xn--a-.example/", "https://xn--a-.example/"),
    ],
)
def test_idna_hosts_read_as_unicode(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_punycode_and_unicode_spellings_of_a_host_normalize_alike() -> None:
    assert normalize_url("https://xn--bcher-kva.de/") == normalize_url("https://Bücher.DE/")


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "not a url", "mailto:Someone@Example.com", "javascript:alert(1)", "/relative/path", "http://[::1"],
)
def test_strings_without_a_host_come_back_stripped(garbage: str) -> None:
    assert normalize_url(f"  {garbage}\t") == garbage.strip()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.com:80/a", "example.com"),
        ("https://user:pw@Example.com:8443/a", "example.com:8443"),
        ("https://xn--bcher-kva.de/", "bücher.de"),
        ("http://[::1]:8080/", "[::1]:8080"),
        ("not a url", ""),
        ("file:///etc/hosts", ""),
    ],
)
def test_host_of_gives_lowercase_host_and_non_default_port(raw: str, expected: str) -> None:
    assert host_of(raw) == expected


_SCHEMES = st.sampled_from(["http", "HTTP", "https", "HtTpS", "ftp", "file", "ws", "mailto", "javascript", "x-y.z"])
_HOSTS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.com",
            "www.Example.co.uk",
            "xn--bcher-kva.de",
            "Bücher.de",
            "xn--",
            "xn--a",
            "XN--BCHER-KVA.DE",
            "[::1]",
            "[::FFFF:1.2.3.4]",
            "[::1",
            "127.0.0.1",
            "user:pw@Host",
            "@",
            "a..b",
            "",
            "İstanbul.tr",
            "ß.de",
        ]
    ),
    st.text(max_size=12),
)
_PORTS = st.one_of(st.none(), st.integers(min_value=0, max_value=99_999).map(str), st.text(max_size=4))
_PATHS = st.lists(st.text(max_size=6), max_size=4).map("/".join)
_PARAMS = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "mc_eid", "id", "q", ""]),
            st.text(max_size=5),
        ),
        st.text(max_size=5),
    ),
    max_size=4,
)
_SPACE = st.sampled_from(["", " ", "\t", "\n ", "\u3000", "\x0c"])


@st.composite
def _url_like(draw: st.DrawFn) -> str:
    """A URL assembled from plausible and hostile parts."""
    port = draw(_PORTS)
    params = draw(_PARAMS)
    fragment = draw(st.one_of(st.none(), st.text(max_size=6)))
    url = f"{draw(_SCHEMES)}://{draw(_HOSTS)}"
    url += f":{port}" if port is not None else ""
    url += "/" + draw(_PATHS)
    url += ("?" + "&".join(f"{key}={value}" for key, value in params)) if params else ""
    url += f"#{fragment}" if fragment is not None else ""
    return draw(_SPACE) + url + draw(_SPACE)


@settings(max_examples=600, deadline=None)
@given(st.text())
@example("\u0130")
@example("http://\u0130.com")
@example("HTTP://\u1e9e.de")
@example("http://ex.com/\x00?utm_a=1#\ud800")
def test_any_text_normalizes_without_raising_and_idempotently(text: str) -> None:
    once = normalize_url(text)
    assert isinstance(once, str)
    assert once == once.strip()
    assert normalize_url(once) == once
    assert isinstance(host_of(text), str)


@settings(max_examples=600, deadline=None)
@given(_url_like())
def test_url_like_strings_normalize_without_raising_and_idempotently(url: str) -> None:
    once = normalize_url(url)
    assert once == once.strip()
    assert normalize_url(once) == once


_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_QUERY_TEXT = st.text(alphabet="abcXYZ019-._~%", max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "Https"]),
    labels=st.lists(_LABEL, min_size=1, max_size=3),
    port=st.one_of(st.none(), st.integers(min_value=1, max_value=65_535)),
    path=st.lists(_QUERY_TEXT, max_size=3).map("/".join),
    params=st.lists(
        st.tuples(st.one_of(st.sampled_from(["utm_source", "Utm_Term", "fbclid", "gclid"]), _QUERY_TEXT), _QUERY_TEXT),
        max_size=5,
    ),
    fragment=st.one_of(st.none(), _QUERY_TEXT),
)
def test_wellformed_http_urls_lose_tracking_fragment_and_default_port(
    scheme: str,
    labels: list[str],
    port: int | None,
    path: str,
    params: list[tuple[str, str]],
    fragment: str | None,
) -> None:
    host = ".".join(labels) + ".com"
    url = f"{scheme}://{host}" + (f":{port}" if port is not None else "") + "/" + path
    query = "&".join(f"{key}={value}" for key, value in params)
    url += (f"?{query}" if query else "") + (f"#{fragment}" if fragment is not None else "")

    normalized = normalize_url(url)

    assert normalized.startswith(f"{scheme.lower()}://{host.lower()}")
    assert "#" not in normalized
    default = 80 if scheme.lower() == "http" else 443
    assert (f":{port}/" in normalized) == (port is not None and port != default)
    kept = [
        f"{key}={value}"
        for key, value in params
        if not key.lower().startswith("utm_") and key.lower() not in ("fbclid", "gclid")
    ]
    kept_query = "&".join(kept)
    assert normalized.endswith(f"?{kept_query}" if kept_query else "/" + path)
