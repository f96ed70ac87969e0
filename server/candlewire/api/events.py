"""EventService: the firehose of every session's events, resumable from a global cursor."""

from __future__ import annotations

import asyncio

from candlewire.api import convert, results
from candlewire.api.sessions import is_final_result, require_cursor
from candlewire.api.v1 import event_pb2, event_pb2_grpc
from candlewire.errors import InvalidArgument
from candlewire.storage import sessions as session_store

_TYPES = {
    event_pb2.EVENT_TYPE_SESSION: "status",
    event_pb2.EVENT_TYPE_PROGRESS: "progress",
    event_pb2.EVENT_TYPE_LOG: "log",
    event_pb2.EVENT_TYPE_RESULT: "result",
}


class EventServicer(event_pb2_grpc.EventServiceServicer):
    def __init__(self, app):
        self.app = app
        self._kinds: dict[str, str] = {}

    async def _kind_of(self, session_id: str) -> str:
        if session_id not in self._kinds:
            record = await asyncio.to_thread(session_store.get_session, self.app.engine, session_id)
            self._kinds[session_id] = record.kind
        return self._kinds[session_id]

    async def Subscribe(self, request, context):
        bad_types = [t for t in request.types if t not in _TYPES]
        if bad_types:
            raise InvalidArgument("unknown event type", {"types": f"unknown value(s) {bad_types}"})
        kinds = [convert.session_kind_name(kind, "kinds") for kind in request.kinds]
        if request.HasField("after_sequence"):
            after = require_cursor(request.after_sequence)
        else:
            after = await self.app.runtime.latest_sequence()
        batches = self.app.runtime.subscribe(
            after_sequence=after,
            session_ids=list(request.session_ids) or None,
            kinds=kinds or None,
            types=[_TYPES[t] for t in request.types] or None,
        )
        async for batch in batches:
            yield event_pb2.EventBatch(events=[await self._event(event) for event in batch])

    async def _event(self, event) -> event_pb2.Event:
        kind = event.payload["kind"] if event.kind == "status" else await self._kind_of(event.session_id)
        self._kinds[event.session_id] = kind
        message = convert.fill_event(event_pb2.Event(), event)
        # fill_event sets the per-session cursor; the firehose's `sequence` is the global one.
        message.sequence = event.sequence
        message.session_id = event.session_id
        message.session_sequence = event.session_sequence
        message.kind = convert.SESSION_KINDS[kind]
        if event.kind == "result":
            if is_final_result(event):
                payload = (await asyncio.to_thread(session_store.get_session, self.app.engine, event.session_id)).result
            else:
                payload = event.payload["result"]
            typed = results.typed_result(kind, payload)
            getattr(message, typed.event_field).CopyFrom(typed.message)
        return message
