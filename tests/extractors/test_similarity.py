"""Copies of one wire story are similar; different stories that only share boilerplate are not."""

from __future__ import annotations

import time

import pytest

from extractors.similarity import (
    MAX_DISTANCE,
    distance,
    fingerprint,
    from_signed,
    pack_signature,
    resemblance,
    signature,
    similar,
    to_signed,
    unpack_signature,
)

WIRE = """HANGZHOU, China (Wire) - Alibaba Group said on Tuesday its quarterly revenue rose 8% from a year earlier,
beating analysts' estimates, as its cloud computing unit and international commerce business offset slower growth
at its domestic shopping platforms Taobao and Tmall.
The Hangzhou-based company said revenue at its cloud intelligence group grew 13%, the fastest pace in two years,
helped by demand for artificial intelligence products from corporate customers and government agencies.
Chief executive Eddie Wu told analysts on a conference call that the company would keep investing in AI
infrastructure over the next three years, and that spending on data centres would exceed its earlier plans.
Alibaba faces intense competition at home from PDD Holdings, the owner of Pinduoduo, and JD.com, which have
both cut prices and expanded subsidies to win shoppers in a sluggish consumer economy.
Its international commerce unit, which includes AliExpress and Trendyol, posted revenue growth of 29%, though
the business is still losing money as it spends heavily on logistics and marketing in Europe and the Middle East.
Shares of Alibaba rose 4% in Hong Kong trading after the results, while JD.com and PDD also gained.
The company also said it had bought back $4.1 billion of its shares during the quarter and would continue
returning cash to shareholders through dividends and repurchases."""

OTHER = """SHENZHEN, China (Wire) - Tencent Holdings reported a 10% rise in second-quarter profit on Wednesday, as
its video games business recovered and advertising revenue from its WeChat messaging app grew strongly.
The company said domestic games revenue increased 9%, driven by new titles and the continued popularity of
older franchises, while international games revenue rose 9% as well on the back of recent releases.
Marketing services revenue climbed 19%, helped by demand for video accounts and mini-programs inside WeChat,
which has more than 1.3 billion monthly users across China and the rest of the world.
Tencent executives said they would keep investing in artificial intelligence models and in the cloud unit,
which returned to growth after two years of restructuring and job cuts.
The results come as China's technology giants face a slowing economy and lingering regulatory scrutiny,
although Beijing has signalled more support for private companies in recent months.
Shares of Tencent were little changed in Hong Kong after the results were released late in the day."""

BOILERPLATE = """Sign up for our daily newsletter to get the top business stories delivered to your inbox every morning.
Copyright 2025 Example Media Group. All rights reserved. This material may not be published or redistributed.
Follow us on Facebook, X and LinkedIn for the latest news and analysis from our newsroom."""


def republished(text: str, *, headline: str, furniture: str, edits: dict[str, str]) -> str:
    """The wire story as another outlet runs it: its own headline first, a few edits, its own furniture."""
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    return f"{headline}\n{text}\n{furniture}"


COPY_A = republished(
    WIRE,
    headline="Alibaba beats forecasts as cloud unit speeds up",
    furniture="Read more: Asian markets close higher\nAdvertisement\nShare this article on WhatsApp",
    edits={"HANGZHOU, China (Wire) - ": "", "Chief executive Eddie Wu": "CEO Eddie Wu", "4%": "about 4%"},
)
COPY_B = republished(
    WIRE,
    headline="Alibaba revenue tops estimates",
    furniture=BOILERPLATE,
    edits={"(Wire)": "(Wire/Staff)", "sluggish consumer economy": "weak economy", "The company also said": "It said"},
)
COPY_C = "\n".join(WIRE.split("\n")[:-2]) + "\nReporting by Jane Roe; Editing by John Doe"  # last paragraph cut


def test_copies_of_one_wire_story_are_similar() -> None:
    for a, b in [(WIRE, COPY_A), (WIRE, COPY_B), (COPY_A, COPY_B), (WIRE, COPY_C), (COPY_B, COPY_C)]:
        assert similar(a, b)
        assert resemblance(signature(a), signature(b)) >= 0.55


def test_different_stories_with_the_same_boilerplate_are_not_similar() -> None:
    a = f"{WIRE}\n{BOILERPLATE}"
    b = f"{OTHER}\n{BOILERPLATE}"
    assert not similar(a, b)
    assert resemblance(signature(a), signature(b)) < 0.3


def test_two_short_teasers_made_mostly_of_shared_boilerplate_are_not_matched_on_too_few_words() -> None:
    assert not similar("Subscribe now", "Subscribe now")


def test_a_story_is_identical_to_itself() -> None:
    assert resemblance(signature(WIRE), signature(WIRE)) == 1.0
    assert distance(fingerprint(WIRE), fingerprint(WIRE)) == 0


def test_case_and_whitespace_do_not_matter() -> None:
    assert signature(WIRE) == signature(" ".join(WIRE.upper().split()))


def test_simhash_fingerprints_of_copies_are_close_and_of_different_stories_far() -> None:
    assert distance(fingerprint(WIRE), fingerprint(COPY_A)) <= MAX_DISTANCE
    assert distance(fingerprint(WIRE), fingerprint(COPY_B)) <= MAX_DISTANCE
    assert distance(fingerprint(f"{WIRE}\n{BOILERPLATE}"), fingerprint(f"{OTHER}\n{BOILERPLATE}")) > MAX_DISTANCE


def test_chinese_copies_are_similar_and_different_chinese_stories_are_not() -> None:
    story = (
        "阿里巴巴集团周二公布的季度财报显示，受云计算和国际电商业务带动，公司营收同比增长百分之八，超出市场预期。"
        "分析人士指出，京东在家电和数码产品领域仍然具有物流优势，其自建的配送网络让大部分订单能够在二十四小时内送达。"
        "与此同时，拼多多凭借低价策略和农产品上行模式吸引了大量三四线城市用户。"
    )
    other = (
        "腾讯控股周三公布第二季度利润增长百分之十，游戏业务回暖，微信广告收入强劲增长。公司表示国内游戏收入增长，"
        "营销服务收入受视频号和小程序需求推动。腾讯高管表示将继续投资人工智能大模型和云业务。"
    )
    furniture = "\n责任编辑：李华\n版权所有 未经授权不得转载"
    assert similar("（新华社）" + story + furniture, "快讯：" + story)
    assert not similar(story + furniture, other + furniture)


def test_fingerprints_fit_a_signed_64_bit_column_and_come_back() -> None:
    value = fingerprint(WIRE)
    assert 0 <= value < 2**64
    assert -(2**63) <= to_signed(value) < 2**63
    assert from_signed(to_signed(value)) == value


def test_signatures_pack_to_bytes_and_back() -> None:
    sig = signature(WIRE)
    assert unpack_signature(pack_signature(sig)) == sig
    assert len(pack_signature(sig)) == 8 * len(sig)


@pytest.mark.parametrize("text", ["", "   ", "!!!"])
def test_empty_text_has_an_empty_signature_and_a_zero_fingerprint(text: str) -> None:
    assert signature(text) == ()
    assert fingerprint(text) == 0
    assert resemblance(signature(text), signature(WIRE)) == 0.0


def test_fingerprinting_is_fast() -> None:
    text = "\n".join([WIRE] * 5)  # ~1,000 words
    started = time.perf_counter()
    for _ in range(20):
        signature(text)
        fingerprint(text)
    assert (time.perf_counter() - started) / 20 < 0.05
