"""What every long-job service shares: start, run, watch, get and cancel a session of one kind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from candlewire.api import convert
from candlewire.errors import InvalidArgument, NotFound
from candlewire.storage import sessions as session_store


def require_id(session_id: str) -> str:
    if not session_id:
        raise InvalidArgument("id is required", {"id": "must not be empty"})
    return session_id


def require_cursor(after_sequence: int) -> int:
    if after_sequence < 0:
        raise InvalidArgument("after_sequence must not be negative", {"after_sequence": "must not be negative"})
    return after_sequence


class SessionEndpoints:
    """Session operations for one job kind; `batch_type` is the service's `XxxEventBatch` message."""

    def __init__(self, app: Any, kind: str, batch_type: type, result_of: Callable[[dict], Any]):
        self.app = app
        self.kind = kind
        self.batch_type = batch_type
        self.event_type = type(batch_type().events.add())
        self.result_of = result_of

    async def get(self, session_id: str):
        record = await asyncio.to_thread(session_store.get_session, self.app.engine, require_id(session_id))
        if record.kind != self.kind:
            raise NotFound(f"{self.kind.replace('_', ' ')} {session_id!r} not found")
        return record

    async def start(self, params: dict[str, Any], title: str = "", description: str = ""):
        return await self.app.runtime.submit(self.kind, params, title=title, description=description)

    async def cancel(self, session_id: str):
        await self.get(session_id)
        return await self.app.runtime.cancel(session_id)

    async def watch(self, session_id: str, after_sequence: int = 0) -> AsyncIterator[Any]:
        await self.get(session_id)
        async for batch in self.app.runtime.watch(session_id, require_cursor(after_sequence)):
            yield self.batch_type(events=[self.event(event) for event in batch])

    async def run(self, params: dict[str, Any], title: str = "", description: str = "") -> AsyncIterator[Any]:
        record = await self.start(params, title, description)
        async for batch in self.watch(record.id):
            yield batch

    def event(self, event) -> Any:
        return convert.fill_event(self.event_type(), event, result_of=self.result_of)
