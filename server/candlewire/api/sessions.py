"""What every long-job service shares: start, run, watch, get and cancel a session of one kind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from candlewire.api import convert, results
from candlewire.errors import FailedPrecondition, InvalidArgument, NotFound
from candlewire.storage import sessions as session_store

# What UpdateXxx may change on any session: the session's title and description.
UPDATABLE_PATHS = {"session.title": "title", "session.description": "description"}


def is_final_result(event) -> bool:
    return event.kind == "result" and event.payload.get("final", False)


def require_id(session_id: str) -> str:
    if not session_id:
        raise InvalidArgument("id is required", {"id": "must not be empty"})
    return session_id


def require_cursor(after_sequence: int) -> int:
    if after_sequence < 0:
        raise InvalidArgument("after_sequence must not be negative", {"after_sequence": "must not be negative"})
    return after_sequence


class SessionEndpoints:
    """Session operations for one job kind (start, run, watch, get, cancel, list, update, delete,
    purge); `batch_type` is the service's `XxxEventBatch` message."""

    def __init__(self, app: Any, kind: str, batch_type: type):
        self.app = app
        self.kind = kind
        self.batch_type = batch_type

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
            final = (await self.get(session_id)).result if any(is_final_result(e) for e in batch) else None
            yield self.batch(batch, final)

    async def run(self, params: dict[str, Any], title: str = "", description: str = "") -> AsyncIterator[Any]:
        record = await self.start(params, title, description)
        async for batch in self.watch(record.id):
            yield batch

    def batch(self, events, final_result: dict | None = None) -> Any:
        """The `XxxEventBatch` of `events`, each filled in place: building messages first and passing
        them to the batch would copy every one."""
        message = self.batch_type()
        add = message.events.add
        for event in events:
            self.fill_event(add(), event, final_result)
        return message

    def fill_event(self, message, event, final_result: dict | None = None) -> Any:
        """Fill the typed event; a final result event is filled from `final_result` (the session's result)."""
        convert.fill_event(message, event)
        if event.kind == "result":
            typed = results.typed_result(self.kind, final_result if is_final_result(event) else event.payload["result"])
            getattr(message, typed.service_field).CopyFrom(typed.message)
        return message

    async def list_page(self, request) -> tuple[list, str]:
        return await asyncio.to_thread(
            session_store.list_sessions,
            self.app.engine,
            kind=self.kind,
            page_size=request.page_size,
            page_token=request.page_token,
            title_contains=request.title_contains,
            statuses=[convert.SESSION_STATUS_NAMES.get(status, str(status)) for status in request.statuses],
            created_after=convert.datetime_of(request.created_after) if request.HasField("created_after") else None,
            created_before=convert.datetime_of(request.created_before) if request.HasField("created_before") else None,
        )

    async def update(self, session, paths: list[str]):
        record = await self.get(session.id)
        unknown = [path for path in paths if path not in UPDATABLE_PATHS]
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(unknown)}", {"update_mask": f"only {' and '.join(UPDATABLE_PATHS)} can be updated"}
            )
        # Without a mask, only fields the request sets are updated (AIP-134).
        changes = {
            column: getattr(session, column)
            for path, column in UPDATABLE_PATHS.items()
            if path in paths or (not paths and getattr(session, column))
        }
        if not changes:
            return record
        return await asyncio.to_thread(session_store.update_session, self.app.engine, record.id, **changes)

    async def delete(self, session_id: str) -> None:
        record = await self.get(session_id)
        if not record.is_terminal:
            raise FailedPrecondition(f"{self.kind.replace('_', ' ')} {record.id} is {record.status}; cancel it before deleting it")
        await asyncio.to_thread(session_store.delete_session, self.app.engine, record.id)

    async def purge(self, older_than_days: int) -> int:
        if older_than_days < 0:
            raise InvalidArgument("older_than_days must not be negative", {"older_than_days": "must not be negative"})
        cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days)
        return await asyncio.to_thread(session_store.purge_sessions, self.app.engine, self.kind, cutoff)
