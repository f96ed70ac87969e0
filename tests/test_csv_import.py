"""Parsing and validating candle CSV files (no server); storing them is covered in test_api_local_candles."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from candlewire.data.csv_import import parse_candle_csv
from candlewire.errors import InvalidArgument

JAN_1_MS = 1_704_067_200_000
MINUTE_MS = 60_000
HEADER = "timestamp,open,high,low,close,volume\n"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def row(minute: int, open_=10.0, high=12.0, low=9.0, close=11.0, volume=5.0) -> str:
    return f"{JAN_1_MS + minute * MINUTE_MS},{open_},{high},{low},{close},{volume}"


def content_error(data: bytes, fill_gaps: bool = False) -> str:
    with pytest.raises(InvalidArgument) as raised:
        parse_candle_csv(data, fill_gaps)
    assert list(raised.value.violations) == ["content"]
    return raised.value.violations["content"]


def test_rows_come_back_in_candlewire_layout_close_before_high_and_low():
    candles, gaps = parse_candle_csv(csv(row(0), row(1, 11, 13, 10, 12, 7)))

    assert candles.tolist() == [
        [JAN_1_MS, 10, 11, 12, 9, 5],
        [JAN_1_MS + MINUTE_MS, 11, 12, 13, 10, 7],
    ]
    assert gaps == []


def test_columns_may_come_in_any_order_case_and_alias():
    data = b"Vol;CLOSE;o;Low;High;Time\n5;11;10;9;12;2024-01-01T00:00:00Z\n7;12;11;10;13;2024-01-01 00:01\n"

    candles, _ = parse_candle_csv(data)

    assert candles.tolist() == [[JAN_1_MS, 10, 11, 12, 9, 5], [JAN_1_MS + MINUTE_MS, 11, 12, 13, 10, 7]]


def test_iso_timestamps_with_offsets_are_converted_to_utc():
    candles, _ = parse_candle_csv(csv("2024-01-01T02:00:00+02:00,10,12,9,11,5"))

    assert candles[0, 0] == JAN_1_MS


def test_blank_lines_are_skipped_and_line_numbers_still_match_the_file():
    message = content_error(csv(row(0), "", row(1, high=10.5)))

    assert message == "line 4: high is below max(open, close)"


def test_a_missing_column_is_named():
    assert "volume" in content_error(csv("1,2,3,4,5", header="timestamp,open,high,low,close\n"))


def test_a_file_without_a_header_row_is_rejected():
    assert "header row lacks" in content_error(csv(row(1), header=row(0) + "\n"))


@pytest.mark.parametrize(
    "bad_row, message",
    [
        (row(1, volume="x"), "line 3: volume is not a number"),
        (row(1, high=10.5), "line 3: high is below max(open, close)"),
        (row(1, low=10.5), "line 3: low is above min(open, close)"),
        (row(1, low=-1), "line 3: prices must be positive"),
        (f"{JAN_1_MS + MINUTE_MS + 1},10,12,9,11,5", "line 3: timestamp is not on a minute boundary"),
        (row(0), "line 3: timestamp is not after the previous row's"),
        ("yesterday,10,12,9,11,5", "line 3: timestamp is not whole epoch milliseconds like the first row's"),
    ],
)
def test_each_bad_value_names_its_line(bad_row, message):
    assert content_error(csv(row(0), bad_row)) == message


def test_epoch_seconds_are_recognised_as_a_mistake():
    assert "epoch seconds" in content_error(csv(f"{JAN_1_MS // 1000},10,12,9,11,5"))


def test_gaps_are_reported_with_their_span_unless_filled():
    message = content_error(csv(row(0), row(3), row(4), row(10)))

    assert message.startswith("2 gap(s), 7 missing minute(s), first: 2024-01-01T00:01Z to 2024-01-01T00:03Z")
    assert "fill_gaps" in message


def test_fill_gaps_inserts_flat_candles_at_the_previous_close():
    candles, gaps = parse_candle_csv(csv(row(0, close=11), row(3, close=12)), fill_gaps=True)

    assert gaps == [(JAN_1_MS + MINUTE_MS, JAN_1_MS + 3 * MINUTE_MS)]
    assert candles[:, 0].tolist() == [JAN_1_MS + m * MINUTE_MS for m in range(4)]
    assert candles[1:3, 1:].tolist() == [[11, 11, 11, 11, 0]] * 2
    assert candles[3].tolist() == [JAN_1_MS + 3 * MINUTE_MS, 10, 12, 12, 9, 5]


def test_undecodable_and_empty_files_are_rejected():
    assert "UTF-8" in content_error(b"\xff\xfe\x00")
    assert "empty" in content_error(b"")
    assert "no candles" in content_error(HEADER.encode())


def test_a_year_of_minutes_parses_in_a_couple_of_seconds():
    minutes = 365 * 24 * 60
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.001, minutes)))
    data = pd.DataFrame(
        {
            "timestamp": JAN_1_MS + np.arange(minutes) * MINUTE_MS,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 1.0,
        }
    ).to_csv(index=False).encode()

    started = time.perf_counter()
    candles, _ = parse_candle_csv(data)

    assert time.perf_counter() - started < 5  # generous: CI machines are shared
    assert len(candles) == minutes and np.array_equal(candles[:, 2], close)
