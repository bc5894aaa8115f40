"""The language is detected from the text when the page does not declare one or declares the wrong one."""

from __future__ import annotations

import pytest

from extractors.language import choose_language, detect_language

SAMPLES = {
    "en": "The company said on Tuesday that its profits had risen, but analysts were not convinced that the "
    "trend would last into next year, when the new tariffs are due to take effect.",
    "de": "Das Unternehmen teilte am Dienstag mit, dass der Gewinn gestiegen sei, aber Analysten sind nicht "
    "überzeugt, dass sich der Trend im nächsten Jahr fortsetzt, wenn die neuen Zölle gelten.",
    "fr": "L'entreprise a annoncé mardi que ses bénéfices avaient augmenté, mais les analystes ne sont pas "
    "convaincus que cette tendance se poursuivra l'année prochaine, avec les nouveaux droits de douane.",
    "es": "La empresa dijo el martes que sus beneficios habían aumentado, pero los analistas no están "
    "convencidos de que la tendencia continúe el próximo año, cuando entren en vigor los nuevos aranceles.",
    "it": "L'azienda ha dichiarato martedì che i profitti sono aumentati, ma gli analisti non sono convinti "
    "che la tendenza continuerà anche nel prossimo anno, quando entreranno in vigore i nuovi dazi.",
    "pt": "A empresa disse na terça-feira que os lucros aumentaram, mas os analistas não estão convencidos de "
    "que a tendência vai continuar no próximo ano, quando as novas tarifas entrarem em vigor.",
    "nl": "Het bedrijf zei dinsdag dat de winst was gestegen, maar analisten zijn er niet van overtuigd dat de "
    "trend ook volgend jaar zal doorzetten, wanneer de nieuwe heffingen van kracht worden.",
    "zh": "阿里巴巴集团周二公布的财报显示，其云计算业务收入同比增长，京东和拼多多的竞争仍然激烈。",
    "ja": "アリババは火曜日、クラウド事業の売上高が前年同期比で増加したと発表した。京東との競争も続いている。",
    "ko": "알리바바는 화요일 클라우드 사업 매출이 전년 대비 증가했다고 밝혔다. 경쟁은 계속되고 있다.",
    "ru": "Компания во вторник сообщила, что её прибыль выросла, но аналитики не уверены, что тенденция сохранится.",
    "uk": "Компанія у вівторок повідомила, що її прибуток зріс, але аналітики не впевнені, що тенденція збережеться.",
    "el": "Η εταιρεία ανακοίνωσε την Τρίτη ότι τα κέρδη της αυξήθηκαν, αλλά οι αναλυτές δεν είναι πεπεισμένοι.",
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_the_language_of_a_paragraph_is_detected(language: str) -> None:
    assert detect_language(SAMPLES[language]) == language


def test_traditional_chinese_is_chinese_and_kanji_with_kana_is_japanese() -> None:
    assert detect_language("阿里巴巴集團週二公布的季度財報顯示，受雲端運算和國際電商業務帶動。") == "zh"
    assert detect_language("東京証券取引所で日経平均株価は続伸し、終値は前日比で上昇した。") == "ja"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "OK",
        "12345 67890 2024-05-06",
        "Alibaba JD.com Pinduoduo Tencent Huawei",  # names only: no function words to go by
        "Vi har sett at selskapet har økt sin omsetning i år, og det er godt nytt for eierne.",  # Norwegian
    ],
)
def test_text_that_does_not_make_its_language_clear_gets_none(text: str) -> None:
    assert detect_language(text) is None


def test_a_page_declaring_english_over_chinese_text_gets_chinese() -> None:
    assert choose_language("en", SAMPLES["zh"]) == "zh"


def test_a_page_declaring_no_language_gets_the_detected_one() -> None:
    assert choose_language(None, SAMPLES["de"]) == "de"


def test_a_declared_language_the_detector_cannot_check_is_kept() -> None:
    catalan = "L'empresa va dir dimarts que els seus beneficis havien augmentat, però els analistes no n'estan segurs."
    assert choose_language("ca", catalan) == "ca"


def test_a_declared_language_stands_when_the_text_is_unclear() -> None:
    assert choose_language("fr", "Alibaba JD.com Pinduoduo") == "fr"
