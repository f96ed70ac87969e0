"""`JobContext`: what a job running inside a worker process uses to report back to the server.

Events travel as newline-delimited JSON over a dedicated pipe (stdout stays free for user code
that prints). They are buffered and flushed every ~20 ms or at 500 pending, so a job can emit tens
of thousands of events per second without a system call each.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FLUSH_INTERVAL_SECONDS = 0.02
FLUSH_AT_PENDING = 500
SERVER_GONE_EXIT_CODE = 75


class JobContext:
    def __init__(self, session_id: str, database_url: str, data_dir: str, event_fd: int):
        self.session_id = session_id
        self.database_url = database_url
        self.data_dir = Path(data_dir)
        self.final_result: dict[str, Any] | None = None
        self._fd = event_fd
        self._pending: list[str] = []
        self._pending_progress_index: int | None = None
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="event-flusher", daemon=True)
        self._flusher.start()

    def progress(self, done: float, total: float, current_time_ms: int | None = None) -> None:
        """Report progress; the server derives the ETA from the rate. Calls within one flush window collapse."""
        self._emit("progress", {"done": done, "total": total, "current_time_ms": current_time_ms}, replaceable=True)

    def log(self, text: str, level: str = "info") -> None:
        self._emit("log", {"level": level, "text": str(text)})

    def result(self, payload: dict[str, Any], final: bool = False) -> None:
        """Publish a partial result; `final=True` makes it the job's result when `run` returns None."""
        if final:
            self.final_result = payload
        else:
            self._emit("result", {"final": False, "result": payload})

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        """Low-level: queue one event of any kind (the worker uses it for the final result or error)."""
        self._emit(kind, payload)

    def close(self) -> None:
        """Flush everything and close the pipe; the server reads EOF as "no more events"."""
        self._closed.set()
        self._flusher.join()
        with self._lock:
            self._flush_locked()
        os.close(self._fd)

    def _emit(self, kind: str, payload: dict[str, Any], replaceable: bool = False) -> None:
        line = json.dumps({"kind": kind, "time": time.time(), "payload": payload}, default=str)
        with self._lock:
            if replaceable and self._pending_progress_index is not None:
                self._pending[self._pending_progress_index] = line
            else:
                self._pending.append(line)
                self._pending_progress_index = len(self._pending) - 1 if replaceable else None
            if (
                len(self._pending) >= FLUSH_AT_PENDING
                or time.monotonic() - self._last_flush >= FLUSH_INTERVAL_SECONDS
            ):
                self._flush_locked()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_INTERVAL_SECONDS):
            with self._lock:
                if self._pending:
                    self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        data = ("\n".join(self._pending) + "\n").encode()
        self._pending.clear()
        self._pending_progress_index = None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except BrokenPipeError:
            # The server died; nobody can receive this job's output, so stop using the machine.
            os._exit(SERVER_GONE_EXIT_CODE)
