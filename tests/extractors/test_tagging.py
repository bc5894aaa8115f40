"""Entity tagging: which watched entities a story names, how often, and whether in its headline."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.models import EntityTag, Exclusion, WatchedEntity, Watchlist
from extractors.tagging import build_tagger, density_words, find_mentions, tag_article
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
        EntityTag(
            entity_id="acme",
            name="Acme",
            kind="company",
            mentions=2,
            in_title=True,
            in_lead=True,
            first_position=0,
            salience=1.0,
            primary=True,
        )
    ]
    assert build_tagger(acme) is build_tagger(acme)


# --- Tickers -------------------------------------------------------------------------------------


def _sources(watchlist: Watchlist, text: str, title: str | None = None) -> list[tuple[str, str, str]]:
    """(entity id, matched text, source) for every mention, in reading order."""
    result = []
    for mention in find_mentions(title, text, watchlist):
        part = title if mention.in_title and title is not None else text
        result.append((mention.entity_id, part[mention.start : mention.end], mention.source))
    return result


@pytest.mark.parametrize(
    ("text", "entity_id", "symbol"),
    [
        ("Alibaba Group (NYSE: BABA) rose.", "alibaba", "BABA"),
        ("Shares (NYSE:BABA) rose.", "alibaba", "BABA"),
        ("Traders bought $BABA on Monday.", "alibaba", "BABA"),
        ("The stock (9988.HK) rose.", "alibaba", "9988"),
        ("It trades as HKEX: 9988 in Hong Kong.", "alibaba", "9988"),
        ("Listed in Hong Kong (HKG: 0700) since 2004.", "tencent", "0700"),
        ("The shares (0700.HK) and the receipts (OTC: TCEHY) both fell.", "tencent", "0700"),
        ("The company (NASDAQ:PDD) reports today.", "pdd", "PDD"),
        ("The retailer (JD) gained.", "jd", "JD"),
        ("BIDU.O and others fell.", "baidu", "BIDU"),
        ("The delivery giant (03690.HK) rose.", "meituan", "03690"),
        ("腾讯控股（00700.HK）涨3%。", "tencent", "00700"),
        ("京东（JD.US）股价上涨。", "jd", "JD"),
    ],
)
def test_tickers_match_in_a_ticker_context(watchlist: Watchlist, text: str, entity_id: str, symbol: str) -> None:
    assert (entity_id, symbol, "ticker") in _sources(watchlist, text)


@pytest.mark.parametrize(
    "text",
    [
        "JD Sports opened stores; JD Wetherspoon did not.",
        "Baba and BABA are words here, and so is MSFT in this sentence.",
        "The firm employs 9988 people and 700 contractors.",
        "A TCEHY sticker and a BIDU van.",
        "The hotel (9988) is full.",
    ],
)
def test_ticker_symbols_as_ordinary_words_are_not_tagged(watchlist: Watchlist, text: str) -> None:
    assert _tag(watchlist, text) == {}


def test_a_ticker_and_the_same_name_are_one_mention(watchlist: Watchlist) -> None:
    # "PDD" is both an alias and a ticker: the ticker match takes it, not both.
    assert _sources(watchlist, "Investors sold PDD Holdings (NASDAQ: PDD).") == [
        ("pdd", "PDD Holdings", "name"),
        ("pdd", "PDD", "ticker"),
    ]


def test_a_list_of_tickers_in_parentheses(watchlist: Watchlist) -> None:
    assert _sources(watchlist, "Alibaba (BABA, 9988.HK) and JD.com (JD, 9618.HK) rose.") == [
        ("alibaba", "Alibaba", "name"),
        ("alibaba", "BABA", "ticker"),
        ("alibaba", "9988", "ticker"),
        ("jd", "JD.com", "name"),
        ("jd", "JD", "ticker"),
        ("jd", "9618", "ticker"),
    ]


# --- Chinese -------------------------------------------------------------------------------------


def test_chinese_names_are_found_inside_unspaced_text(watchlist: Watchlist) -> None:
    text = "阿里巴巴的淘宝和天猫今年增长，京东与拼多多竞争激烈，腾讯的微信也在发力。马云表示满意。"
    assert _tag(watchlist, text) == {
        "alibaba": 3,
        "taobao": 1,
        "tmall": 1,
        "jd": 1,
        "pdd": 1,
        "pinduoduo": 1,
        "tencent": 2,
        "wechat": 1,
        "jack-ma": 1,
    }


def test_longest_chinese_name_wins(watchlist: Watchlist) -> None:
    assert _sources(watchlist, "阿里巴巴集团旗下的阿里云和京东物流、亚马逊云科技。") == [
        ("alibaba", "阿里巴巴集团", "native"),
        ("alibaba-cloud", "阿里云", "native"),
        ("jd-logistics", "京东物流", "native"),
        ("aws", "亚马逊云科技", "native"),
    ]


def test_chinese_headline_counts_as_in_title(watchlist: Watchlist) -> None:
    tags = {tag.entity_id: tag for tag in tag_article("华为发布新手机", "华为云也有新产品。", watchlist)}
    assert (tags["huawei"].mentions, tags["huawei"].in_title) == (2, True)
    assert (tags["huawei-cloud"].mentions, tags["huawei-cloud"].in_title) == (1, False)


def test_latin_names_written_against_chinese_characters_are_found(watchlist: Watchlist) -> None:
    text = "阿里巴巴旗下的Lazada在东南亚（Lazada）扩张，Temu和TikTok也是。Tencent（0700.HK）"
    assert _tag(watchlist, text) == {
        "alibaba": 3,
        "lazada": 2,
        "pdd": 1,
        "temu": 1,
        "bytedance": 1,
        "tiktok": 1,
        "tencent": 2,
    }


def test_a_latin_alias_inside_a_longer_latin_word_is_not_found_in_chinese_text(watchlist: Watchlist) -> None:
    assert _tag(watchlist, "平台Lazadamart和Temux不是。") == {}


# --- Exclusions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amazon funds patrols of the Amazon rainforest and the Amazon River.", {"amazon": 1}),
        ("Fires in the Brazilian Amazon spread; deforestation in the Amazon. Amazon fell.", {"amazon": 1}),
        ("Ant Group grew. An Ant colony, Ant-Man and Adam Ant; the Ant IPO.", {"ant-group": 2}),
        ("Jack Ma met Yo-Yo Ma. Ma and Pa shops; 66 Ma ago. Ma smiled.", {"jack-ma": 2}),
        ("Eddie Wu likes the Wu-Tang Clan. Wu said so.", {"eddie-wu": 2}),
        ("AMAZON RAINFOREST SHRINKS", {}),
        ("Azure waters. Azure grew.", {"azure": 1, "microsoft": 1}),
        ("一百度的高温，百度发布。", {"baidu": 1}),
        ("北京东路和京东方，京东上涨。", {"jd": 1}),
        ("我是个菜鸟，菜鸟网络很大。", {"cainiao": 1, "alibaba": 1}),
        ("小米粥和小米汽车。", {"xiaomi": 1}),
        ("亚马逊雨林和亚马逊河，亚马逊公司。", {"amazon": 1}),
        ("《阿里巴巴与四十大盗》和阿里巴巴。", {"alibaba": 1}),
    ],
)
def test_exclusions_drop_matches_in_their_context(watchlist: Watchlist, text: str, expected: dict[str, int]) -> None:
    assert _tag(watchlist, text) == expected


def test_an_excluded_full_name_does_not_license_a_short_form(watchlist: Watchlist) -> None:
    # "Amazon" is not a person, but the principle holds for any entity: an excluded match names nobody.
    acme = Watchlist(
        entities=(
            WatchedEntity(
                id="acme",
                name="Acme",
                kind="company",
                aliases=("Acme",),
                after_full_name=("Ac",),
                exclusions=(Exclusion(followed_by=("desert",)),),
            ),
        )
    )
    assert _tag(acme, "The Acme desert is dry. Ac said so.") == {}
    assert _tag(acme, "Acme grew. Ac said so.") == {"acme": 2}


# --- Offsets, lead, salience, primary ------------------------------------------------------------


def test_mention_offsets_point_into_the_original_text(watchlist: Watchlist) -> None:
    text = "\n\n  Jack\u00a0Ma   and   Alibaba  Cloud met  Tencent.\n阿里巴巴 (NYSE: BABA)"
    assert _sources(watchlist, text) == [
        ("jack-ma", "Jack\u00a0Ma", "name"),
        ("alibaba-cloud", "Alibaba  Cloud", "name"),
        ("tencent", "Tencent", "name"),
        ("alibaba", "阿里巴巴", "native"),
        ("alibaba", "BABA", "ticker"),
    ]


def test_lead_is_the_first_paragraph_but_sixty_to_a_hundred_and_twenty_words(watchlist: Watchlist) -> None:
    caption = "Photo: Reuters\n"
    filler = " ".join(["word"] * 70)
    text = f"{caption}Alibaba rose. {filler}\nTencent fell."
    tags = {tag.entity_id: tag for tag in tag_article(None, text, watchlist)}
    assert tags["alibaba"].in_lead and not tags["tencent"].in_lead
    assert tags["alibaba"].first_position == len(caption)
    assert tags["tencent"].first_position == text.index("Tencent")
    long_paragraph = f"{filler} Alibaba rose.\nTencent fell."
    tags = {tag.entity_id: tag for tag in tag_article(None, long_paragraph, watchlist)}
    assert tags["alibaba"].in_lead and not tags["tencent"].in_lead
    no_breaks = f"{filler} Alibaba rose. {filler} Tencent fell."
    tags = {tag.entity_id: tag for tag in tag_article(None, no_breaks, watchlist)}
    assert tags["alibaba"].in_lead and not tags["tencent"].in_lead


def test_headline_only_mention_has_no_body_position(watchlist: Watchlist) -> None:
    (tag,) = tag_article("Tencent beats forecasts", "Shares rose on the news.", watchlist)
    assert (tag.in_title, tag.in_lead, tag.first_position) == (True, False, None)


def test_salience_follows_the_documented_formula(watchlist: Watchlist) -> None:
    # 100 words; Alibaba: headline, lead, 3 mentions (the most), first at offset 0; Tencent: 1 mention at the end.
    body = "Alibaba " + " ".join(["word"] * 48) + "\n" + "Alibaba Alibaba " + " ".join(["word"] * 46) + " Tencent"
    title = "Alibaba rises"
    assert density_words(title) + density_words(body) == 100
    tags = {tag.entity_id: tag for tag in tag_article(title, body, watchlist)}
    assert tags["alibaba"].mentions == 4
    # headline .30 + lead .20 + share .25 * 1 + density .15 * min(1, 4 / 1.5) + position .10 * 1
    assert tags["alibaba"].salience == 1.0
    tencent_position = 1 - body.index("Tencent") / len(body)
    expected = round(0.25 * 1 / 4 + 0.15 * (1 / 1.5) + 0.10 * tencent_position, 3)
    assert tags["tencent"].salience == expected
    assert tags["alibaba"].primary and not tags["tencent"].primary


def test_seed_article_subjects_are_alibaba_and_jack_ma(watchlist: Watchlist) -> None:
    if not SEED.exists():
        pytest.skip(f"seed article {SEED} is not on this machine")
    title, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    tags = {tag.entity_id: tag for tag in tag_article(title, text, watchlist)}
    assert {entity_id for entity_id, tag in tags.items() if tag.primary} == {"alibaba", "jack-ma"}
    for passing in ("amazon", "microsoft", "jd", "pdd", "tencent", "huawei"):
        assert tags[passing].salience < 0.2, passing
        assert not tags[passing].in_lead and not tags[passing].in_title
    assert tags["alibaba"].in_lead and tags["jack-ma"].in_lead
    assert tags["jack-ma"].first_position == text.index("Jack Ma")
    assert tags["alibaba"].salience > tags["jack-ma"].salience > 0.8


def test_two_subjects_in_a_headline_are_both_primary(watchlist: Watchlist) -> None:
    tags = tag_article(
        "Alibaba and JD.com cut prices",
        "Alibaba and JD.com said on Monday they would cut prices. Alibaba said more; JD.com agreed. Tencent watched.",
        watchlist,
    )
    assert [tag.entity_id for tag in tags if tag.primary] == ["alibaba", "jd"]


def test_passing_mention_in_a_long_story_is_not_primary(watchlist: Watchlist) -> None:
    body = "Alibaba grew. " * 20 + " ".join(["word"] * 400) + " Amazon too."
    tags = {tag.entity_id: tag for tag in tag_article("Alibaba results", body, watchlist)}
    assert tags["alibaba"].primary and not tags["amazon"].primary
    assert tags["amazon"].salience < 0.1


def test_shared_mentions_give_the_same_tags(watchlist: Watchlist) -> None:
    mentions = find_mentions(INLINE_TITLE, INLINE_TEXT, watchlist)
    assert tag_article(INLINE_TITLE, INLINE_TEXT, watchlist, mentions=mentions) == tag_article(
        INLINE_TITLE, INLINE_TEXT, watchlist
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [("Alibaba must lead, not follow.", 5), ("阿里巴巴必须引领", 4), ("阿里巴巴（BABA）说，AI很重要。", 7), ("", 0)],
)
def test_density_words_count_chinese_one_per_two_characters(text: str, words: int) -> None:
    assert density_words(text) == words
