"""Load and validate the watchlist file (companies, brands, people) into a frozen `Watchlist`.

Every problem is reported as one `ConfigError` line naming the file, the entry and the key, so a
user can fix the YAML without reading a traceback. Unknown keys are errors: a typo such as
`alias:` for `aliases:` must not silently tag nothing. The format is described in docs/tagging.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from extractors.filecache import cached_per_version
from extractors.models import Exclusion, Spelling, WatchedEntity, Watchlist
from presswatch.errors import ConfigError

KINDS = ("company", "brand", "person")

# Adding a key means adding it here, to WatchedEntity and to _parse_entity; anything else is rejected.
ENTRY_KEYS = ("id", "name", "kind", "parent", "aliases", "after_full_name", "tickers", "native_names", "exclusions")
TOP_LEVEL_KEYS = ("entities",)
EXCLUSION_KEYS = ("preceded_by", "followed_by", "spellings")

_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A US-style symbol (BABA, optionally with a venue suffix: BABA.N) or an exchange number with its
# market suffix (9988.HK, 0700.HK, 600519.SS).
_TICKER_RE = re.compile(r"[A-Z][A-Z0-9]{0,5}(?:\.[A-Z]{1,2})?|[0-9]{1,6}\.[A-Z]{2}")


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Build a mapping, failing on a repeated key with the line of the repeat."""
    loader.flatten_mapping(node)
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def load_watchlist(path: str | Path) -> Watchlist:
    """Read a watchlist YAML file and return it validated, raising ConfigError on any problem."""
    path = Path(path)
    data = _read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: watchlist is empty; expected a mapping with an 'entities' list")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with an 'entities' list at the top, got {_type_name(data)}")
    unknown = [key for key in data if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {unknown[0]!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    raw_entities = data.get("entities")
    if not isinstance(raw_entities, list):
        raise ConfigError(f"{path}: 'entities' must be a list of entries, got {_type_name(raw_entities)}")
    entities = [_parse_entity(path, index, raw) for index, raw in enumerate(raw_entities)]
    _check_references(path, entities)
    _check_alias_clashes(path, entities)
    return Watchlist(entities=tuple(entities))


def cached_watchlist(path: str | Path) -> Watchlist:
    """`load_watchlist`, parsed once per process while the file stays the same (inode, size, mtime).

    A pass reads the watchlist in every batch, thread and worker process: parsing it each time cost ~30 ms.
    """
    return _cached_watchlist(path)


def _read_yaml(path: Path) -> Any:
    """Parse the file, turning I/O, encoding and YAML errors into one-line ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"watchlist file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read watchlist {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{path}: invalid YAML at {where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None


def _parse_entity(path: Path, index: int, raw: Any) -> WatchedEntity:
    """Validate one entry's keys and value types and build the entity (references checked later)."""
    where = f"{path}: entities[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id, name, kind, got {_type_name(raw)}")
    entity_id = raw.get("id")
    if entity_id is not None:
        where = f"{where} (id {entity_id!r})"
    unknown = [key for key in raw if key not in ENTRY_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), ENTRY_KEYS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} ({hint}allowed: {', '.join(ENTRY_KEYS)})")

    if entity_id is None:
        raise ConfigError(f"{where}: missing 'id'")
    if not isinstance(entity_id, str) or not _ID_RE.fullmatch(entity_id):
        raise ConfigError(
            f"{where}: 'id' must be a lower-case slug of letters, digits and hyphens, like 'alibaba-cloud'"
        )

    kind = raw.get("kind")
    if kind is None:
        raise ConfigError(f"{where}: missing 'kind' (one of: {', '.join(KINDS)})")
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown kind {kind!r} (one of: {', '.join(KINDS)})")

    aliases = _string_list(where, "aliases", raw.get("aliases"))
    after_full_name = _string_list(where, "after_full_name", raw.get("after_full_name"))
    tickers = _tickers(where, raw.get("tickers"))
    native_names = _string_list(where, "native_names", raw.get("native_names"))
    ascii_native = [native for native in native_names if native.isascii()]
    if ascii_native:
        raise ConfigError(f"{where}: native name {ascii_native[0]!r} is plain ASCII; list it under 'aliases'")
    name = raw.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        if not aliases:
            raise ConfigError(f"{where}: no 'name' and no 'aliases': nothing to match")
        name = aliases[0]
    elif not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be a string, got {_type_name(name)} (quote it)")
    name = name.strip()

    parent = raw.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise ConfigError(f"{where}: 'parent' must be an entity id, got {_type_name(parent)}")
    if parent is not None and kind == "company":
        raise ConfigError(f"{where}: a company cannot have a 'parent'; list a subsidiary as kind: brand")

    # The name always counts as an alias; keep file order and drop repeats.
    all_aliases = tuple(dict.fromkeys([name, *aliases]))
    both = [alias for alias in after_full_name if alias in all_aliases]
    if both:
        raise ConfigError(f"{where}: {both[0]!r} is both a full alias and an after_full_name alias; keep one")
    spellings = {*all_aliases, *after_full_name, *native_names}
    exclusions = _exclusions(where, raw.get("exclusions"), spellings)
    return WatchedEntity(
        id=entity_id,
        name=name,
        kind=kind,
        parent=parent,
        aliases=all_aliases,
        after_full_name=tuple(dict.fromkeys(after_full_name)),
        tickers=tuple(dict.fromkeys(tickers)),
        native_names=tuple(dict.fromkeys(native_names)),
        exclusions=exclusions,
    )


def _tickers(where: str, value: Any) -> list[str]:
    """Ticker symbols as written in the file, checked against the symbol shapes the tagger knows."""
    tickers = _string_list(where, "tickers", value)
    for ticker in tickers:
        if not _TICKER_RE.fullmatch(ticker):
            raise ConfigError(
                f"{where}: ticker {ticker!r} is not a symbol like 'BABA', 'BABA.N' or '9988.HK' (capitals, digits)"
            )
    return tickers


def _exclusions(where: str, value: Any, spellings: set[str]) -> tuple[Exclusion, ...]:
    """Exclusion rules: mappings of preceded_by / followed_by word lists, optionally limited to some spellings."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'exclusions' must be a list of rules, got {_type_name(value)}")
    rules = []
    for index, raw in enumerate(value):
        rule_where = f"{where}: exclusions[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{rule_where}: expected a mapping with preceded_by and/or followed_by")
        unknown = [key for key in raw if key not in EXCLUSION_KEYS]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), EXCLUSION_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{rule_where}: unknown key {unknown[0]!r} ({hint}allowed: {', '.join(EXCLUSION_KEYS)})")
        preceded_by = _string_list(rule_where, "preceded_by", raw.get("preceded_by"))
        followed_by = _string_list(rule_where, "followed_by", raw.get("followed_by"))
        if not preceded_by and not followed_by:
            raise ConfigError(f"{rule_where}: needs 'preceded_by' or 'followed_by' (or both)")
        limited_to = _string_list(rule_where, "spellings", raw.get("spellings"))
        strangers = [spelling for spelling in limited_to if spelling not in spellings]
        if strangers:
            raise ConfigError(f"{rule_where}: {strangers[0]!r} is not a name, alias or native name of this entity")
        rules.append(
            Exclusion(preceded_by=tuple(preceded_by), followed_by=tuple(followed_by), spellings=tuple(limited_to))
        )
    return tuple(rules)


def _string_list(where: str, key: str, value: Any) -> list[str]:
    """A list of non-empty strings (stripped), or [] when the key is absent or null."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key!r} must be a list of strings, got {_type_name(value)}")
    result = []
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: {key!r} entry {item!r} is {_type_name(item)}, not a string (quote it)")
        if not item.strip():
            raise ConfigError(f"{where}: {key!r} contains an empty string")
        result.append(item.strip())
    return result


def _check_references(path: Path, entities: list[WatchedEntity]) -> None:
    """Ids are unique; every parent exists and is a company."""
    by_id: dict[str, WatchedEntity] = {}
    for index, entity in enumerate(entities):
        if entity.id in by_id:
            raise ConfigError(f"{path}: entities[{index}]: duplicate id {entity.id!r}")
        by_id[entity.id] = entity
    for index, entity in enumerate(entities):
        if entity.parent is None:
            continue
        where = f"{path}: entities[{index}] (id {entity.id!r})"
        parent = by_id.get(entity.parent)
        if parent is None:
            raise ConfigError(f"{where}: parent {entity.parent!r} is not an id in this watchlist")
        if parent.kind != "company":
            raise ConfigError(f"{where}: parent {entity.parent!r} is a {parent.kind}, but a parent must be a company")


def _check_alias_clashes(path: Path, entities: list[WatchedEntity]) -> None:
    """One spelling names one entity: a full alias may not be shared, nor be another's short form.

    Short (after_full_name) forms may be shared between people ("Ma" for Jack Ma and Pony Ma):
    the tagger gives a shared one to whichever of them was named most recently.
    """
    full_owner: dict[str, str] = {}
    for entity in entities:
        for alias in (*entity.aliases, *entity.native_names):
            owner = full_owner.setdefault(alias, entity.id)
            if owner != entity.id:
                raise ConfigError(f"{path}: alias {alias!r} is given to both {owner!r} and {entity.id!r}")
    ticker_owner: dict[str, str] = {}
    for entity in entities:
        for ticker in entity.tickers:
            owner = ticker_owner.setdefault(_ticker_key(ticker), entity.id)
            if owner != entity.id:
                raise ConfigError(f"{path}: ticker {ticker!r} is given to both {owner!r} and {entity.id!r}")
    for entity in entities:
        for alias in entity.after_full_name:
            full_alias_of = full_owner.get(alias)
            if full_alias_of is not None:
                raise ConfigError(
                    f"{path}: {alias!r} is an after_full_name alias of {entity.id!r} "
                    f"but a full alias of {full_alias_of!r}"
                )


def _ticker_key(ticker: str) -> str:
    """A ticker without leading zeros, so that '0700.HK' and '700.HK' are seen as the same symbol."""
    return ticker.lstrip("0") or ticker


def spellings(watchlist: Watchlist) -> list[Spelling]:
    """Every way each entity is written (name, alias, short, ticker, native), in file order, for the aliases table."""
    rows: list[Spelling] = []
    for entity in watchlist.entities:
        rows.append(Spelling(entity.id, entity.name, "name"))
        rows.extend(Spelling(entity.id, alias, "alias") for alias in entity.aliases if alias != entity.name)
        rows.extend(Spelling(entity.id, short, "short") for short in entity.after_full_name)
        rows.extend(Spelling(entity.id, ticker, "ticker") for ticker in entity.tickers)
        rows.extend(Spelling(entity.id, native, "native") for native in entity.native_names)
    return rows


def _type_name(value: Any) -> str:
    """A YAML-flavoured name for a value's type, for error messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


_cached_watchlist = cached_per_version(load_watchlist)
