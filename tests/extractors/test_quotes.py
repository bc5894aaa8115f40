"""Quotes: quoted statements with their speaker, resolved to watched people and companies where possible."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.models import Quote, Watchlist
from extractors.quotes import find_quotes
from extractors.tagging import find_mentions
from extractors.watchlist import load_watchlist

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "watchlist.yaml"
SEED = Path("/work/shared/seeds/jack-ma-comeback.txt")


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return load_watchlist(SHIPPED)


def _quotes(text: str, watchlist: Watchlist) -> list[tuple[str, str | None, str]]:
    return [(quote.speaker, quote.entity_id, quote.text) for quote in find_quotes(text, watchlist)]


def test_seed_article_quotes_and_speakers(watchlist: Watchlist) -> None:
    if not SEED.exists():
        pytest.skip(f"seed article {SEED} is not on this machine")
    _, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    assert _quotes(text, watchlist) == [
        ("Jack Ma", "jack-ma", "Alibaba must lead, not follow"),
        ("Jack Ma", "jack-ma", "The next decade belongs to those who harness AI at scale."),
        ("one Asia-based fund manager", None, "The fact that Jack Ma is back in the arena is significant"),
        (
            "one Asia-based fund manager",
            None,
            "It suggests China’s leadership wants to see its biggest companies strong again, "
            "and no one embodies that ambition more than Ma.",
        ),
    ]
    quotes = find_quotes(text, watchlist)
    assert text[quotes[0].start :].startswith("Alibaba must lead")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Eddie Wu spoke to staff. “We will double our AI spending,” Wu said.",
            [("Eddie Wu", "eddie-wu", "We will double our AI spending")],
        ),
        (
            "“Prices will fall,” said Joe Tsai, Alibaba’s chairman.",
            [("Joe Tsai", "joe-tsai", "Prices will fall")],
        ),
        (
            "“Competition is fierce,” Joe Tsai, the chairman, told reporters.",
            [("Joe Tsai", "joe-tsai", "Competition is fierce")],
        ),
        (
            "“We are not worried,” a Tencent spokesman said in a statement.",
            [("a Tencent spokesman", "tencent", "We are not worried")],
        ),
        (
            "Alibaba chairman Joe Tsai said: “The bubble will burst.”",
            [("Joe Tsai", "joe-tsai", "The bubble will burst.")],
        ),
        (
            "“Margins will shrink,” according to analysts at Bernstein.",
            [("analysts", None, "Margins will shrink")],
        ),
        (
            "According to Jack Ma, “the best is yet to come.”",
            [("Jack Ma", "jack-ma", "the best is yet to come.")],
        ),
        (
            '"We will grow," said Pony Ma in an interview. "Games remain the core."',
            [("Pony Ma", "pony-ma", "We will grow"), ("Pony Ma", "pony-ma", "Games remain the core.")],
        ),
        (
            "“Growth is back,” said one Asia-based fund manager.",
            [("one Asia-based fund manager", None, "Growth is back")],
        ),
    ],
)
def test_attribution_patterns(watchlist: Watchlist, text: str, expected: list[tuple[str, str | None, str]]) -> None:
    assert _quotes(text, watchlist) == expected


def test_a_quote_in_the_next_paragraph_continues_the_speaker(watchlist: Watchlist) -> None:
    text = (
        "“We are back,” Jack Ma told staff.\n“And we will lead.”\nAnalysts were unconvinced.\n"
        "“Nobody asked,” said one investor."
    )
    assert _quotes(text, watchlist) == [
        ("Jack Ma", "jack-ma", "We are back"),
        ("Jack Ma", "jack-ma", "And we will lead."),
        ("one investor", None, "Nobody asked"),
    ]


def test_a_quote_after_unrelated_text_does_not_continue_anyone(watchlist: Watchlist) -> None:
    text = "“We are back,” Jack Ma told staff.\nAnalysts were unconvinced.\n“Nobody asked.”"
    assert _quotes(text, watchlist) == [("Jack Ma", "jack-ma", "We are back")]


def test_pronoun_speaker_is_the_person_just_named(watchlist: Watchlist) -> None:
    text = "Jack Ma visited a village school.\n“Teachers matter most,” he said."
    assert _quotes(text, watchlist) == [("Jack Ma", "jack-ma", "Teachers matter most")]


def test_pronoun_with_no_person_nearby_stays_a_pronoun(watchlist: Watchlist) -> None:
    text = "Jack Ma visited.\nThe weather was fine.\nNothing happened.\n“Teachers matter,” she said."
    assert _quotes(text, watchlist) == [("she", None, "Teachers matter")]


def test_bare_surname_before_the_full_name_is_not_resolved(watchlist: Watchlist) -> None:
    assert _quotes("“We will see,” Ma said.", watchlist) == [("Ma", None, "We will see")]


@pytest.mark.parametrize(
    "text",
    [
        "His mission: to “make Alibaba great again” by doubling down on AI.",
        "It encouraged internal “startup teams” to experiment.",
        "Whether the company can truly “be great again” will depend on Ma.",
        "No quotation marks here, Jack Ma said.",
        'The so-called "common prosperity" drive hit Alibaba.',
    ],
)
def test_quotation_marks_without_an_attribution_are_not_quotes(watchlist: Watchlist, text: str) -> None:
    assert find_quotes(text, watchlist) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("马云表示：“阿里巴巴必须引领而不是跟随。”", [("Jack Ma", "jack-ma", "阿里巴巴必须引领而不是跟随。")]),
        ("“我们必须继续投资人工智能，”蔡崇信说。", [("Joe Tsai", "joe-tsai", "我们必须继续投资人工智能")]),
        ("一位分析师在接受采访时称：“估值仍然偏低。”", [("一位分析师", None, "估值仍然偏低。")]),
        ("腾讯在声明中指出「不会裁员」。", [("Tencent", "tencent", "不会裁员")]),
    ],
)
def test_chinese_quotes(watchlist: Watchlist, text: str, expected: list[tuple[str, str | None, str]]) -> None:
    got = [(quote.speaker, quote.entity_id, quote.text) for quote in find_quotes(text, watchlist)]
    # A company speaker keeps its phrase as written; compare the entity and the words.
    assert [(entity, words) for _, entity, words in got] == [(entity, words) for _, entity, words in expected]
    assert [speaker for speaker, entity, _ in got if entity != "tencent"] == [
        speaker for speaker, entity, _ in expected if entity != "tencent"
    ]


def test_shared_mentions_give_the_same_quotes(watchlist: Watchlist) -> None:
    text = "Jack Ma spoke. “We are back,” Ma said."
    mentions = find_mentions(None, text, watchlist)
    assert find_quotes(text, watchlist, mentions=mentions) == find_quotes(text, watchlist)
    assert find_quotes(text, watchlist) == [Quote("Jack Ma", "jack-ma", "We are back", text.index("We are"))]
