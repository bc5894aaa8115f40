"""Syndication clusters: copies of one story are grouped, the earliest one is the original, all are kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from extractors.analysis import analyze
from extractors.articles import extract_article
from extractors.models import ExtractedArticle, Watchlist
from extractors.similarity import fingerprint, resemblance, signature, to_signed
from extractors.watchlist import load_watchlist
from storage.clusters import MIN_CLUSTER_WORDS, assign_clusters
from storage.db import make_engine, upgrade
from storage.models import Article
from storage.writes import Story, store_batch, sync_watchlist

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "tests" / "data" / "pages" / "syndication"
BOILERPLATE = (
    "Get the Morning Brief. Sign up for our free newsletter and get the most important technology and business "
    "stories from China delivered to your inbox every weekday morning. Orient Tech Review covers technology and "
    "business in China and Asia. Copyright 2026 Orient Tech Review Ltd. All rights reserved. No part of this site "
    "may be reproduced without permission. Most read: chip stocks rally on export news; retail sales slow in October."
)
# Six paragraphs of one running story, for copies that overlap only in part.
PARAGRAPHS = [
    "Meituan said on Monday it would invest another ten billion yuan in drone delivery over the next five years, "
    "extending a service that already flies meals and parcels across parts of Shenzhen and Beijing.",
    "The company said its drones had completed more than half a million orders since the service started, and that "
    "regulators had approved new routes over residential districts in three more cities this autumn.",
    "Rivals including JD.com and Alibaba's logistics arm Cainiao are testing similar services, but none operates at "
    "the same scale, according to analysts who follow the delivery industry in China.",
    "Meituan's shares rose three percent in Hong Kong after the announcement, extending gains made last week when "
    "the company reported better than expected profits from its food delivery business.",
    "Executives said the drones would also carry medicine to hospitals and pharmacies, and that a version able to "
    "fly in heavy rain and strong wind was being tested at a site near the southern city of Guangzhou.",
    "The company expects drone deliveries to break even within three years, helped by lower battery costs and by "
    "control software that lets one operator supervise dozens of aircraft at the same time.",
]
DAY = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    """The project's own watchlist, so stories get real mentions."""
    return load_watchlist(REPO / "seeds" / "watchlist.yaml")


@pytest.fixture
def engine(database_url: str, watchlist: Watchlist) -> Iterator[Engine]:
    """A migrated database (SQLite file or PostgreSQL schema) with the watchlist loaded."""
    engine = make_engine(database_url)
    upgrade(engine)
    sync_watchlist(engine, watchlist)
    yield engine
    engine.dispose()


def page_article(name: str) -> ExtractedArticle:
    """A test page of tests/data/pages/syndication, extracted by the real extractor."""
    return extract_article((PAGES / name).read_bytes(), f"http://127.0.0.1/{name}")


def made_article(body: str, slug: str, published: datetime, title: str = "A story") -> ExtractedArticle:
    """An extracted article with the given text, as the extractor would hand it over."""
    return ExtractedArticle(
        url=f"http://127.0.0.1/{slug}", canonical_url=f"https://news.example/{slug}", text=body, title=title,
        published=published,
    )  # fmt: skip


def store(engine: Engine, watchlist: Watchlist, article: ExtractedArticle, *, cluster: bool = True) -> int:
    """Store one story through the real write path (and cluster it, as the flows do); return its id."""
    analysis = analyze(article.title, article.text, watchlist)
    story = Story(article.url, article, analysis.tags, None, DAY + timedelta(days=2), analysis=analysis)
    [stored] = store_batch(engine, [story], [])
    assert stored.created
    if cluster:
        assign_clusters(engine, [stored.article_id])
    return stored.article_id


def clusters(engine: Engine) -> dict[int, tuple[int, bool]]:
    """Every story's (cluster_id, is_original)."""
    with engine.connect() as connection:
        rows = connection.execute(select(Article.id, Article.cluster_id, Article.is_original))
        return {row.id: (row.cluster_id, bool(row.is_original)) for row in rows}


def test_one_wire_story_on_three_outlets_is_one_cluster_with_the_earliest_original(
    engine: Engine, watchlist: Watchlist
) -> None:
    # Stored in the opposite order of publication: the original is the earliest published, not the first stored.
    trimmed = store(engine, watchlist, page_article("outlet-c-trimmed.html"))  # 21 Nov 06:15
    copy = store(engine, watchlist, page_article("outlet-b-copy.html"))  # 20 Nov 11:30
    wire = store(engine, watchlist, page_article("outlet-a-wire.html"))  # 20 Nov 08:00
    assert clusters(engine) == {trimmed: (wire, False), copy: (wire, False), wire: (wire, True)}


def test_a_story_updated_under_a_new_url_joins_its_earlier_version(engine: Engine, watchlist: Watchlist) -> None:
    update_id = store(engine, watchlist, page_article("outlet-a-update.html"))
    wire = store(engine, watchlist, page_article("outlet-a-wire.html"))
    assert clusters(engine) == {wire: (wire, True), update_id: (wire, False)}


def test_different_stories_of_one_site_template_are_not_grouped(engine: Engine, watchlist: Watchlist) -> None:
    # The furniture survives extraction here (appended to both texts), as it can on a site the rules miss.
    tencent, jd = (page_article(n) for n in ("site-x-tencent.html", "site-x-jd.html"))
    first = store(engine, watchlist, replace(tencent, text=f"{tencent.text}\n{BOILERPLATE}"))
    second = store(engine, watchlist, replace(jd, text=f"{jd.text}\n{BOILERPLATE}"))
    assert clusters(engine) == {first: (first, True), second: (second, True)}


def test_short_stories_sharing_boilerplate_are_not_grouped_though_they_resemble(
    engine: Engine, watchlist: Watchlist
) -> None:
    block = " ".join(BOILERPLATE.split()[:35])  # a newsletter box and a copyright line
    texts = [f"{' '.join(PARAGRAPHS[n].split()[:12])}\n{block}" for n in (0, 3)]
    # Without the length rule these two would pass the text comparison: the shared block outweighs them.
    assert resemblance(signature(texts[0]), signature(texts[1])) >= 0.5
    assert all(len(t.split()) < MIN_CLUSTER_WORDS for t in texts)
    ids = [store(engine, watchlist, made_article(t, f"short-{n}", DAY)) for n, t in enumerate(texts)]
    assert clusters(engine) == {i: (i, True) for i in ids}


def test_a_copy_outside_the_three_day_window_is_not_grouped(engine: Engine, watchlist: Watchlist) -> None:
    body = "\n".join(PARAGRAPHS)
    first = store(engine, watchlist, made_article(body, "first", DAY))
    late = store(engine, watchlist, made_article(body, "late", DAY + timedelta(days=3, hours=1)))
    inside = store(engine, watchlist, made_article(body, "inside", DAY + timedelta(days=2, hours=23)))
    assert clusters(engine) == {first: (first, True), late: (first, False), inside: (first, False)}
    # `late` joined through `inside` (a chain of copies each within three days): without it, it stays alone.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM articles WHERE id = :id"), {"id": inside})
    assign_clusters(engine, [first, late])
    assert clusters(engine) == {first: (first, True), late: (late, True)}


def test_a_story_bridging_two_clusters_merges_them_and_relabels_every_member(
    engine: Engine, watchlist: Watchlist
) -> None:
    head = "\n".join(PARAGRAPHS[:4])  # paragraphs 1-4
    tail = "\n".join(PARAGRAPHS[2:])  # paragraphs 3-6: too little in common with the head to be grouped
    bridge = "\n".join(PARAGRAPHS)  # the whole story: close to both
    assert resemblance(signature(head), signature(tail)) < 0.5
    assert min(resemblance(signature(bridge), signature(t)) for t in (head, tail)) >= 0.5
    a = store(engine, watchlist, made_article(head, "head", DAY + timedelta(hours=1)))
    c = store(engine, watchlist, made_article(tail, "tail", DAY))
    c2 = store(
        engine, watchlist, made_article(tail.replace("Monday", "Tuesday"), "tail-copy", DAY + timedelta(hours=2))
    )
    assert clusters(engine) == {a: (a, True), c: (c, True), c2: (c, False)}
    b = store(engine, watchlist, made_article(bridge, "bridge", DAY + timedelta(hours=3)), cluster=False)
    report = assign_clusters(engine, [b])
    # The earliest of all four (the tail, published first) is now the original of every one of them.
    assert clusters(engine) == {a: (c, False), c: (c, True), c2: (c, False), b: (c, False)}
    assert report.relabelled == sorted([a, b])


def test_clustering_again_changes_nothing_even_when_two_calls_run_at_once(engine: Engine, watchlist: Watchlist) -> None:
    ids = [
        store(engine, watchlist, page_article(n), cluster=False) for n in sorted(p.name for p in PAGES.glob("*.html"))
    ]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            assign_clusters(engine, ids)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    first = clusters(engine)
    assert len({cluster for cluster, _ in first.values()}) == 3  # the Alibaba story (4 copies), two others
    again = assign_clusters(engine, ids)
    assert again.relabelled == [] and again.fingerprinted == 0
    assert clusters(engine) == first


def test_a_story_whose_text_changed_leaves_its_cluster(engine: Engine, watchlist: Watchlist) -> None:
    wire = store(engine, watchlist, page_article("outlet-a-wire.html"))
    copy = store(engine, watchlist, page_article("outlet-b-copy.html"))
    trimmed = store(engine, watchlist, page_article("outlet-c-trimmed.html"))
    other = page_article("site-x-jd.html").text
    with engine.begin() as connection:
        # As re-extraction does: a new text is written with its fingerprint.
        connection.execute(
            update(Article).where(Article.id == wire).values(text=other, simhash=to_signed(fingerprint(other)))
        )
    report = assign_clusters(engine, [wire])
    assert report.fingerprinted == 0
    # The two remaining copies still match each other; the earliest of them is their original now.
    assert clusters(engine) == {wire: (wire, True), copy: (copy, True), trimmed: (copy, False)}


def test_views_count_a_cluster_once_in_the_original_columns(engine: Engine, watchlist: Watchlist) -> None:
    names = ["outlet-c-trimmed.html", "outlet-b-copy.html", "outlet-a-wire.html", "outlet-a-update.html"]
    ids = [store(engine, watchlist, page_article(n)) for n in names]
    wire = ids[2]
    with engine.connect() as connection:
        coverage = connection.execute(
            text("SELECT article_id, cluster_id, is_original FROM coverage WHERE entity_id = 'alibaba'")
        ).all()
        share = connection.execute(
            text(
                "SELECT stories, original_stories, total_stories, total_originals FROM share_of_voice "
                "WHERE entity_id = 'alibaba' AND period = 'month'"
            )
        ).one()
    assert sorted((r.article_id, r.cluster_id, bool(r.is_original)) for r in coverage) == sorted(
        (i, wire, i == wire) for i in ids
    )
    assert tuple(share) == (4, 1, 4, 1)


def test_an_older_story_without_fingerprint_or_cluster_is_found_and_labelled(
    engine: Engine, watchlist: Watchlist
) -> None:
    older = store(engine, watchlist, page_article("outlet-a-wire.html"), cluster=False)
    with engine.begin() as connection:  # as stored before clustering existed
        connection.execute(update(Article).where(Article.id == older).values(simhash=None, cluster_id=None))
    copy = store(engine, watchlist, page_article("outlet-b-copy.html"))
    assert clusters(engine) == {older: (older, True), copy: (older, False)}
    with engine.connect() as connection:
        assert connection.execute(select(Article.simhash).where(Article.id == older)).scalar_one() is not None
