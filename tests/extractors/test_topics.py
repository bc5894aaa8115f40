"""Topic rules: the shipped rule set tags the seed article and Chinese stories; keyword rules and file errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from extractors.topics import Topic, Topics, load_topics, tag_topics
from presswatch.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "topics.yaml"
SEED = Path("/work/shared/seeds/jack-ma-comeback.txt")


@pytest.fixture(scope="module")
def topics() -> Topics:
    return load_topics(SHIPPED)


def _ids(title: str | None, text: str, topics: Topics) -> set[str]:
    return {tag.topic_id for tag in tag_topics(title, text, topics)}


def test_shipped_rule_set_has_the_promised_topics(topics: Topics) -> None:
    assert {topic.id for topic in topics.topics} >= {
        "ai",
        "cloud",
        "e-commerce",
        "logistics",
        "fintech",
        "regulation",
        "earnings",
        "global-expansion",
        "competition",
        "leadership",
    }
    for topic in topics.topics:
        words = [keyword for keyword, _ in topic.keywords]
        assert any(keyword.isascii() for keyword in words), topic.id
        assert any(not keyword.isascii() for keyword in words), f"{topic.id} has no Chinese keyword"


def test_seed_article_topics(topics: Topics) -> None:
    if not SEED.exists():
        pytest.skip(f"seed article {SEED} is not on this machine")
    title, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    tags = {tag.topic_id: tag for tag in tag_topics(title, text, topics)}
    assert {"ai", "e-commerce", "global-expansion", "leadership", "competition"} <= set(tags)
    # Two passing mentions of logistics and one of fintech in 830 words are not what the story is about.
    assert "logistics" not in tags and "fintech" not in tags and "earnings" not in tags
    assert max(tags.values(), key=lambda tag: tag.score).topic_id == "ai"
    assert "artificial intelligence" in tags["ai"].keywords and tags["ai"].hits >= 10


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("阿里巴巴发布季度财报", "阿里巴巴本季度营收同比增长8%，净利润超出预期。", {"earnings"}),
        ("腾讯加码人工智能", "腾讯表示将继续投入大模型和算力建设，混元大模型已接入微信。", {"ai"}),
        ("京东物流扩建仓储", "京东物流在欧洲新建仓库，快递配送时间缩短，供应链效率提升。", {"logistics"}),
        ("市场监管总局对平台企业开展反垄断调查", "监管部门要求企业整改，并处以罚款。", {"regulation"}),
        ("拼多多出海", "Temu加速海外扩张，跨境电商业务在东南亚增长迅速。", {"global-expansion", "e-commerce"}),
        ("蚂蚁集团发力金融科技", "支付宝的移动支付业务稳定，数字人民币试点扩大。", {"fintech"}),
    ],
)
def test_chinese_stories_get_their_topics(title: str, text: str, expected: set[str], topics: Topics) -> None:
    assert _ids(title, text, topics) == expected


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (
            "Alibaba beats estimates",
            "Alibaba reported quarterly revenue up 8% and net income above analysts’ estimates.",
            {"earnings"},
        ),
        (
            "Eddie Wu named chief executive",
            "The board appointed Eddie Wu as CEO; Daniel Zhang stepped down as chairman.",
            {"leadership"},
        ),
        (
            "Regulators fine Alibaba",
            "China's antitrust regulator fined Alibaba in its crackdown on platform companies.",
            {"regulation"},
        ),
        ("Rain in Paris", "It rained on Tuesday and the cloud cover lifted by noon.", set()),
    ],
)
def test_english_stories_get_their_topics(title: str, text: str, expected: set[str], topics: Topics) -> None:
    assert _ids(title, text, topics) == expected


def _rules(*keywords: tuple[str, float], min_score: float = 1.0, min_hits: int = 1) -> Topics:
    return Topics(topics=(Topic("t", "T", tuple(keywords), min_score=min_score, min_hits=min_hits, min_density=0),))


def test_lower_case_keywords_match_any_case_and_capitalised_ones_exact_case() -> None:
    rules = _rules(("cloud computing", 1), ("AI", 1))
    (tag,) = tag_topics(None, "CLOUD COMPUTING and Cloud Computing; AI, but not ai or Ai.", rules)
    assert (tag.hits, tag.keywords) == (3, ("cloud computing", "AI"))


def test_keywords_match_whole_words_and_a_star_matches_any_ending() -> None:
    rules = _rules(("regulat*", 1), ("ant", 1))
    (tag,) = tag_topics(None, "Regulators, regulatory and regulation; an antelope and an ant.", rules)
    assert tag.hits == 4


def test_longest_keyword_wins_where_several_start() -> None:
    rules = _rules(("generative AI", 3), ("AI", 1))
    (tag,) = tag_topics(None, "Generative AI is not generative AI; AI is AI.", rules)
    # "Generative AI" (capital G) is not the lower-case keyword, so "AI" counts there.
    assert (tag.score, tag.hits) == (3 + 1 + 1 + 1, 4)


def test_hyphens_and_apostrophes_separate_words() -> None:
    rules = _rules(("e-commerce", 1), ("analysts’ estimates", 1))
    (tag,) = tag_topics(None, "E-commerce, e commerce, analysts' estimates and analysts’ estimates.", rules)
    assert tag.hits == 4


def test_a_headline_hit_counts_double() -> None:
    rules = _rules(("earnings", 2))
    (tag,) = tag_topics("Earnings day", "Earnings rose.", rules)
    assert (tag.score, tag.hits) == (2 * 2 + 2, 2)


def test_min_score_and_min_hits_gate_a_topic() -> None:
    assert tag_topics(None, "Earnings rose.", _rules(("earnings", 2), min_score=3)) == []
    assert tag_topics(None, "Earnings rose.", _rules(("earnings", 5), min_hits=2)) == []
    assert tag_topics(None, "Earnings, earnings.", _rules(("earnings", 5), min_hits=2))[0].hits == 2


def test_min_density_keeps_passing_mentions_in_long_stories_out() -> None:
    dense = Topics(topics=(Topic("t", "T", (("earnings", 3.0),), min_score=3, min_density=1.0),))
    assert tag_topics(None, "Earnings rose sharply.", dense)[0].score == 3
    assert tag_topics(None, "Earnings rose. " + "word " * 400, dense) == []


def test_chinese_keywords_match_inside_text_longest_first() -> None:
    rules = _rules(("支付", 1), ("移动支付", 3))
    (tag,) = tag_topics(None, "移动支付和支付宝。", rules)
    assert (tag.score, tag.hits) == (3 + 1, 2)


def test_a_keyword_in_two_topics_counts_for_both() -> None:
    rules = Topics(
        topics=(
            Topic("a", "A", (("cloud", 3.0),), min_score=3, min_density=0),
            Topic("b", "B", (("cloud", 4.0),), min_score=3, min_density=0),
        )
    )
    assert [(tag.topic_id, tag.score) for tag in tag_topics(None, "Cloud.", rules)] == [("b", 4.0), ("a", 3.0)]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("topics: [{id: ai, keywords: {AI: 0}}]", "keyword 'AI' needs a positive number as its weight"),
        ("topics: [{id: ai, keywords: {AI: 1}, min_hit: 2}]", "unknown key 'min_hit'"),
        ("topics: [{id: AI, keywords: {AI: 1}}]", "'id' must be a lower-case slug"),
        ("topics: [{id: ai, keywords: [AI]}]", "'keywords' must be a mapping of keyword: weight"),
        ("topics: [{id: ai, keywords: {AI: 1}}, {id: ai, keywords: {ML: 1}}]", "duplicate topic id 'ai'"),
        ("topics: [{id: ai, keywords: {ab*: 1}}]", "prefix keyword 'ab*' needs at least 3 letters"),
        ("topics: [{id: ai, keywords: {AI: 1}, min_score: -1}]", "'min_score' must be a positive number"),
        ("topic: []", "expected a mapping with a 'topics' list"),
    ],
)
def test_bad_topics_file_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_topics(path)
    assert "\n" not in str(caught.value) and expected in str(caught.value)


def test_missing_topics_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="topics file not found"):
        load_topics(tmp_path / "nope.yaml")
