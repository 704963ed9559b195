"""Worker processes for one build, shared by parsing and rendering."""

from __future__ import annotations

import multiprocessing
import os
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

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``function`` over ``items`` in the worker processes; results in order, as they come.

        Only a few items are handed out ahead of the one whose result is
        awaited, so neither the items on their way nor the results waiting
        to be taken pile up in memory when the taker is the slower side.
        """
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"))
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
