"""Event records and the payload shapes the runtime writes (plain Python; protobuf mapping lives in `api`).

Payloads by event kind:
- `status`: the session as `SessionRecord.to_dict()`.
- `progress`: {"done", "total", "eta_seconds" (None until known), "current_time_ms" (None if not given)}.
- `log`: {"level", "text"}.
- `result`: {"final": false, "result": dict} for a partial result while running; {"final": true} when
  the final result is ready (the result itself is the session's `result`, stored in the same transaction).
"""

from __future__ import annotations

from candlewire.storage.events import EventRecord, NewEvent
from candlewire.storage.models import EVENT_KINDS, TERMINAL_STATUSES

__all__ = ["EVENT_KINDS", "EventRecord", "NewEvent", "is_terminal_status_event"]


def is_terminal_status_event(event: EventRecord) -> bool:
    return event.kind == "status" and event.payload.get("status") in TERMINAL_STATUSES
