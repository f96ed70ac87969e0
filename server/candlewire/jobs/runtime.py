"""`JobRuntime`: runs sessions in worker processes from the server's asyncio loop.

Every event — worker output and the runtime's own status changes — goes through one writer task
that persists it (with the matching session-row change, in one transaction per batch) before fanning
it out. A single writer keeps the global sequence in commit order, which is what lets a subscriber
"register live, replay from the database, skip what it already saw" without gaps or duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from candlewire.errors import FailedPrecondition, InvalidArgument
from candlewire.jobs.events import EventRecord, NewEvent, is_terminal_status_event
from candlewire.jobs.registry import target_of
from candlewire.settings import Settings
from candlewire.storage import events as event_store
from candlewire.storage import sessions as session_store
from candlewire.storage.sessions import SessionRecord

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 0.5
STDERR_TAIL_BYTES = 8192
PIPE_READ_BYTES = 256 * 1024
WRITER_BATCH_EVENTS = 5000
WRITER_QUEUE_CHUNKS = 64
SUBSCRIBER_QUEUE_EVENTS = 20_000
# Most events one live batch carries; replay batches are database pages.
LIVE_BATCH = 1000
REPLAY_PAGE = 5000
RESTART_REASON = "server restarted"
SHUTDOWN_REASON = "server shut down"
CANCEL_REASON = "cancelled by user"

# Lets `python -m candlewire.jobs.worker` import this package even when it is not installed.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class RunningJob:
    session_id: str
    kind: str
    title: str
    pid: int | None
    started_at: datetime
    progress: dict[str, Any]


@dataclass
class _Job:
    session: SessionRecord
    started_monotonic: float = 0.0
    process: asyncio.subprocess.Process | None = None
    cancel_reason: str | None = None
    final_result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    stderr_tail: bytearray = field(default_factory=bytearray)
    done: asyncio.Future[SessionRecord] | None = None


@dataclass
class _Chunk:
    """What the writer persists in one go; `persisted` resolves once it is committed and fanned out."""

    events: list[NewEvent]
    updates: dict[str, dict[str, Any]]
    persisted: asyncio.Future[list[EventRecord]] | None = None


class _Subscriber:
    """A live feed with a bounded queue; on overflow it stops queuing and its reader replays from the database."""

    def __init__(self, matches: Callable[[EventRecord], bool]):
        self.matches = matches
        self.queue: deque[EventRecord] = deque()
        self.wakeup = asyncio.Event()
        self.overflowed = False

    def offer(self, event: EventRecord) -> None:
        if self.overflowed or not self.matches(event):
            return
        if len(self.queue) >= SUBSCRIBER_QUEUE_EVENTS:
            self.overflowed = True
        else:
            self.queue.append(event)
        self.wakeup.set()


class JobRuntime:
    def __init__(self, engine: sa.Engine, settings: Settings):
        self._engine = engine
        self._settings = settings
        self._max_concurrent = settings.max_concurrent_jobs
        self._waiting: dict[str, SessionRecord] = {}  # insertion-ordered: FIFO start order
        self._running: dict[str, _Job] = {}
        self._session_kinds: dict[str, str] = {}
        self._subscribers: set[_Subscriber] = set()
        self._outbox: asyncio.Queue[_Chunk] | None = None
        self._slots_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._monitors: set[asyncio.Task[None]] = set()
        self._accepting = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Fail sessions a previous server left queued or running, then start dispatching."""
        self._outbox = asyncio.Queue(WRITER_QUEUE_CHUNKS)
        self._tasks = [
            asyncio.create_task(self._write_events(), name="job-event-writer"),
            asyncio.create_task(self._dispatch(), name="job-dispatcher"),
        ]
        interrupted = await asyncio.to_thread(session_store.mark_interrupted, self._engine, RESTART_REASON)
        # A watcher that finds the session terminal replays its stored events and stops, so the
        # status event must be stored before anyone can watch.
        for session_id in interrupted:
            record = await asyncio.to_thread(session_store.get_session, self._engine, session_id)
            await self._publish_status(record, changes={})
        self._accepting = True

    async def shutdown(self) -> None:
        """Cancel every queued and running session ("server shut down") and stop the background tasks."""
        self._accepting = False
        await self.terminate_all(SHUTDOWN_REASON)
        if self._monitors:
            await asyncio.gather(*self._monitors, return_exceptions=True)
        if self._outbox is not None:
            await self._outbox.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def set_max_concurrent(self, n: int) -> None:
        if n < 1:
            raise InvalidArgument("max concurrent jobs must be at least 1", {"max_concurrent_jobs": "must be >= 1"})
        self._max_concurrent = n
        self._slots_changed.set()

    @property
    def max_concurrent(self) -> int:
        return self._max_concurrent

    # --- jobs ----------------------------------------------------------------------------------

    async def submit(self, kind: str, params: dict[str, Any], title: str = "", description: str = "") -> SessionRecord:
        """Persist a QUEUED session and return it at once; it starts when a slot is free."""
        if not self._accepting:
            raise FailedPrecondition("the job runtime is not running")
        if kind == "test_job" and not self._settings.enable_test_jobs:
            raise FailedPrecondition("test jobs are disabled (set CANDLEWIRE_ENABLE_TEST_JOBS=1)")
        target_of(kind)
        record = await asyncio.to_thread(
            session_store.create_session, self._engine, kind, params, title, description, "queued"
        )
        self._waiting[record.id] = record
        await self._publish_status(record, changes={}, wait=False)
        self._slots_changed.set()
        return record

    async def cancel(self, session_id: str, reason: str = CANCEL_REASON) -> SessionRecord:
        """Cancel a queued or running session (its worker is gone within a second); return it CANCELLED."""
        if session_id in self._waiting:
            record = self._waiting.pop(session_id)
            return await self._finish(record, "cancelled", error=reason)
        job = self._running.get(session_id)
        if job is not None:
            if job.cancel_reason is None:
                job.cancel_reason = reason
                self._stop_worker(job)
            assert job.done is not None
            return await asyncio.shield(job.done)
        record = await asyncio.to_thread(session_store.get_session, self._engine, session_id)
        if record.is_terminal:
            raise FailedPrecondition(f"session {session_id} already {record.status}")
        return await self._finish(record, "cancelled", error=reason)

    async def requeue(self, session_id: str) -> SessionRecord:
        """Queue a cancelled or failed session again (resume); its job picks up from what it stored."""
        if not self._accepting:
            raise FailedPrecondition("the job runtime is not running")
        record = await asyncio.to_thread(session_store.get_session, self._engine, session_id)
        if record.status not in ("cancelled", "failed"):
            raise FailedPrecondition(f"session {session_id} is {record.status}; only a cancelled or failed one can be queued again")
        changes = {"status": "queued", "error": "", "traceback": "", "started_at": None, "finished_at": None}
        record = await self._publish_status(record, changes)
        self._waiting[record.id] = record
        self._slots_changed.set()
        return record

    async def terminate_all(self, reason: str = "terminated by user") -> int:
        """Cancel every queued and running session; return how many were cancelled."""
        session_ids = list(self._waiting) + list(self._running)
        results = await asyncio.gather(
            *(self.cancel(session_id, reason) for session_id in session_ids), return_exceptions=True
        )
        for outcome in results:
            if isinstance(outcome, BaseException) and not isinstance(outcome, FailedPrecondition):
                raise outcome
        return sum(1 for outcome in results if not isinstance(outcome, BaseException))

    def running_jobs(self) -> list[RunningJob]:
        return [
            RunningJob(
                session_id=job.session.id,
                kind=job.session.kind,
                title=job.session.title,
                pid=job.process.pid if job.process else None,
                started_at=job.session.started_at or job.session.created_at,
                progress=dict(job.session.progress),
            )
            for job in self._running.values()
        ]

    def queued_session_ids(self) -> list[str]:
        return list(self._waiting)

    # --- event streams -------------------------------------------------------------------------

    async def watch(self, session_id: str, after_sequence: int = 0) -> AsyncIterator[list[EventRecord]]:
        """One session's events after a `session_sequence` cursor, replayed then live, in batches of whatever
        is ready; ends after its terminal status."""
        record = await asyncio.to_thread(session_store.get_session, self._engine, session_id)

        def fetch(cursor: int) -> list[EventRecord]:
            return event_store.events_after(self._engine, session_id, cursor, REPLAY_PAGE)

        async for batch in self._stream(
            fetch=fetch,
            cursor_of=lambda event: event.session_sequence,
            start=after_sequence,
            matches=lambda event: event.session_id == session_id,
            ends_after=is_terminal_status_event,
            finished_before_replay=record.is_terminal,
        ):
            yield batch

    async def subscribe(
        self,
        after_sequence: int = 0,
        session_ids: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        types: Iterable[str] | None = None,
    ) -> AsyncIterator[list[EventRecord]]:
        """All sessions' events after a global `sequence` cursor, in batches; `kinds` = session kinds,
        `types` = event kinds."""
        wanted_sessions = frozenset(session_ids or ())
        wanted_kinds = frozenset(kinds or ())
        wanted_types = frozenset(types or ())

        def matches(event: EventRecord) -> bool:
            return (
                (not wanted_sessions or event.session_id in wanted_sessions)
                and (not wanted_types or event.kind in wanted_types)
                and (not wanted_kinds or self._session_kinds.get(event.session_id) in wanted_kinds)
            )

        def fetch(cursor: int) -> list[EventRecord]:
            return event_store.events_after_global(
                self._engine, cursor, wanted_sessions, wanted_kinds, wanted_types, REPLAY_PAGE
            )

        async for batch in self._stream(
            fetch=fetch,
            cursor_of=lambda event: event.sequence,
            start=after_sequence,
            matches=matches,
            ends_after=lambda event: False,
            finished_before_replay=False,
        ):
            yield batch

    async def latest_sequence(self) -> int:
        """The newest global sequence: pass it to `subscribe` to get only events from now on."""
        return await asyncio.to_thread(event_store.latest_sequence, self._engine)

    async def _stream(
        self,
        fetch: Callable[[int], list[EventRecord]],
        cursor_of: Callable[[EventRecord], int],
        start: int,
        matches: Callable[[EventRecord], bool],
        ends_after: Callable[[EventRecord], bool],
        finished_before_replay: bool,
    ) -> AsyncIterator[list[EventRecord]]:
        """Batches of events after `start`: whatever is ready at each wake-up, never waiting to fill one,
        so a busy stream costs one message per batch and an idle one still delivers each event at once.
        The stream ends after an `ends_after` event that is the newest one."""
        subscriber = _Subscriber(matches)
        self._subscribers.add(subscriber)
        cursor = start
        last: EventRecord | None = None

        def take(events) -> list[EventRecord]:
            nonlocal cursor, last
            batch = [event for event in events if cursor_of(event) > cursor]
            if batch:
                last = batch[-1]
                cursor = cursor_of(last)
            return batch

        # A stream ends at an ending event only when nothing follows it: a resumed session has
        # an earlier terminal status in its history.
        def ended() -> bool:
            return last is not None and ends_after(last)

        try:
            while True:
                # Replay: everything committed so far. The subscriber is already registered, so
                # whatever commits after this point is queued live and deduplicated by the cursor.
                while True:
                    page = await asyncio.to_thread(fetch, cursor)
                    batch = take(page)
                    if batch:
                        yield batch
                    if len(page) < REPLAY_PAGE:
                        break
                if finished_before_replay or ended():
                    return
                # Live, until the queue overflows; then back to replaying from the cursor.
                while True:
                    if not subscriber.queue:
                        if subscriber.overflowed:
                            subscriber.overflowed = False
                            break
                        subscriber.wakeup.clear()
                        await subscriber.wakeup.wait()
                        continue
                    batch = take([subscriber.queue.popleft() for _ in range(min(len(subscriber.queue), LIVE_BATCH))])
                    if batch:
                        yield batch
                    if ended() and not subscriber.queue:
                        return
        finally:
            self._subscribers.discard(subscriber)

    # --- dispatching and workers ---------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            await self._slots_changed.wait()
            self._slots_changed.clear()
            while self._waiting and len(self._running) < self._max_concurrent:
                session_id, record = next(iter(self._waiting.items()))
                del self._waiting[session_id]
                job = _Job(session=record, done=asyncio.get_running_loop().create_future())
                self._running[session_id] = job
                monitor = asyncio.create_task(self._run_job(job), name=f"job-{session_id}")
                self._monitors.add(monitor)
                monitor.add_done_callback(self._monitors.discard)

    async def _run_job(self, job: _Job) -> None:
        try:
            await self._run_worker(job)
            final = await self._final_state(job)
        except Exception as exc:  # noqa: BLE001 - a runtime fault must still close the session
            log.exception("job %s failed inside the runtime", job.session.id)
            final = ("failed", {"error": f"job runtime error: {exc}", "traceback": ""})
        status, fields = final
        record = await self._finish(job.session, status, **fields)
        del self._running[job.session.id]
        self._slots_changed.set()
        assert job.done is not None
        job.done.set_result(record)

    async def _run_worker(self, job: _Job) -> None:
        now = datetime.now(timezone.utc)
        job.started_monotonic = time.monotonic()
        job.session = await self._publish_status(job.session, {"status": "running", "started_at": now})
        if job.cancel_reason is not None:
            return
        read_fd, write_fd = os.pipe()
        try:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
            job.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "candlewire.jobs.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(write_fd,),
                env=env,
                # Own process group, so cancelling also stops any processes the job spawned.
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        spec = {
            "target": target_of(job.session.kind),
            "params": job.session.params,
            "session_id": job.session.id,
            "database_url": self._settings.database_url,
            "data_dir": str(self._settings.data_dir),
            "event_fd": write_fd,
        }
        if job.cancel_reason is not None:
            self._stop_worker(job)
        assert job.process.stdin is not None
        job.process.stdin.write(json.dumps(spec).encode())
        with contextlib.suppress(ConnectionError):
            await job.process.stdin.drain()
        job.process.stdin.close()
        await asyncio.gather(self._read_events(job, read_fd), self._read_stderr(job))
        await job.process.wait()

    async def _read_events(self, job: _Job, read_fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=PIPE_READ_BYTES)
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        partial = b""
        try:
            while chunk := await reader.read(PIPE_READ_BYTES):
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                await self._accept_worker_events(job, lines)
        finally:
            transport.close()

    async def _read_stderr(self, job: _Job) -> None:
        assert job.process is not None and job.process.stderr is not None
        while chunk := await job.process.stderr.read(65536):
            job.stderr_tail += chunk
            del job.stderr_tail[:-STDERR_TAIL_BYTES]

    async def _accept_worker_events(self, job: _Job, lines: list[bytes]) -> None:
        events: list[NewEvent] = []
        changes: dict[str, Any] = {}
        session_id = job.session.id
        # One decode per pipe read: json.loads' per-call overhead costs more than parsing a small line.
        for message in json.loads(b"[" + b",".join(filter(None, lines)) + b"]"):
            kind, payload = message["kind"], message["payload"]
            time_ = datetime.fromtimestamp(message["time"], timezone.utc)
            if kind == "error":
                job.error = payload
                continue
            if kind == "progress":
                payload = {**payload, "eta_seconds": self._eta(job, payload["done"], payload["total"])}
                changes["progress"] = payload
            elif kind == "result":
                changes["result"] = payload["result"]
                if payload.get("final"):
                    job.final_result = payload["result"]
                    # The final result can be large (a backtest's trades): the session row keeps it,
                    # written in the same transaction as this event, which only marks it.
                    payload = {"final": True}
            events.append(NewEvent(session_id, kind, time_, payload))
        if changes:
            job.session = dataclasses.replace(job.session, **changes)
        if events:
            await self._enqueue(_Chunk(events, {session_id: changes} if changes else {}))

    @staticmethod
    def _eta(job: _Job, done: float, total: float) -> float | None:
        if not done or not total or done >= total:
            return 0.0 if total and done >= total else None
        elapsed = time.monotonic() - job.started_monotonic
        return elapsed * (total - done) / done

    async def _final_state(self, job: _Job) -> tuple[str, dict[str, Any]]:
        if job.cancel_reason is not None:
            return "cancelled", {"error": job.cancel_reason}
        if job.error is not None:
            return "failed", {"error": job.error["error"], "traceback": job.error["traceback"]}
        assert job.process is not None
        code = job.process.returncode
        if job.final_result is not None and code == 0:
            return "succeeded", {"result": job.final_result}
        stderr = job.stderr_tail.decode(errors="replace")
        if code is not None and code < 0:
            message = f"worker killed by signal {-code} ({signal.Signals(-code).name})"
        else:
            message = f"worker exited with code {code}"
        return "failed", {"error": message, "traceback": stderr}

    def _stop_worker(self, job: _Job) -> None:
        process = job.process
        if process is None or process.returncode is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(KILL_GRACE_SECONDS, _kill_if_alive, process)

    # --- persistence and fan-out ---------------------------------------------------------------

    async def _finish(self, record: SessionRecord, status: str, **fields: Any) -> SessionRecord:
        changes = {"status": status, "finished_at": datetime.now(timezone.utc), **fields}
        return await self._publish_status(record, changes)

    async def _publish_status(self, record: SessionRecord, changes: dict[str, Any], wait: bool = True) -> SessionRecord:
        """Apply `changes` to the session and emit its `status` event, both in one transaction."""
        updated = dataclasses.replace(record, **changes, updated_at=datetime.now(timezone.utc)) if changes else record
        self._session_kinds[updated.id] = updated.kind
        event = NewEvent(updated.id, "status", updated.updated_at, updated.to_dict())
        chunk = _Chunk([event], {updated.id: changes} if changes else {})
        if wait:
            chunk.persisted = asyncio.get_running_loop().create_future()
        await self._enqueue(chunk)
        if chunk.persisted is not None:
            await chunk.persisted
        return updated

    async def _enqueue(self, chunk: _Chunk) -> None:
        if self._outbox is None:
            raise FailedPrecondition("the job runtime is not started")
        await self._outbox.put(chunk)

    async def _write_events(self) -> None:
        assert self._outbox is not None
        while True:
            chunks = [await self._outbox.get()]
            count = len(chunks[0].events)
            while count < WRITER_BATCH_EVENTS and not self._outbox.empty():
                chunks.append(self._outbox.get_nowait())
                count += len(chunks[-1].events)
            try:
                records = await self._persist(chunks)
                for subscriber in list(self._subscribers):
                    for record in records:
                        subscriber.offer(record)
            finally:
                for chunk in chunks:
                    if chunk.persisted is not None and not chunk.persisted.done():
                        chunk.persisted.set_result([])
                    self._outbox.task_done()

    async def _persist(self, chunks: list[_Chunk]) -> list[EventRecord]:
        events = [event for chunk in chunks for event in chunk.events]
        updates: dict[str, dict[str, Any]] = {}
        for chunk in chunks:
            for session_id, changes in chunk.updates.items():
                updates.setdefault(session_id, {}).update(changes)
        try:
            return await asyncio.to_thread(event_store.append_events, self._engine, events, updates)
        except Exception:  # noqa: BLE001 - one bad chunk (e.g. its session was deleted) must not lose the others
            log.warning("event batch failed; retrying chunk by chunk", exc_info=True)
        records: list[EventRecord] = []
        for chunk in chunks:
            try:
                records += await asyncio.to_thread(event_store.append_events, self._engine, chunk.events, chunk.updates)
            except Exception:  # noqa: BLE001
                log.exception("dropping %d events that could not be stored", len(chunk.events))
        return records


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _kill_if_alive(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGKILL)
