"""SQLAlchemy 2 table models. The initial migration mirrors these; change both together."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from candlewire.storage.column_types import BigIntegerPK, UTCDateTime, utc_now

SESSION_KINDS = (
    "backtest",
    "candle_import",
    "optimization",
    "monte_carlo",
    "significance_test",
    "live",
    "test_job",
)
SESSION_STATUSES = ("draft", "queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
EVENT_KINDS = ("status", "progress", "log", "result")


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
    }


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        sa.Index("ix_sessions_kind_created_at", "kind", "created_at"),
        sa.Index("ix_sessions_status", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    traceback: Mapped[str] = mapped_column(sa.Text, default="")
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "session_sequence", name="uq_events_session_sequence"),
        # Without AUTOINCREMENT SQLite may reuse the highest sequence after a delete,
        # which would hide new events from subscribers holding that cursor.
        {"sqlite_autoincrement": True},
    )

    sequence: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    session_sequence: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(16))
    time: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class SettingsValue(Base):
    __tablename__ = "settings_kv"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON())


class AuthToken(Base):
    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    exchange: Mapped[str] = mapped_column(sa.String(100))
    encrypted_payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class NotificationChannel(Base):
    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    type: Mapped[str] = mapped_column(sa.String(50))
    encrypted_payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Candle(Base):
    __tablename__ = "candles"
    # The composite key is the only lookup path, so a clustered table halves the storage on SQLite.
    __table_args__ = ({"sqlite_with_rowid": False},)

    exchange: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    open: Mapped[float] = mapped_column(sa.Float)
    close: Mapped[float] = mapped_column(sa.Float)
    high: Mapped[float] = mapped_column(sa.Float)
    low: Mapped[float] = mapped_column(sa.Float)
    volume: Mapped[float] = mapped_column(sa.Float)


class CandleDay(Base):
    """One UTC day of a market's candles packed as little-endian float64 (n, 6): the bulk read path.

    `candles` rows stay the source of truth (keys, conflict-ignore); every write to them rewrites the
    touched days here in the same transaction, so a year loads as 365 blobs instead of 525,600 rows.
    """

    __tablename__ = "candle_days"
    __table_args__ = ({"sqlite_with_rowid": False},)

    exchange: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    day_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
