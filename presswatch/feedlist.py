"""The user's feeds file: a YAML mapping with a `feeds:` list of `{url, name}` items."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from presswatch.errors import ConfigError

ALLOWED_KEYS = {"url", "name"}


@dataclass(frozen=True)
class FeedSource:
    """A feed the user listed: an absolute http(s) or file: URL and an optional display name."""

    url: str
    name: str | None = None


def load_feed_list(path: str | Path) -> list[FeedSource]:
    """Read and check a feeds file; relative paths in it are taken relative to the file itself."""
    file = Path(path).expanduser()
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"feeds file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read feeds file {file}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"feeds file {file} is not valid YAML{where}") from None
    if not isinstance(document, dict) or not isinstance(document.get("feeds"), list):
        raise ConfigError(f"feeds file {file} must be a mapping with a 'feeds:' list")
    sources: list[FeedSource] = []
    for number, item in enumerate(document["feeds"], start=1):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"].strip():
            raise ConfigError(f"feeds file {file}: item {number} needs a 'url:'")
        unknown = set(item) - ALLOWED_KEYS
        if unknown:
            raise ConfigError(f"feeds file {file}: item {number} has unknown key(s) {', '.join(sorted(unknown))}")
        name = item.get("name")
        sources.append(FeedSource(_absolute_feed_url(item["url"].strip(), file, number), str(name) if name else None))
    return list({source.url: source for source in sources}.values())


def _absolute_feed_url(url: str, file: Path, number: int) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return url
    if scheme == "file":
        return url
    if scheme and len(scheme) > 1:
        raise ConfigError(
            f"feeds file {file}: item {number} has unsupported scheme {scheme!r} (use http, https or a path)"
        )
    local = Path(url).expanduser()
    if not local.is_absolute():
        local = file.resolve().parent / local
    return local.resolve().as_uri()


def add_feed(path: str | Path, url: str, name: str | None = None) -> bool:
    """Append a feed to the feeds file (comments kept); False when it is already listed."""
    file = Path(path).expanduser()
    absolute = _absolute_feed_url(url, file, 0)
    if any(source.url == absolute for source in load_feed_list(file)):
        return False
    text = file.read_text(encoding="utf-8")
    entry = f"  - url: {url}\n" + (f"    name: {name}\n" if name else "")
    file.write_text(text + ("" if text.endswith("\n") else "\n") + entry, encoding="utf-8")
    return True


def remove_feed(path: str | Path, url: str) -> bool:
    """Remove a feed's item from the feeds file (comments kept); False when it was not listed."""
    file = Path(path).expanduser()
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    kept: list[str] = []
    skipping = removed = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("- "):
            item = stripped[2:].strip()
            skipping = item in (f"url: {url}", url, f"url: '{url}'", f'url: "{url}"')
            removed = removed or skipping
        elif skipping and (not line.startswith("    ") or not stripped):
            skipping = False
        if not skipping:
            kept.append(line)
    if removed:
        file.write_text("".join(kept), encoding="utf-8")
    return removed
