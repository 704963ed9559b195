"""Site settings from ``feeds.yaml``; every key is optional, unknown keys are errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from .clean import clean_text, clean_url
from .errors import ConfigError
from .frontmatter import describe_yaml_error
from .model import Site
from .selection import topic_key

KEYS = tuple(f.name for f in fields(Site))
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")  # an RFC 5646 language tag
_COLOR = re.compile(r"#?([0-9A-Fa-f]{6})")


def load_site(path: Path | None, **overrides: Any) -> Site:
    """Settings from ``path`` (if any), then the non-None ``overrides``, checked."""
    values: dict[str, Any] = {}
    where = "feeds.yaml"
    if path is not None:
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except OSError as e:
            raise ConfigError(where, f"cannot read: {e.strerror or e}") from e
        except yaml.MarkedYAMLError as e:
            message, line = describe_yaml_error(e)
            raise ConfigError(where if line is None else f"{where}:{line}", f"not valid YAML: {message}") from e
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(where, f"not valid YAML or not UTF-8: {type(e).__name__}") from e
        if data is not None and not isinstance(data, dict):
            raise ConfigError(where, "must be a YAML mapping of settings")
        unknown = sorted(str(key) for key in (data or {}) if key not in KEYS)
        if unknown:
            raise ConfigError(where, f"unknown setting {', '.join(unknown)}; known settings are {', '.join(KEYS)}")
        values.update(data or {})
    values.update({key: value for key, value in overrides.items() if value is not None})
    return check_site(replace(Site(), **values), where)


def check_site(site: Site, where: str = "feeds.yaml") -> Site:
    """Validate and normalise every setting, naming the first bad one."""
    for key in ("title", "description"):
        value = getattr(site, key)
        if value is not None and (not isinstance(value, str) or not clean_text(value, single_line=True)):
            raise ConfigError(where, f"{key}: must be non-empty text, found {value!r}")
    base_url = _url(site.base_url, "base_url", where)
    site = replace(
        site,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        home_url=None if site.home_url is None else _url(site.home_url, "home_url", where),
    )
    if not isinstance(site.language, str) or not _LANGUAGE.fullmatch(site.language):
        raise ConfigError(where, f"language: must be a language tag such as 'en' or 'en-GB', found {site.language!r}")
    for key in ("max_items", "archive_page_size"):
        value = getattr(site, key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise ConfigError(where, f"{key}: must be a whole number from 1 to 10000, found {value!r}")
    refresh = site.refresh_minutes
    if isinstance(refresh, bool) or not isinstance(refresh, int) or not 1 <= refresh <= 1440:
        raise ConfigError(where, f"refresh_minutes: must be a whole number from 1 to 1440, found {refresh!r}")
    budget = site.max_feed_bytes
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 4096):
        raise ConfigError(where, f"max_feed_bytes: must be a whole number of bytes, at least 4096, found {budget!r}")
    shrink = site.max_shrink
    if isinstance(shrink, bool) or not isinstance(shrink, int | float) or not 0 <= shrink <= 1:
        raise ConfigError(where, f"max_shrink: must be a share from 0 to 1 (0.5: half), found {shrink!r}")
    site = replace(site, max_shrink=float(shrink))
    for key in ("archives", "deploy_gzip"):
        if not isinstance(getattr(site, key), bool):
            raise ConfigError(where, f"{key}: must be true or false, found {getattr(site, key)!r}")
    hubs = site.hubs
    if isinstance(hubs, str) or not isinstance(hubs, list | tuple):
        raise ConfigError(where, f"hubs: must be a list of WebSub hub URLs, found {hubs!r}")
    site = replace(site, hubs=tuple(_url(hub, "hubs", where) for hub in hubs))
    site = _check_images(site, where)
    return replace(
        site,
        title=clean_text(site.title, single_line=True),
        description=None if site.description is None else clean_text(site.description, single_line=True),
    )


def _check_images(site: Site, where: str) -> Site:
    """The icons, logo and accent colour: absolute URLs, a size RSS allows, six hex digits."""
    icon, logo, favicon = (
        None if getattr(site, key) is None else _url(getattr(site, key), key, where)
        for key in ("icon", "logo", "favicon")
    )
    size = site.icon_size
    # RSS 2.0 <image>: "Maximum value for width is 144"; the icon is square, so its height (at most 400) follows.
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 144):
        raise ConfigError(where, f"icon_size: must be a whole number of pixels from 1 to 144, found {size!r}")
    if size is not None and icon is None:
        raise ConfigError(where, "icon_size: is the size of the icon, and no icon is set")
    color = site.accent_color
    match = _COLOR.fullmatch(color) if isinstance(color, str) else None
    if color is not None and match is None:
        raise ConfigError(where, f"accent_color: must be six hex digits such as 'FF6600', found {color!r}")
    return replace(
        site,
        icon=icon,
        logo=logo,
        favicon=favicon,
        accent_color=None if match is None else match.group(1).upper(),
        providers=_icons(site.providers, "providers", where, _provider_key),
        topics=_icons(site.topics, "topics", where, topic_key),
    )


def _provider_key(domain: str) -> str:
    return domain.strip().lower().removeprefix("www.")


def _icons(value: object, key: str, where: str, normalise: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    """A ``{name: icon URL}`` mapping (or the pairs it was read into) as sorted (key, URL) pairs."""
    # A mapping from feeds.yaml, or the pairs an earlier check made of one (a Site is checked again on overrides).
    if isinstance(value, dict):
        pairs: Iterable[object] = value.items()
    elif isinstance(value, tuple) and all(isinstance(pair, tuple) for pair in value):
        pairs = value
    else:
        raise ConfigError(where, f"{key}: must be a mapping of names to icon URLs, found {value!r}")
    icons: dict[str, str] = {}
    for pair in pairs:
        name, url = pair if isinstance(pair, tuple) and len(pair) == 2 else (pair, None)
        if not isinstance(name, str) or not normalise(name):
            raise ConfigError(
                where, f"{key}: {name!r} is not a name; write a mapping such as 'name: https://…/icon.png'"
            )
        icons[normalise(name)] = _url(url, f"{key}: {name}", where)
    return tuple(sorted(icons.items()))


def _url(value: object, key: str, where: str) -> str:
    url = clean_url(value) if isinstance(value, str) else None
    if url is None:
        raise ConfigError(where, f"{key}: must be an absolute http(s) URL, found {value!r}")
    return url
