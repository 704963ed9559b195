"""``feeds deploy``, and the deploy of ``feeds build --deploy``: options in, a summary and an exit code out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import websub
from ..config import load_site
from ..errors import BusyError, FeedsError
from ..exits import Busy

if TYPE_CHECKING:
    from ..model import Site
    from .target import Target


def target_option(value: str | None) -> Target | None:
    from . import parse_target  # boto3 itself is imported only once a deploy starts

    try:
        return None if value is None else parse_target(value)
    except FeedsError as e:
        raise click.BadParameter(str(e)) from e


def distribution_option(value: str | None) -> str | None:
    from . import parse_cdn

    try:
        return None if value is None else parse_cdn(value)
    except FeedsError as e:
        raise click.BadParameter(str(e)) from e


def run_deploy(
    tree: Path,
    target: Target,
    site: Site,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    distribution: str | None = None,
    dry_run: bool = False,
    max_deletes: int | None = None,
    ping: bool = False,
    quiet: bool = False,
    wait: float = 0,
) -> None:
    """Deploy ``tree``, print what happened, and turn failures into exit codes."""
    from . import MAX_DELETES, connect, deploy

    try:
        with connect(
            target, endpoint_url=endpoint_url, region=region, profile=profile, distribution=distribution
        ) as connection:
            report = deploy(
                tree,
                site,
                connection,
                dry_run=dry_run,
                max_deletes=MAX_DELETES if max_deletes is None else max_deletes,
                ping=ping,
                wait=wait,
                notify=websub.ping,
            )
    except BusyError as e:
        raise Busy(str(e)) from e
    except FeedsError as e:
        for failure in getattr(e, "failures", ()):
            click.echo(failure, err=True)
        raise click.ClickException(str(e)) from e
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if dry_run:
        for upload in report.uploads:
            click.echo(f"would upload {upload.path} ({upload.change.value})")
        for path in report.deleted:
            click.echo(f"would delete {path}")
        for path in report.invalidated:
            click.echo(f"would invalidate {path}")
        for url in report.pinged:
            click.echo(f"would ping {url}")
    if dry_run or not quiet:
        click.echo(report.summary())


@click.command("deploy")
@click.argument("places", nargs=-1, required=True, metavar="[DIR] s3://BUCKET[/PREFIX]")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="An S3-compatible server instead of AWS. Default: AWS_ENDPOINT_URL_S3, the profile's endpoint_url, AWS.",
)
@click.option("--region", metavar="R", help="The bucket's region. Default: AWS_DEFAULT_REGION or the profile's.")
@click.option("--profile", metavar="P", help="A profile of the AWS config files. Default: AWS_PROFILE or default.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Site settings (YAML): refresh_minutes, hubs, deploy_gzip. Default: feeds.yaml, if present.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be uploaded, deleted and announced; change nothing.")
@click.option(
    "--max-deletes",
    default=256,
    show_default=True,
    type=click.IntRange(min=0),
    help="Change nothing if more objects than this would be deleted.",
)
@click.option(
    "--invalidate",
    metavar="cloudfront:DISTRIBUTION_ID",
    callback=lambda ctx, param, value: distribution_option(value),
    help="After the upload, invalidate the CDN's copies of the files that changed.",
)
@click.option("--ping", is_flag=True, help="After the upload, notify the WebSub hubs of the feeds that changed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but warnings and errors.")
def deploy_command(
    places: tuple[str, ...],
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    config_path: Path | None,
    dry_run: bool,
    max_deletes: int,
    invalidate: str | None,
    ping: bool,
    quiet: bool,
) -> None:
    """Upload DIR (default: dist) to S3-compatible object storage: only what changed.

    Credentials come from the standard AWS chain (environment, config files,
    --profile). One listing of the bucket tells what is there; files whose
    MD5 differs go up with their Content-Type and Cache-Control, archive
    pages first and manifest.json last; objects this command uploaded that
    the tree no longer has are deleted last (feeds never). Exit codes:
    0 deployed, 1 failed or stopped part way (deploy again to finish),
    2 usage, 3 a build of DIR is running.

    \b
    Example:
      feeds deploy dist s3://feeds-bucket/site --dry-run
      feeds deploy dist s3://feeds-bucket --invalidate cloudfront:E2QWRUHEXAMPLE --ping -q
      feeds deploy dist s3://feeds --endpoint-url http://127.0.0.1:8333
    """
    if len(places) > 2:
        raise click.UsageError("give at most a folder and an s3:// URL")
    folder = Path(places[0]) if len(places) == 2 else Path("dist")
    target = target_option(places[-1])
    assert target is not None
    if not folder.is_dir():
        raise click.BadParameter(f"{folder}: not a folder", param_hint="DIR")
    if config_path is None and Path("feeds.yaml").is_file():
        config_path = Path("feeds.yaml")
    try:
        site = load_site(config_path)
    except FeedsError as e:
        raise click.ClickException(str(e)) from e
    run_deploy(
        folder,
        target,
        site,
        endpoint_url=endpoint_url,
        region=region,
        profile=profile,
        distribution=invalidate,
        dry_run=dry_run,
        max_deletes=max_deletes,
        ping=ping,
        quiet=quiet,
    )
