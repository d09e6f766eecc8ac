"""Executors for parallel work: local worker processes or an existing Dask cluster.

Local workers are bounded by the work there is (``--jobs 1000`` for one chunk starts one
worker) and die with the process that started them: each runs a watchdog thread that
ends the worker when its parent is gone (a ``kill -9`` of the command leaves nothing
running), and a worker's own children (Jupyter kernels) do the same.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Callable, Iterator

from ..core.errors import PerfsimError

#: how often an orphan watchdog looks for its parent (seconds)
WATCH_EVERY = 0.5


def watch_parent(parent: int, every: float = WATCH_EVERY) -> threading.Thread:
    """Start a daemon thread that ends this process (exit code 1) when ``parent`` is no
    longer its parent process (it died and this process was re-parented)."""
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(every)

    thread = threading.Thread(target=watch, name="perfsim-orphan-watchdog", daemon=True)
    thread.start()
    return thread


def _worker_init(parent: int, prepare: Callable[[], None] | None) -> None:
    watch_parent(parent)
    if prepare is not None:
        prepare()


def local_executor(workers: int, prepare: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers end when this process ends, however it ends.
    ``prepare`` runs in each worker as it starts (a batch warms a kernel there)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(), prepare))


def start_workers(executor: ProcessPoolExecutor) -> None:
    """Start the pool's workers now, without waiting for them (they start on the first
    submitted task otherwise)."""
    executor.submit(int)


def dask_client(scheduler: str):
    try:
        from distributed import Client
    except ImportError:
        raise PerfsimError("--scheduler needs dask distributed (pip install 'perfsim[dask]')") from None
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, ValueError, TypeError) as exc:
        raise PerfsimError(f"cannot reach the Dask scheduler ({exc})", where=scheduler) from None


@contextlib.contextmanager
def executor_for(jobs: int, scheduler: str | None, tasks: int) -> Iterator[Executor | None]:
    """An executor for ``tasks`` pieces of work: a Dask cluster's (``scheduler``), local
    worker processes (at most ``jobs``, and no more than there are tasks), or ``None`` when
    one process is enough. Shut down on exit; on an exception (Ctrl-C included) pending
    work is cancelled and workers are stopped."""
    if scheduler:
        client = dask_client(scheduler)
        executor = client.get_executor(pure=False)
        try:
            yield executor
        finally:
            client.close()
        return
    workers = max(1, min(int(jobs), int(tasks)))
    if workers <= 1:
        yield None
        return
    executor = local_executor(workers)
    ok = False
    try:
        yield executor
        ok = True
    finally:
        if ok:
            executor.shutdown(wait=True)
        else:
            terminate(executor)


def terminate(executor: ProcessPoolExecutor) -> None:
    """Stop a process pool now: cancel what has not started, kill running workers."""
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


class _Bar:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)


def show_progress(show: bool | None) -> bool:
    """Whether to draw a progress bar: as asked (``--progress``/``--no-progress``), else only
    when stderr is a terminal (a log file or a pipe gets the results and errors alone)."""
    if show is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return show


@contextlib.contextmanager
def progress_bar(total: int, unit: str, show: bool | None = None) -> Iterator[_Bar]:
    """A tqdm progress bar on stderr (see :func:`show_progress`); ``bar.update(n)`` adds n done."""
    if not show_progress(show):
        yield _Bar(None)
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5) as bar:
        yield _Bar(bar)


def map_unordered(executor: Executor | None, fn: Callable, items: list) -> Iterator[Any]:
    """``fn(item)`` for every item, in this process or on the executor, as they finish."""
    if executor is None:
        for item in items:
            yield fn(item)
        return
    from concurrent.futures import as_completed

    futures = [executor.submit(fn, item) for item in items]
    for future in as_completed(futures):
        yield future.result()
