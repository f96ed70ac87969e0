"""A stand-in for the job runtime's context when a job's `run()` is called in-process (the runtime
has its own tests): it keeps every event the job sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RecordingContext:
    database_url: str
    data_dir: Path
    session_id: str = "recorded"
    events: list[tuple[str, Any]] = field(default_factory=list)

    def progress(self, done: int, total: int, current_time_ms: int | None = None) -> None:
        self.events.append(("progress", (done, total, current_time_ms)))

    def log(self, text: str, level: str = "info") -> None:
        self.events.append(("log", (level, text)))

    def result(self, payload: dict[str, Any], final: bool = False) -> None:
        self.events.append(("result", (payload, final)))

    def of_kind(self, kind: str) -> list[Any]:
        return [payload for event_kind, payload in self.events if event_kind == kind]

    def trials(self) -> list[dict[str, Any]]:
        """The trials an optimization reported, in order."""
        return [payload["trial"] for payload, _ in self.of_kind("result") if "trial" in payload]
