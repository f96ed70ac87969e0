"""`LocalExecutor`: a pool of worker processes on this machine.

The payload reaches each worker once, as the pool initializer's argument (pickled once per worker
process, not per task). Processes start with `forkserver`: a clean parent without the job's threads,
and the engine imported once in the fork server instead of in every worker. One worker runs tasks
in the calling process, with no pool at all.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

# Imported by the fork server once, so workers start with the engine already loaded: the indicators
# (the first backtest of a process imports them) and the strategy loading of trials and scenarios
# would cost each worker of each job ~0.8 s of CPU.
PRELOADED_MODULES = ["numpy", "candlewire.engine.backtest", "candlewire.indicators", "candlewire.backtests.job"]

_worker_payload: Any = None


def _install_payload(payload: Any) -> None:
    global _worker_payload
    _worker_payload = payload


def _run_on_worker(task: Callable[[Any, Any], Any], item: Any) -> Any:
    return task(_worker_payload, item)


class _InProcess:
    def __init__(self, payload: Any):
        self.payload = payload

    def map_unordered(self, task, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        for index, item in enumerate(items):
            yield index, task(self.payload, item)


class _Pool:
    def __init__(self, pool: ProcessPoolExecutor):
        self.pool = pool

    def map_unordered(self, task, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        return _as_completed({self.pool.submit(_run_on_worker, task, item): index for index, item in enumerate(items)})


def _as_completed(pending: dict[Future, int]) -> Iterator[tuple[int, Any]]:
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
    finally:
        for future in pending:
            future.cancel()


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))

    @contextmanager
    def share(self, payload: Any) -> Iterator[_InProcess | _Pool]:
        if self.workers == 1:
            yield _InProcess(payload)
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOADED_MODULES)
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_install_payload, initargs=(payload,)
        ) as pool:
            yield _Pool(pool)
