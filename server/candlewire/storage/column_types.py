"""Column types shared by the models and the migrations."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone-aware type, so values are stored as naive UTC there and
    given back their UTC tzinfo on load; PostgreSQL keeps `timestamptz`.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        require_aware(value)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def require_aware(value: datetime) -> None:
    """Reject naive datetimes: their zone is unknown, so no stored time could be trusted."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; candlewire stores only timezone-aware UTC times")


# SQLite only auto-assigns rowid-backed INTEGER primary keys, not BIGINT ones.
BigIntegerPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
