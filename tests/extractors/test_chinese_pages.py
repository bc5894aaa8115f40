"""Chinese-language articles extract as cleanly as English ones: every paragraph in, the furniture out."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from extractors.articles import extract_article
from extractors.boilerplate import classify
from extractors.models import ExtractedArticle

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def _load_pages_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_pages", PAGES / "make_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MADE = _load_pages_module()


@pytest.fixture(scope="module", params=["zh-utf8-boilerplate.html", "zh-gbk-declared.html"])
def simplified(request: pytest.FixtureRequest) -> ExtractedArticle:
    name = request.param
    return extract_article((PAGES / name).read_bytes(), f"https://finance.example.cn/{name}")


@pytest.fixture(scope="module")
def traditional() -> ExtractedArticle:
    return extract_article((PAGES / "zh-big5-declared.html").read_bytes(), "https://finance.example.tw/story")


def test_chinese_text_is_exactly_the_articles_paragraphs_in_order(simplified: ExtractedArticle) -> None:
    assert simplified.text.split("\n") == MADE.ZH_PARAGRAPHS


@pytest.mark.parametrize("boilerplate", MADE.ZH_BOILERPLATE + ["2025-03-14 08:30", "说得好"])
def test_chinese_boilerplate_is_not_in_the_text(simplified: ExtractedArticle, boilerplate: str) -> None:
    assert boilerplate not in simplified.text


def test_traditional_chinese_page_keeps_its_paragraphs_and_drops_its_furniture(traditional: ExtractedArticle) -> None:
    assert traditional.text.split("\n") == MADE.ZH_TRADITIONAL_PARAGRAPHS
    for boilerplate in MADE.ZH_TRADITIONAL_BOILERPLATE:
        assert boilerplate not in traditional.text


def test_chinese_metadata(simplified: ExtractedArticle) -> None:
    assert simplified.title == "阿里巴巴季度营收超预期 京东拼多多竞争加剧"
    assert simplified.language == "zh"
    # Each Chinese character counts as a word (punctuation does not).
    characters = sum(1 for p in MADE.ZH_PARAGRAPHS for ch in p if "\u4e00" <= ch <= "\u9fff")
    assert simplified.word_count == characters > 350


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("责任编辑：李华", "credit"),
        ("來源：示例財經網", "credit"),
        ("分享到：微信 微博 QQ空间", "promo"),
        ("版权所有 未经授权不得转载", "promo"),
        ("相关新闻", "related"),
        ("延伸閱讀", "related"),
        ("2025年3月14日 08:30", "dateline"),
    ],
)
def test_chinese_furniture_lines_are_classified(line: str, kind: str) -> None:
    assert classify(line) == kind


def test_a_chinese_sentence_quoting_a_source_is_content() -> None:
    sentence = "据新华社报道，阿里巴巴来源于杭州的创业团队在二十多年里把公司发展成为全球最大的电商平台之一。"
    assert classify(sentence) is None
