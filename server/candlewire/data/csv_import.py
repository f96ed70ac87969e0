"""Importing 1-minute candles from a CSV file the user uploads.

The file needs a header row naming the columns timestamp, open, high, low, close and volume in
any order and case (common aliases such as `time`, `date`, `o`, `vol` are accepted); the
delimiter is a comma, semicolon or tab, whichever the header uses. Timestamps are candle open
times as epoch milliseconds or ISO 8601 (without an offset they are UTC).

Nothing is stored unless the whole file is valid: numbers parse and are finite, prices are
positive and volume is not negative, high ≥ max(open, close) and low ≤ min(open, close),
timestamps sit on minute boundaries and strictly increase, and consecutive candles are one
minute apart — unless `fill_gaps` is set, which fills missing minutes with flat candles at the
previous close (volume 0). Problems name the file's line (the header is line 1).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from candlewire.data.exchanges import market_violations
from candlewire.errors import InvalidArgument, require
from candlewire.storage.candles import insert_candles

MINUTE_MS = 60_000
COLUMN_ALIASES = {
    "timestamp": ("timestamp", "time", "date", "datetime", "date_time", "open_time", "opentime", "ts", "t"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v"),
}
DELIMITERS = (",", ";", "\t")
# How many problems of one kind an error message lists before summarising the rest.
SHOWN_PROBLEMS = 3
# fill_gaps creates at most this many candles (a year), so a stray far-off timestamp cannot
# make the server allocate an array for decades of minutes.
MAX_FILLED_MINUTES = 366 * 24 * 60
# Epoch milliseconds below this (1973-03-03) are almost certainly seconds.
_SMALLEST_LIKELY_MS = 100_000_000_000


@dataclass(frozen=True)
class CandleFileImport:
    rows_imported: int
    start_ms: int  # open time of the first candle
    end_ms: int  # one minute after the last candle opens (half-open range)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # missing [start_ms, end_ms) spans


def import_candle_file(
    engine: sa.Engine, exchange: str, symbol: str, content: bytes, fill_gaps: bool = False
) -> CandleFileImport:
    """Validate and store the file's candles; return how many rows were new (stored minutes are left alone)."""
    violations = market_violations(exchange, symbol)
    try:
        candles, gaps = parse_candle_csv(content, fill_gaps)
    except InvalidArgument as error:
        violations.update(error.violations)
    require(violations, "invalid candle file")
    inserted = insert_candles(engine, exchange, symbol, candles)
    return CandleFileImport(
        rows_imported=inserted,
        start_ms=int(candles[0, 0]),
        end_ms=int(candles[-1, 0]) + MINUTE_MS,
        gaps=gaps,
    )


def parse_candle_csv(content: bytes, fill_gaps: bool = False) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(n, 6) rows `[timestamp_ms, open, close, high, low, volume]` and the gaps found (filled when
    `fill_gaps`); InvalidArgument on `content` describing the problems otherwise."""
    frame = _read(content)
    lines = frame.index.to_numpy() + 2  # the header is line 1
    timestamps = _timestamps(frame["timestamp"], lines)
    prices = {name: _numbers(frame[name], name, lines) for name in ("open", "high", "low", "close", "volume")}
    problems = _price_problems(prices, lines) + _time_problems(timestamps, lines)
    if problems:
        raise _content_error("; ".join(problems))
    candles = np.column_stack(
        [timestamps.astype(np.float64), prices["open"], prices["close"], prices["high"], prices["low"], prices["volume"]]
    )
    gaps = _gaps(timestamps)
    missing = sum((end - start) // MINUTE_MS for start, end in gaps)
    shown = ", ".join(f"{_iso(start)} to {_iso(end)}" for start, end in gaps[:SHOWN_PROBLEMS])
    if gaps and not fill_gaps:
        raise _content_error(
            f"{len(gaps)} gap(s), {missing} missing minute(s), first: {shown}; set fill_gaps to fill them with flat candles"
        )
    if missing > MAX_FILLED_MINUTES:
        raise _content_error(f"{missing} missing minutes, more than fill_gaps fills ({MAX_FILLED_MINUTES}); first gaps: {shown}")
    return (_fill(candles) if gaps else candles), gaps


def _content_error(reason: str) -> InvalidArgument:
    return InvalidArgument(f"invalid candle file: {reason}", {"content": reason})


def _read(content: bytes) -> pd.DataFrame:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _content_error(f"not UTF-8 text (byte {error.start})") from None
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count)
    try:
        # Blank lines are kept (as empty rows, dropped below) so that row index + 2 is the file's line.
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise _content_error("is empty; expected a header row and candles") from None
    except pd.errors.ParserError as error:
        raise _content_error(f"not a valid CSV file: {str(error).strip()}") from None
    frame = frame.rename(columns=_standard_names(list(frame.columns)))
    frame = frame[~frame.isna().all(axis=1)]
    if frame.empty:
        raise _content_error("has no candles after the header row")
    return frame


def _standard_names(columns: list[str]) -> dict[str, str]:
    """Header name → standard name, for each standard column (and an error naming what is missing)."""
    found: dict[str, str] = {}
    for standard, aliases in COLUMN_ALIASES.items():
        matches = [column for column in columns if str(column).strip().lower() in aliases]
        if len(matches) > 1:
            raise _content_error(f"header has several {standard} columns: {', '.join(matches)}")
        if matches:
            found[matches[0]] = standard
    missing = [standard for standard in COLUMN_ALIASES if standard not in found.values()]
    if missing:
        raise _content_error(
            f"header row lacks {', '.join(missing)}; expected columns timestamp, open, high, low, close, volume "
            f"(any order), found: {', '.join(map(str, columns))}"
        )
    return found


def _first_lines(mask: np.ndarray, lines: np.ndarray) -> str:
    bad = lines[mask]
    shown = ", ".join(str(line) for line in bad[:SHOWN_PROBLEMS])
    return f"line {shown}" + (f" and {len(bad) - SHOWN_PROBLEMS} more" if len(bad) > SHOWN_PROBLEMS else "")


def _numbers(column: pd.Series, name: str, lines: np.ndarray) -> np.ndarray:
    """The column as float64; pandas already parsed it unless some value is not a number."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise _content_error(f"{_first_lines(bad, lines)}: {name} is not a number")
    return values


def _timestamps(column: pd.Series, lines: np.ndarray) -> np.ndarray:
    """Epoch milliseconds (int64) from numbers or ISO 8601 text, whichever the first row holds."""
    if not _is_number(column.iloc[0]):
        moments = pd.to_datetime(column.astype(str).str.strip(), utc=True, format="ISO8601", errors="coerce")
        bad = moments.isna().to_numpy()
        if bad.any():
            raise _content_error(f"{_first_lines(bad, lines)}: timestamp is not ISO 8601 like the first row's")
        return moments.dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype(np.int64)
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    if bad.any():
        raise _content_error(f"{_first_lines(bad, lines)}: timestamp is not whole epoch milliseconds like the first row's")
    if numbers.max() < _SMALLEST_LIKELY_MS:
        raise _content_error("timestamps look like epoch seconds; expected epoch milliseconds or ISO 8601")
    return numbers.astype(np.int64)


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _price_problems(prices: dict[str, np.ndarray], lines: np.ndarray) -> list[str]:
    open_, high, low, close, volume = (prices[name] for name in ("open", "high", "low", "close", "volume"))
    checks = (
        ((open_ <= 0) | (high <= 0) | (low <= 0) | (close <= 0), "prices must be positive"),
        (volume < 0, "volume must not be negative"),
        (high < np.maximum(open_, close), "high is below max(open, close)"),
        (low > np.minimum(open_, close), "low is above min(open, close)"),
    )
    return [f"{_first_lines(mask, lines)}: {message}" for mask, message in checks if mask.any()]


def _time_problems(timestamps: np.ndarray, lines: np.ndarray) -> list[str]:
    problems = []
    off_minute = timestamps % MINUTE_MS != 0
    if off_minute.any():
        problems.append(f"{_first_lines(off_minute, lines)}: timestamp is not on a minute boundary")
    not_increasing = np.concatenate([[False], np.diff(timestamps) <= 0])
    if not_increasing.any():
        problems.append(f"{_first_lines(not_increasing, lines)}: timestamp is not after the previous row's")
    return problems


def _gaps(timestamps: np.ndarray) -> list[tuple[int, int]]:
    """Missing [start, end) spans between consecutive (valid, increasing, minute-aligned) timestamps."""
    after = np.flatnonzero(np.diff(timestamps) > MINUTE_MS)
    return [(int(timestamps[i]) + MINUTE_MS, int(timestamps[i + 1])) for i in after]


def _fill(candles: np.ndarray) -> np.ndarray:
    """Every minute from first to last; missing ones are flat at the previous close with volume 0."""
    minutes = ((candles[:, 0] - candles[0, 0]) // MINUTE_MS).astype(np.int64)
    filled = np.empty((minutes[-1] + 1, 6), dtype=np.float64)
    filled[:, 0] = candles[0, 0] + np.arange(len(filled), dtype=np.float64) * MINUTE_MS
    present = np.zeros(len(filled), dtype=bool)
    present[minutes] = True
    # Each missing minute takes the close of the latest present minute before it.
    latest_present = np.maximum.accumulate(np.where(present, np.arange(len(filled)), 0))
    previous_close = np.empty(len(filled))
    previous_close[minutes] = candles[:, 2]
    flat = previous_close[latest_present]
    filled[:, 1:5] = flat[:, None]
    filled[:, 5] = 0.0
    filled[minutes, 1:] = candles[:, 1:]
    return filled


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%MZ")
