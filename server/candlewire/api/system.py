"""SystemService: server facts, load, running workers, terminate-all and shutdown."""

from __future__ import annotations

import asyncio
import os
import platform
from datetime import timedelta

import psutil
from google.protobuf import empty_pb2

import candlewire
from candlewire.api import convert
from candlewire.api.v1 import system_pb2, system_pb2_grpc
from candlewire.data.exchanges import SUPPORTED_TIMEFRAMES, list_exchanges
from candlewire.storage import sessions as session_store
from candlewire.storage.column_types import utc_now


def strategy_count(data_dir) -> int:
    strategies = data_dir / "strategies"
    if not strategies.is_dir():
        return 0
    return sum(1 for entry in strategies.iterdir() if (entry / "__init__.py").is_file())


def _usage_counts(engine) -> list[system_pb2.SessionKindUsage]:
    now = utc_now()
    total = session_store.counts_by_kind(engine)
    day = session_store.counts_by_kind(engine, since=now - timedelta(days=1))
    week = session_store.counts_by_kind(engine, since=now - timedelta(days=7))
    return [
        system_pb2.SessionKindUsage(
            kind=number, total=total.get(kind, 0), last_24_hours=day.get(kind, 0), last_7_days=week.get(kind, 0)
        )
        for kind, number in convert.SESSION_KINDS.items()
    ]


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, app):
        self.app = app
        self._process = psutil.Process()
        # The first cpu_percent() call only starts the measurement window.
        psutil.cpu_percent(interval=None)

    async def GetInfo(self, request, context):
        return system_pb2.SystemInfo(
            version=candlewire.__version__,
            python_version=platform.python_version(),
            os=f"{platform.system()} {platform.release()}",
            cpu_cores=os.cpu_count() or 1,
            exchanges=[exchange.id for exchange in list_exchanges()],
            timeframes=SUPPORTED_TIMEFRAMES,
            strategy_count=await asyncio.to_thread(strategy_count, self.app.settings.data_dir),
        )

    async def GetUsage(self, request, context):
        memory = psutil.virtual_memory()
        return system_pb2.SystemUsage(
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_used_bytes=memory.total - memory.available,
            memory_total_bytes=memory.total,
            process_rss_bytes=self._process.memory_info().rss,
            sessions=await asyncio.to_thread(_usage_counts, self.app.engine),
        )

    async def ListJobs(self, request, context):
        return system_pb2.ListJobsResponse(
            jobs=[
                system_pb2.Job(
                    session_id=job.session_id,
                    kind=convert.SESSION_KINDS[job.kind],
                    title=job.title,
                    pid=job.pid,
                    start_time=convert.timestamp(job.started_at),
                    progress=convert.progress(job.progress),
                )
                for job in self.app.runtime.running_jobs()
            ]
        )

    async def TerminateAllJobs(self, request, context):
        count = await self.app.runtime.terminate_all()
        return system_pb2.TerminateAllJobsResponse(terminated_count=count)

    async def Shutdown(self, request, context):
        self.app.shutdown_requested.set()
        return empty_pb2.Empty()
