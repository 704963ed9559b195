"""Tell WebSub hubs which feeds changed (W3C WebSub; publishing as hubs commonly accept it).

WebSub leaves the publisher-to-hub notification to the hub; the widespread
form, kept from PubSubHubbub 0.4, is a form POST of ``hub.mode=publish`` and
``hub.url`` (the topic URL) to the hub. A failing hub never fails a build.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from .version import __version__

TIMEOUT = 10.0  # seconds per request


def ping(hubs: Iterable[str], topics: Iterable[str], timeout: float = TIMEOUT) -> list[str]:
    """POST one publish notification per (hub, topic URL); return one line per failure."""
    failures = []
    topics = sorted(set(topics))
    for hub in hubs:
        for topic in topics:
            body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": topic}).encode("ascii")
            request = urllib.request.Request(  # noqa: S310 - hub URLs are checked http(s) settings
                hub,
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": f"feeds/{__version__}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as e:
                status = e.code
            except (urllib.error.URLError, OSError) as e:
                failures.append(f"{hub}: ping for {topic} failed: {getattr(e, 'reason', e)}")
                continue
            if not 200 <= status < 300:
                failures.append(f"{hub}: ping for {topic} answered HTTP {status}")
    return failures
