"""Closed trades of a backtest as downloadable CSV and JSON files."""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from datetime import UTC, datetime, timedelta
from typing import Any, Iterable

import numpy as np

__all__ = ["TRADE_CSV_COLUMNS", "format_utc", "trades_csv", "trades_json"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Column order is part of the file format: spreadsheets and scripts address columns by position.
TRADE_CSV_COLUMNS = (
    "id", "strategy_name", "exchange", "symbol", "type", "entry_price", "exit_price", "qty",
    "fee", "PNL", "PNL_percentage", "leverage", "holding_period", "opened_at", "closed_at",
    "opened_at_ms", "closed_at_ms", "orders_count",
)


def format_utc(ms: int | float | None, timespec: str = "milliseconds") -> str:
    """ISO-8601 UTC time of a Unix timestamp in milliseconds ("" when unknown), e.g.
    2024-01-01T00:00:00.000Z."""
    if ms is None or not math.isfinite(float(ms)):
        return ""
    # timedelta arithmetic keeps whole milliseconds exact, where ms / 1000 as a float would not.
    moment = _EPOCH + timedelta(milliseconds=int(ms))
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        # str(float) is the shortest text that parses back to the same float (numpy scalars
        # would print as "np.float64(...)").
        return str(float(value))
    return str(value)


def _csv_row(trade: dict) -> list[str]:
    values = {key: trade.get(key) for key in TRADE_CSV_COLUMNS}
    values["opened_at"] = format_utc(trade.get("opened_at"))
    values["closed_at"] = format_utc(trade.get("closed_at"))
    values["opened_at_ms"] = trade.get("opened_at")
    values["closed_at_ms"] = trade.get("closed_at")
    values["orders_count"] = len(trade.get("orders") or ())
    return [_csv_cell(values[key]) for key in TRADE_CSV_COLUMNS]


def trades_csv(trades: Iterable[dict]) -> bytes:
    """One row per closed trade under a header row of TRADE_CSV_COLUMNS; times both as ISO-8601
    UTC text and as Unix milliseconds. UTF-8, RFC 4180 line endings."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(TRADE_CSV_COLUMNS)
    writer.writerows(_csv_row(trade) for trade in trades)
    return buffer.getvalue().encode("utf-8")


def _json_ready(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays become Python values, and NaN/inf become null
    because JSON has no literal for them."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def trades_json(trades: Iterable[dict]) -> bytes:
    """The closed trades with their orders as an indented UTF-8 JSON array."""
    text = json.dumps(_json_ready(list(trades)), indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")
