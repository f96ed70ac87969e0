"""Where research jobs run their many independent tasks (optimization trials, Monte Carlo scenarios).

Two executors behind one interface:

- `LocalExecutor`: a process pool on this machine, `workers` processes (default: every core);
- `DaskExecutor`: a Dask cluster, reached at `CANDLEWIRE_DASK_SCHEDULER=tcp://host:port` (or an
  address passed in). Its workers need candlewire importable, nothing else: they never touch the
  database.

A job hands its large read-only input (candles, strategy sources) over once with `share(payload)`
and then maps tasks over it; a task receives that payload and one small item, so a trial costs its
own work and not a copy of a year of candles:

    with executor_for(cores).share(payload) as shared:
        for index, result in shared.map_unordered(evaluate, items):
            ...

`map_unordered` hands every item to the workers before it returns (in-process, items run as the
results are iterated), so the caller can do its own work, such as recording earlier results, while
the tasks run.

`evaluate(payload, item)` must be a module-level function (tasks are pickled by reference).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

DASK_SCHEDULER_ENV = "CANDLEWIRE_DASK_SCHEDULER"


class SharedPayload(Protocol):
    def map_unordered(self, task: Callable[[Any, Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Start `task(payload, item)` for every item now; the iterator yields `(index of the item, result)`
        as each finishes."""


class Executor(Protocol):
    name: str

    def share(self, payload: Any) -> AbstractContextManager[SharedPayload]:
        """Ship `payload` to the workers once; tasks mapped inside the block all read it."""


def dask_scheduler_address(explicit: str | None = None) -> str:
    """The scheduler to use: the explicit address, else `CANDLEWIRE_DASK_SCHEDULER`, else "" (local)."""
    return explicit if explicit is not None else os.environ.get(DASK_SCHEDULER_ENV, "").strip()


def executor_for(cores: int = 0, scheduler: str | None = None) -> Executor:
    """A Dask executor when a scheduler address is known, else a local pool of `cores` processes (0: all)."""
    address = dask_scheduler_address(scheduler)
    if address:
        from candlewire.execution.dask_cluster import DaskExecutor

        return DaskExecutor(address)
    from candlewire.execution.local import LocalExecutor

    return LocalExecutor(cores or os.cpu_count() or 1)
