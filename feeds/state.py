"""What one build leaves for the next besides the store's rows: a typed, frozen state that publish owns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .errors import ShrinkError
from .model import FeedKind, Site
from .selection import KnownFeed
from .store import Store, StoreDamaged
from .version import __version__

SHRINK_FLOOR = 10  # a build may always drop this many entries, whatever the share


@dataclass(frozen=True)
class BuildState:
    """The last build as the next one needs it."""

    settings: str = ""  # settings_key of the settings and feeds it published
    names: str = ""  # names_key of the names its entries showed
    feeds: int = 0  # how many feeds it published
    unfinished: tuple[str, ...] = ()  # files it staged that it may not have renamed: made again and announced
    cuts: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # feed folder -> (entries kept, of) in budget
    doomed: tuple[str, ...] = ()  # files no build makes any more that it may not have removed: removed next time

    @classmethod
    def load(cls, store: Store) -> BuildState:
        data = store.meta_json("state")
        if data is None:
            return cls()
        try:
            cuts = {folder: (int(kept), int(total)) for folder, (kept, total) in data["cuts"].items()}
            doomed = tuple(str(path) for path in data.get("doomed", ()))
            return cls(**{**data, "unfinished": tuple(data["unfinished"]), "cuts": cuts, "doomed": doomed})
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            raise StoreDamaged("build state") from e

    def save(self, store: Store) -> None:
        data = {
            **asdict(self),
            "unfinished": list(self.unfinished),
            "cuts": dict(self.cuts),
            "doomed": list(self.doomed),
        }
        store.set_meta_json("state", data)


def settings_key(site: Site, known: Sequence[KnownFeed]) -> str:
    """Everything but the records that every file depends on; when it changes, every document is drafted again.

    ``known`` are the feeds of the manifest as it is read back: a manifest changed by hand counts as new settings.
    """
    feeds = [(k.kind.name, k.group, k.slug, k.name) for k in known]
    return hashlib.blake2b(repr((__version__, site, feeds)).encode("utf-8"), digest_size=16).hexdigest()


def names_key(names: Mapping[tuple[FeedKind, str], str]) -> str:
    """Changes whenever a topic or provider changes the name it goes by in every feed."""
    named = sorted((kind.value, key, name) for (kind, key), name in names.items())
    return hashlib.blake2b(json.dumps(named).encode("utf-8"), digest_size=16).hexdigest()


def guard_shrink(source: object, last: int | None, visible: int, site: Site) -> None:
    """Refuse a build that would drop a large share of what the last one published (an unmounted share)."""
    if last is None:
        return
    dropped = last - visible
    if dropped > max(SHRINK_FLOOR, int(last * site.max_shrink)):
        raise ShrinkError(
            f"{source}: this build would publish {visible} entries, {dropped} fewer than the {last} of the last"
            f" build (more than max_shrink, {site.max_shrink:.0%}); nothing was written. Is the records folder"
            " mounted and complete? If the records were withdrawn on purpose, build with --allow-shrink"
        )
