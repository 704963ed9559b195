"""Mirror a built output tree into S3-compatible object storage (``feeds deploy``).

One listing tells what the bucket holds; a file goes up only when its MD5
differs from the object's, in an order that never lets a reader follow a link
to a file not there yet, with the headers ``feeds serve`` sends. Objects this
tool uploaded that no build makes any more are deleted last, a capped number.

The package's modules, each one step: ``target`` (where it goes), ``local``
(the tree as it would be stored), ``changes`` (what to upload, delete and
invalidate), ``remote`` (the bucket and the CDN: the only module that imports
boto3, and only once a deploy starts) and ``run`` (one deploy, start to end).
"""

from .changes import Change, RemoteObject, Upload, cdn_paths, compare, stale_objects, upload_groups
from .local import LocalFile, digests_path, read_file, scan_tree, walk_tree
from .remote import Bucket, CloudFront, Connection, connect
from .run import DeployReport, deploy
from .target import MAX_DELETES, Target, parse_cdn, parse_target

__all__ = [
    "MAX_DELETES",
    "Bucket",
    "Change",
    "CloudFront",
    "Connection",
    "DeployReport",
    "LocalFile",
    "RemoteObject",
    "Target",
    "Upload",
    "cdn_paths",
    "compare",
    "connect",
    "deploy",
    "digests_path",
    "parse_cdn",
    "parse_target",
    "read_file",
    "scan_tree",
    "stale_objects",
    "upload_groups",
    "walk_tree",
]
