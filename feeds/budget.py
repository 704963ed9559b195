"""The byte budget (``max_feed_bytes``): no feed document grows past it; its oldest entries give way.

Some consumers refuse large feeds (FeedBurner refused source feeds over
512 KB; readers cap a document at 1 to 15 MB). A feed that would exceed the
budget keeps its newest entries that fit, the same ones in every format.
With archives, the entries it lets go are added to the newest archive page,
the page that always has room, so a client walking the archive still sees
every entry once, and full archive pages never change.
"""

from __future__ import annotations

from dataclasses import replace

from .model import Draft, Feed, Format, Site
from .renderers import render_formats

FORMATS = tuple(Format)


def fit(feed: Feed, site: Site) -> tuple[int, list[bytes]]:
    """How many of the feed's newest entries fit the budget, and the feed's formats with that many.

    The size of a document grows with its entries, so the largest count that
    fits is found by halving: a few renderings, only for a feed that is cut.
    Zero entries always count as fitting: a feed is never left out.
    """
    budget = site.max_feed_bytes

    def made(count: int) -> list[bytes]:
        document = feed if count == len(feed.entries) else replace(feed, entries=feed.entries[:count])
        return list(render_formats(document, site, FORMATS).values())

    full = made(len(feed.entries))
    if budget is None or max(map(len, full)) <= budget:
        return len(feed.entries), full
    low, high, best = 0, len(feed.entries) - 1, None
    while low < high:
        middle = (low + high + 1) // 2
        trial = made(middle)
        if max(map(len, trial)) <= budget:
            low, best = middle, trial
        else:
            high = middle - 1
    return low, best if best is not None else made(low)


def with_let_go(page: Draft, head: Draft, kept: int) -> Draft:
    """The newest archive page with the entries its feed let go (the feed's, past ``kept``) in front.

    Its updated time is then its newest entry's, as every document's is.
    """
    let_go = head.entries[kept:]
    if not let_go:
        return page
    return replace(page, entries=(*let_go, *page.entries), updated=let_go[0].published_at)
