"""The ``feeds`` command: a thin adapter from options to the library and back.

Exit codes: 0 success; 1 failure (or, with --strict, a rejected record; for
``check``, any problem); 2 usage; 3 another build holds the output's lock.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from .clean import parse_time
from .config import load_site
from .errors import BusyError, FeedsError, RecordError
from .exits import Busy
from .model import Severity, printable
from .publish import build as build_tree
from .reading import check as check_records
from .records import MAX_FILE_BYTES
from .report import Report
from .version import __version__

if TYPE_CHECKING:
    from .deploy import Target


def _timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as e:
        raise click.BadParameter(f"{e} (write e.g. 2026-01-31T09:00:00Z)") from e


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A progress bar on stderr for long parses, only when a person is watching."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    state: dict[str, Any] = {}

    def report(done: int, total: int) -> None:
        if total < 1000:
            return
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label="Reading records", file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state["bar"].pos)

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return report, close


class _Commands(click.Group):
    """The commands; ``deploy`` and ``serve`` (and the HTTP and S3 code under them) are imported only
    when one of them is asked for: a build needs neither, and starts 60 ms sooner without them."""

    _LATER: ClassVar[dict[str, tuple[str, str]]] = {
        "deploy": ("feeds.deploy.command", "deploy_command"),
        "serve": ("feeds.serve", "serve_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._LATER])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._LATER:
            module, attribute = self._LATER[name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, name)


def _target(ctx: click.Context, param: click.Parameter, value: str | None) -> Target | None:
    from .deploy.command import target_option

    return target_option(value)


def _distribution(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .deploy.command import distribution_option

    return distribution_option(value)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def main() -> None:
    """Publish a folder of news records as RSS 2.0, Atom 1.0 and JSON Feed 1.1.

    \b
    Example:
      feeds build seeds -o dist
    """


MAX_BYTES = click.option(
    "--max-bytes",
    default=MAX_FILE_BYTES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Record files larger than this are rejected unread.",
)
SEEDS_DIR = click.argument("seeds_dir", default="seeds", type=click.Path(exists=True, file_okay=False, path_type=Path))


@main.command()
@SEEDS_DIR
@click.option(
    "-o",
    "--output",
    default="dist",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the feeds are written to.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Site settings (YAML). Default: feeds.yaml in the working directory, if present.",
)
@click.option("--base-url", help="Absolute URL the output folder is served from.")
@click.option(
    "--now",
    callback=_timestamp,
    metavar="TIMESTAMP",
    help="The current time, for reproducible builds. Default: the clock.",
)
@click.option("--strict", is_flag=True, help="Write nothing and exit 1 if any record is rejected.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where parsed records are cached between builds. Default: .feeds-cache beside the output folder.",
)
@click.option("--no-cache", is_flag=True, help="Parse every record and render every feed.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON report: counts, files written, problems, timings.",
)
@click.option(
    "--wait",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for another build of the same output to finish.",
)
@MAX_BYTES
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Publish even if far fewer entries than last time remain (see max_shrink in feeds.yaml).",
)
@click.option("--ping", is_flag=True, help="Notify the configured WebSub hubs of the feeds that changed.")
@click.option(
    "--deploy",
    "deploy_to",
    metavar="s3://BUCKET[/PREFIX]",
    callback=_target,
    help="Then upload what changed, as feeds deploy does (--ping then pings after the upload).",
)
@click.option(
    "--invalidate",
    metavar="cloudfront:DISTRIBUTION_ID",
    callback=_distribution,
    help="With --deploy: invalidate the CDN's copies of the files that changed.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def build(
    seeds_dir: Path,
    output: Path,
    config_path: Path | None,
    base_url: str | None,
    now: datetime | None,
    strict: bool,
    cache_dir: Path | None,
    no_cache: bool,
    report_path: Path | None,
    wait: float,
    max_bytes: int,
    allow_shrink: bool,
    ping: bool,
    deploy_to: Target | None,
    invalidate: str | None,
    quiet: bool,
) -> None:
    """Read records from SEEDS_DIR (default: seeds) and write every feed.

    Writes all/, topics/<slug>/ and providers/<slug>/, each with rss.xml,
    atom.xml and feed.json, plus manifest.json. Problems in records are
    printed to stderr as "path:line: severity: field: what is wrong"; a
    rejected record is skipped and the build goes on. Only files whose
    bytes change are written. Exit codes: 0 built, 1 failed, 2 usage,
    3 another build of the same output is running.

    \b
    Example:
      feeds build seeds -o dist --base-url https://feeds.example.org/
      feeds build -q --report build.json     # from cron
      feeds build -q --deploy s3://feeds-bucket --ping
    """
    if invalidate is not None and deploy_to is None:
        raise click.UsageError("--invalidate needs --deploy")
    if deploy_to is not None:
        from .deploy.remote import NEEDS_BOTO3, can_connect

        if not can_connect():  # before the build, not after it
            raise click.ClickException(NEEDS_BOTO3)
    if config_path is None and Path("feeds.yaml").is_file():
        config_path = Path("feeds.yaml")
    if cache_dir is None and not no_cache:
        cache_dir = output.parent / ".feeds-cache"
    progress, close = _progress_bar(not quiet)
    try:
        site = load_site(config_path, base_url=base_url)
        moment = now or datetime.now(UTC)
        report = build_tree(
            seeds_dir,
            output,
            site,
            moment,
            strict=strict,
            cache_dir=None if no_cache else cache_dir,
            wait=wait,
            progress=progress,
            max_bytes=max_bytes,
            allow_shrink=allow_shrink,
        )
    except RecordError as e:
        close()
        for problem in e.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(printable(str(e))) from e
    except BusyError as e:
        close()
        raise Busy(printable(str(e))) from e
    except FeedsError as e:
        close()
        raise click.ClickException(printable(str(e))) from e
    close()
    for problem in report.problems:
        click.echo(str(problem), err=True)
    for warning in report.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    if ping and report.urls_changed and deploy_to is None:
        from . import websub

        for failure in websub.ping(site.hubs, report.urls_changed):
            click.echo(f"warning: WebSub {failure}", err=True)
    if report_path is not None:
        _write_report(report, report_path)
    if not quiet:
        click.echo(report.summary())
    if deploy_to is not None:  # the hubs hear of the feeds once the public copies are new, not before
        from .deploy.command import run_deploy

        run_deploy(output, deploy_to, site, distribution=invalidate, ping=ping, quiet=quiet, wait=wait)


def _write_report(report: Report, path: Path) -> None:
    try:
        path.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"{path}: cannot write the report: {e.strerror or e}") from e


@main.command()
@SEEDS_DIR
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per problem, or a JSON document for pipelines.",
)
@MAX_BYTES
def check(seeds_dir: Path, output_format: str, max_bytes: int) -> None:
    """Check every record in SEEDS_DIR without writing anything.

    Prints each problem as "path:line: severity: field: what is wrong",
    unpublished records included, then a tally. Exits 0 when every record
    is valid and 1 when any has a problem (an error rejects a record; a
    warning drops a field or keeps it from being published).

    \b
    Example:
      feeds check seeds
      feeds check seeds --format json > problems.json
    """
    checked = check_records(seeds_dir, max_bytes=max_bytes)
    problems = checked.problems
    records = checked.files
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    flawed = len({p.path for p in problems})
    if output_format == "json":
        document = {
            "records": records,
            "valid": records - flawed,
            "rejected": errors,
            "warnings": len(problems) - errors,
            "problems": [p.as_dict() for p in problems],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(
            f"{records} records checked: {records - flawed} valid, {errors} rejected, {len(problems) - errors} warnings"
        )
    if problems:
        sys.exit(1)


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="feeds")
