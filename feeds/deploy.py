"""Mirror a built output tree into S3-compatible object storage (``feeds deploy``).

One listing tells what the bucket holds; a file goes up only when its MD5
differs from the object's, in an order that never lets a reader follow a link
to a file not there yet, with the headers ``feeds serve`` sends. Objects this
tool uploaded that no build makes any more are deleted last, a capped number.
The only module that imports boto3, and only once a deploy starts.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import gzip
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .errors import DeployError, OutputError
from .headers import CachePolicy, compressible, content_type, full_archive_pages
from .links import is_feed_document, link_order, natural
from .manifest import MANIFEST
from .model import Site
from .serve import hidden
from .version import __version__
from .writing import build_lock, write_atomically

if TYPE_CHECKING:  # the stubs come with the test extra; at run time boto3 is imported in connect()
    from boto3.session import Session
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client

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


@dataclass(frozen=True)
class LocalFile:
    """A file of the tree as it would be stored: the size and MD5 of its body (gzipped when it is)."""

    path: str  # relative to the tree, with slashes
    size: int
    md5: str
    gzipped: bool = False


@dataclass(frozen=True)
class RemoteObject:
    """An object under the prefix, as the listing shows it."""

    path: str  # its key without the prefix
    etag: str  # without quotes
    size: int


def stored_body(path: str, data: bytes, use_gzip: bool) -> tuple[bytes, bool]:
    """What is uploaded for a file: gzipped (level 9, no timestamp, so the same every time) when asked and smaller."""
    if use_gzip and compressible(content_type(PurePosixPath(path).name)):
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(packed) < len(data):
            return packed, True
    return data, False


def read_file(root: Path, path: str, use_gzip: bool) -> tuple[LocalFile, bytes]:
    body, packed = stored_body(path, (root / path).read_bytes(), use_gzip)
    return LocalFile(path, len(body), hashlib.md5(body).hexdigest(), packed), body  # noqa: S324 - S3's own digest


def walk_tree(root: Path) -> Iterator[str]:
    """Every file of the tree, by relative path: hidden and temporary files skipped, nothing outside it.

    Folders that are symbolic links are not followed; a file that is one is
    taken only if it leads to a file inside the tree.
    """
    real = root.resolve()

    def walk(folder: str, prefix: str) -> Iterator[str]:
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            if hidden(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, prefix + entry.name + "/")
            elif _inside(entry, real):
                yield prefix + entry.name

    return walk(str(root), "")


def _inside(entry: os.DirEntry[str], real: Path) -> bool:
    """A plain file, or a link to a file inside the tree."""
    if entry.is_file(follow_symlinks=False):
        return True
    return entry.is_symlink() and entry.is_file() and Path(entry.path).resolve().is_relative_to(real)


RACY_NS = 2_000_000_000  # a file modified this close to the moment it was hashed is hashed again next time


def digests_path(tree: Path) -> Path:
    """Where a deploy keeps the MD5s it computed: beside the tree, like the build's lock."""
    where = tree.resolve()
    return where.parent / f".{where.name}.deploy-digests.json"


def scan_tree(root: Path, use_gzip: bool, digests: Path | None = None, save: bool = True) -> dict[str, LocalFile]:
    """The tree's files as they would be stored, each hashed in a thread (hashlib lets them run at once).

    With ``digests``, a file whose size, mtime, ctime and inode are those it
    had when last hashed is not read again: ``feeds build`` leaves unchanged
    files alone and replaces changed ones (a new inode). That file is a cache
    only; damaged or missing, every file is read. ``save``: write it back.
    """
    started = time.time_ns()
    known: dict[str, list[Any]] = {}
    if digests is not None:
        try:
            data = json.loads(digests.read_bytes())
            if data.get("version") == 1 and data.get("gzip") == use_gzip:
                known = data["files"]
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            known = {}
    kept: dict[str, list[Any]] = {}
    found: dict[str, LocalFile] = {}
    unknown: list[tuple[str, list[int]]] = []
    for path in walk_tree(root):
        try:
            stat = os.stat(root / path)
        except OSError as e:
            raise DeployError(f"{root / path}: cannot be read: {e.strerror or e}") from e
        seen = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        old = known.get(path)
        if isinstance(old, list) and len(old) == 7 and old[:4] == seen:
            found[path] = LocalFile(path, int(old[4]), str(old[5]), bool(old[6]))
            kept[path] = old
        else:
            unknown.append((path, seen))

    def scan(job: tuple[str, list[int]]) -> LocalFile:
        path, seen = job
        try:
            file = read_file(root, path, use_gzip)[0]
        except OSError as e:
            raise DeployError(f"{root / path}: cannot be read: {e.strerror or e}") from e
        if started - seen[1] > RACY_NS and started - seen[2] > RACY_NS:
            kept[path] = [*seen, file.size, file.md5, file.gzipped]
        return file

    with ThreadPoolExecutor(min(THREADS, (os.cpu_count() or 1) + 1)) as pool:
        found.update((file.path, file) for file in pool.map(scan, unknown))
    if digests is not None and save and kept != known:
        with contextlib.suppress(OutputError):  # a cache: a deploy goes on without it
            write_atomically(digests, json.dumps({"version": 1, "gzip": use_gzip, "files": kept}).encode())
    return found


# ---------------------------------------------------------------- deciding, without touching the network


class Change(enum.Enum):
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class Upload:
    path: str
    change: Change


def upload_groups(uploads: Iterable[Upload]) -> list[list[Upload]]:
    """The uploads in waves: each wave goes up in parallel, and only after the one before it is complete.

    Waves follow ``rank``; within a rank new files go before changed ones, so
    that a changed file (an archive page that gains a next-archive link) never
    points to a new one not yet there.
    """
    waves: dict[tuple[int, bool], list[Upload]] = {}
    for upload in uploads:
        waves.setdefault(link_order(upload.path, upload.change is not Change.CHANGED)[:2], []).append(upload)
    return [sorted(waves[key], key=lambda u: natural(u.path)) for key in sorted(waves)]


def compare(
    local: Mapping[str, LocalFile], remote: Mapping[str, RemoteObject], forced: bool = False
) -> tuple[list[Upload], list[str], int]:
    """(uploads decided, paths whose object's metadata must decide, files known unchanged).

    A listed ETag that equals the local MD5 means the same bytes. A different
    size with an MD5-shaped ETag means a change. Anything else (a multipart
    ETag, a server whose ETags are not MD5s, or a same-size change) is decided
    by the MD5 this tool stored in the object's metadata. ``forced`` (new
    caching headers): every file goes up again.
    """
    uploads: list[Upload] = []
    ask: list[str] = []
    same = 0
    for path, file in local.items():
        there = remote.get(path)
        if there is None:
            uploads.append(Upload(path, Change.NEW))
        elif forced:
            uploads.append(Upload(path, Change.CHANGED))
        elif there.etag == file.md5:
            same += 1
        elif _MD5.fullmatch(there.etag) and there.size != file.size:
            uploads.append(Upload(path, Change.CHANGED))
        else:
            ask.append(path)
    return uploads, ask, same


def stale_objects(
    local: Mapping[str, LocalFile], remote: Mapping[str, RemoteObject], feeds: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Objects no file of the tree stands for: (feed documents, kept whatever their origin; the others).

    A feed document is one by its name, or because the manifest lists it (``feeds``).
    """
    gone = sorted((path for path in remote if path not in local), key=natural)
    kept = [p for p in gone if is_feed_document(p) or p in feeds]
    return kept, [p for p in gone if p not in kept]


def cdn_paths(base_url: str, paths: Iterable[str], limit: int = INVALIDATE_ALL_ABOVE) -> list[str]:
    """The URL paths a CDN must drop for ``paths``; one wildcard past ``limit``.

    A folder's index.html is also served as the folder itself.
    """
    base = urlsplit(base_url).path or "/"
    base = base if base.endswith("/") else base + "/"
    found: set[str] = set()
    for path in paths:
        found.add(base + quote(path))
        if PurePosixPath(path).name == "index.html":
            found.add(base + quote(path[: -len("index.html")]))
    if len(found) > limit:
        return [base + "*"]
    return sorted(found)


# ---------------------------------------------------------------- what survives a deploy that died


@dataclass
class Pending:
    """Notifications a deploy owes: kept beside the tree until sent, so the next deploy sends them.

    Once a file is up, the next deploy sees it unchanged; without this note a
    deploy killed between its uploads and its pings would never announce them.
    """

    path: Path
    ping: set[str] = field(default_factory=set)  # feed URLs
    invalidate: set[str] = field(default_factory=set)  # tree paths

    @classmethod
    def load(cls, tree: Path, target: Target) -> Pending:
        where = tree.resolve()
        name = hashlib.blake2b(str(target).encode(), digest_size=6).hexdigest()
        note = cls(where.parent / f".{where.name}.deploy-{name}.json")
        try:
            data = json.loads(note.path.read_text(encoding="utf-8"))
            note.ping = {str(url) for url in data["ping"]}
            note.invalidate = {str(path) for path in data["invalidate"]}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DeployError(f"{note.path}: cannot be read ({e}); remove it to go on") from e
        return note

    def save(self) -> None:
        if not self.ping and not self.invalidate:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = {"version": 1, "ping": sorted(self.ping), "invalidate": sorted(self.invalidate)}
        try:
            write_atomically(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        except OutputError as e:
            raise DeployError(str(e)) from e


# ---------------------------------------------------------------- the network


class _Counter:
    """Requests on the wire (retries included) by operation, and the bytes of their bodies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.sent = 0

    def call(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[model.name] = self.calls.get(model.name, 0) + 1

    def send(self, request: Any, **_: Any) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        with self.lock:
            self.sent += length


def describe(error: Exception) -> str:
    """An error of boto3's in one line: the server's code and message, or the connection problem (never credentials)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        details = response["Error"]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = details.get("Code") or status
        return f"{code}: {details.get('Message') or 'HTTP ' + str(status)}"
    return str(error) or type(error).__name__


_EXPLAINED = {
    "NoSuchBucket": "no such bucket",
    "AccessDenied": "access denied: the credentials need list, get, put and delete on the prefix",
    "InvalidAccessKeyId": "the access key is not known to the server",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
}


class Bucket:
    """One bucket and prefix, through the few S3 calls a deploy makes, each counted."""

    def __init__(self, client: S3Client, target: Target, counter: _Counter) -> None:
        self.client = client
        self.target = target
        self.counter = counter

    def _fail(self, error: Exception) -> DeployError:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in _EXPLAINED:
            return DeployError(f"{self.target}: {_EXPLAINED[code]}")
        return DeployError(f"{self.target}: {describe(error)}")

    def list(self) -> dict[str, RemoteObject]:
        """Every object under the prefix: one listing (ListObjectsV2, 1,000 keys a page)."""
        found: dict[str, RemoteObject] = {}
        start = len(self.target.prefix)
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.target.bucket, Prefix=self.target.prefix
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    path = item["Key"][start:]
                    found[path] = RemoteObject(path, item.get("ETag", "").strip('"').lower(), item.get("Size", -1))
        except Exception as e:  # botocore's errors: ClientError, BotoCoreError
            raise self._fail(e) from e
        return found

    def metadata(self, path: str) -> dict[str, str] | None:
        """The user metadata of one object; None when it is not there."""
        try:
            return dict(self.client.head_object(Bucket=self.target.bucket, Key=self.target.key(path))["Metadata"])
        except Exception as e:
            status = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return None
            raise

    def put(self, path: str, body: bytes, md5: str, headers: Mapping[str, str], metadata: Mapping[str, str]) -> None:
        extra: dict[str, Any] = {}
        if "Content-Encoding" in headers:
            extra["ContentEncoding"] = headers["Content-Encoding"]
        self.client.put_object(
            Bucket=self.target.bucket,
            Key=self.target.key(path),
            Body=body,
            ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"),  # the server checks what it received
            ContentType=headers["Content-Type"],
            CacheControl=headers["Cache-Control"],
            Metadata=dict(metadata),
            **extra,
        )

    def delete(self, path: str) -> None:
        # One DeleteObject per key: DeleteObjects needs a checksum header that many S3-compatible
        # servers reject or do not know, and deletions are few.
        self.client.delete_object(Bucket=self.target.bucket, Key=self.target.key(path))


class CloudFront:
    """Drops a distribution's cached copies of the paths a deploy changed."""

    def __init__(self, client: CloudFrontClient, distribution: str, wait: float = INVALIDATION_WAIT) -> None:
        self.client = client
        self.distribution = distribution
        self.wait = wait

    def invalidate(self, paths: Sequence[str]) -> tuple[str, bool]:
        """(the invalidation's ID, whether it completed within ``wait`` seconds)."""
        # The same batch sent twice (a retried request) is one invalidation for CloudFront.
        reference = hashlib.sha256(repr((sorted(paths), time.time_ns() // 10**9)).encode()).hexdigest()[:32]
        answer = self.client.create_invalidation(
            DistributionId=self.distribution,
            InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference},
        )["Invalidation"]
        if answer["Status"] == "Completed" or self.wait <= 0:
            return answer["Id"], answer["Status"] == "Completed"
        delay = 5
        try:
            self.client.get_waiter("invalidation_completed").wait(
                DistributionId=self.distribution,
                Id=answer["Id"],
                WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(self.wait // delay))},
            )
        except Exception:  # the waiter gave up (botocore's WaiterError): hubs are pinged all the same
            return answer["Id"], False
        return answer["Id"], True


@dataclass(frozen=True)
class Connection:
    """A bucket and, if asked for, a CDN, with one counter for every request they make."""

    bucket: Bucket
    cdn: CloudFront | None = None

    def close(self) -> None:
        """Close the clients' pooled connections."""
        self.bucket.client.close()
        if self.cdn is not None:
            self.cdn.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(
    target: Target,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    distribution: str | None = None,
) -> Connection:
    """Clients from the standard AWS chain (environment, config files, profile); a one-line error if there are none."""
    try:
        import boto3.session  # the optional extra, only for a deploy
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ProfileNotFound
    except ImportError as e:
        raise DeployError("feeds deploy needs boto3: pip install 'feeds[s3]'") from e
    try:
        session: Session = boto3.session.Session(profile_name=profile, region_name=region)
        credentials = session.get_credentials()
    except ProfileNotFound as e:
        raise DeployError(f"--profile {profile}: no such profile in the AWS config files") from e
    except BotoCoreError as e:
        raise DeployError(f"AWS credentials: {e}") from e
    if credentials is None:
        raise DeployError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile "
            "(--profile or AWS_PROFILE)"
        )
    config = Config(
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
        # boto3 1.36 began sending CRC checksums with every upload; many S3-compatible servers refuse them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=THREADS,
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra=f"feeds/{__version__}",
    )
    counter = _Counter()
    s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
    s3.meta.events.register("before-call.s3", counter.call)
    s3.meta.events.register("before-send.s3", counter.send)
    cdn = None
    if distribution is not None:
        client = session.client("cloudfront", region_name="us-east-1", config=config)  # a global service
        client.meta.events.register("before-call.cloudfront", counter.call)
        client.meta.events.register("before-send.cloudfront", counter.send)
        cdn = CloudFront(client, distribution)
    return Connection(Bucket(s3, target, counter), cdn)


# ---------------------------------------------------------------- the deploy


@dataclass(frozen=True)
class DeployReport:
    """What a deploy did (or, with ``dry_run``, would do)."""

    target: str
    uploads: tuple[Upload, ...]
    deleted: tuple[str, ...]
    unchanged: int
    kept: tuple[str, ...] = ()  # feed documents the tree no longer has: never deleted
    foreign: tuple[str, ...] = ()  # objects this tool did not upload: left alone
    pinged: tuple[str, ...] = ()
    invalidated: tuple[str, ...] = ()
    requests: Mapping[str, int] = field(default_factory=dict)  # by S3 or CloudFront operation
    sent: int = 0  # bytes of request bodies
    dry_run: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def uploaded(self) -> tuple[str, ...]:
        return tuple(upload.path for upload in self.uploads)

    def summary(self) -> str:
        new = sum(1 for upload in self.uploads if upload.change is Change.NEW)
        if self.dry_run:
            done = f"would upload {len(self.uploads)} files ({new} new, {len(self.uploads) - new} changed) "
            done += f"and delete {len(self.deleted)}"
        else:
            done = f"{len(self.uploads)} files uploaded ({new} new, {len(self.uploads) - new} changed), "
            done += f"{len(self.deleted)} deleted"
        return (
            f"{self.target}: {done}, {self.unchanged} unchanged; "
            f"{sum(self.requests.values())} requests, {self.sent:,} bytes sent"
        )


def _policy(tree: Path, site: Site) -> tuple[CachePolicy, str, frozenset[str]]:
    """The tree's caching policy, base URL and feed paths, from its manifest (which a tree must have)."""
    try:
        manifest = json.loads((tree / MANIFEST).read_bytes())
        base_url = str(manifest["base_url"])
        feeds = frozenset(str(path) for feed in manifest["feeds"] for path in feed["paths"].values())
        return CachePolicy(site.refresh_minutes * 60, full_archive_pages(manifest)), base_url, feeds
    except FileNotFoundError as e:
        raise DeployError(f"{tree}: no {MANIFEST}; deploy a folder that feeds build wrote") from e
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise DeployError(f"{tree / MANIFEST}: cannot be read: {e}") from e


def _parallel(work: Callable[[str], Any], paths: Sequence[str]) -> list[tuple[str, Any, Exception | None]]:
    """``work`` on every path, THREADS at a time: (path, result, error) in the order given."""

    def one(path: str) -> tuple[str, Any, Exception | None]:
        try:
            return path, work(path), None
        except Exception as e:  # reported per file; the caller decides what stops
            return path, None, e

    if len(paths) < 2:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, paths))


def _headed(bucket: Bucket, paths: Sequence[str]) -> dict[str, dict[str, str] | None]:
    found: dict[str, dict[str, str] | None] = {}
    for path, metadata, error in _parallel(bucket.metadata, paths):
        if error is not None:
            raise DeployError(f"{bucket.target.url(path)}: cannot be read: {describe(error)}") from error
        found[path] = metadata
    return found


def deploy(
    tree: Path,
    site: Site,
    connection: Connection,
    *,
    dry_run: bool = False,
    max_deletes: int = MAX_DELETES,
    ping: bool = False,
    wait: float = 0,
    notify: Callable[[Sequence[str], Sequence[str]], list[str]] | None = None,
) -> DeployReport:
    """Make the objects under the target match ``tree``; see the module docstring.

    Raises DeployError naming what failed when a deploy cannot start or stops
    part way; running it again finishes the job. ``notify(hubs, urls)`` pings
    WebSub hubs and returns one line per failure (``websub.ping``).
    """
    bucket = connection.bucket
    with build_lock(tree, wait):  # never a half-written tree: a build holds the same lock
        policy, base_url, feeds = _policy(tree, site)
        local = scan_tree(tree, site.deploy_gzip, digests_path(tree), save=not dry_run)
        remote = bucket.list()
        forced = False
        if str(MANIFEST) in remote:  # the manifest goes up last: its headers are those of the last full deploy
            sentinel = _headed(bucket, [str(MANIFEST)])[str(MANIFEST)]
            forced = sentinel is not None and sentinel.get(POLICY_KEY) != policy.fingerprint
        uploads, ask, unchanged = compare(local, remote, forced)
        kept, stale = stale_objects(local, remote, feeds)
        answers = _headed(bucket, ask + stale)
        for path in ask:
            if (answers[path] or {}).get(MD5_KEY) == local[path].md5:
                unchanged += 1
            else:
                uploads.append(Upload(path, Change.CHANGED))
        doomed = tuple(path for path in stale if MD5_KEY in (answers[path] or {}))
        foreign = tuple(path for path in stale if answers[path] is not None and path not in doomed)
        warnings = []
        if kept:
            warnings.append(f"{len(kept)} feed documents are no longer in {tree} and are kept: {_some(kept)}")
        if foreign:
            warnings.append(
                f"{len(foreign)} objects under {bucket.target} were not uploaded by feeds deploy and are left alone: "
                f"{_some(foreign)}"
            )
        if len(doomed) > max_deletes:
            raise DeployError(
                f"{bucket.target}: the deploy would delete {len(doomed)} objects, more than --max-deletes "
                f"{max_deletes}; nothing was changed (for example {_some(doomed)})"
            )
        waves = upload_groups(uploads)
        ordered = tuple(upload for wave in waves for upload in wave)
        note = Pending.load(tree, bucket.target)
        changed = [upload.path for upload in ordered] + list(doomed)
        if ping and site.hubs:
            note.ping |= {base_url + path for path in changed if is_feed_document(path) and path in local}
        if connection.cdn is not None:
            note.invalidate |= set(changed)
        report = DeployReport(
            str(bucket.target), ordered, doomed, unchanged, tuple(kept), foreign, dry_run=dry_run, warnings=()
        )
        if dry_run:
            would_ping = tuple(sorted(note.ping)) if ping and site.hubs else ()
            paths = tuple(cdn_paths(base_url, note.invalidate)) if connection.cdn and note.invalidate else ()
            return _counted(replace(report, pinged=would_ping, invalidated=paths), bucket, warnings)
        note.save()  # before anything changes, so that a deploy that dies still owes the notifications
        _upload(tree, site, bucket, policy, waves)
        _delete(bucket, doomed)
    return _notify(report, site, base_url, connection, note, warnings, ping, notify)


def _some(paths: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _upload(tree: Path, site: Site, bucket: Bucket, policy: CachePolicy, waves: list[list[Upload]]) -> None:
    def put(path: str) -> None:
        file, body = read_file(tree, path, site.deploy_gzip)
        headers = policy.headers(path)
        if file.gzipped:
            headers["Content-Encoding"] = "gzip"
        bucket.put(path, body, file.md5, headers, {MD5_KEY: file.md5, POLICY_KEY: policy.fingerprint})

    done = 0
    total = sum(map(len, waves))
    for wave in waves:
        results = _parallel(put, [upload.path for upload in wave])
        failed = tuple(f"{bucket.target.url(path)}: upload failed: {describe(e)}" for path, _, e in results if e)
        done += len(wave) - len(failed)
        if failed:  # the next wave may link to what failed: stop here
            raise DeployError(
                f"{bucket.target}: deploy stopped: {len(failed)} of {total} uploads failed and "
                f"{total - done - len(failed)} were not tried; nothing was deleted; deploy again to finish",
                failed,
            )


def _delete(bucket: Bucket, doomed: Sequence[str]) -> None:
    results = _parallel(bucket.delete, doomed)
    failed = tuple(f"{bucket.target.url(path)}: delete failed: {describe(e)}" for path, _, e in results if e)
    if failed:
        raise DeployError(f"{bucket.target}: {len(failed)} deletions failed; deploy again to finish", failed)


def _notify(
    report: DeployReport,
    site: Site,
    base_url: str,
    connection: Connection,
    note: Pending,
    warnings: list[str],
    ping: bool,
    notify: Callable[[Sequence[str], Sequence[str]], list[str]] | None,
) -> DeployReport:
    """After every upload: the CDN drops its copies, then the hubs hear of the feeds (and fetch the new files)."""
    invalidated: tuple[str, ...] = ()
    if connection.cdn is not None and note.invalidate:
        invalidated = tuple(cdn_paths(base_url, note.invalidate))
        try:
            ident, complete = connection.cdn.invalidate(invalidated)
        except Exception as e:
            raise DeployError(
                f"cloudfront:{connection.cdn.distribution}: invalidation failed: {describe(e)}; "
                "the files are up and the next deploy asks again"
            ) from e
        if not complete:
            warnings.append(f"CloudFront invalidation {ident} is still in progress; hubs may fetch cached copies")
        note.invalidate.clear()
        note.save()
    pinged: tuple[str, ...] = ()
    if ping and note.ping and site.hubs and notify is not None:
        pinged = tuple(sorted(note.ping))
        warnings += [f"WebSub {failure}" for failure in notify(site.hubs, pinged)]
        note.ping.clear()
        note.save()
    return _counted(replace(report, pinged=pinged, invalidated=invalidated), connection.bucket, warnings)


def _counted(report: DeployReport, bucket: Bucket, warnings: list[str]) -> DeployReport:
    counter = bucket.counter
    with counter.lock:
        return replace(report, requests=dict(counter.calls), sent=counter.sent, warnings=tuple(warnings))
