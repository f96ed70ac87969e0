"""Candle storage: bulk insert and numpy loading, bypassing the ORM (millions of rows per symbol).

Arrays are (n, 6) float64 with columns [timestamp_ms, open, close, high, low, volume].
Time bounds are inclusive on both ends, matching the (first, last) timestamps `candle_ranges` reports.
"""

from __future__ import annotations

import struct
from itertools import chain, repeat
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa

from candlewire.errors import InvalidArgument
from candlewire.storage.models import Candle

COLUMNS = ("timestamp", "open", "close", "high", "low", "volume")

_table = Candle.__table__

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
    if engine.dialect.name == "postgresql":
        return _insert_postgresql(engine, exchange, symbol, candles)
    return _insert_sqlite(engine, exchange, symbol, candles)


def _insert_sqlite(engine: sa.Engine, exchange: str, symbol: str, candles: np.ndarray) -> int:
    columns = [candles[:, 0].astype(np.int64).tolist()] + [candles[:, i].tolist() for i in range(1, 6)]
    rows = zip(repeat(exchange), repeat(symbol), *columns)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.executemany(
            "INSERT OR IGNORE INTO candles (exchange, symbol, timestamp, open, close, high, low, volume) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        inserted = cursor.rowcount
        connection.commit()
    finally:
        connection.close()
    return inserted


def _insert_postgresql(engine: sa.Engine, exchange: str, symbol: str, candles: np.ndarray) -> int:
    body = np.empty(len(candles), dtype=_PG_COPY_ROW)
    body["field_count"] = len(COLUMNS)
    for index, name in enumerate(COLUMNS):
        body[f"{name}_length"] = 8
        body[name] = candles[:, index]
    payload = _PG_COPY_HEADER + body.tobytes() + _PG_COPY_TRAILER
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "CREATE TEMP TABLE candle_import (timestamp bigint, open float8, close float8, high float8, "
            "low float8, volume float8) ON COMMIT DROP"
        )
        with cursor.copy("COPY candle_import FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        cursor.execute(
            "INSERT INTO candles (exchange, symbol, timestamp, open, close, high, low, volume) "
            "SELECT %s, %s, timestamp, open, close, high, low, volume FROM candle_import "
            "ON CONFLICT DO NOTHING",
            (exchange, symbol),
        )
        inserted = cursor.rowcount
        connection.commit()
    finally:
        connection.close()
    return inserted


def load_candles(engine: sa.Engine, exchange: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
    """Rows with start_ms <= timestamp <= end_ms, in time order, as an (n, 6) float64 array."""
    if engine.dialect.name == "postgresql":
        return _load_postgresql(engine, exchange, symbol, start_ms, end_ms)
    return _load_sqlite(engine, exchange, symbol, start_ms, end_ms)


def _load_sqlite(engine: sa.Engine, exchange: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
    where = "WHERE exchange = ? AND symbol = ? AND timestamp BETWEEN ? AND ?"
    params = (exchange, symbol, int(start_ms), int(end_ms))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        (count,) = cursor.execute(f"SELECT count(*) FROM candles {where}", params).fetchone()
        cursor.execute(
            f"SELECT timestamp, open, close, high, low, volume FROM candles {where} ORDER BY timestamp", params
        )
        # Flattening the row tuples into a scalar stream takes numpy's fast fromiter path into one
        # preallocated buffer (measured ~2x faster than a subarray dtype or np.array(fetchall())).
        flat = np.fromiter(chain.from_iterable(cursor), dtype=np.float64, count=count * len(COLUMNS))
    finally:
        connection.close()
    return flat.reshape(count, len(COLUMNS))


def _load_postgresql(engine: sa.Engine, exchange: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
    connection = engine.raw_connection()
    try:
        # The server packs every row into one bytea of big-endian float8s, so the client decodes a
        # single value instead of half a million rows (COPY TO also delivers one message per row).
        cursor = connection.driver_connection.cursor(binary=True)
        (packed,) = cursor.execute(
            "SELECT string_agg(float8send(timestamp::float8) || float8send(open) || float8send(close) "
            "|| float8send(high) || float8send(low) || float8send(volume), ''::bytea ORDER BY timestamp) "
            "FROM candles WHERE exchange = %s AND symbol = %s AND timestamp BETWEEN %s AND %s",
            (exchange, symbol, int(start_ms), int(end_ms)),
        ).fetchone()
        connection.rollback()
    finally:
        connection.close()
    if packed is None:
        return np.empty((0, len(COLUMNS)), dtype=np.float64)
    return np.frombuffer(packed, dtype=">f8").astype(np.float64).reshape(-1, len(COLUMNS))


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
    with engine.begin() as connection:
        return connection.execute(query).rowcount


def purge_candles(engine: sa.Engine, exchange: str | None = None) -> int:
    query = sa.delete(_table)
    if exchange is not None:
        query = query.where(_table.c.exchange == exchange)
    with engine.begin() as connection:
        return connection.execute(query).rowcount
