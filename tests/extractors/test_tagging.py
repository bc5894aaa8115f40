"""Entity tagging: which watched entities a story names, how often, and whether in its headline."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.models import EntityTag, WatchedEntity, Watchlist
from extractors.tagging import build_tagger, tag_article
from extractors.watchlist import load_watchlist

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "watchlist.yaml"
SEED = Path("/work/shared/seeds/jack-ma-comeback.txt")

# Counted by hand, see test_inline_passage_is_tagged_exactly.
INLINE_TITLE = "Alibaba’s Taobao and Tmall bet on AI"
INLINE_TEXT = (
    "Ma, a retired teacher from Hangzhou, was not yet talking about anyone famous. "
    "Then Jack Ma spoke in Hangzhou on Monday.\n\n"
    "Ma said Alibaba Cloud would double its spending, and Ma's allies at Alibaba agreed. "
    "Rivals JD.com and Pinduoduo, along with Amazon and Microsoft, are watching; so are Tencent and Huawei.\n\n"
    "Shoppers on Tmall can now browse an amazon-sized catalogue, busy as an ant colony."
)


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return load_watchlist(SHIPPED)


def _counts(tags: list[EntityTag]) -> dict[str, int]:
    return {tag.entity_id: tag.mentions for tag in tags}


def _tag(watchlist: Watchlist, text: str, title: str | None = None) -> dict[str, int]:
    return _counts(tag_article(title, text, watchlist))


def test_inline_passage_is_tagged_exactly(watchlist: Watchlist) -> None:
    # Headline: Alibaba, Taobao, Tmall. Body: the first "Ma" comes before "Jack Ma" (not counted);
    # Jack Ma, "Ma said", "Ma's" -> 3; Alibaba Cloud 1; Alibaba 1; Tmall 1; one each of JD.com,
    # Pinduoduo, Amazon, Microsoft, Tencent, Huawei; "amazon-sized" and "ant" are not names.
    # alibaba = own 2 + taobao 1 + tmall 2 + alibaba-cloud 1 = 6.
    tags = tag_article(INLINE_TITLE, INLINE_TEXT, watchlist)
    assert [(tag.entity_id, tag.mentions, tag.in_title) for tag in tags] == [
        ("alibaba", 6, True),
        ("jack-ma", 3, False),
        ("tmall", 2, True),
        ("alibaba-cloud", 1, False),
        ("amazon", 1, False),
        ("huawei", 1, False),
        ("jd", 1, False),
        ("microsoft", 1, False),
        ("pdd", 1, False),
        ("pinduoduo", 1, False),
        ("taobao", 1, True),
        ("tencent", 1, False),
    ]
    by_id = {tag.entity_id: tag for tag in tags}
    assert (by_id["jack-ma"].name, by_id["jack-ma"].kind) == ("Jack Ma", "person")
    assert (by_id["tmall"].name, by_id["tmall"].kind) == ("Tmall", "brand")


def test_seed_article_names_alibaba_its_rivals_and_jack_ma(watchlist: Watchlist) -> None:
    if not SEED.exists():
        pytest.skip(f"seed article {SEED} is not on this machine")
    title, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    tags = {tag.entity_id: tag for tag in tag_article(title, text, watchlist)}
    assert {"alibaba", "jd", "pdd", "tencent", "huawei", "amazon", "microsoft", "jack-ma"} <= set(tags)
    # grep -ow: "Alibaba" 24 times, plus Taobao, Tmall and Lazada once each; "Ma" 19 times, all
    # after the headline's "Jack Ma".
    assert (tags["alibaba"].mentions, tags["alibaba"].in_title) == (27, True)
    assert (tags["jack-ma"].mentions, tags["jack-ma"].in_title) == (19, True)
    assert (tags["pdd"].mentions, tags["pinduoduo"].mentions) == (1, 1)
    assert not tags["amazon"].in_title


def test_brands_roll_up_to_their_company_even_when_it_is_not_named(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Shoppers compared prices on Taobao and Tmall, then on Taobao again.") == {
        "alibaba": 3,
        "taobao": 2,
        "tmall": 1,
    }


def test_pinduoduo_and_temu_count_for_pdd(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Pinduoduo owns Temu; PDD Holdings reports on Tuesday.") == {
        "pdd": 3,
        "pinduoduo": 1,
        "temu": 1,
    }


def test_people_do_not_roll_up_to_their_company(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Jack Ma and Joe Tsai met Eddie Wu. Later Tsai and Wu left.") == {
        "jack-ma": 1,
        "joe-tsai": 2,
        "eddie-wu": 2,
    }


def test_bare_ma_counts_only_after_jack_ma_was_named(watchlist: Watchlist) -> None:
    text = "Ma spoke first. Later Jack Ma arrived, and Ma smiled."
    assert _tag(watchlist, text) == {"jack-ma": 2}


def test_headline_counts_as_earlier_than_the_body(watchlist: Watchlist) -> None:
    tags = tag_article("Jack Ma returns", "Ma spoke to staff.", watchlist)
    assert [(tag.entity_id, tag.mentions, tag.in_title) for tag in tags] == [("jack-ma", 2, True)]


def test_bare_ma_in_a_headline_before_the_full_name_does_not_count(watchlist: Watchlist) -> None:
    tags = tag_article("Ma returns", "Jack Ma spoke to staff.", watchlist)
    assert [(tag.entity_id, tag.mentions, tag.in_title) for tag in tags] == [("jack-ma", 1, False)]


def test_shared_short_form_goes_to_the_person_named_last(watchlist: Watchlist) -> None:
    text = "Jack Ma met Pony Ma. Ma later said Tencent would invest. Jack Ma disagreed, and Ma left."
    assert _tag(watchlist, text) == {"pony-ma": 2, "jack-ma": 3, "tencent": 1}


def test_short_form_followed_by_a_capitalised_word_is_somebody_else(watchlist: Watchlist) -> None:
    text = "Joe Tsai spoke after Tsai Ing-wen. Jack Ma met Ma Ying-jeou."
    assert _tag(watchlist, text) == {"joe-tsai": 1, "jack-ma": 1}


def test_short_form_followed_by_an_acronym_still_counts(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Ant Group shelved its listing; the Ant IPO may return.") == {"ant-group": 2}


def test_headline_mention_sets_in_title_for_the_entity_and_a_brands_parent(watchlist: Watchlist) -> None:
    tags = tag_article("Temu and Tencent beat forecasts", "Alibaba lagged. Temu grew.", watchlist)
    assert {tag.entity_id: tag.in_title for tag in tags} == {
        "temu": True,
        "pdd": True,
        "tencent": True,
        "alibaba": False,
    }


def test_alibaba_cloud_counts_once_for_the_brand_and_once_for_alibaba(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Alibaba Cloud cut prices.") == {"alibaba-cloud": 1, "alibaba": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amazon Web Services grew.", {"aws": 1, "amazon": 1}),
        ("Microsoft Azure grew.", {"azure": 1, "microsoft": 1}),
        ("Alibaba Group Holding filed.", {"alibaba": 1}),
        ("JD.com and Amazon.com and Alibaba.com filed.", {"jd": 1, "amazon": 1, "alibaba": 1}),
        ("Tencent Cloud and WeChat grew.", {"tencent-cloud": 1, "wechat": 1, "tencent": 2}),
    ],
)
def test_longest_alias_wins(watchlist: Watchlist, text: str, expected: dict[str, int]) -> None:
    assert _tag(watchlist, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "She was a legendary amazon of the steppe.",
        "An ant colony and a huawei of nothing.",
        "ALIBABA is shouted but ma is not a name, nor is MA after Jack Ma.",
    ],
)
def test_lower_case_words_are_not_names(watchlist: Watchlist, text: str) -> None:
    counts = _tag(watchlist, text)
    assert "amazon" not in counts and "ant-group" not in counts and "huawei" not in counts
    assert counts.get("jack-ma", 0) <= 1


def test_all_capitals_headline_is_matched(watchlist: Watchlist) -> None:
    tags = tag_article("ALIBABA AND JD.COM SHARES JUMP", "Markets rose.", watchlist)
    assert [(tag.entity_id, tag.in_title) for tag in tags] == [("alibaba", True), ("jd", True)]


@pytest.mark.parametrize("apostrophe", ["’", "'"])
def test_possessives_match_with_curly_and_straight_apostrophes(watchlist: Watchlist, apostrophe: str) -> None:
    text = (
        f"Alibaba{apostrophe}s shares rose. Jack Ma{apostrophe}s plan and Ma{apostrophe}s team. "
        f"JD.com{apostrophe}s rival is Tencent{apostrophe}. Amazon Web Services{apostrophe} growth."
    )
    assert _tag(watchlist, text) == {"alibaba": 1, "jack-ma": 2, "jd": 1, "tencent": 1, "aws": 1, "amazon": 1}


def test_non_breaking_space_inside_a_name_still_matches(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "Jack\u00a0Ma and Alibaba  Cloud.") == {"jack-ma": 1, "alibaba-cloud": 1, "alibaba": 1}


def test_no_title_and_no_names_give_no_tags(watchlist: Watchlist) -> None:
    assert tag_article(None, "", watchlist) == []
    assert tag_article("", "Nothing to see here.", watchlist) == []


def test_text_longer_than_spacys_max_length_is_counted_in_full(watchlist: Watchlist) -> None:
    nlp = build_tagger(watchlist)
    paragraph = "Alibaba grew.\n"
    repeats = nlp.max_length // len(paragraph) + 100
    assert _tag(watchlist, paragraph * repeats) == {"alibaba": repeats}


def test_tagger_is_built_once_per_watchlist(watchlist: Watchlist) -> None:
    assert build_tagger(watchlist) is build_tagger(watchlist)
    # An equal watchlist loaded again is the same cache key: no second pipeline.
    assert build_tagger(load_watchlist(SHIPPED)) is build_tagger(watchlist)


def test_a_different_watchlist_gets_its_own_tagger() -> None:
    acme = Watchlist(entities=(WatchedEntity(id="acme", name="Acme", kind="company", aliases=("Acme",)),))
    assert tag_article("Acme wins", "Acme grew; Alibaba did not.", acme) == [
        EntityTag(entity_id="acme", name="Acme", kind="company", mentions=2, in_title=True)
    ]
    assert build_tagger(acme) is build_tagger(acme)
