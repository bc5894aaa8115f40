"""check_url: nothing but public http(s) addresses gets through, unless the policy or the user opened it.

These tests only inspect literals and resolve `localhost`; no connection is made.
"""

from __future__ import annotations

import pytest

from fetcher import FetchPolicy, check_url, host_key
from presswatch.errors import BlockedURLError, ConfigError, FetchError

POLICY = FetchPolicy()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "refused: 127.0.0.1 is a loopback address"),
        ("http://127.8.9.10:8080/x", "refused: 127.8.9.10 is a loopback address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        ("http://10.1.2.3/", "refused: 10.1.2.3 is a private address"),
        ("http://172.16.0.1/", "refused: 172.16.0.1 is a private address"),
        ("http://192.168.1.1/", "refused: 192.168.1.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
        ("http://[fc00::1]/", "refused: fc00::1 is a unique-local address"),
        ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
        ("http://0.0.0.0/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "refused: 240.0.0.1 is a private address"),
        ("http://100.64.0.1/", "refused: 100.64.0.1 is not a public address"),
        ("http://localhost:8000/", "refused: localhost resolves to 127.0.0.1, a loopback address"),
        ("http://2130706433/", "refused: 2130706433 resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(BlockedURLError) as caught:
        check_url(url, POLICY)
    assert caught.value.outcome == "blocked"
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("url", "embedded"),
    [
        ("http://[::ffff:127.0.0.1]/", "IPv4 127.0.0.1 mapped to IPv6"),
        ("http://[::ffff:169.254.169.254]/", "IPv4 169.254.169.254 mapped to IPv6"),
        ("http://[2002:a00:1::]/", "it embeds IPv4 10.0.0.1"),
    ],
)
def test_ipv6_addresses_carrying_a_private_ipv4_are_refused(url: str, embedded: str) -> None:
    with pytest.raises(BlockedURLError) as caught:
        check_url(url, POLICY)
    assert embedded in caught.value.reason


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("file:///etc/passwd", "file"), ("ftp://example.com/x", "ftp"), ("javascript:alert(1)", "javascript")],
)
def test_schemes_other_than_http_and_https_are_refused(url: str, scheme: str) -> None:
    with pytest.raises(BlockedURLError) as caught:
        check_url(url, POLICY)
    assert caught.value.reason == f"refused: scheme {scheme!r} is not http or https"


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/", "https://93.184.216.34:8443/feed", "http://[2606:4700::1111]/"]
)
def test_public_literal_addresses_pass(url: str) -> None:
    check_url(url, POLICY)  # no exception, and no connection: literals are not even resolved


@pytest.mark.parametrize("url", ["/relative/path", "http://", "http:///x"])
def test_urls_without_scheme_or_host_are_invalid_not_blocked(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, POLICY)
    assert caught.value.outcome == "invalid_url"


def test_allowed_networks_open_exactly_those_networks() -> None:
    policy = FetchPolicy(allowed_networks=("10.1.0.0/16",))
    check_url("http://10.1.2.3/", policy)
    with pytest.raises(BlockedURLError):
        check_url("http://10.2.0.1/", policy)
    with pytest.raises(BlockedURLError):
        check_url("http://127.0.0.1/", policy)


def test_loopback_network_opened_for_tests_lets_localhost_through() -> None:
    check_url("http://localhost:8000/", FetchPolicy(allowed_networks=("127.0.0.0/8",)))


def test_malformed_allowed_network_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        check_url("http://93.184.216.34/", FetchPolicy(allowed_networks=("not-a-cidr",)))


def test_trusted_host_passes_as_written_and_only_on_its_port() -> None:
    trusted = frozenset({"intranet.local:8080", "10.9.9.9"})
    check_url("http://intranet.local:8080/feed.xml", POLICY, trusted_hosts=trusted)  # not even resolved
    check_url("http://INTRANET.local:8080/other", POLICY, trusted_hosts=trusted)
    check_url("http://10.9.9.9/feed", POLICY, trusted_hosts=trusted)
    check_url("https://10.9.9.9/feed", POLICY, trusted_hosts=trusted)
    with pytest.raises(BlockedURLError):
        check_url("http://10.9.9.9:8080/feed", POLICY, trusted_hosts=trusted)
    with pytest.raises(BlockedURLError):
        check_url("http://10.9.9.8/feed", POLICY, trusted_hosts=trusted)


def test_trusted_host_does_not_open_another_scheme() -> None:
    with pytest.raises(BlockedURLError):
        check_url("ftp://10.9.9.9/feed", POLICY, trusted_hosts=frozenset({"10.9.9.9"}))


def test_host_key_is_lower_case_host_and_explicit_port() -> None:
    assert host_key("http://News.Example.com/a") == "news.example.com"
    assert host_key("http://news.example.com:80/a") == "news.example.com"
    assert host_key("https://news.example.com:8443/a") == "news.example.com:8443"
    assert host_key("http://user:pw@[::1]:8080/") == "[::1]:8080"
