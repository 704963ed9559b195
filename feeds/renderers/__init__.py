"""One renderer per output format, behind one signature: (feed, site) -> bytes."""

from __future__ import annotations

from collections.abc import Callable

from ..model import Feed, Format, Site
from .jsonfeed import render_json
from .xml import render_atom, render_rss

Renderer = Callable[[Feed, Site], bytes]

RENDERERS: dict[Format, Renderer] = {
    Format.RSS: render_rss,
    Format.ATOM: render_atom,
    Format.JSON: render_json,
}


def render(feed: Feed, site: Site, fmt: Format) -> bytes:
    return RENDERERS[fmt](feed, site)
