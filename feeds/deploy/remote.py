"""The network: the bucket and the CDN through boto3, with retries, counted requests and one-line errors."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DeployError
from ..version import __version__
from .changes import RemoteObject
from .target import ATTEMPTS, INVALIDATION_WAIT, THREADS, Target

if TYPE_CHECKING:  # the stubs come with the test extra; at run time boto3 is imported in connect()
    from boto3.session import Session
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client


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


NEEDS_BOTO3 = "feeds deploy needs boto3: pip install 'feeds[s3]'"


def can_connect() -> bool:
    """Whether boto3 is installed, found without importing it (which takes a while)."""
    return importlib.util.find_spec("boto3") is not None and importlib.util.find_spec("botocore") is not None


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
        raise DeployError(NEEDS_BOTO3) from e
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
