"""`presswatch extract`: one page or URL, extracted and tagged, as a JSON-ready record; nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractors.articles import extract_article
from extractors.tagging import tag_article
from extractors.urls import normalize_url
from extractors.watchlist import load_watchlist
from fetcher import host_key
from fetcher.http import fetch, is_html, make_client, read_local_file
from flows.steps import pass_config
from presswatch.errors import ExtractionError
from presswatch.settings import Settings


def extract_source(source: str, settings: Settings) -> dict[str, Any]:
    """Read a local HTML file or fetch a URL the user typed, then extract and tag it."""
    policy = pass_config(settings).policy
    if source.startswith(("http://", "https://")):
        # The user typed this URL on their own machine: its host is trusted as written.
        with make_client(policy) as client:
            result = fetch(client, source, policy, trusted_hosts=frozenset({host_key(source)}))
        url = normalize_url(result.final_url)
    else:
        path = Path(source.removeprefix("file://")).expanduser().resolve()
        result = read_local_file(path, policy)
        url = path.as_uri()
    if not is_html(result):
        raise ExtractionError(f"not an HTML page ({result.content_type or 'unknown type'})")
    article = extract_article(result.body, url, content_type=result.content_type)
    tags = tag_article(article.title, article.text, load_watchlist(settings.watchlist_file))
    return {
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "author": article.author,
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "sitename": article.sitename,
        "text": article.text,
        "date_source": article.date_source,
        "word_count": article.word_count,
        "truncated": article.truncated,
        "extractor": article.extractor,
        "entities": [
            {"id": t.entity_id, "name": t.name, "kind": t.kind, "mentions": t.mentions, "in_title": t.in_title}
            for t in tags
        ],
    }
