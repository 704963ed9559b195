"""One renderer per output format, behind one signature: (feed, site) -> bytes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..model import Feed, Format, Site
from .jsonfeed import render_json
from .xml import render_atom, render_rss, render_xml

Renderer = Callable[[Feed, Site], bytes]

RENDERERS: dict[Format, Renderer] = {
    Format.RSS: render_rss,
    Format.ATOM: render_atom,
    Format.JSON: render_json,
}


def render(feed: Feed, site: Site, fmt: Format) -> bytes:
    return RENDERERS[fmt](feed, site)


def render_formats(feed: Feed, site: Site, formats: Sequence[Format]) -> dict[Format, bytes]:
    """The document in each of ``formats``; RSS and Atom made together (see ``render_xml``)."""
    xml = [fmt for fmt in formats if fmt is not Format.JSON]
    made = render_xml(feed, site, xml) if xml else {}
    return {fmt: made[fmt] if fmt in made else render(feed, site, fmt) for fmt in formats}
