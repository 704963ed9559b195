"""JSON Feed 1.1 documents (https://jsonfeed.org/version/1.1)."""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from typing import Any

from ..model import Feed, Format, Record, Site
from .content import (
    archive_links,
    entry_html,
    feed_description,
    feed_icon,
    feed_title,
    image_type,
    rfc3339,
    self_url,
)

VERSION = "https://jsonfeed.org/version/1.1"
RELATED_DOC = "extensions/related.html"  # documents the "_related" extension


def _item(record: Record, related_about: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": record.url,
        "url": record.url,
        "title": record.title,
        "content_html": entry_html(record),
    }
    if record.excerpt:
        item["summary"] = record.excerpt  # plain text in JSON Feed
    if record.images:
        item["image"] = record.images[0].url
    item["date_published"] = rfc3339(record.published_at)
    item["date_modified"] = rfc3339(record.published_at)
    item["authors"] = [{"name": record.provider.name, "url": record.provider.url}]
    if record.topics:
        item["tags"] = list(record.topics)
    if record.images:
        item["attachments"] = [
            {"url": image.url, "mime_type": image_type(image.url), **({"title": image.title} if image.title else {})}
            for image in record.images
        ]
    if record.related:
        # Extensions must be objects whose keys start with "_" (JSON Feed 1.1,
        # "Extensions"); "about" points at the extension's documentation.
        item["_related"] = {
            "about": related_about,
            "items": [
                {
                    "url": link.url,
                    "title": link.title,
                    **({"date_published": rfc3339(link.published)} if link.published else {}),
                    **({"provider": {"name": link.provider.name, "url": link.provider.url}} if link.provider else {}),
                }
                for link in record.related
            ],
        }
    return item


def _encode(value: object) -> str:
    # Compact separators keep json's C encoder (indent= falls back to Python,
    # ten times slower); readers do not mind, and jq or a browser pretty-prints.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# A record is in several feeds (10k records: 1,909 of 8,117 items remembered, 68 us each:
# 3% of rendering, more where topics overlap).
@lru_cache(maxsize=4096)
def _item_json(record: Record, related_about: str) -> str:
    return _encode(_item(record, related_about))


def render_json(feed: Feed, site: Site) -> bytes:
    document: dict[str, Any] = {
        "version": VERSION,
        "title": feed_title(feed, site),
        "home_page_url": site.link,
        "feed_url": self_url(feed, site, Format.JSON),
        "description": feed_description(feed, site),
        "language": site.language,
        "authors": [{"name": site.title, "url": site.link}],
    }
    # JSON Feed 1.1: icon "should be square", for readers' timelines; favicon is small, for lists.
    icon = feed_icon(feed, site)
    if icon is not None:
        document["icon"] = icon
    if site.favicon is not None:
        document["favicon"] = site.favicon
    # JSON Feed 1.1: next_url pages back through older items (the archive).
    older = [href for rel, href in archive_links(feed, site, Format.JSON) if rel == "prev-archive"]
    if older:
        document["next_url"] = older[0]
    if site.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    # "items" comes last, so the document is the encoded rest with the items,
    # each encoded once per record, put before its closing brace.
    related_about = site.url(RELATED_DOC)
    items = ",".join(_item_json(record, related_about) for record in feed.entries)
    return f'{_encode(document)[:-1]},"items":[{items}]}}\n'.encode()


def related_doc_html(site: Site) -> bytes:
    """The page that ``_related.about`` points to, describing the extension."""
    lang = escape(site.language)
    page = f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>The _related JSON Feed extension</title></head>
<body>
<h1>The <code>_related</code> JSON Feed extension</h1>
<p>Items in the JSON Feeds of {escape(site.title)} may carry a <code>_related</code>
object listing other coverage of the same story. Readers that do not know it
ignore it, as JSON Feed 1.1 requires; the same links also appear in each
item's <code>content_html</code> under "Related coverage".</p>
<dl>
<dt><code>about</code></dt><dd>The URL of this page.</dd>
<dt><code>items</code></dt><dd>An array of objects, newest coverage first as published by the source:
<code>url</code> (string, required), <code>title</code> (string, required),
<code>date_published</code> (RFC 3339 string, optional) and
<code>provider</code> (object with <code>name</code> and <code>url</code>, optional).</dd>
</dl>
</body>
</html>
"""
    return page.encode("utf-8")
