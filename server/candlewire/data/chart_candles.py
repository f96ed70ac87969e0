"""Candles for charts: stored 1-minute candles aggregated into any timeframe over a time window.

Chart bars are aligned to the calendar, unlike the backtest engine's (which counts bars from the
first candle of a run, see `candlewire.engine.timeframes`): a bar of w minutes opens at a
multiple of w minutes since the Unix epoch, so a 1h bar opens on the hour, 4h bars at 00:00,
04:00, … UTC and 1D bars at midnight UTC; weekly bars open on Mondays 00:00 UTC; 3D and 1M
(30 days, as everywhere in candlewire) simply count from the epoch.

A bar covers whichever stored minutes fall in its span, so missing minutes make no bar (when
all are missing) or a bar built from the minutes present. The window selects bars by open
time: start ≤ open < end; a bar opening inside the window includes all its minutes, even those
after `end`. The newest `limit` bars are kept.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from candlewire.data.exchanges import market_violations
from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, TIMESTAMP, VOLUME, TIMEFRAMES
from candlewire.errors import NotFound, require
from candlewire.storage.candles import load_candles
from candlewire.storage.models import Candle

MINUTE_MS = 60_000
MAX_BARS = 10_000
# 1970-01-05, the first Monday after the epoch: weekly bars open on Mondays.
_MONDAY_MS = 4 * 24 * 60 * MINUTE_MS


def chart_candles(
    engine: sa.Engine,
    exchange: str,
    symbol: str,
    timeframe: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 0,
) -> np.ndarray:
    """(n, 6) bars `[open_time_ms, open, close, high, low, volume]`, oldest first; `limit` 0 means MAX_BARS."""
    _validate(exchange, symbol, timeframe, start_ms, end_ms, limit)
    span = stored_span(engine, exchange, symbol)
    if span is None:
        raise NotFound(f"no candles stored for {symbol} on {exchange}")
    width = TIMEFRAMES[timeframe] * MINUTE_MS
    origin = _MONDAY_MS if timeframe == "1W" else 0
    first_open = _bucket_open(span[0], width, origin) if start_ms is None else _bucket_open(start_ms + width - 1, width, origin)
    last_open = _bucket_open(span[1] if end_ms is None else end_ms - 1, width, origin)
    if first_open > last_open:
        return np.empty((0, 6))
    limit = limit or MAX_BARS
    # Loading only the last `limit` buckets is enough unless gaps leave some of them empty.
    recent_open = max(first_open, last_open - (limit - 1) * width)
    bars = _aggregate(load_candles(engine, exchange, symbol, recent_open, last_open + width - 1), width, origin)
    if len(bars) < limit and recent_open > first_open:
        bars = _aggregate(load_candles(engine, exchange, symbol, first_open, last_open + width - 1), width, origin)
    return bars[-limit:]


def stored_span(engine: sa.Engine, exchange: str, symbol: str) -> tuple[int, int] | None:
    """Open times of the first and last stored candle, or None when there are none."""
    table = Candle.__table__
    query = sa.select(sa.func.min(table.c.timestamp), sa.func.max(table.c.timestamp)).where(
        table.c.exchange == exchange, table.c.symbol == symbol
    )
    with engine.connect() as connection:
        first, last = connection.execute(query).one()
    return None if first is None else (int(first), int(last))


def _validate(exchange: str, symbol: str, timeframe: str, start_ms: int | None, end_ms: int | None, limit: int) -> None:
    violations = market_violations(exchange, symbol)
    if timeframe not in TIMEFRAMES:
        violations["timeframe"] = f"must be one of {', '.join(TIMEFRAMES)}"
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        violations["end_time"] = "must be after start_time"
    if not 0 <= limit <= MAX_BARS:
        violations["limit"] = f"must be between 0 and {MAX_BARS} (0 means {MAX_BARS})"
    require(violations, "invalid candles request")


def _bucket_open(timestamp_ms: int, width: int, origin: int) -> int:
    return origin + (timestamp_ms - origin) // width * width


def _aggregate(candles: np.ndarray, width: int, origin: int) -> np.ndarray:
    """One bar per calendar bucket that holds any candle; vectorized over bucket boundaries."""
    if len(candles) == 0:
        return np.empty((0, 6))
    buckets = (candles[:, TIMESTAMP].astype(np.int64) - origin) // width
    starts = np.flatnonzero(np.concatenate([[True], buckets[1:] != buckets[:-1]]))
    ends = np.append(starts[1:], len(candles)) - 1
    bars = np.empty((len(starts), 6))
    bars[:, TIMESTAMP] = origin + buckets[starts] * width
    bars[:, OPEN] = candles[starts, OPEN]
    bars[:, CLOSE] = candles[ends, CLOSE]
    bars[:, HIGH] = np.maximum.reduceat(candles[:, HIGH], starts)
    bars[:, LOW] = np.minimum.reduceat(candles[:, LOW], starts)
    bars[:, VOLUME] = np.add.reduceat(candles[:, VOLUME], starts)
    return bars
