"""The one writer of the output folder: staged files, an all-or-nothing commit, removals, one build at a time.

A build first writes every new file beside its target under a temporary
name, then renames them into place in the order readers follow links
(archive pages, feeds, pages, the site's files, the manifest last). A build
that fails while staging (a full disk) removes what it staged and leaves
every file as it was; a rename is atomic, so whatever kills a build, a
reader sees each file old or new, never part of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .errors import BusyError, OutputError
from .links import link_order
from .model import printable

_TEMPORARY = re.compile(r"\..+\.[0-9]+\.tmp")  # what this module names its temporary files
OWNED = ("all", "topics", "providers")  # folders no one but a build writes into


class OutputTree:
    """The output folder as a build writes into it; no path may lead out of it.

    Each folder is checked and made once per build, not once per file.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._root = out_dir.resolve()
        self._folders: set[PurePosixPath] = set()
        self._staged: list[tuple[PurePosixPath, Path, bool]] = []  # (path, temporary, new)

    def _inside(self, target: Path) -> None:
        try:
            inside = target.resolve().is_relative_to(self._root)
        except (OSError, RuntimeError) as e:  # RuntimeError: a loop of symbolic links (Python 3.11)
            raise OutputError(f"{printable(str(target))}: cannot be resolved: {e}") from e
        if not inside:
            raise OutputError(f"{printable(str(target))}: resolves outside {printable(str(self.out_dir))}")

    def stage(self, path: PurePosixPath, data: bytes) -> bool:
        """Write ``data`` beside ``path`` under a temporary name, unless the file already holds it; True if staged."""
        target = self.out_dir / path
        if path.parent not in self._folders:
            self._inside(target.parent)  # before making it: a symbolic link must not lead the way out
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise OutputError(f"{target.parent}: cannot be made: {e.strerror or e}") from e
            self._folders.add(path.parent)
        if target.is_symlink():
            self._inside(target)
        new = False
        try:
            if target.read_bytes() == data:
                return False
        except FileNotFoundError:
            new = True
        except OSError as e:
            raise OutputError(f"{target}: cannot be read: {e.strerror or e}") from e
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self._staged.append((path, temporary, new))  # before writing: a failed write is cleaned up too
        write_file(temporary, data)
        return True

    @property
    def staged(self) -> list[str]:
        return [str(path) for path, _, _ in self._staged]

    def commit(self) -> list[str]:
        """Rename every staged file into place, in link order (``links.link_order``); the paths renamed."""
        done = []
        for path, temporary, _ in sorted(self._staged, key=lambda staged: link_order(str(staged[0]), staged[2])):
            try:
                os.replace(temporary, self.out_dir / path)
            except OSError as e:
                self.discard()
                raise OutputError(f"{self.out_dir / path}: cannot be written: {e.strerror or e}") from e
            done.append(str(path))
        self._staged = []
        return done

    def discard(self) -> None:
        """Remove every staged file that is still there."""
        for _, temporary, _ in self._staged:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        self._staged = []

    def remove(self, paths: Iterable[str]) -> list[str]:
        """Remove files a build no longer makes (and the folders they leave empty); the paths removed."""
        removed = []
        for path in sorted(paths):
            target = self.out_dir / path
            if target.is_symlink() or not target.is_file():
                continue
            self._inside(target.parent)
            try:
                target.unlink()
            except OSError as e:
                raise OutputError(f"{target}: cannot be removed: {e.strerror or e}") from e
            removed.append(path)
            folder = target.parent
            while folder != self.out_dir and folder.parent != self.out_dir:
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break
                folder = folder.parent
        return removed

    def strangers(self, planned: set[str]) -> list[str]:
        """Files in the folders only a build writes that no build of these settings makes (left alone)."""
        found = []
        for top in OWNED:
            for path in _files(self.out_dir / top):
                relative = path.relative_to(self.out_dir).as_posix()
                if relative not in planned:
                    found.append(relative)
        return sorted(found)

    def sweep(self) -> int:
        """Remove temporary files left by builds that died (of any process); how many."""
        swept = 0
        for path in _files(self.out_dir, hidden=True):
            if _TEMPORARY.fullmatch(path.name):
                with contextlib.suppress(OSError):
                    path.unlink()
                    swept += 1
        return swept


def _files(folder: Path, *, hidden: bool = False) -> Iterator[Path]:
    """Every regular file below ``folder``, not following links; hidden entries only with ``hidden``."""
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith(".") and not hidden:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        yield Path(entry.path)
        except OSError:
            continue


def write_file(target: Path, data: bytes) -> None:
    """Write a new file, mode 0644 whatever the umask, never through a link.

    There is no fsync per file: it costs about 4 ms a file here, most of a cold
    build's writing time. A rename is atomic however the process dies; after a
    power loss, a damaged file differs in size from what the store recorded,
    so the next build writes it again.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            handle = os.open(target, flags, 0o644)
        except FileExistsError:  # left by a build that died with our pid: a new file, never a link's target
            target.unlink()
            handle = os.open(target, flags, 0o644)
        with open(handle, "wb") as stream:
            os.fchmod(handle, 0o644)  # readable by the web server whatever the umask
            stream.write(data)
    except BaseException as e:
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OutputError(f"{target}: cannot be written: {e.strerror or e}") from e
        raise


def write_atomically(target: Path, data: bytes) -> None:
    """Replace one file: readers see the old one or the new one, never a part of either."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    write_file(temporary, data)
    try:
        os.replace(temporary, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise OutputError(f"{target}: cannot be written: {e.strerror or e}") from e


def lock_path(out_dir: Path) -> Path:
    """The lock sits beside the output folder, where neither readers nor the server look."""
    return out_dir.parent / f".{out_dir.name}.lock"


@contextmanager
def build_lock(out_dir: Path, wait: float = 0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the output folder, waiting up to ``wait`` seconds.

    A process forked while it is held would share it (and keep it after the
    build died), so a build forks its workers before it takes the lock.
    """
    path = lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise OutputError(f"{path}: cannot create the lock file: {e.strerror or e}") from e
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BusyError(f"{out_dir}: another build is running (lock {path}); try again later") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(handle)  # closing releases the lock
