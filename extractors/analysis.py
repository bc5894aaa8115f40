"""Everything presswatch says about one story's text, computed in one place for the flow and for re-tagging."""

from __future__ import annotations

from dataclasses import dataclass, field

from spacy.language import Language

from extractors.discovery import discover_names
from extractors.models import DiscoveredName, EntityTag, Quote, TopicTag, Watchlist
from extractors.quotes import find_quotes
from extractors.tagging import find_mentions, tag_article
from extractors.topics import Topics, tag_topics


@dataclass(frozen=True)
class StoryAnalysis:
    """Entity tags, topics, quotes and (with a statistical model) names not on the watchlist."""

    tags: list[EntityTag] = field(default_factory=list)
    topics: list[TopicTag] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    discovered: list[DiscoveredName] = field(default_factory=list)


def analyze(
    title: str | None, text: str, watchlist: Watchlist, topics: Topics | None = None, ner: Language | None = None
) -> StoryAnalysis:
    """Tag a story: mentions are found once and shared by the entity tags and the quote attribution."""
    mentions = find_mentions(title, text, watchlist)
    return StoryAnalysis(
        tags=tag_article(title, text, watchlist, mentions=mentions),
        topics=tag_topics(title, text, topics) if topics is not None else [],
        quotes=find_quotes(text, watchlist, mentions=mentions),
        discovered=discover_names(text, ner, watchlist, title=title) if ner is not None else [],
    )
