"""The `candle_import` job: download 1-minute candles from an exchange with ccxt and store them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np

from candlewire.data.exchanges import (
    SYMBOL_PATTERN,
    ccxt_client,
    find_market,
    get_exchange,
    load_markets,
)
from candlewire.errors import FailedPrecondition, NotFound, require
from candlewire.storage.candles import insert_candles
from candlewire.storage.db import create_engine

MINUTE_MS = 60_000
NETWORK_RETRIES = 3
RETRY_DELAY_SECONDS = 2.0
# ccxt rows are [timestamp, open, high, low, close, volume]; candlewire stores [timestamp, open, close, high, low, volume].
_CCXT_TO_CANDLEWIRE_COLUMNS = [0, 1, 4, 2, 3, 5]


class ImportContext(Protocol):
    """The part of `candlewire.jobs.context.JobContext` the import uses."""

    database_url: str

    def progress(self, done: int, total: int, current_time_ms: int | None = None) -> None: ...
    def log(self, text: str, level: str = "info") -> None: ...


def validate_import_request(
    exchange: str,
    symbol: str,
    start_ms: int,
    end_ms: int,
    now_ms: int | None = None,
    field_names: Mapping[str, str] | None = None,
) -> None:
    """Raise InvalidArgument naming every bad field; needs no network, so the API can call it synchronously.

    `field_names` renames the violation keys (e.g. end_ms → params.end_date) to match the caller's request.
    """
    names = {"exchange": "exchange", "symbol": "symbol", "start_ms": "start_ms", "end_ms": "end_ms", **(field_names or {})}
    now_ms = _now_ms() if now_ms is None else now_ms
    violations: dict[str, str] = {}
    try:
        if not get_exchange(exchange).supports_import:
            violations[names["exchange"]] = f"{exchange} does not support importing candles"
    except NotFound:
        violations[names["exchange"]] = f"unknown exchange {exchange!r}"
    if not SYMBOL_PATTERN.match(symbol or ""):
        violations[names["symbol"]] = "must look like BTC-USDT (upper case)"
    if not isinstance(start_ms, int) or start_ms < 0:
        violations[names["start_ms"]] = "must be a non-negative epoch time in milliseconds"
    if not isinstance(end_ms, int):
        violations[names["end_ms"]] = "must be an epoch time in milliseconds"
    elif isinstance(start_ms, int) and start_ms >= end_ms:
        violations[names["end_ms"]] = "must be after the start"
    elif end_ms > now_ms:
        violations[names["end_ms"]] = "must not be in the future"
    require(violations, "invalid candle import request")


def run(params: dict[str, Any], ctx: ImportContext) -> dict[str, Any]:
    exchange_id, symbol = params["exchange"], params["symbol"]
    start_ms, end_ms = params["start_ms"], params["end_ms"]
    validate_import_request(exchange_id, symbol, start_ms, end_ms)
    first_open = _ceil_minute(start_ms)
    # Only closed candles: the one opening at the current minute is still changing.
    end_open = min(_ceil_minute(end_ms), _now_ms() // MINUTE_MS * MINUTE_MS)
    total_minutes = max(0, (end_open - first_open) // MINUTE_MS)

    client = ccxt_client(exchange_id)
    market = find_market(exchange_id, load_markets(exchange_id, client), symbol)
    ctx.log(f"importing {symbol} ({market['symbol']}) from {exchange_id}: {_iso(first_open)} to {_iso(end_open)}, "
            f"{total_minutes} minutes")

    engine = create_engine(ctx.database_url)
    gaps = _GapTracker(first_open)
    inserted = skipped_existing = 0
    page_limit = get_exchange(exchange_id).ohlcv_page_limit
    cursor = first_open
    try:
        while cursor < end_open:
            rows = _fetch_page(client, market["symbol"], cursor, end_open, page_limit)
            candles = _to_candle_rows(rows, cursor, end_open)
            if len(candles):
                new = insert_candles(engine, exchange_id, symbol, candles)
                inserted += new
                skipped_existing += len(candles) - new
                gaps.observe(candles[:, 0])
                cursor = int(candles[-1, 0]) + MINUTE_MS
            else:
                cursor = min(end_open, cursor + page_limit * MINUTE_MS)
            ctx.progress((cursor - first_open) // MINUTE_MS, total_minutes, current_time_ms=cursor)
    finally:
        engine.dispose()
    gap_list = gaps.finish(end_open)
    missing = sum(end - start for start, end in gap_list) // MINUTE_MS
    ctx.log(f"done: {inserted} candles inserted, {skipped_existing} already stored, {missing} minutes missing "
            f"on the exchange in {len(gap_list)} gaps", level="warning" if gap_list else "info")
    return {
        "exchange": exchange_id,
        "symbol": symbol,
        "inserted": inserted,
        "skipped_existing": skipped_existing,
        "start_ms": first_open,
        "end_ms": end_open,
        "gaps": gap_list,
    }


def _fetch_page(client: Any, ccxt_symbol: str, since_ms: int, end_ms: int, limit: int) -> list[list[Any]]:
    import ccxt

    attempt = 1
    while True:
        try:
            return client.fetch_ohlcv(ccxt_symbol, "1m", since=since_ms, limit=limit, params={"until": end_ms - 1})
        except ccxt.NetworkError as error:
            if attempt == NETWORK_RETRIES:
                raise FailedPrecondition(f"{client.id} unreachable after {attempt} attempts: {error}") from None
            time.sleep(RETRY_DELAY_SECONDS * attempt)
            attempt += 1
        except ccxt.BaseError as error:
            raise FailedPrecondition(f"{client.id} refused the candle request: {error}") from None


def _to_candle_rows(rows: list[list[Any]], start_ms: int, end_ms: int) -> np.ndarray:
    """ccxt rows → sorted, de-duplicated (n, 6) candlewire rows with start_ms <= timestamp < end_ms."""
    if not rows:
        return np.empty((0, 6))
    raw = np.array([row[:6] for row in rows], dtype=np.float64)
    raw = raw[(raw[:, 0] >= start_ms) & (raw[:, 0] < end_ms) & ~np.isnan(raw[:, 1:5]).any(axis=1)]
    raw[:, 5] = np.nan_to_num(raw[:, 5])
    _, first_of_each = np.unique(raw[:, 0], return_index=True)
    return raw[first_of_each][:, _CCXT_TO_CANDLEWIRE_COLUMNS]


class _GapTracker:
    """Collects the [start, end) spans of minutes the exchange returned no candle for."""

    def __init__(self, start_ms: int):
        self._expected = start_ms
        self._gaps: list[list[int]] = []

    def observe(self, timestamps: np.ndarray) -> None:
        previous = np.concatenate(([self._expected - MINUTE_MS], timestamps[:-1]))
        for index in np.flatnonzero(timestamps - previous > MINUTE_MS):
            self._add(int(previous[index]) + MINUTE_MS, int(timestamps[index]))
        self._expected = int(timestamps[-1]) + MINUTE_MS

    def finish(self, end_ms: int) -> list[list[int]]:
        if self._expected < end_ms:
            self._add(self._expected, end_ms)
        return self._gaps

    def _add(self, start_ms: int, end_ms: int) -> None:
        if self._gaps and self._gaps[-1][1] == start_ms:
            self._gaps[-1][1] = end_ms
        else:
            self._gaps.append([start_ms, end_ms])


def _ceil_minute(timestamp_ms: int) -> int:
    return -(-timestamp_ms // MINUTE_MS) * MINUTE_MS


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
