"""Event repository: the append-only log behind Watch (per-session cursor) and Subscribe (global cursor)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from candlewire.storage.models import Event, Session
from candlewire.storage.sessions import update_session_in

DEFAULT_LIMIT = 1000

_events = Event.__table__
_sessions = Session.__table__


@dataclass(frozen=True)
class EventRecord:
    sequence: int
    session_id: str
    session_sequence: int
    kind: str
    time: datetime
    payload: dict[str, Any]


# Selected in EventRecord's field order, so rows become records positionally (the replay hot path).
_RECORD_COLUMNS = [_events.c[field.name] for field in fields(EventRecord)]


class NewEvent(NamedTuple):
    session_id: str
    kind: str
    time: datetime
    payload: dict[str, Any]


def append_events(
    engine: sa.Engine,
    events: Sequence[NewEvent | tuple[str, str, datetime, dict[str, Any]]],
    session_updates: Mapping[str, dict[str, Any]] | None = None,
) -> list[EventRecord]:
    """Persist a batch in one transaction, numbering each session's events after its last stored one.

    `session_updates` (session id → column changes) are applied in the same transaction, so a
    reader never sees an event whose session row does not reflect it yet.
    """
    with engine.begin() as connection:
        for session_id, changes in (session_updates or {}).items():
            update_session_in(connection, session_id, changes)
        if not events:
            return []
        session_ids = {event[0] for event in events}
        last = dict(
            connection.execute(
                sa.select(_events.c.session_id, sa.func.max(_events.c.session_sequence))
                .where(_events.c.session_id.in_(session_ids))
                .group_by(_events.c.session_id)
            ).all()
        )
        rows = []
        for session_id, kind, time, payload in events:
            number = last.get(session_id, 0) + 1
            last[session_id] = number
            rows.append(
                {"session_id": session_id, "session_sequence": number, "kind": kind, "time": time, "payload": payload}
            )
        sequences = connection.scalars(
            sa.insert(_events).returning(_events.c.sequence, sort_by_parameter_order=True), rows
        ).all()
    return [EventRecord(sequence=sequence, **row) for sequence, row in zip(sequences, rows)]


def events_after(
    engine: sa.Engine, session_id: str, after_session_sequence: int = 0, limit: int = DEFAULT_LIMIT
) -> list[EventRecord]:
    query = (
        sa.select(*_RECORD_COLUMNS)
        .where(_events.c.session_id == session_id, _events.c.session_sequence > after_session_sequence)
        .order_by(_events.c.session_sequence)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [EventRecord(*row) for row in connection.execute(query)]


def events_after_global(
    engine: sa.Engine,
    after_sequence: int = 0,
    session_ids: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    types: Iterable[str] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[EventRecord]:
    """Events of all sessions after a global cursor; `kinds` filters by session kind, `types` by event kind."""
    query = sa.select(*_RECORD_COLUMNS).where(_events.c.sequence > after_sequence)
    if session_ids:
        query = query.where(_events.c.session_id.in_(list(session_ids)))
    if types:
        query = query.where(_events.c.kind.in_(list(types)))
    if kinds:
        query = query.where(
            _events.c.session_id.in_(sa.select(_sessions.c.id).where(_sessions.c.kind.in_(list(kinds))))
        )
    query = query.order_by(_events.c.sequence).limit(limit)
    with engine.connect() as connection:
        return [EventRecord(*row) for row in connection.execute(query)]


def latest_sequence(engine: sa.Engine) -> int:
    """The newest global sequence (0 when there are no events): a cursor meaning "from now on"."""
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.coalesce(sa.func.max(_events.c.sequence), 0))) or 0
