"""The watchlist file: the shipped one loads with the expected entities; bad files fail in one clear line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from extractors.models import Exclusion, Spelling, Watchlist
from extractors.watchlist import load_watchlist, spellings
from presswatch.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "watchlist.yaml"

# id -> (kind, parent) for every entity the project promises to ship.
EXPECTED = {
    "alibaba": ("company", None),
    "taobao": ("brand", "alibaba"),
    "tmall": ("brand", "alibaba"),
    "lazada": ("brand", "alibaba"),
    "aliexpress": ("brand", "alibaba"),
    "alibaba-cloud": ("brand", "alibaba"),
    "cainiao": ("brand", "alibaba"),
    "dingtalk": ("brand", "alibaba"),
    "qwen": ("brand", "alibaba"),
    "jd": ("company", None),
    "pdd": ("company", None),
    "pinduoduo": ("brand", "pdd"),
    "temu": ("brand", "pdd"),
    "tencent": ("company", None),
    "wechat": ("brand", "tencent"),
    "tencent-cloud": ("brand", "tencent"),
    "huawei": ("company", None),
    "huawei-cloud": ("brand", "huawei"),
    "amazon": ("company", None),
    "aws": ("brand", "amazon"),
    "microsoft": ("company", None),
    "azure": ("brand", "microsoft"),
    "baidu": ("company", None),
    "bytedance": ("company", None),
    "tiktok": ("brand", "bytedance"),
    "douyin": ("brand", "bytedance"),
    "meituan": ("company", None),
    "jack-ma": ("person", "alibaba"),
    "eddie-wu": ("person", "alibaba"),
    "joe-tsai": ("person", "alibaba"),
    "jd-logistics": ("brand", "jd"),
    "richard-liu": ("person", "jd"),
    "pony-ma": ("person", "tencent"),
    "ren-zhengfei": ("person", "huawei"),
    "robin-li": ("person", "baidu"),
    "zhang-yiming": ("person", "bytedance"),
}

# The tickers and native names issue 4 asks for, on the right entities.
EXPECTED_TICKERS = {
    "alibaba": {"BABA", "9988.HK"},
    "jd": {"JD", "9618.HK"},
    "pdd": {"PDD"},
    "tencent": {"0700.HK", "TCEHY"},
    "amazon": {"AMZN"},
    "microsoft": {"MSFT"},
    "baidu": {"BIDU", "9888.HK"},
    "meituan": {"3690.HK"},
}
EXPECTED_NATIVE = {
    "alibaba": "阿里巴巴",
    "taobao": "淘宝",
    "tmall": "天猫",
    "cainiao": "菜鸟",
    "dingtalk": "钉钉",
    "qwen": "通义千问",
    "jd": "京东",
    "pinduoduo": "拼多多",
    "tencent": "腾讯",
    "wechat": "微信",
    "huawei": "华为",
    "baidu": "百度",
    "bytedance": "字节跳动",
    "douyin": "抖音",
    "meituan": "美团",
    "jack-ma": "马云",
    "joe-tsai": "蔡崇信",
    "eddie-wu": "吴泳铭",
}


@pytest.fixture(scope="module")
def shipped() -> Watchlist:
    return load_watchlist(SHIPPED)


def test_shipped_watchlist_has_every_promised_entity_with_its_kind_and_parent(shipped: Watchlist) -> None:
    by_id = shipped.by_id()
    assert {entity_id: (by_id[entity_id].kind, by_id[entity_id].parent) for entity_id in EXPECTED} == EXPECTED


def test_shipped_watchlist_aliases(shipped: Watchlist) -> None:
    by_id = shipped.by_id()
    assert set(by_id["alibaba"].aliases) >= {"Alibaba", "Alibaba Group", "Alibaba Group Holding"}
    assert set(by_id["alibaba-cloud"].aliases) == {"Alibaba Cloud", "Aliyun"}
    assert set(by_id["jd"].aliases) >= {"JD.com", "Jingdong", "JD Group"}
    assert set(by_id["pdd"].aliases) >= {"PDD Holdings", "PDD"}
    assert set(by_id["wechat"].aliases) == {"WeChat", "Weixin"}
    assert set(by_id["aws"].aliases) == {"AWS", "Amazon Web Services"}
    assert set(by_id["azure"].aliases) == {"Azure", "Microsoft Azure"}
    assert set(by_id["amazon"].aliases) >= {"Amazon", "Amazon.com"}
    assert by_id["jack-ma"].aliases == ("Jack Ma", "Ma Yun")
    assert by_id["jack-ma"].after_full_name == ("Ma",)
    assert by_id["eddie-wu"].after_full_name == ("Wu",)
    assert by_id["joe-tsai"].after_full_name == ("Tsai",)
    assert "Joseph Tsai" in by_id["joe-tsai"].aliases


def test_shipped_watchlist_tickers_and_native_names(shipped: Watchlist) -> None:
    by_id = shipped.by_id()
    assert {entity_id: set(by_id[entity_id].tickers) for entity_id in EXPECTED_TICKERS} == EXPECTED_TICKERS
    for entity_id, native in EXPECTED_NATIVE.items():
        assert native in by_id[entity_id].native_names, entity_id


def test_shipped_watchlist_exclusions(shipped: Watchlist) -> None:
    by_id = shipped.by_id()
    amazon_followers = {word for rule in by_id["amazon"].exclusions for word in rule.followed_by}
    assert {"river", "rainforest", "basin", "jungle", "tribe"} <= amazon_followers
    assert any("Ant" in rule.spellings for rule in by_id["ant-group"].exclusions)
    assert any("Yo-Yo" in rule.preceded_by for rule in by_id["jack-ma"].exclusions)


def test_spellings_list_every_way_an_entity_is_written(shipped: Watchlist) -> None:
    rows = [row for row in spellings(shipped) if row.entity_id == "alibaba"]
    assert rows[0] == Spelling("alibaba", "Alibaba", "name")
    kinds: dict[str, set[str]] = {}
    for row in rows:
        kinds.setdefault(row.kind, set()).add(row.text)
    assert kinds == {
        "name": {"Alibaba"},
        "alias": {"Alibaba Group", "Alibaba Group Holding", "Alibaba.com"},
        "ticker": {"BABA", "9988.HK"},
        "native": {"阿里巴巴", "阿里巴巴集团", "阿里"},
    }
    assert Spelling("jack-ma", "Ma", "short") in spellings(shipped)


def test_new_keys_load_with_their_values(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        entities:
          - id: acme
            name: Acme
            kind: company
            tickers: [ACME, 0123.HK]
            native_names: [艾克米]
            exclusions:
              - followed_by: [desert]
              - spellings: [艾克米]
                preceded_by: [老]
                followed_by: [山]
        """,
    )
    (entity,) = load_watchlist(path).entities
    assert entity.tickers == ("ACME", "0123.HK")
    assert entity.native_names == ("艾克米",)
    assert entity.exclusions == (
        Exclusion(followed_by=("desert",)),
        Exclusion(preceded_by=("老",), followed_by=("山",), spellings=("艾克米",)),
    )


def test_shipped_ids_are_unique_lower_case_slugs(shipped: Watchlist) -> None:
    ids = [entity.id for entity in shipped.entities]
    assert len(ids) == len(set(ids))
    assert all(entity_id == entity_id.lower() and " " not in entity_id for entity_id in ids)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_name_always_counts_as_an_alias_and_comes_first(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        entities:
          - id: acme
            name: Acme
            kind: company
            aliases: [Acme Corp, Acme]
        """,
    )
    (entity,) = load_watchlist(path).entities
    assert entity.aliases == ("Acme", "Acme Corp")


def test_name_defaults_to_the_first_alias(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        entities:
          - id: acme
            kind: company
            aliases: [Acme Corp, Acme]
        """,
    )
    (entity,) = load_watchlist(path).entities
    assert (entity.name, entity.aliases) == ("Acme Corp", ("Acme Corp", "Acme"))


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_watchlist(tmp_path / "nope.yaml")
    message = str(caught.value)
    assert message == f"watchlist file not found: {tmp_path / 'nope.yaml'}"


BAD_FILES = {
    "yaml_syntax_error_names_the_line": (
        """
        entities:
          - id: acme
            name: Acme
           - id: other
        """,
        "invalid YAML at line 5",
    ),
    "duplicate_id": (
        """
        entities:
          - {id: acme, name: Acme, kind: company}
          - {id: acme, name: Acme Two, kind: company}
        """,
        "entities[1]: duplicate id 'acme'",
    ),
    "unknown_kind": (
        """
        entities:
          - {id: acme, name: Acme, kind: firm}
        """,
        "entities[0] (id 'acme'): unknown kind 'firm' (one of: company, brand, person)",
    ),
    "parent_that_does_not_exist": (
        """
        entities:
          - {id: gizmo, name: Gizmo, kind: brand, parent: acme}
        """,
        "entities[0] (id 'gizmo'): parent 'acme' is not an id in this watchlist",
    ),
    "parent_that_is_not_a_company": (
        """
        entities:
          - {id: acme, name: Acme, kind: company}
          - {id: gizmo, name: Gizmo, kind: brand, parent: acme}
          - {id: gadget, name: Gadget, kind: brand, parent: gizmo}
        """,
        "entities[2] (id 'gadget'): parent 'gizmo' is a brand, but a parent must be a company",
    ),
    "empty_aliases_and_no_name": (
        """
        entities:
          - {id: acme, kind: company, aliases: []}
        """,
        "entities[0] (id 'acme'): no 'name' and no 'aliases': nothing to match",
    ),
    "unknown_entry_key": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, alias: [Acme Corp]}
        """,
        "entities[0] (id 'acme'): unknown key 'alias' (did you mean 'aliases'?",
    ),
    "unknown_top_level_key": (
        """
        entites:
          - {id: acme, name: Acme, kind: company}
        """,
        "unknown top-level key 'entites'",
    ),
    "key_given_twice": (
        """
        entities:
          - id: acme
            name: Acme
            kind: company
            aliases: [Acme Corp]
            aliases: [Acme Inc]
        """,
        "invalid YAML at line 7, column 5: duplicate key 'aliases'",
    ),
    "alias_that_yaml_reads_as_a_boolean": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, aliases: [No]}
        """,
        "'aliases' entry False is a boolean, not a string (quote it)",
    ),
    "id_that_is_not_a_slug": (
        """
        entities:
          - {id: Acme Corp, name: Acme, kind: company}
        """,
        "'id' must be a lower-case slug",
    ),
    "missing_id": (
        """
        entities:
          - {name: Acme, kind: company}
        """,
        "entities[0]: missing 'id'",
    ),
    "company_with_a_parent": (
        """
        entities:
          - {id: acme, name: Acme, kind: company}
          - {id: acme-sub, name: Acme Sub, kind: company, parent: acme}
        """,
        "a company cannot have a 'parent'",
    ),
    "alias_shared_by_two_entities": (
        """
        entities:
          - {id: acme, name: Acme, kind: company}
          - {id: acme-two, name: Acme Two, kind: company, aliases: [Acme]}
        """,
        "alias 'Acme' is given to both 'acme' and 'acme-two'",
    ),
    "short_form_that_is_someone_elses_full_alias": (
        """
        entities:
          - {id: ma-corp, name: Ma, kind: company}
          - {id: jack-ma, name: Jack Ma, kind: person, after_full_name: [Ma]}
        """,
        "'Ma' is an after_full_name alias of 'jack-ma' but a full alias of 'ma-corp'",
    ),
    "entities_not_a_list": (
        """
        entities:
          acme: {name: Acme, kind: company}
        """,
        "'entities' must be a list of entries, got a mapping",
    ),
    "empty_file": ("", "watchlist is empty"),
    "ticker_in_lower_case": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, tickers: [acme]}
        """,
        "ticker 'acme' is not a symbol like 'BABA', 'BABA.N' or '9988.HK'",
    ),
    "ticker_shared_by_two_entities": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, tickers: [0700.HK]}
          - {id: other, name: Other, kind: company, tickers: [700.HK]}
        """,
        "ticker '700.HK' is given to both 'acme' and 'other'",
    ),
    "native_name_in_ascii": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, native_names: [Acme Corp]}
        """,
        "native name 'Acme Corp' is plain ASCII; list it under 'aliases'",
    ),
    "native_name_shared": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, native_names: [艾克米]}
          - {id: other, name: Other, kind: company, native_names: [艾克米]}
        """,
        "alias '艾克米' is given to both 'acme' and 'other'",
    ),
    "exclusion_with_unknown_key": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, exclusions: [{followed: [desert]}]}
        """,
        "exclusions[0]: unknown key 'followed' (did you mean 'followed_by'?",
    ),
    "exclusion_without_context": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, exclusions: [{spellings: [Acme]}]}
        """,
        "exclusions[0]: needs 'preceded_by' or 'followed_by'",
    ),
    "exclusion_for_a_spelling_of_someone_else": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, exclusions: [{spellings: [Amazon], followed_by: [river]}]}
        """,
        "exclusions[0]: 'Amazon' is not a name, alias or native name of this entity",
    ),
    "exclusions_not_a_list": (
        """
        entities:
          - {id: acme, name: Acme, kind: company, exclusions: {followed_by: [river]}}
        """,
        "'exclusions' must be a list of rules, got a mapping",
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_watchlist_fails_with_one_line_naming_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_watchlist(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_unreadable_bytes_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(b"entities:\n  - id: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_watchlist(path)
