"""Pages in any charset, declared rightly, wrongly or not at all, decode to the text their authors wrote."""

from __future__ import annotations

import codecs
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from extractors.articles import extract_article
from extractors.encoding import decode_bytes, decode_html, sniff_encoding
from presswatch.errors import ExtractionError

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def _load_pages_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_pages", PAGES / "make_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MADE = _load_pages_module()


@pytest.mark.parametrize("name", sorted(MADE.EXPECTED))
def test_every_paragraph_of_a_made_page_is_in_the_text(name: str) -> None:
    article = extract_article((PAGES / name).read_bytes(), f"https://news.example.cn/{name}")
    for paragraph in MADE.EXPECTED[name]:
        assert paragraph in article.text
    assert "\ufffd" not in article.text


def test_made_pages_are_the_generators_output() -> None:
    for name, data in MADE.pages().items():
        assert (PAGES / name).read_bytes() == data, f"{name} is stale: run tests/data/pages/make_pages.py"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("zh-gbk-declared.html", "gb18030"),
        ("zh-gb2312-undeclared.html", "gb18030"),
        ("zh-gbk-labelled-latin1.html", "gb18030"),
        ("zh-utf8-labelled-gbk.html", "utf-8"),
        ("zh-big5-declared.html", "big5hkscs"),
        ("zh-big5-undeclared.html", "big5hkscs"),
        ("zh-utf16le-bom.html", "utf-16"),
        ("zh-utf16be-bom.html", "utf-16"),
        ("zh-utf16le-no-bom.html", "utf-16-le"),
        ("ja-shift-jis-declared.html", "cp932"),
        ("fr-cp1252-undeclared.html", "cp1252"),
        ("de-utf8-labelled-latin1.html", "utf-8"),
    ],
)
def test_each_page_is_decoded_with_the_codec_its_bytes_are_in(name: str, codec: str) -> None:
    assert sniff_encoding((PAGES / name).read_bytes()) == codec


def test_a_server_charset_header_wins_over_the_meta_tag_when_the_bytes_agree() -> None:
    data = "<html><head><meta charset='utf-8'></head><body><p>阿里巴巴和京东</p></body></html>".encode("gbk")
    assert sniff_encoding(data, "text/html; charset=GBK") == "gb18030"
    assert "阿里巴巴和京东" in decode_bytes(data, "text/html; charset=GBK")


def test_a_gbk_page_served_as_iso_8859_1_is_not_read_as_latin1() -> None:
    text = "<html><body><p>" + "拼多多的跨境平台在海外市场扩张迅速。" * 5 + "</p></body></html>"
    decoded = decode_bytes(text.encode("gbk"), "text/html; charset=ISO-8859-1")
    assert "拼多多的跨境平台" in decoded


def test_real_latin1_text_served_as_iso_8859_1_stays_windows_1252() -> None:
    text = "<html><body><p>Le café de la gare a fermé ses portes après une année difficile.</p></body></html>"
    assert decode_bytes(text.encode("cp1252"), "text/html; charset=iso-8859-1") == text


def test_a_utf8_page_with_one_broken_byte_is_still_read_as_utf8() -> None:
    text = "<html><body><p>" + "Zürich’s harbour — “busy” again. " * 10 + "</p></body></html>"
    data = text.encode("utf-8") + b"\xff"
    assert sniff_encoding(data) == "utf-8"
    assert "Zürich’s harbour" in decode_bytes(data)


def test_a_utf32_bom_is_not_mistaken_for_utf16() -> None:
    data = codecs.BOM_UTF32_LE + "<html><body>京东</body></html>".encode("utf-32-le")
    assert decode_bytes(data) == "<html><body>京东</body></html>"


def test_a_utf16_declaration_in_an_ascii_meta_tag_means_utf8() -> None:
    data = "<html><head><meta charset='utf-16'></head><body>Café</body></html>".encode()
    assert sniff_encoding(data) == "utf-8"


def test_utf7_is_refused_as_a_declared_charset() -> None:
    data = b"<html><head><meta charset='utf-7'></head><body>+ADw-script+AD4-</body></html>"
    assert sniff_encoding(data) != "utf-7"


def test_binary_data_in_a_utf16_disguise_is_still_refused() -> None:
    with pytest.raises(ExtractionError, match="not HTML"):
        decode_html(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
