"""Exceptions a user can act on; the command line turns them into exit codes."""

from __future__ import annotations

from .model import Problem, Severity


class FeedsError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(FeedsError):
    """The site configuration (``feeds.yaml`` or an option) is not usable."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class RecordError(FeedsError):
    """One or more records were rejected and the build was asked to be strict."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        count = sum(1 for p in problems if p.severity is Severity.ERROR)
        noun = "record was" if count == 1 else "records were"
        super().__init__(f"{count} {noun} rejected; nothing was written (--strict)")
        self.problems = problems


class OutputError(FeedsError):
    """The output tree cannot be written as planned."""


class BusyError(FeedsError):
    """Another build holds the lock on the same output folder."""


class ShrinkError(FeedsError):
    """The build would publish far fewer entries than the last one (an unmounted share, a failed export)."""


class DeployError(FeedsError):
    """A deploy could not start, or stopped part way; ``failures`` names each file or request that failed."""

    def __init__(self, message: str, failures: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures
