"""Events per second through one `JobRuntime.watch()` for a test job emitting 100 000 log events.

Usage: python bench/events.py [database_url]   (default: SQLite in a temporary directory)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from candlewire.jobs.runtime import JobRuntime
from candlewire.settings import Settings
from candlewire.storage.db import create_engine, migrate

LOG_EVENTS = 100_000
EVENTS_PER_STEP = 100


async def measure(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    migrate(engine)
    runtime = JobRuntime(engine, settings)
    await runtime.start()
    try:
        started = time.perf_counter()
        record = await runtime.submit(
            "test_job", {"steps": LOG_EVENTS // EVENTS_PER_STEP, "events_per_step": EVENTS_PER_STEP}
        )
        received = 0
        async for batch in runtime.watch(record.id):
            received += len(batch)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.shutdown()
        engine.dispose()
    backend = engine.dialect.name
    print(f"{backend}: {received} events in {elapsed:.2f} s = {received / elapsed:,.0f} events/s through one watch()")


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="candlewire-bench-"))
    database_url = sys.argv[1] if len(sys.argv) > 1 else ""
    asyncio.run(measure(Settings(data_dir=data_dir, database_url=database_url, enable_test_jobs=True)))


if __name__ == "__main__":
    main()
