"""Candle storage: bulk insert and numpy loading, bypassing the ORM (millions of rows per symbol).

Arrays are (n, 6) float64 with columns [timestamp_ms, open, close, high, low, volume].
Time bounds are inclusive on both ends, matching the (first, last) timestamps `candle_ranges` reports.
1-minute rows keyed by (exchange, symbol, timestamp) are the source of truth; every write also
rewrites the touched days of `candle_days` (packed blocks) in the same transaction, which is what
`load_candles` reads.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa

from candlewire.errors import InvalidArgument
from candlewire.storage.models import Candle, CandleDay

COLUMNS = ("timestamp", "open", "close", "high", "low", "volume")
DAY_MS = 86_400_000

_table = Candle.__table__
_days = CandleDay.__table__
_BLOCK_DTYPE = np.dtype("<f8")

# PostgreSQL binary COPY framing: 11-byte signature, int32 flags, int32 header-extension length.
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PG_COPY_TRAILER = struct.pack(">h", -1)


def _pg_copy_row() -> np.dtype[Any]:
    """One binary COPY tuple: int16 field count, then (int32 length, big-endian value) per column."""
    layout: list[tuple[str, str]] = [("field_count", ">i2")]
    for name in COLUMNS:
        layout += [(f"{name}_length", ">i4"), (name, ">i8" if name == "timestamp" else ">f8")]
    return np.dtype(layout)


_PG_COPY_ROW = _pg_copy_row()


class CandleRange(NamedTuple):
    exchange: str
    symbol: str
    start_ms: int
    end_ms: int
    count: int


def insert_candles(engine: sa.Engine, exchange: str, symbol: str, candles: np.ndarray) -> int:
    """Insert rows, silently skipping timestamps already stored; return how many were new."""
    candles = np.asarray(candles, dtype=np.float64)
    if candles.ndim != 2 or candles.shape[1] != len(COLUMNS):
        raise InvalidArgument(
            "candles must be an (n, 6) array", {"candles": "expected columns timestamp, open, close, high, low, volume"}
        )
    if len(candles) == 0:
        return 0
    insert_rows = _insert_postgresql if engine.dialect.name == "postgresql" else _insert_sqlite
    with engine.begin() as connection:
        inserted = insert_rows(connection, exchange, symbol, candles)
        days = _day_of(candles[:, 0])
        # Stored candles come first so they win over new ones with the same timestamp, as in the rows.
        _rewrite_days(
            connection, exchange, symbol, int(days.min()), int(days.max()), lambda stored: _unique(np.vstack([stored, candles]))
        )
    return inserted


def _insert_sqlite(connection: sa.Connection, exchange: str, symbol: str, candles: np.ndarray) -> int:
    columns = [candles[:, 0].astype(np.int64).tolist()] + [candles[:, i].tolist() for i in range(1, 6)]
    result = connection.exec_driver_sql(
        "INSERT OR IGNORE INTO candles (exchange, symbol, timestamp, open, close, high, low, volume) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        list(zip(repeat(exchange), repeat(symbol), *columns)),
    )
    return result.rowcount


def _insert_postgresql(connection: sa.Connection, exchange: str, symbol: str, candles: np.ndarray) -> int:
    body = np.empty(len(candles), dtype=_PG_COPY_ROW)
    body["field_count"] = len(COLUMNS)
    for index, name in enumerate(COLUMNS):
        body[f"{name}_length"] = 8
        body[name] = candles[:, index]
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(
        "CREATE TEMP TABLE candle_import (timestamp bigint, open float8, close float8, high float8, "
        "low float8, volume float8) ON COMMIT DROP"
    )
    with cursor.copy("COPY candle_import FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PG_COPY_HEADER + body.tobytes() + _PG_COPY_TRAILER)
    cursor.execute(
        "INSERT INTO candles (exchange, symbol, timestamp, open, close, high, low, volume) "
        "SELECT %s, %s, timestamp, open, close, high, low, volume FROM candle_import "
        "ON CONFLICT DO NOTHING",
        (exchange, symbol),
    )
    return cursor.rowcount


def load_candles(engine: sa.Engine, exchange: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
    """Rows with start_ms <= timestamp <= end_ms, in time order, as an (n, 6) float64 array.

    Read from the packed day blocks: one blob per day instead of one Python object per row.
    """
    with engine.connect() as connection:
        candles = _stored_days(connection, exchange, symbol, int(_day_of(start_ms)), int(end_ms))
    timestamps = candles[:, 0]
    return candles[np.searchsorted(timestamps, start_ms) : np.searchsorted(timestamps, end_ms, side="right")]


def _day_of(timestamp_ms):
    return np.floor_divide(timestamp_ms, DAY_MS) * DAY_MS


def _unique(candles: np.ndarray) -> np.ndarray:
    """Sorted by time, keeping the first row of each timestamp."""
    _, first = np.unique(candles[:, 0], return_index=True)
    return candles[first]


def _stored_days(connection: sa.Connection, exchange: str, symbol: str, first_day: int, last_ms: int) -> np.ndarray:
    blobs = connection.scalars(
        sa.select(_days.c.data)
        .where(_days.c.exchange == exchange, _days.c.symbol == symbol, _days.c.day_ms.between(first_day, last_ms))
        .order_by(_days.c.day_ms)
    ).all()
    return np.frombuffer(b"".join(blobs), dtype=_BLOCK_DTYPE).astype(np.float64).reshape(-1, len(COLUMNS))


def _rewrite_days(
    connection: sa.Connection,
    exchange: str,
    symbol: str,
    first_day: int,
    last_day: int,
    change: Callable[[np.ndarray], np.ndarray],
) -> None:
    """Replace the day blocks in [first_day, last_day] by `change(their candles)`, split into days again."""
    market = (_days.c.exchange == exchange) & (_days.c.symbol == symbol)
    candles = change(_stored_days(connection, exchange, symbol, first_day, last_day))
    connection.execute(sa.delete(_days).where(market, _days.c.day_ms.between(first_day, last_day)))
    if len(candles) == 0:
        return
    days = _day_of(candles[:, 0])
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    blocks = np.split(np.ascontiguousarray(candles, dtype=_BLOCK_DTYPE), starts[1:])
    connection.execute(
        sa.insert(_days),
        [
            {"exchange": exchange, "symbol": symbol, "day_ms": int(days[start]), "data": block.tobytes()}
            for start, block in zip(starts, blocks)
        ],
    )


def candle_ranges(engine: sa.Engine) -> list[CandleRange]:
    query = (
        sa.select(
            _table.c.exchange,
            _table.c.symbol,
            sa.func.min(_table.c.timestamp),
            sa.func.max(_table.c.timestamp),
            sa.func.count(),
        )
        .group_by(_table.c.exchange, _table.c.symbol)
        .order_by(_table.c.exchange, _table.c.symbol)
    )
    with engine.connect() as connection:
        return [CandleRange(*row) for row in connection.execute(query)]


def delete_candles(
    engine: sa.Engine, exchange: str, symbol: str, start_ms: int | None = None, end_ms: int | None = None
) -> int:
    query = sa.delete(_table).where(_table.c.exchange == exchange, _table.c.symbol == symbol)
    if start_ms is not None:
        query = query.where(_table.c.timestamp >= start_ms)
    if end_ms is not None:
        query = query.where(_table.c.timestamp <= end_ms)
    low = -(2**62) if start_ms is None else start_ms
    high = 2**62 if end_ms is None else end_ms

    def without_range(candles: np.ndarray) -> np.ndarray:
        return candles[(candles[:, 0] < low) | (candles[:, 0] > high)]

    with engine.begin() as connection:
        deleted = connection.execute(query).rowcount
        if deleted:
            _rewrite_days(connection, exchange, symbol, int(_day_of(low)), high, without_range)
    return deleted


def purge_candles(engine: sa.Engine, exchange: str | None = None) -> int:
    rows, days = sa.delete(_table), sa.delete(_days)
    if exchange is not None:
        rows, days = rows.where(_table.c.exchange == exchange), days.where(_days.c.exchange == exchange)
    with engine.begin() as connection:
        connection.execute(days)
        return connection.execute(rows).rowcount
