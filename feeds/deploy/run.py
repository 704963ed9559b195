"""One deploy from start to end: list once, upload what changed in link order, delete last, then notify."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DeployError
from ..headers import CachePolicy, full_archive_pages
from ..links import is_feed_document
from ..manifest import MANIFEST
from ..model import Site
from ..writing import build_lock
from .changes import Change, Pending, Upload, cdn_paths, compare, stale_objects, upload_groups
from .local import digests_path, read_file, scan_tree
from .remote import Bucket, Connection, describe
from .target import MAX_DELETES, MD5_KEY, POLICY_KEY, THREADS


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
