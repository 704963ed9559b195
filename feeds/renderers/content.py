"""What every format says the same way: titles, descriptions, entry HTML, media types."""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..model import AnyDocument, Feed, FeedKind, Format, Image, Record, Site

# Shown in the HTML of each entry; readers that ignore rel="related" still show it.
RELATED_HEADING = "Related coverage"
STYLESHEET = PurePosixPath("feed.xsl")  # the XSLT every RSS and Atom file names; the pages module writes it
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def feed_title(feed: AnyDocument, site: Site) -> str:
    return site.title if feed.key.kind is FeedKind.ALL else f"{site.title}: {feed.name}"


def feed_description(feed: AnyDocument, site: Site) -> str:
    if feed.key.kind is FeedKind.TOPIC:
        return f"The newest stories about {feed.name}."
    if feed.key.kind is FeedKind.PROVIDER:
        return f"The newest stories from {feed.name}."
    return site.description or "The newest stories from every provider."


def feed_icon(feed: AnyDocument, site: Site) -> str | None:
    """The feed's square icon: its topic's or provider's when ``topics`` or ``providers`` names one, else the site's."""
    if feed.key.kind is FeedKind.ALL:
        return site.icon
    own = dict(site.topics if feed.key.kind is FeedKind.TOPIC else site.providers)
    return own.get(feed.group, site.icon)


def feed_id(feed: AnyDocument, site: Site) -> str:
    """A feed's permanent id: its folder's URL, which never changes once published."""
    return site.url(f"{feed.key.folder}/")


def self_url(feed: AnyDocument, site: Site, fmt: Format) -> str:
    return site.url(feed.path(fmt))


def archive_links(feed: Feed, site: Site, fmt: Format) -> list[tuple[str, str]]:
    """(rel, href) links between a feed and its archive documents (RFC 5005 §4).

    The feed links to its newest archive; an archive links to the feed
    ("current"), to the next older archive ("prev-archive", required unless
    it is the oldest) and to the next newer one ("next-archive").
    """
    if feed.page is None:
        return [("prev-archive", site.url(feed.path(fmt, feed.pages)))] if feed.pages else []
    links = [("current", site.url(feed.path(fmt, None)))]
    if feed.page > 1:
        links.append(("prev-archive", site.url(feed.path(fmt, feed.page - 1))))
    if feed.page < feed.pages:
        links.append(("next-archive", site.url(feed.path(fmt, feed.page + 1))))
    return links


# Each image is typed by every format, in every feed (10k records: 23,954 of 30,394 calls
# remembered, 4.7 us each: 2% of rendering).
@lru_cache(maxsize=8192)
def image_type(url: str) -> str:
    """The media type an image URL's file name implies (RSS requires one)."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    return guessed or "application/octet-stream"


def rfc3339(moment: datetime) -> str:
    """An aware time in UTC as RFC 3339 with a "Z" (JSON Feed, the manifest, HTML <time>)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def human_date(moment: datetime) -> str:
    """The day, month and year, as in "19 Oct 2026": English month names, whatever the locale."""
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def excerpt_html(record: Record) -> str | None:
    """The plain-text excerpt as HTML: escaped once, never interpreted."""
    return None if record.excerpt is None else _escaped_text(record.excerpt)


# An excerpt goes into a field of every format; a string's hash is kept (10k records: 20,587
# of 26,914 calls remembered, 7 us each: 3% of rendering).
@lru_cache(maxsize=4096)
def _escaped_text(text: str) -> str:
    return escape(text)


def size_attributes(image: Image) -> str:
    """` width="…" height="…"` for the sides an image states, for an <img> tag."""
    return "".join(f' {side}="{value}"' for side, value in (("width", image.width), ("height", image.height)) if value)


def related_items(record: Record) -> list[str]:
    """One <li> per related story: its linked title, then provider and date."""
    items = []
    for link in record.related:
        about = [link.provider.name] if link.provider else []
        if link.published:
            about.append(human_date(link.published))
        note = f" ({escape(', '.join(about))})" if about else ""
        items.append(f'<li><a href="{escape(link.url)}">{escape(link.title)}</a>{note}</li>')
    return items


# A record is in several feeds, each with an XML and a JSON body (10k records: 8,117 of 14,623
# calls remembered, 15 us each: 3% of rendering).
@lru_cache(maxsize=4096)
def entry_html(record: Record) -> str:
    """The entry's HTML body: first image, excerpt, source link, related coverage."""
    parts: list[str] = []
    if record.images:
        image = record.images[0]
        alt = escape(image.title or record.title)
        parts.append(f'<p><img src="{escape(image.url)}" alt="{alt}"{size_attributes(image)}></p>')
    if record.excerpt:
        parts.append(f"<p>{excerpt_html(record)}</p>")
    parts.append(f'<p><a href="{escape(record.url)}">Read the story at {escape(record.provider.name)}</a></p>')
    if record.related:
        parts.append(f"<h3>{RELATED_HEADING}</h3><ul>{''.join(related_items(record))}</ul>")
    return "\n".join(parts)
