"""Discovery files: an HTML index of every feed, a page per feed, an OPML list, an XSLT view.

Pure: the same feeds and site give the same bytes; no clock is read. Record text is
hostile: each piece is escaped once with html.escape, and only record URLs (checked
to be http(s) when read) go into href and src.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import PurePosixPath

from lxml import etree

from .model import AnyDocument, Feed, FeedKind, Format, Record, Site
from .renderers.content import (
    RELATED_HEADING,
    STYLESHEET,
    excerpt_html,
    feed_description,
    feed_title,
    human_date,
    related_items,
    rfc3339,
    self_url,
    size_attributes,
)
from .selection import newest_first

INDEX = PurePosixPath("index.html")
OPML = PurePosixPath("feeds.opml")
XSL = STYLESHEET
OPML_TYPE = "text/x-opml"
SECTIONS = ((FeedKind.ALL, "All stories"), (FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers"))
FORMAT_NAMES = {Format.RSS: "RSS", Format.ATOM: "Atom", Format.JSON: "JSON Feed"}
SUBSCRIBE_NOTE = "To subscribe, copy a feed link (RSS, Atom or JSON Feed) into your news reader."
XSL_NOTE = "This is a web feed. Copy its URL into your news reader to subscribe."

# Shared by the HTML pages and feed.xsl. No "<" or "&", so it is also valid XML text.
STYLE = """
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#505050;--bg:#fff;--card:#f5f6f8;--line:#d5d8dc;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--muted:#bbb;--bg:#111;--card:#1e1e1e;--line:#444;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:1.0625rem/1.55 system-ui,"Segoe UI",Roboto,sans-serif}
.wrap{max-width:60rem;margin:0 auto;padding-left:1.25rem;padding-right:1.25rem}
a{color:var(--link)} a:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.skip{position:absolute;left:-100rem}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
header{padding-top:1rem;padding-bottom:1rem;border-bottom:1px solid var(--line)}
h1{font-size:2rem;line-height:1.2;margin:.5rem 0}
h2{font-size:1.35rem;line-height:1.3;margin:2rem 0 .75rem}
h3{font-size:1.1rem;line-height:1.3;margin:0 0 .3rem}
.muted,time{color:var(--muted)} time{white-space:nowrap}
.note{background:var(--card);border-left:4px solid var(--link);padding:.6rem .9rem;margin:1rem 0 0}
.feeds{list-style:none;padding:0;margin:0;display:grid;gap:.75rem;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr))}
.feeds li,article{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.9rem 1.1rem}
.feeds p{margin:.2rem 0} .formats a{margin-right:.8rem;white-space:nowrap}
article{margin:1rem 0} article h2{margin:0 0 .3rem} article h3{margin-top:1rem;font-size:1rem}
img{display:block;max-width:100%;height:auto;max-height:20rem;object-fit:cover;border-radius:.35rem;margin:.6rem 0}
code{overflow-wrap:anywhere}
footer{margin-top:2rem;padding-top:.5rem;padding-bottom:2rem;border-top:1px solid var(--line);font-size:.95rem}
"""

PAGE = """<!DOCTYPE html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<meta name="description" content="{{description}}">
<link rel="canonical" href="{{canonical}}">
{{icon}}{{alternates}}
<style>{{style}}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="wrap">
{{nav}}<h1>{{heading}}</h1>
<p>{{description}}</p>
<p class="note">{{subscribe}}</p>
</header>
<main id="main" class="wrap">
{{main}}
</main>
<footer class="wrap">
<p>{{footer}}</p>
</footer>
</body>
</html>
"""

ALTERNATE = '<link rel="alternate" type="{{type}}" title="{{title}}" href="{{href}}">'
FORMAT_LINK = '<a href="{{href}}" type="{{type}}">{{name}}<span class="vh"> feed of {{feed}}</span></a>'
SECTION = """<section aria-labelledby="{{id}}">
<h2 id="{{id}}">{{heading}}</h2>
<ul class="feeds">
{{items}}
</ul>
</section>"""
FEED_ITEM = """<li>
<h3><a href="{{page}}">{{name}}</a></h3>
<p class="muted">{{count}}{{updated}}</p>
<p class="formats">{{formats}}</p>
</li>"""
ENTRY = """<article>
<h2><a href="{{url}}">{{title}}</a></h2>
<p class="muted">{{provider}} · {{date}}</p>
{{image}}{{excerpt}}{{related}}</article>"""

# XSLT 1.0, applied by the browser to an RSS or Atom file that names it in an
# xml-stylesheet processing instruction. Every value is output as text (no
# disable-output-escaping). Titles are plain text; the excerpts arrive HTML-escaped, so "unescape"
# decodes the five entities html.escape writes and the result is then
# re-escaped, showing the record's text exactly as written, markup included.
XSL_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>
  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="self" select="(/rss/channel/atom:link | /atom:feed/atom:link)[@rel = 'self']/@href"/>
  <xsl:template match="/">
    <html lang="{(/rss/channel/language | /atom:feed/@xml:lang)[1]}">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (web feed)</title>
        <style>{{style}}</style>
      </head>
      <body>
        <header class="wrap">
          <nav aria-label="Site"><a href="{{index}}">All feeds</a></nav>
          <h1><xsl:value-of select="$title"/></h1>
          <p><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
          <p class="note">{{note}}<br/><code><xsl:value-of select="$self"/></code></p>
        </header>
        <main id="main" class="wrap">
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
        </main>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="item | atom:entry">
    <xsl:variable name="href" select="link | atom:link[not(@rel) or @rel = 'alternate']/@href"/>
    <article>
      <h2>
        <xsl:variable name="text" select="string(title | atom:title)"/><!-- plain text in both formats -->
        <xsl:choose>
          <xsl:when test="starts-with($href, 'https://') or starts-with($href, 'http://')">
            <a href="{$href}"><xsl:value-of select="$text"/></a>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
        </xsl:choose>
      </h2>
      <p class="muted">
        <xsl:value-of select="dc:creator | atom:author/atom:name"/>
        <xsl:text> · </xsl:text>
        <xsl:value-of select="substring(pubDate, 1, 16)"/>
        <xsl:value-of select="substring(atom:published | atom:updated[not(../atom:published)], 1, 10)"/>
      </p>
      <p>
        <xsl:call-template name="unescape">
          <xsl:with-param name="s" select="description | atom:summary"/>
          <xsl:with-param name="html" select="boolean(description) or atom:summary/@type = 'html'"/>
        </xsl:call-template>
      </p>
    </article>
  </xsl:template>
  <xsl:template name="unescape">
    <xsl:param name="s"/>
    <xsl:param name="html" select="true()"/>
    <xsl:variable name="rest" select="substring-after($s, '&amp;')"/>
    <xsl:variable name="name" select="substring-before($rest, ';')"/>
    <xsl:choose>
      <xsl:when test="not($html) or not(contains($s, '&amp;'))"><xsl:value-of select="$s"/></xsl:when>
      <xsl:otherwise>
        <xsl:variable name="char">
          <xsl:choose>
            <xsl:when test="$name = 'lt'">&lt;</xsl:when>
            <xsl:when test="$name = 'gt'">&gt;</xsl:when>
            <xsl:when test="$name = 'amp'">&amp;</xsl:when>
            <xsl:when test="$name = 'quot'">"</xsl:when>
            <xsl:when test="$name = '#x27' or $name = '#39'">'</xsl:when>
          </xsl:choose>
        </xsl:variable>
        <xsl:value-of select="concat(substring-before($s, '&amp;'), $char, substring('&amp;', 1, not(string($char))))"/>
        <xsl:call-template name="unescape"><!-- after the entity, or after a lone "&" -->
          <xsl:with-param name="s" select="substring($rest, 1 + (string-length($name) + 1) * boolean(string($char)))"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
"""

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def fill(template: str, **values: str) -> str:
    """Put already-escaped values into a template in one pass (a value is never rescanned)."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def stylesheet(site: Site) -> bytes:
    """The XSLT that shows an RSS or Atom feed opened in a browser as a page."""
    return fill(XSL_TEMPLATE, style=STYLE, index=escape(site.url(INDEX)), note=XSL_NOTE).encode("utf-8")


def _stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def _when(moment: datetime) -> str:
    return f'<time datetime="{rfc3339(moment)}">{human_date(moment.astimezone(UTC))}</time>'


def _alternates(feed: AnyDocument, site: Site) -> list[str]:
    title = feed_title(feed, site)
    return [
        _alternate(fmt.media_type, f"{title} ({name})", self_url(feed, site, fmt)) for fmt, name in FORMAT_NAMES.items()
    ]


def _alternate(media_type: str, title: str, href: str) -> str:
    return fill(ALTERNATE, type=media_type, title=escape(title), href=escape(href))


def _formats(feed: AnyDocument, site: Site) -> str:
    return " ".join(
        fill(
            FORMAT_LINK, href=escape(self_url(feed, site, fmt)), type=fmt.media_type, name=name, feed=escape(feed.name)
        )
        for fmt, name in FORMAT_NAMES.items()
    )


def _icon_link(site: Site) -> str:
    """The browser tab's icon: the favicon, or else the site's icon."""
    href = site.favicon or site.icon
    return "" if href is None else f'<link rel="icon" href="{escape(href)}">\n'


def _page(
    site: Site, path: PurePosixPath, heading: str, description: str, alternates: Iterable[str], **parts: str
) -> str:
    return fill(
        PAGE,
        lang=escape(site.language),
        title=escape(heading if path == INDEX else f"{site.title}: {heading}"),
        description=escape(description),
        canonical=escape(site.url(path)),
        icon=_icon_link(site),
        alternates="\n".join(alternates),
        style=STYLE,
        heading=escape(heading),
        **parts,
    )


def index_html(feeds: Iterable[AnyDocument], site: Site) -> str:
    feeds = tuple(feeds)
    sections = []
    for kind, heading in SECTIONS:
        if items := [_feed_item(feed, site) for feed in feeds if feed.key.kind is kind]:
            sections.append(fill(SECTION, id=kind.value, heading=heading, items="\n".join(items)))
    opml_link = f'<a href="{escape(site.url(OPML))}" type="{OPML_TYPE}">feeds.opml</a>'
    everything = next((f for f in feeds if f.key.kind is FeedKind.ALL), None)
    alternates = [] if everything is None else _alternates(everything, site)
    alternates.append(_alternate(OPML_TYPE, f"{site.title} (OPML)", site.url(OPML)))
    return _page(
        site,
        INDEX,
        site.title,
        site.description or "The newest stories from every provider.",
        alternates,
        nav="",
        subscribe=f"{SUBSCRIBE_NOTE} To follow every feed at once, import {opml_link} (OPML) into your reader.",
        main="\n".join(sections),
        footer=f"Every feed in one list: {opml_link}.",
    )


def _feed_item(feed: AnyDocument, site: Site) -> str:
    updated = "" if feed.updated is None else f" · updated {_when(feed.updated)}"
    page, name, count = escape(str(feed.key.folder / INDEX)), escape(feed.name), _stories(len(feed.entries))
    return fill(FEED_ITEM, page=page, name=name, count=count, updated=updated, formats=_formats(feed, site))


def feed_html(feed: Feed, site: Site) -> str:
    path = feed.key.folder / INDEX
    back = "../" * len(feed.key.folder.parts) + str(INDEX)
    entries = [entry_article(record) for record in sorted(feed.entries, key=newest_first)]
    cut = f" · The newest {len(entries)} of {feed.total}." if feed.total > len(entries) else ""
    return _page(
        site,
        path,
        "All stories" if feed.key.kind is FeedKind.ALL else feed.name,
        feed_description(feed, site),
        _alternates(feed, site),
        nav=f'<nav aria-label="Site"><a href="{back}">All feeds</a></nav>\n',
        subscribe=f'<span class="formats">Subscribe: {_formats(feed, site)}</span><br>{SUBSCRIBE_NOTE}',
        main="\n".join(entries) or "<p>No stories at the moment.</p>",
        footer=f'<a href="{back}">All feeds</a>{cut}',
    )


def entry_article(record: Record) -> str:
    image = ""
    if record.images:
        first = record.images[0]
        # The title is right above, so an image without a title of its own is decorative.
        alt = escape(first.title or "")
        image = f'<img src="{escape(first.url)}" alt="{alt}"{size_attributes(first)} loading="lazy">\n'
    related = ""
    if record.related:
        related = f"<h3>{RELATED_HEADING}</h3>\n<ul>\n" + "\n".join(related_items(record)) + "\n</ul>\n"
    return fill(
        ENTRY,
        url=escape(record.url),
        title=escape(record.title),
        provider=escape(record.provider.name),
        date=_when(record.published_at),
        image=image,
        excerpt=f"<p>{excerpt_html(record)}</p>\n" if record.excerpt else "",
        related=related,
    )


def opml(feeds: Iterable[AnyDocument], site: Site) -> bytes:
    """OPML 2.0: every feed's RSS URL, grouped as on the index page."""
    feeds = tuple(feeds)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = site.title
    times = [feed.updated for feed in feeds if feed.updated is not None]
    if times:  # the newest entry's time, never the clock
        etree.SubElement(head, "dateModified").text = format_datetime(max(times).astimezone(UTC), usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for kind, heading in SECTIONS:
        members = [feed for feed in feeds if feed.key.kind is kind]
        if not members:
            continue
        group = etree.SubElement(body, "outline", text=heading, title=heading)
        for feed in members:
            title = feed_title(feed, site)
            outline = etree.SubElement(group, "outline", type="rss", text=title, title=title)
            outline.set("xmlUrl", self_url(feed, site, Format.RSS))
            outline.set("htmlUrl", site.url(feed.key.folder / INDEX))
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"
