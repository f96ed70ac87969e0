"""The job runtime with real worker processes against real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from candlewire.errors import FailedPrecondition, NotFound
from candlewire.jobs import runtime as runtime_module
from candlewire.jobs.runtime import JobRuntime
from candlewire.settings import Settings
from candlewire.storage import sessions
from candlewire.storage.db import create_engine, migrate

SERVER_PACKAGE_ROOT = Path(runtime_module.__file__).resolve().parents[2]
LONG_JOB = {"steps": 1000, "step_interval_ms": 50}


@pytest.fixture
def settings(database_url, tmp_path):
    return Settings(data_dir=tmp_path, database_url=database_url, max_concurrent_jobs=2, enable_test_jobs=True)


@pytest.fixture
def engine(settings):
    engine = create_engine(settings.database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def runtime(engine, settings):
    runtime = JobRuntime(engine, settings)
    await runtime.start()
    yield runtime
    await runtime.shutdown()


async def collect(stream, timeout=30.0):
    """Every event of a batched stream, in order."""

    async def drain():
        return [event async for batch in stream for event in batch]

    return await asyncio.wait_for(drain(), timeout)


async def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def wait_running(runtime, session_id):
    await wait_until(lambda: any(job.session_id == session_id and job.pid for job in runtime.running_jobs()))
    return next(job for job in runtime.running_jobs() if job.session_id == session_id)


def statuses(events):
    return [event.payload["status"] for event in events if event.kind == "status"]


async def test_job_runs_to_succeeded_with_ordered_session_sequences(runtime):
    record = await runtime.submit("test_job", {"steps": 5, "events_per_step": 3})
    events = await collect(runtime.watch(record.id))
    assert [event.session_sequence for event in events] == list(range(1, len(events) + 1))
    assert statuses(events) == ["queued", "running", "succeeded"]
    assert sum(event.kind == "log" for event in events) == 15
    # The final result lives in the session row; its event only marks that it is there.
    assert events[-2].payload == {"final": True}
    stored = await asyncio.to_thread(sessions.get_session, runtime._engine, record.id)
    assert (stored.status, stored.result, stored.progress["done"]) == ("succeeded", {"steps_done": 5}, 5)


async def test_watch_from_cursor_after_disconnect_gets_exactly_the_rest(runtime):
    record = await runtime.submit("test_job", {"steps": 20, "events_per_step": 5, "step_interval_ms": 5})
    first_part = []
    async for batch in runtime.watch(record.id):
        first_part += batch
        if len(first_part) >= 25:
            break
    rest = await collect(runtime.watch(record.id, after_sequence=first_part[-1].session_sequence))
    numbers = [event.session_sequence for event in first_part + rest]
    assert numbers == list(range(1, len(numbers) + 1))
    assert statuses(rest)[-1] == "succeeded"


async def test_late_watcher_gets_every_event(runtime):
    record = await runtime.submit("test_job", {"steps": 3, "events_per_step": 2})
    live = await collect(runtime.watch(record.id))
    late = await collect(runtime.watch(record.id))
    assert late == live


async def test_concurrency_limit_queues_the_rest(runtime):
    runtime.set_max_concurrent(1)
    first = await runtime.submit("test_job", {"steps": 10, "step_interval_ms": 30})
    second = await runtime.submit("test_job", {"steps": 1})
    await wait_running(runtime, first.id)
    await asyncio.sleep(0.1)
    assert (await asyncio.to_thread(sessions.get_session, runtime._engine, second.id)).status == "queued"
    first_events = await collect(runtime.watch(first.id))
    second_events = await collect(runtime.watch(second.id))
    running_at = next(e.time for e in second_events if e.kind == "status" and e.payload["status"] == "running")
    assert running_at >= first_events[-1].time
    assert statuses(second_events)[-1] == "succeeded"


async def test_cancel_stops_the_worker_within_a_second(runtime):
    record = await runtime.submit("test_job", LONG_JOB)
    job = await wait_running(runtime, record.id)
    started = time.monotonic()
    cancelled = await runtime.cancel(record.id)
    assert time.monotonic() - started < 1.0
    assert cancelled.status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(job.pid, 0)
    assert statuses(await collect(runtime.watch(record.id)))[-1] == "cancelled"


async def test_cancel_of_queued_session_never_starts_it(runtime):
    runtime.set_max_concurrent(1)
    blocker = await runtime.submit("test_job", LONG_JOB)
    queued = await runtime.submit("test_job", {"steps": 1})
    assert (await runtime.cancel(queued.id)).status == "cancelled"
    await runtime.cancel(blocker.id)
    assert statuses(await collect(runtime.watch(queued.id))) == ["queued", "cancelled"]


async def test_cancel_of_finished_session_is_failed_precondition(runtime):
    record = await runtime.submit("test_job", {"steps": 1})
    await collect(runtime.watch(record.id))
    with pytest.raises(FailedPrecondition):
        await runtime.cancel(record.id)


async def test_unknown_session_is_not_found(runtime):
    with pytest.raises(NotFound):
        await runtime.cancel("missing")
    with pytest.raises(NotFound):
        await collect(runtime.watch("missing"))


async def test_crashing_worker_fails_with_its_exit_code(runtime):
    record = await runtime.submit("test_job", {"steps": 5, "crash_at_step": 2})
    final = (await collect(runtime.watch(record.id)))[-1].payload
    assert (final["status"], final["error"]) == ("failed", "worker exited with code 13")


async def test_killed_worker_fails_with_the_signal(runtime):
    record = await runtime.submit("test_job", LONG_JOB)
    job = await wait_running(runtime, record.id)
    os.kill(job.pid, signal.SIGKILL)
    final = (await collect(runtime.watch(record.id)))[-1].payload
    assert final["status"] == "failed"
    assert final["error"].startswith("worker killed by signal 9")


async def test_raising_job_fails_with_traceback(runtime):
    record = await runtime.submit("test_job", {"steps": 5, "fail_at_step": 3})
    final = (await collect(runtime.watch(record.id)))[-1].payload
    assert final["status"] == "failed"
    assert final["error"] == "RuntimeError: test job failed at step 3"
    assert "Traceback" in final["traceback"] and "test_job.py" in final["traceback"]


async def test_terminate_all_cancels_running_and_queued(runtime):
    runtime.set_max_concurrent(1)
    records = [await runtime.submit("test_job", LONG_JOB) for _ in range(3)]
    await wait_running(runtime, records[0].id)
    assert await runtime.terminate_all() == 3
    for record in records:
        final = (await collect(runtime.watch(record.id)))[-1].payload
        assert (final["status"], final["error"]) == ("cancelled", "terminated by user")
    assert runtime.running_jobs() == []


async def test_shutdown_cancels_with_server_shut_down(engine, settings):
    runtime = JobRuntime(engine, settings)
    await runtime.start()
    record = await runtime.submit("test_job", LONG_JOB)
    await wait_running(runtime, record.id)
    await runtime.shutdown()
    stored = await asyncio.to_thread(sessions.get_session, engine, record.id)
    assert (stored.status, stored.error) == ("cancelled", "server shut down")


async def test_fresh_runtime_fails_session_left_running_by_a_killed_server(engine, settings):
    script = textwrap.dedent(
        """
        import asyncio, sys
        from candlewire.jobs.runtime import JobRuntime
        from candlewire.settings import Settings
        from candlewire.storage.db import create_engine

        async def main():
            settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2], enable_test_jobs=True)
            runtime = JobRuntime(create_engine(settings.database_url), settings)
            await runtime.start()
            record = await runtime.submit("test_job", {"steps": 1000, "step_interval_ms": 50})
            while not any(job.pid for job in runtime.running_jobs()):
                await asyncio.sleep(0.01)
            print(record.id, runtime.running_jobs()[0].pid, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(settings.data_dir), settings.database_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SERVER_PACKAGE_ROOT)},
    )
    try:
        session_id, worker_pid = (await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 30)).split()
    finally:
        server.kill()
        server.wait()
    os.kill(int(worker_pid), signal.SIGKILL)

    runtime = JobRuntime(engine, settings)
    await runtime.start()
    try:
        final = (await collect(runtime.watch(session_id)))[-1].payload
        assert (final["status"], final["error"]) == ("failed", "server restarted")
    finally:
        await runtime.shutdown()


async def test_subscribe_delivers_every_session_in_global_order(runtime):
    start = await runtime.latest_sequence()
    records = [await runtime.submit("test_job", {"steps": 3, "events_per_step": 2}) for _ in range(2)]
    for record in records:
        await collect(runtime.watch(record.id))
    received = []
    async for batch in runtime.subscribe(after_sequence=start, types=["status"]):
        received += batch
        if len(received) >= 6:
            break
    assert [event.sequence for event in received] == sorted(event.sequence for event in received)
    assert {event.session_id for event in received} == {record.id for record in records}


async def test_slow_subscriber_falls_back_to_replay_and_misses_nothing(runtime, monkeypatch):
    monkeypatch.setattr(runtime_module, "SUBSCRIBER_QUEUE_EVENTS", 10)
    record = await runtime.submit("test_job", {"steps": 20, "events_per_step": 20})
    events = []
    async for batch in runtime.watch(record.id):
        events += batch
        await asyncio.sleep(0.05)
    assert [event.session_sequence for event in events] == list(range(1, len(events) + 1))
    assert statuses(events)[-1] == "succeeded"


async def test_a_requeued_session_runs_again_and_a_watch_ends_at_its_newest_terminal_status(runtime):
    record = await runtime.submit("test_job", {"steps": 40, "step_interval_ms": 25})
    await wait_running(runtime, record.id)
    await runtime.cancel(record.id)
    requeued = await runtime.requeue(record.id)
    assert (requeued.status, requeued.error, requeued.finished_at) == ("queued", "", None)
    history = await collect(runtime.watch(record.id))
    assert statuses(history) == ["queued", "running", "cancelled", "queued", "running", "succeeded"]


async def test_only_a_cancelled_or_failed_session_can_be_requeued(runtime):
    record = await runtime.submit("test_job", {"steps": 1})
    await collect(runtime.watch(record.id))
    with pytest.raises(FailedPrecondition):
        await runtime.requeue(record.id)
