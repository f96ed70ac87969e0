"""Event repository: the append-only log behind Watch (per-session cursor) and Subscribe (global cursor)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from candlewire.storage.column_types import require_aware
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

# An event row before it is stored: EventRecord's fields without `sequence`, in the same order.
_Row = tuple[str, int, str, datetime, dict[str, Any]]
_ROW_FIELDS = [field.name for field in fields(EventRecord)][1:]

# The sequence BIGSERIAL created for `events.sequence`; nextval() keeps it the single source of numbers.
_RESERVE_SEQUENCES = "SELECT nextval('events_sequence_seq') FROM generate_series(1, %s)"
_COPY_EVENTS = f"COPY events ({', '.join(column.name for column in _RECORD_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# Binary COPY needs each column's exact PostgreSQL type; the payload stays `json`, as the schema defines.
_COPY_TYPES = ["bigint", "varchar", "integer", "varchar", "timestamptz", "json"]


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
    reader never sees an event whose session row does not reflect it yet. Global `sequence` numbers
    rise in batch order; they follow commit order because one writer (the job runtime's) appends.
    """
    insert_rows = _insert_postgresql if engine.dialect.name == "postgresql" else _insert_sqlite
    with engine.begin() as connection:
        for session_id, changes in (session_updates or {}).items():
            update_session_in(connection, session_id, changes)
        if not events:
            return []
        rows = _numbered_rows(connection, events)
        sequences = insert_rows(connection, rows)
    return [EventRecord(sequence, *row) for sequence, row in zip(sequences, rows)]


def _numbered_rows(connection: sa.Connection, events: Sequence[tuple[str, str, datetime, dict[str, Any]]]) -> list[_Row]:
    """Each event as a row numbered after its session's last stored event (no gaps per session)."""
    last = _last_session_sequences(connection, {event[0] for event in events})
    rows: list[_Row] = []
    for session_id, kind, time, payload in events:
        number = last.get(session_id, 0) + 1
        last[session_id] = number
        rows.append((session_id, number, kind, time, payload))
    return rows


def _last_session_sequences(connection: sa.Connection, session_ids: set[str]) -> dict[str, int]:
    """Each session's newest stored `session_sequence` (0 before its first event).

    A correlated max() per session is answered from the end of the (session_id, session_sequence)
    index; max() ... GROUP BY session_id reads every stored event of the session instead, which
    made each batch of a long job slower than the one before.
    """
    newest = (
        sa.select(sa.func.max(_events.c.session_sequence))
        .where(_events.c.session_id == _sessions.c.id)
        .scalar_subquery()
    )
    rows = connection.execute(sa.select(_sessions.c.id, newest).where(_sessions.c.id.in_(session_ids)))
    return {session_id: last or 0 for session_id, last in rows}


def _insert_sqlite(connection: sa.Connection, rows: list[_Row]) -> list[int]:
    """One executemany, then the numbers from the last one: RETURNING would run a statement per row.

    The transaction holds SQLite's single write lock from the first row on, and AUTOINCREMENT gives
    each row the next number, so the batch's numbers are the contiguous run ending at the last one.
    """
    connection.execute(sa.insert(_events), [dict(zip(_ROW_FIELDS, row)) for row in rows])
    last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    return list(range(last - len(rows) + 1, last + 1))


def _insert_postgresql(connection: sa.Connection, rows: list[_Row]) -> list[int]:
    """Reserve the batch's sequence numbers in one statement, then stream the rows with binary COPY.

    A multi-row INSERT ... RETURNING spends most of its time in psycopg parsing and binding the
    statement (5 parameters a row); COPY sends the rows as they are.
    """
    with connection.connection.driver_connection.cursor(binary=True) as cursor:
        # nextval() runs once per row; sorting hands the numbers out in batch order whatever
        # order the rows come back in.
        sequences = sorted(number for (number,) in cursor.execute(_RESERVE_SEQUENCES, (len(rows),)))
        with cursor.copy(_COPY_EVENTS) as copy:
            copy.set_types(_COPY_TYPES)
            for sequence, row in zip(sequences, rows):
                require_aware(row[3])
                copy.write_row((sequence, *row))
    return sequences


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
