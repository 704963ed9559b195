"""Each renderer on small feeds, including every feedgen default that would break a feed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree

from feeds import __version__
from feeds.model import Feed, FeedKey, FeedKind, Format, Image, Provider, Record, RelatedLink, Site
from feeds.renderers import render, render_formats

from .conftest import SITE, documents_of, make_record

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
T0 = datetime(2025, 3, 14, 8, 15, tzinfo=UTC)
IMAGES = (
    Image("https://img.example.com/one.jpg", 1024, 768, "First"),
    Image("https://img.example.com/two.png", 640, 480, "Second"),
    Image("https://img.example.com/three.webp"),
)
RELATED = (
    RelatedLink("https://other.example.org/a", "Coverage A"),
    RelatedLink("https://third.example.net/b", "Coverage B", published=T0),
)


def all_feed(*records: Record) -> Feed:
    """The feed of all records that a build publishes for these."""
    return documents_of(records, SITE, T0 + timedelta(days=365))[0]


@pytest.fixture
def feed() -> Feed:
    return all_feed(
        make_record(url="https://news.example.com/old", published_at=T0, images=IMAGES, related=RELATED),
        make_record(url="https://news.example.com/new", published_at=T0 + timedelta(hours=5), title="Newer"),
    )


def rss(feed: Feed) -> etree._Element:
    return etree.fromstring(render(feed, SITE, Format.RSS))


def atom(feed: Feed) -> etree._Element:
    return etree.fromstring(render(feed, SITE, Format.ATOM))


# ---- feedgen traps


def test_entries_are_newest_first_not_prepended(feed: Feed) -> None:
    assert [e.text for e in rss(feed).findall("channel/item/guid")] == [
        "https://news.example.com/new",
        "https://news.example.com/old",
    ]
    assert [e.text for e in atom(feed).findall("atom:entry/atom:id", NS)] == [
        "https://news.example.com/new",
        "https://news.example.com/old",
    ]


def test_updated_times_come_from_the_newest_entry_not_the_clock(feed: Feed) -> None:
    newest = T0 + timedelta(hours=5)
    assert rss(feed).findtext("channel/lastBuildDate") == "Fri, 14 Mar 2025 13:15:00 +0000"
    assert atom(feed).findtext("atom:updated", namespaces=NS) == newest.isoformat()
    assert [e.text for e in atom(feed).findall("atom:entry/atom:updated", NS)] == [
        newest.isoformat(),
        T0.isoformat(),
    ]


def test_rss_channel_link_is_the_home_page_not_the_last_link_added(feed: Feed) -> None:
    channel = rss(feed).find("channel")
    assert channel.findtext("link") == SITE.base_url
    self_link = channel.find("atom:link[@rel='self']", NS)
    assert self_link.get("href") == "https://feeds.example.org/all/rss.xml"
    assert self_link.get("type") == "application/rss+xml"


def test_generator_is_ours(feed: Feed) -> None:
    assert rss(feed).findtext("channel/generator") == "feeds"
    generator = atom(feed).find("atom:generator", NS)
    assert (generator.text, generator.get("version")) == ("feeds", __version__)
    assert b"feedgen" not in render(feed, SITE, Format.ATOM) + render(feed, SITE, Format.RSS)


def test_rss_enclosure_is_the_first_image_with_a_numeric_length(feed: Feed) -> None:
    item = rss(feed).findall("channel/item")[1]
    enclosures = item.findall("enclosure")
    assert len(enclosures) == 1
    assert dict(enclosures[0].attrib) == {"url": IMAGES[0].url, "length": "0", "type": "image/jpeg"}


def test_media_content_for_every_image_without_one_child_groups(feed: Feed) -> None:
    item = rss(feed).findall("channel/item")[1]
    assert item.find("media:group", NS) is None
    contents = item.findall("media:content", NS)
    assert [c.get("url") for c in contents] == [i.url for i in IMAGES]
    assert [(c.get("width"), c.get("height")) for c in contents] == [("1024", "768"), ("640", "480"), (None, None)]
    assert [c.get("type") for c in contents] == ["image/jpeg", "image/png", "image/webp"]
    assert [c.findtext("media:title", namespaces=NS) for c in contents] == ["First", "Second", None]


def test_atom_entry_links_keep_their_relations(feed: Feed) -> None:
    entry = atom(feed).findall("atom:entry", NS)[1]
    links = [(link.get("rel"), link.get("href"), link.get("type")) for link in entry.findall("atom:link", NS)]
    assert links == [
        (None, "https://news.example.com/old", None),  # rel defaults to alternate (RFC 4287 §4.2.7.2)
        ("enclosure", IMAGES[0].url, "image/jpeg"),
        ("enclosure", IMAGES[1].url, "image/png"),
        ("enclosure", IMAGES[2].url, "image/webp"),
        ("related", RELATED[0].url, None),
        ("related", RELATED[1].url, None),
    ]
    assert b'length="None"' not in render(feed, SITE, Format.ATOM)


def test_related_links_in_rss_items(feed: Feed) -> None:
    item = rss(feed).findall("channel/item")[1]
    related = item.findall("atom:link[@rel='related']", NS)
    assert [(r.get("href"), r.get("title")) for r in related] == [(r.url, r.title) for r in RELATED]


def test_every_atom_entry_has_an_author_and_a_source(feed: Feed) -> None:
    for entry in atom(feed).findall("atom:entry", NS):
        assert entry.findtext("atom:author/atom:name", namespaces=NS) == "Daily Circuit"
        assert entry.findtext("atom:source/atom:id", namespaces=NS) == "https://news.example.com/"
        assert entry.findtext("atom:source/atom:updated", namespaces=NS)


def test_rss_names_the_provider_in_source_and_dc_creator(feed: Feed) -> None:
    item = rss(feed).find("channel/item")
    assert item.find("source").get("url") == "https://news.example.com/"
    assert item.findtext("source") == "Daily Circuit"
    assert item.findtext("dc:creator", namespaces=NS) == "Daily Circuit"
    assert item.find("author") is None  # RSS <author> must be an e-mail address


def test_guid_is_a_permalink(feed: Feed) -> None:
    guid = rss(feed).find("channel/item/guid")
    assert guid.get("isPermaLink") == "true"


# ---- text: escaped exactly once for the field it lands in

HOSTILE = 'Breaking: <script>alert("x")</script> & AT&T “quotes”'


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
def test_markup_in_an_excerpt_stays_text_in_every_html_field(fmt: Format) -> None:
    data = render(all_feed(make_record(excerpt=HOSTILE, title=HOSTILE)), SITE, fmt)
    parsed = feedparser.parse(data)
    entry = parsed.entries[0]
    assert not parsed.bozo
    assert "<script" not in entry.summary and "<script" not in entry.content[0].value
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; AT&amp;T “quotes”" in entry.summary
    assert "&lt;script&gt;" in entry.content[0].value
    assert entry.title == HOSTILE  # plain text: shown as written, never as markup


def test_json_feed_keeps_plain_text_plain_and_escapes_html() -> None:
    document = json.loads(render(all_feed(make_record(excerpt=HOSTILE, title=HOSTILE)), SITE, Format.JSON))
    item = document["items"][0]
    assert item["title"] == HOSTILE
    assert item["summary"] == HOSTILE
    assert "<script>" not in item["content_html"]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in item["content_html"]


def test_plain_titles_are_not_escaped_twice() -> None:
    record = make_record(title="R&D at AT&T — “quoted”")
    for fmt in (Format.RSS, Format.ATOM):
        assert feedparser.parse(render(all_feed(record), SITE, fmt)).entries[0].title == record.title


def test_entry_html_shows_image_excerpt_and_related_coverage(feed: Feed) -> None:
    document = json.loads(render(feed, SITE, Format.JSON))
    html = document["items"][1]["content_html"]
    assert html.index('<img src="https://img.example.com/one.jpg"') < html.index("A new plant opens.")
    assert "<h3>Related coverage</h3>" in html
    assert '<a href="https://third.example.net/b">Coverage B</a> (14 Mar 2025)' in html


# ---- a record's parts are made once and reused: nothing of one feed or site leaks


@pytest.mark.parametrize("fmt", list(Format))
def test_a_record_renders_the_same_in_every_feed_and_only_with_its_own_site(feed: Feed, fmt: Format) -> None:
    other_site = replace(SITE, base_url="https://elsewhere.example.net/", title="Elsewhere")
    topic = replace(feed, key=FeedKey(FeedKind.TOPIC, "energy"), name="Energy")
    first = render(feed, SITE, fmt)
    elsewhere = render(topic, other_site, fmt)
    assert render(feed, SITE, fmt) == first
    assert SITE.base_url.encode() not in elsewhere
    assert b"Coverage B" in elsewhere and b"https://elsewhere.example.net/topics/energy/" in elsewhere


def test_formats_made_together_are_each_format_made_alone() -> None:
    # RSS and Atom share one feedgen entry per record; special characters where plain text is
    # rewritten as references (titles, names, topics, attribute values), and where it is not.
    hostile = make_record(
        url="https://news.example.com/r-and-d",
        published_at=T0 + timedelta(hours=2),
        title="R&D <b>at</b> AT&T",
        topics=("R&D", "C++", "Energy"),
        provider=Provider(name="A&B <News>", key="ab.example.com", url="https://ab.example.com/"),
        images=(Image("https://img.example.com/q.jpg", 10, 10, "Q&A <live>"), *IMAGES),
        related=(RelatedLink("https://x.example.org/", "Tom & Jerry > Rest"), *RELATED),
    )
    plain = make_record(  # a plain title from a provider whose name is not
        url="https://news.example.com/plain",
        published_at=T0 + timedelta(hours=1),
        provider=Provider(name="Smith & Sons", key="smith.example.com", url="https://smith.example.com/"),
    )
    document = all_feed(hostile, plain)
    together = render_formats(document, SITE, tuple(Format))
    assert together == {fmt: render(document, SITE, fmt) for fmt in Format}
    for fmt in (Format.RSS, Format.ATOM):
        data = together[fmt]
        assert b"R&#x26;D &#x3C;b&#x3E;at&#x3C;/b&#x3E; AT&#x26;T" in data
        assert b"A&#x26;B &#x3C;News&#x3E;" in data and b'title="Tom &#x26; Jerry &#x3E; Rest"' in data
        assert b"Smith &#x26; Sons" in data and b"Smith &amp; Sons" not in data
    assert b"<category>R&#x26;D</category>" in together[Format.RSS]
    assert b'term="R&#x26;D"' in together[Format.ATOM]
    # (feedparser takes an RSS title with an end tag for HTML: see test_readers)
    entry = feedparser.parse(together[Format.ATOM]).entries[0]
    assert (entry.title, entry.author) == (hostile.title, hostile.provider.name)


# ---- empty feeds (a topic whose stories were all withdrawn) stay valid


@pytest.mark.parametrize("fmt", list(Format))
def test_an_empty_feed_is_still_valid_and_stable(fmt: Format) -> None:
    empty = Feed(FeedKey(FeedKind.TOPIC, "gone"), "gone", "Gone", (), 0, None)
    data = render(empty, SITE, fmt)
    assert data == render(empty, SITE, fmt)
    if fmt is Format.JSON:
        assert json.loads(data)["items"] == []
    else:
        parsed = feedparser.parse(data)
        assert not parsed.bozo and parsed.entries == []
        assert b"lastBuildDate" not in data


def test_image_titles_never_replace_the_entry_title_in_feedparser(feed: Feed) -> None:
    entry = feedparser.parse(render(feed, SITE, Format.RSS)).entries[1]
    assert entry.title == entry.title_detail.value == "Chip plant opens"
    assert entry.source.title == "Daily Circuit"


# ---- icons, logo, accent colour and the refresh hint

ICONS = replace(
    SITE,
    icon="https://feeds.example.org/icon.png",
    icon_size=144,
    logo="https://feeds.example.org/logo.svg",
    favicon="https://feeds.example.org/favicon.ico",
    accent_color="1F6FEB",
    topics=(("energy", "https://feeds.example.org/energy.png"),),
    refresh_minutes=30,
)
WEBFEEDS = "{http://webfeeds.org/rss/1.0}"


def test_rss_has_an_image_ttl_and_feedlys_webfeeds(feed: Feed) -> None:
    channel = etree.fromstring(render(feed, ICONS, Format.RSS)).find("channel")
    image = channel.find("image")
    assert [(child.tag, child.text) for child in image] == [
        ("url", ICONS.icon),
        ("title", ICONS.title),
        ("link", ICONS.link),
        ("width", "144"),
        ("height", "144"),
    ]
    assert channel.findtext("ttl") == "30"
    assert channel.findtext(f"{WEBFEEDS}icon") == ICONS.icon
    assert channel.findtext(f"{WEBFEEDS}logo") == ICONS.logo
    assert channel.findtext(f"{WEBFEEDS}accentColor") == "1F6FEB"


def test_atom_has_icon_and_logo_and_json_feed_icon_and_favicon(feed: Feed) -> None:
    root = atom_of(feed, ICONS)
    assert root.findtext("atom:icon", namespaces=NS) == ICONS.icon
    assert root.findtext("atom:logo", namespaces=NS) == ICONS.logo
    document = json.loads(render(feed, ICONS, Format.JSON))
    assert (document["icon"], document["favicon"]) == (ICONS.icon, ICONS.favicon)


def test_a_topic_has_its_own_icon_and_others_fall_back_to_the_sites(feed: Feed) -> None:
    energy = replace(feed, key=FeedKey(FeedKind.TOPIC, "energy"), group="energy", name="Energy")
    other = replace(feed, key=FeedKey(FeedKind.TOPIC, "ai"), group="ai", name="AI")
    assert json.loads(render(energy, ICONS, Format.JSON))["icon"] == "https://feeds.example.org/energy.png"
    assert json.loads(render(other, ICONS, Format.JSON))["icon"] == ICONS.icon
    image = etree.fromstring(render(energy, ICONS, Format.RSS)).find("channel/image")
    assert image.findtext("url") == "https://feeds.example.org/energy.png"
    assert image.find("width") is None  # icon_size is the site icon's
    assert atom_of(energy, ICONS).findtext("atom:icon", namespaces=NS) == "https://feeds.example.org/energy.png"


@pytest.mark.parametrize("fmt", list(Format))
def test_without_icons_nothing_is_written(feed: Feed, fmt: Format) -> None:
    data = render(feed, SITE, fmt)
    for absent in (b"<image>", b"webfeeds", b"<icon>", b"<logo>", b'"icon"', b'"favicon"'):
        assert absent not in data


def atom_of(feed: Feed, site: Site) -> etree._Element:
    return etree.fromstring(render(feed, site, Format.ATOM))
