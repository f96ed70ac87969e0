"""`DaskExecutor`: tasks on a Dask cluster.

The payload is scattered to every worker once (`broadcast=True`) and tasks take its future, so the
scheduler never re-sends it per task. A worker that dies mid-task costs nothing but time: the
scheduler reschedules the tasks that were running on it (up to `distributed.scheduler.allowed-failures`
deaths per task), and the broadcast payload is already on the surviving workers. `retries` re-runs a
task that raised (a worker-side hiccup such as running out of memory while loading).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

TASK_RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 10


class _Scattered:
    def __init__(self, client, payload_future):
        self.client = client
        self.payload_future = payload_future

    def map_unordered(self, task, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        futures = {
            self.client.submit(task, self.payload_future, item, pure=False, retries=TASK_RETRIES): index
            for index, item in enumerate(items)
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            self.client.cancel(list(futures))


class DaskExecutor:
    name = "dask"

    def __init__(self, scheduler_address: str):
        self.scheduler_address = scheduler_address

    @contextmanager
    def share(self, payload: Any) -> Iterator[_Scattered]:
        from distributed import Client

        with Client(self.scheduler_address, timeout=CONNECT_TIMEOUT_SECONDS) as client:
            # A list, so the payload travels as one object (a dict would be scattered value by value).
            [payload_future] = client.scatter([payload], broadcast=True)
            try:
                yield _Scattered(client, payload_future)
            finally:
                client.cancel([payload_future])
