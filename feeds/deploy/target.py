"""Where a deploy goes: ``s3://BUCKET[/PREFIX]`` and a CDN to invalidate, checked, and the deploy's settings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DeployError

SCHEME = "s3://"
MD5_KEY = "feeds-md5"  # metadata: the MD5 of the stored body; it also marks the objects this tool uploaded
POLICY_KEY = "feeds-headers"  # metadata: the caching policy an object was uploaded with (CachePolicy.fingerprint)
MAX_DELETES = 256  # default of --max-deletes
INVALIDATE_ALL_ABOVE = 100  # CDN paths in one invalidation before it becomes one wildcard
THREADS = 8  # requests in flight at once
ATTEMPTS = 6  # tries per request; botocore's "standard" mode backs off exponentially, with jitter
INVALIDATION_WAIT = 300  # seconds to wait for the CDN to drop old copies before hubs are pinged
_MD5 = re.compile(r"[0-9a-f]{32}")  # what a single-part upload's ETag is (a multipart one ends in -N)
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class Target:
    """Where a tree goes: a bucket and a key prefix ("" or ending in a slash)."""

    bucket: str
    prefix: str = ""

    def key(self, path: str) -> str:
        return self.prefix + path

    def url(self, path: str) -> str:
        return f"{SCHEME}{self.bucket}/{self.key(path)}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


def parse_target(text: str) -> Target:
    """``s3://BUCKET[/PREFIX]`` as a Target; empty segments and trailing slashes are dropped."""
    if not text.startswith(SCHEME):
        raise DeployError(f"{text}: not an {SCHEME}BUCKET[/PREFIX] URL")
    bucket, _, prefix = text[len(SCHEME) :].partition("/")
    parts = [part for part in prefix.split("/") if part]
    if not _BUCKET.fullmatch(bucket):
        raise DeployError(f"{text}: not a bucket name: {bucket!r}")
    if any(part in (".", "..") for part in parts):
        raise DeployError(f"{text}: the prefix may not contain . or .. segments")
    return Target(bucket, "".join(part + "/" for part in parts))


def parse_cdn(text: str) -> str:
    """The distribution ID of ``cloudfront:DISTRIBUTION_ID``."""
    kind, _, distribution = text.partition(":")
    if kind != "cloudfront" or not re.fullmatch(r"[A-Za-z0-9]+", distribution):
        raise DeployError(f"{text}: write cloudfront:DISTRIBUTION_ID")
    return distribution


# ---------------------------------------------------------------- the two sides
