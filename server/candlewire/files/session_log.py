"""A session's log as a plain-text file, rendered from its persisted log events."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from candlewire.storage import events as event_store

PAGE = 5_000


def log_lines(engine: sa.Engine, session_id: str) -> Iterator[str]:
    """`<ISO time> <LEVEL> <text>` per log event, oldest first, read page by page."""
    cursor = 0
    while True:
        page = event_store.events_after(engine, session_id, cursor, limit=PAGE)
        for event in page:
            if event.kind == "log":
                time = event.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                yield f"{time} {event.payload.get('level', 'info').upper():<7} {event.payload.get('text', '')}\n"
        if len(page) < PAGE:
            return
        cursor = page[-1].session_sequence
