"""Write the hand-made test pages of this folder: one per extraction rule, encoded with Python's codecs.

Run ``.venv/bin/python tests/data/pages/make_pages.py`` to rebuild them; `EXPECTED` (read by the tests)
says what text each page must yield. The pages are committed so that the tests read bytes exactly as a
server would send them.
"""

from __future__ import annotations

import codecs
from pathlib import Path

HERE = Path(__file__).resolve().parent

ZH_PARAGRAPHS = [
    "阿里巴巴集团周二公布的季度财报显示，受云计算和国际电商业务带动，公司营收同比增长百分之八，超出市场预期。"
    "阿里巴巴表示，淘宝和天猫的商品交易总额保持稳定，会员人数继续增加。",
    "分析人士指出，京东在家电和数码产品领域仍然具有物流优势，其自建的配送网络让大部分订单能够在二十四小时内送达。"
    "京东管理层在电话会议上表示，将继续加大对供应链技术的投入。",
    "与此同时，拼多多凭借低价策略和农产品上行模式吸引了大量三四线城市用户。拼多多旗下的跨境平台在海外市场扩张迅速，"
    "但也面临越来越多的监管审查。",
    "业内人士认为，三家公司之间的竞争已经从单纯的价格战转向服务质量和技术创新。阿里巴巴正在把人工智能大模型应用到商家工具中，"
    "京东则强调即时零售，拼多多继续压低运营成本。",
    "一位长期关注电商行业的基金经理说：“投资者现在更关心的是利润率，而不是增长速度。谁能在补贴和盈利之间找到平衡，"
    "谁就能赢得下一阶段的竞争。”",
    "阿里巴巴的股价在财报公布后上涨了百分之四，京东和拼多多的股价也随之小幅走高。",
]
ZH_BOILERPLATE = [
    "来源：示例财经网",
    "作者：王明",
    "分享到：微信 微博 QQ空间",
    "广告",
    "相关新闻",
    "京东发布双十一战报",
    "拼多多海外业务遭遇调查",
    "阿里云宣布再次降价",
    "责任编辑：李华",
    "版权所有 2025 示例财经网 未经授权不得转载",
    "扫码关注我们的微信公众号",
    "网友评论（12）",
    "关于我们",
]
ZH_TRADITIONAL_PARAGRAPHS = [
    "阿里巴巴集團週二公布的季度財報顯示，受雲端運算和國際電商業務帶動，公司營收按年增長百分之八，超出市場預期。"
    "阿里巴巴表示，淘寶和天貓的商品交易總額保持穩定。",
    "分析人士指出，京東在家電和數碼產品領域仍然具有物流優勢，其自建的配送網絡讓大部分訂單能夠在二十四小時內送達。",
    "與此同時，拼多多憑藉低價策略吸引了大量用戶，其跨境平台在海外市場擴張迅速，但也面臨越來越多的監管審查。",
    "業內人士認為，三家公司之間的競爭已經從單純的價格戰轉向服務質量和技術創新，投資者更關心的是利潤率。",
]
ZH_TRADITIONAL_BOILERPLATE = [
    "來源：示例財經網",
    "分享到：微信 微博",
    "相關新聞",
    "京東發布雙十一戰報",
    "責任編輯：李華",
    "版權所有 未經授權不得轉載",
]
JA_PARAGRAPHS = [
    "中国の電子商取引大手アリババは火曜日、クラウド事業と海外の通販事業が好調で、四半期の売上高が前年同期比で八パーセント増えたと発表した。",
    "アナリストによると、京東は家電や電子機器の分野で自社の物流網を強みとしており、多くの注文を翌日までに届けている。",
    "一方でピンドゥオドゥオは低価格戦略で地方都市の利用者を集め、海外向けの通販サイトも急速に拡大しているが、各国の規制当局の調査も増えている。",
]
FR_PARAGRAPHS = [
    "Le géant chinois du commerce en ligne Alibaba a annoncé mardi une hausse de huit pour cent de son chiffre "
    "d’affaires trimestriel, portée par l’informatique dématérialisée et ses activités à l’étranger.",
    "Selon les analystes, JD.com conserve un avantage logistique dans l’électroménager : son réseau de livraison "
    "achemine la plupart des commandes en moins de vingt-quatre heures, même dans les villes éloignées.",
    "Pinduoduo, de son côté, séduit les consommateurs des villes moyennes grâce à des prix très bas, mais sa "
    "plateforme internationale fait l’objet d’enquêtes de plus en plus nombreuses en Europe.",
]
DE_PARAGRAPHS = [
    "Der chinesische Onlinehändler Alibaba hat am Dienstag einen Umsatzanstieg von acht Prozent gemeldet, getragen "
    "vom Cloud-Geschäft und vom Auslandshandel. Die Börse in Hongkong reagierte erfreut.",
    "Nach Einschätzung von Analysten behält JD.com bei Haushaltsgeräten einen Vorsprung in der Logistik: Das eigene "
    "Liefernetz stellt die meisten Bestellungen innerhalb von vierundzwanzig Stunden zu.",
    "Pinduoduo gewinnt dagegen mit sehr niedrigen Preisen Kundinnen und Kunden in kleineren Städten, muss sich aber "
    "auf wachsende Prüfungen durch Aufsichtsbehörden in Europa und den Vereinigten Staaten einstellen.",
]


def article_page(
    title: str,
    paragraphs: list[str],
    *,
    lang: str | None,
    charset_meta: str | None,
    boilerplate: bool = False,
    traditional: bool = False,
    nav: tuple[str, str, str, str, str] = ("首页", "科技", "财经", "关于我们", "联系我们"),
) -> str:
    """A news page around the paragraphs; with `boilerplate`, the Chinese furniture news sites put around them."""
    head = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">' if charset_meta else ""
    lang_attr = f' lang="{lang}"' if lang else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if boilerplate and traditional:
        b = ZH_TRADITIONAL_BOILERPLATE
        body = (
            f"<div class='info'>{b[0]}</div><div class='share'>{b[1]}</div>"
            + "".join(f"<p>{p}</p>" for p in paragraphs[:2])
            + f"<h3>{b[2]}</h3><ul><li><a href='/n/1'>{b[3]}</a></li><li><a href='/n/2'>京東物流再擴張</a></li></ul>"
            + "".join(f"<p>{p}</p>" for p in paragraphs[2:])
            + f"<div class='editor'>{b[4]}</div><div>{b[5]}</div>"
        )
    elif boilerplate:
        b = ZH_BOILERPLATE
        body = (
            f"<div class='meta'><span>{b[0]}</span>　<span>{b[1]}</span></div><div>2025-03-14 08:30</div>"
            f"<div class='bdsharebuttonbox'>{b[2]}</div>"
            + "".join(f"<p>{p}</p>" for p in paragraphs[:3])
            + f"<div class='ad'>{b[3]}</div>"
            + "".join(f"<p>{p}</p>" for p in paragraphs[3:])
            + f"<h3>{b[4]}</h3><ul><li><a href='/n/1'>{b[5]}</a></li><li><a href='/n/2'>{b[6]}</a></li>"
            f"<li><a href='/n/3'>{b[7]}</a></li></ul>"
            f"<p class='editor'>{b[8]}</p><div class='copyright'>{b[9]}</div><div class='qr'>{b[10]}</div>"
            f"<div class='comments'><h4>{b[11]}</h4><p>说得好！</p></div>"
        )
    return (
        f"<!DOCTYPE html><html{lang_attr}><head>{head}<title>{title}</title></head><body>"
        f"<div class='nav'><a href='/'>{nav[0]}</a> | <a href='/tech'>{nav[1]}</a> | "
        f"<a href='/finance'>{nav[2]}</a></div>"
        f"<div class='content'><h1>{title}</h1>{body}</div>"
        f"<div class='footer'><a href='/about'>{nav[3]}</a> <a href='/contact'>{nav[4]}</a></div>"
        "</body></html>"
    )


def pages() -> dict[str, bytes]:
    """Every test page: file name to bytes."""
    zh_title = "阿里巴巴季度营收超预期 京东拼多多竞争加剧"
    zh = article_page(zh_title, ZH_PARAGRAPHS, lang="zh-CN", charset_meta=None, boilerplate=True)
    zh_plain = article_page(zh_title, ZH_PARAGRAPHS, lang=None, charset_meta=None)
    zh_tw_title = "阿里巴巴季度營收超預期"
    latin_nav = ("Home", "Tech", "Finance", "About us", "Contact")
    fr = article_page("Alibaba dépasse les attentes", FR_PARAGRAPHS, lang="fr", charset_meta=None, nav=latin_nav)
    de = article_page("Alibaba übertrifft die Erwartungen", DE_PARAGRAPHS, lang="de", charset_meta=None, nav=latin_nav)
    ja_nav = ("ホーム", "テクノロジー", "経済", "会社概要", "お問い合わせ")
    ja_title = "アリババ、売上高が八パーセント増"
    ja = article_page(ja_title, JA_PARAGRAPHS, lang="ja", charset_meta="shift_jis", nav=ja_nav)
    tw_nav = ("首頁", "科技", "財經", "關於我們", "聯絡我們")

    def with_meta(html: str, charset: str) -> str:
        return html.replace("<head>", f'<head><meta charset="{charset}">', 1)

    return {
        "zh-utf8-boilerplate.html": with_meta(zh, "utf-8").encode("utf-8"),
        "zh-gbk-declared.html": with_meta(zh, "gbk").encode("gbk"),
        "zh-gb2312-undeclared.html": zh_plain.encode("gb2312"),
        "zh-gbk-labelled-latin1.html": with_meta(zh_plain, "iso-8859-1").encode("gbk"),
        "zh-utf8-labelled-gbk.html": with_meta(zh_plain, "gbk").encode("utf-8"),
        "zh-big5-declared.html": article_page(
            zh_tw_title,
            ZH_TRADITIONAL_PARAGRAPHS,
            lang="zh-TW",
            charset_meta="big5",
            boilerplate=True,
            traditional=True,
            nav=tw_nav,
        ).encode("big5"),
        "zh-big5-undeclared.html": article_page(
            zh_tw_title, ZH_TRADITIONAL_PARAGRAPHS, lang=None, charset_meta=None, nav=tw_nav
        ).encode("big5"),
        "zh-utf16le-bom.html": codecs.BOM_UTF16_LE + with_meta(zh_plain, "utf-16").encode("utf-16-le"),
        "zh-utf16be-bom.html": codecs.BOM_UTF16_BE + with_meta(zh_plain, "utf-16").encode("utf-16-be"),
        "zh-utf16le-no-bom.html": zh_plain.encode("utf-16-le"),
        "zh-declared-english.html": zh_plain.replace("<html>", '<html lang="en">', 1).encode("utf-8"),
        "ja-shift-jis-declared.html": ja.encode("shift_jis"),
        "fr-cp1252-undeclared.html": fr.encode("cp1252"),
        "de-utf8-labelled-latin1.html": with_meta(de, "iso-8859-1").encode("utf-8"),
    }


# What each page must yield: the paragraphs that must all be in the text.
EXPECTED: dict[str, list[str]] = {
    "zh-utf8-boilerplate.html": ZH_PARAGRAPHS,
    "zh-gbk-declared.html": ZH_PARAGRAPHS,
    "zh-gb2312-undeclared.html": ZH_PARAGRAPHS,
    "zh-gbk-labelled-latin1.html": ZH_PARAGRAPHS,
    "zh-utf8-labelled-gbk.html": ZH_PARAGRAPHS,
    "zh-big5-declared.html": ZH_TRADITIONAL_PARAGRAPHS,
    "zh-big5-undeclared.html": ZH_TRADITIONAL_PARAGRAPHS,
    "zh-utf16le-bom.html": ZH_PARAGRAPHS,
    "zh-utf16be-bom.html": ZH_PARAGRAPHS,
    "zh-utf16le-no-bom.html": ZH_PARAGRAPHS,
    "zh-declared-english.html": ZH_PARAGRAPHS,
    "ja-shift-jis-declared.html": JA_PARAGRAPHS,
    "fr-cp1252-undeclared.html": FR_PARAGRAPHS,
    "de-utf8-labelled-latin1.html": DE_PARAGRAPHS,
}


def main() -> None:
    """Write every page into this folder."""
    for name, data in pages().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
