"""Worker processes for one build, shared by scanning, parsing and rendering."""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import TypeVar

from .errors import FeedsError

T = TypeVar("T")
R = TypeVar("R")


class Workers:
    """A pool of ``count`` processes, started on first use and stopped on exit.

    A forked process starts with a copy of its parent's memory, so the pool
    is started once, when the build needs it first (parsing, early on, when
    little is in memory), and the same processes render later.
    """

    def __init__(self, count: int | None = None) -> None:
        self.count = count if count is not None else min(os.cpu_count() or 1, 4)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Fork the processes now (before the build holds much memory or opens its database)."""
        if self._pool is None and self.count >= 2:
            self._pool = ProcessPoolExecutor(
                self.count,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
            # Forked lazily by the executor: submit one no-op per worker so they exist now.
            for future in [self._pool.submit(os.getpid) for _ in range(self.count)]:
                future.result()

    def batches(
        self, items: list[T], *, per_worker: int, smallest: int = 1, largest: int | None = None
    ) -> list[list[T]]:
        """``items`` cut into about ``per_worker`` batches a worker (none smaller than ``smallest``,
        none larger than ``largest``).

        Enough batches that the workers finish close together, few enough that
        handing them out costs little next to the work in each; a bound on the
        size keeps the results in flight small however many items there are.
        """
        size = max(smallest, len(items) // (max(self.count, 1) * per_worker), 1)
        if largest is not None:
            size = min(size, largest)
        return [items[start : start + size] for start in range(0, len(items), size)]

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``function`` over ``items`` in the worker processes; results in order, as they come.

        Only a few items are handed out ahead of the one whose result is
        awaited, so neither the items on their way nor the results waiting
        to be taken pile up in memory when the taker is the slower side.
        """
        self.start()
        if self._pool is None:  # one process: here
            yield from map(function, items)
            return
        pool = self._pool
        waiting: deque[Future[R]] = deque()
        try:
            for item in items:
                waiting.append(pool.submit(function, item))
                if len(waiting) > 2 * self.count:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
        except BrokenProcessPool as e:
            raise FeedsError("a worker process died (out of memory?); build again, or with fewer workers") from e

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _die_with_parent(parent: int) -> None:
    """Worker start: end when the build's process ends, however it ends (kill -9, the OOM killer).

    Otherwise the workers would wait for work forever, holding memory and
    whatever the build had open.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
