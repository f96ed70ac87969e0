"""Session repository: the rows behind every long-running job."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from candlewire.errors import InvalidArgument, NotFound
from candlewire.storage.models import SESSION_KINDS, SESSION_STATUSES, TERMINAL_STATUSES, Session, new_id
from candlewire.storage.column_types import utc_now

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
ACTIVE_STATUSES = ("queued", "running")
UPDATABLE_FIELDS = frozenset(
    {"status", "title", "description", "params", "result", "error", "traceback", "progress", "started_at", "finished_at"}
)

_table = Session.__table__


@dataclass(frozen=True)
class SessionRecord:
    id: str
    kind: str
    status: str
    title: str
    description: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str
    traceback: str
    progress: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601 strings); the payload of `status` events."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _record(row: sa.Row[Any]) -> SessionRecord:
    return SessionRecord(**row._asdict())


def _validate_kind(kind: str, field: str = "kind") -> None:
    if kind not in SESSION_KINDS:
        raise InvalidArgument(f"unknown session kind {kind!r}", {field: f"must be one of {', '.join(SESSION_KINDS)}"})


def _validate_status(status: str, field: str = "status") -> None:
    if status not in SESSION_STATUSES:
        raise InvalidArgument(
            f"unknown session status {status!r}", {field: f"must be one of {', '.join(SESSION_STATUSES)}"}
        )


def create_session(
    engine: sa.Engine,
    kind: str,
    params: dict[str, Any],
    title: str = "",
    description: str = "",
    status: str = "queued",
) -> SessionRecord:
    _validate_kind(kind)
    _validate_status(status)
    now = utc_now()
    values = dict(
        id=new_id(),
        kind=kind,
        status=status,
        title=title,
        description=description,
        params=params,
        result=None,
        error="",
        traceback="",
        progress={},
        created_at=now,
        updated_at=now,
        started_at=None,
        finished_at=None,
    )
    with engine.begin() as connection:
        connection.execute(sa.insert(_table), values)
    return SessionRecord(**values)


def get_session(engine: sa.Engine, session_id: str) -> SessionRecord:
    with engine.connect() as connection:
        row = connection.execute(sa.select(_table).where(_table.c.id == session_id)).first()
    if row is None:
        raise NotFound(f"session {session_id!r} not found")
    return _record(row)


def update_session(engine: sa.Engine, session_id: str, **changes: Any) -> SessionRecord:
    with engine.begin() as connection:
        update_session_in(connection, session_id, changes)
        row = connection.execute(sa.select(_table).where(_table.c.id == session_id)).first()
    assert row is not None
    return _record(row)


def update_session_in(connection: sa.Connection, session_id: str, changes: dict[str, Any]) -> None:
    """Apply `changes` inside the caller's transaction (lets event batches update sessions atomically)."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidArgument(
            "fields not updatable", {name: "not an updatable session field" for name in sorted(unknown)}
        )
    if "status" in changes:
        _validate_status(changes["status"])
    result = connection.execute(
        sa.update(_table).where(_table.c.id == session_id).values(**changes, updated_at=utc_now())
    )
    if result.rowcount == 0:
        raise NotFound(f"session {session_id!r} not found")


def delete_session(engine: sa.Engine, session_id: str) -> None:
    """Delete a session; its events go with it (ON DELETE CASCADE)."""
    with engine.begin() as connection:
        result = connection.execute(sa.delete(_table).where(_table.c.id == session_id))
    if result.rowcount == 0:
        raise NotFound(f"session {session_id!r} not found")


def purge_sessions(engine: sa.Engine, kind: str, older_than: datetime) -> int:
    """Delete finished, failed, cancelled and draft sessions of `kind` created before `older_than`.

    Queued and running sessions are kept: their workers still write to them.
    """
    _validate_kind(kind)
    with engine.begin() as connection:
        result = connection.execute(
            sa.delete(_table).where(
                _table.c.kind == kind,
                _table.c.created_at < older_than,
                _table.c.status.not_in(ACTIVE_STATUSES),
            )
        )
    return result.rowcount


def counts_by_kind(engine: sa.Engine, since: datetime | None = None) -> dict[str, int]:
    query = sa.select(_table.c.kind, sa.func.count()).group_by(_table.c.kind)
    if since is not None:
        query = query.where(_table.c.created_at >= since)
    with engine.connect() as connection:
        return {kind: count for kind, count in connection.execute(query)}


def mark_interrupted(engine: sa.Engine, reason: str) -> list[str]:
    """Fail every queued or running session (their workers died with the previous server); return their ids."""
    now = utc_now()
    with engine.begin() as connection:
        ids = list(connection.scalars(sa.select(_table.c.id).where(_table.c.status.in_(ACTIVE_STATUSES))))
        if ids:
            connection.execute(
                sa.update(_table)
                .where(_table.c.id.in_(ids))
                .values(status="failed", error=reason, finished_at=now, updated_at=now)
            )
    return ids


def list_sessions(
    engine: sa.Engine,
    kind: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str = "",
    title_contains: str = "",
    statuses: Iterable[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[SessionRecord], str]:
    """Newest first; returns the page and the token of the next one ("" when this is the last page)."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", {"page_size": "must not be negative"})
    page_size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = sa.select(_table)
    if kind:
        _validate_kind(kind)
        query = query.where(_table.c.kind == kind)
    status_list = list(statuses or ())
    for status in status_list:
        _validate_status(status, "statuses")
    if status_list:
        query = query.where(_table.c.status.in_(status_list))
    if title_contains:
        query = query.where(sa.func.lower(_table.c.title).contains(title_contains.lower(), autoescape=True))
    if created_after is not None:
        query = query.where(_table.c.created_at >= created_after)
    if created_before is not None:
        query = query.where(_table.c.created_at < created_before)
    if page_token:
        cursor_time, cursor_id = _decode_page_token(page_token)
        query = query.where(
            sa.or_(
                _table.c.created_at < cursor_time,
                sa.and_(_table.c.created_at == cursor_time, _table.c.id < cursor_id),
            )
        )
    query = query.order_by(_table.c.created_at.desc(), _table.c.id.desc()).limit(page_size + 1)
    with engine.connect() as connection:
        records = [_record(row) for row in connection.execute(query)]
    if len(records) <= page_size:
        return records, ""
    records = records[:page_size]
    return records, _encode_page_token(records[-1])


def _encode_page_token(last: SessionRecord) -> str:
    raw = json.dumps([last.created_at.isoformat(), last.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, session_id = json.loads(raw)
        cursor_time = datetime.fromisoformat(created_at)
        if cursor_time.tzinfo is None or not isinstance(session_id, str):
            raise ValueError("malformed cursor")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("invalid page token", {"page_token": "not a token returned by this list"}) from None
    return cursor_time, session_id
