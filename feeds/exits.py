"""The command line's exit codes beyond click's own (0 success, 1 failure, 2 usage), as exceptions."""

from __future__ import annotations

import click

EXIT_BUSY = 3  # another build or deploy holds the output folder's lock


class Busy(click.ClickException):
    exit_code = EXIT_BUSY
