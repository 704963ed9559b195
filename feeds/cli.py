"""The ``feeds`` command: a thin adapter from options to the library and back.

Exit codes: 0 success, 1 failure (or a rejected record with --strict), 2 usage.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from . import __version__
from .config import load_site
from .errors import FeedsError, RecordError
from .publish import build as build_tree
from .records import parse_time


def _timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as e:
        raise click.BadParameter(f"{e} (write e.g. 2026-01-31T09:00:00Z)") from e


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def main() -> None:
    """Publish a folder of news records as RSS 2.0, Atom 1.0 and JSON Feed 1.1."""


@main.command()
@click.argument("seeds_dir", default="seeds", type=click.Path(exists=True, file_okay=False, path_type=Path))
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
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def build(
    seeds_dir: Path,
    output: Path,
    config_path: Path | None,
    base_url: str | None,
    now: datetime | None,
    strict: bool,
    quiet: bool,
) -> None:
    """Read records from SEEDS_DIR (default: seeds) and write every feed.

    Writes all/, topics/<slug>/ and providers/<slug>/, each with rss.xml,
    atom.xml and feed.json, plus manifest.json. Problems in records are
    printed to stderr as "path:line: severity: field: what is wrong"; a
    rejected record is skipped and the build goes on.

    \b
    Example:
      feeds build seeds -o dist --base-url https://feeds.example.org/
    """
    if config_path is None and Path("feeds.yaml").is_file():
        config_path = Path("feeds.yaml")
    try:
        site = load_site(config_path, base_url=base_url)
        moment = now or datetime.now(UTC)
        report = build_tree(seeds_dir, output, site, moment, strict=strict)
    except RecordError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(str(e)) from e
    except FeedsError as e:
        raise click.ClickException(str(e)) from e
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if not quiet:
        click.echo(report.summary())


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="feeds")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
