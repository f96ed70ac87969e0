"""Local candles end to end: CSV file imports (ImportCandleFile) and chart reads (GetCandles)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import grpc
import numpy as np
import pandas as pd
import pytest

from candlewire_client.v1 import candles_pb2
from e2e_data_helpers import rest_violations, rpc_fails

EXCHANGE = "binance-spot"
JAN_1_MS = 1_704_067_200_000
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def candle_frame(minutes: int, start_ms: int = JAN_1_MS, seed: int = 0) -> pd.DataFrame:
    """Consistent random 1-minute candles (high/low around open and close)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, minutes)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0, 0.5, minutes)
    return pd.DataFrame(
        {
            "timestamp": start_ms + np.arange(minutes) * MINUTE_MS,
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.uniform(1, 10, minutes),
        }
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def import_file(client, symbol: str, content: bytes, fill_gaps: bool = False) -> candles_pb2.ImportCandleFileResponse:
    return client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=EXCHANGE, symbol=symbol, content=content, fill_gaps=fill_gaps)
    )


def stored_count(client, symbol: str) -> int:
    response = client.candles.ListCandleRanges(candles_pb2.ListCandleRangesRequest(exchange=EXCHANGE, symbol=symbol))
    return sum(r.count for r in response.ranges)


def get_candles(client, symbol: str, timeframe: str, start_ms=None, end_ms=None, limit=0) -> pd.DataFrame:
    request = candles_pb2.GetCandlesRequest(exchange=EXCHANGE, symbol=symbol, timeframe=timeframe, limit=limit)
    if start_ms is not None:
        request.start_time.FromMilliseconds(start_ms)
    if end_ms is not None:
        request.end_time.FromMilliseconds(end_ms)
    series = client.candles.GetCandles(request)
    return pd.DataFrame(
        {
            "timestamp": list(series.timestamps_ms),
            "open": list(series.open),
            "high": list(series.high),
            "low": list(series.low),
            "close": list(series.close),
            "volume": list(series.volume),
        }
    )


def utc_ms(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


# --- ImportCandleFile ----------------------------------------------------------------------------


def test_rest_import_takes_base64_content_and_reports_the_span(rest):
    content = base64.b64encode(csv_bytes(candle_frame(90))).decode()

    response = rest.post("/v1/candles:importFile", json={"exchange": EXCHANGE, "symbol": "REST-USDT", "content": content})

    assert response.status_code == 200, response.text
    body = response.json()
    assert int(body["rowsImported"]) == 90
    assert (body["startTime"], body["endTime"]) == ("2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z")
    assert body.get("gaps", []) == []


def test_grpc_import_stores_every_row(client):
    response = import_file(client, "GRPC-USDT", csv_bytes(candle_frame(120)))

    assert response.rows_imported == 120
    assert stored_count(client, "GRPC-USDT") == 120


def test_reimporting_the_same_file_stores_nothing_new(client):
    content = csv_bytes(candle_frame(30))
    import_file(client, "AGAIN-USDT", content)

    assert import_file(client, "AGAIN-USDT", content).rows_imported == 0
    assert stored_count(client, "AGAIN-USDT") == 30


def test_columns_in_any_order_with_iso_timestamps_are_stored_in_candlewire_layout(client):
    frame = candle_frame(3)
    shuffled = frame.assign(Time=pd.to_datetime(frame.timestamp, unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    shuffled = shuffled[["volume", "close", "Time", "low", "open", "high"]].rename(columns=str.upper)

    import_file(client, "ISO-USDT", csv_bytes(shuffled))

    got = get_candles(client, "ISO-USDT", "1m")
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"timestamp,open,high,low,close,volume\n1704067200000,10,9,8,9.5,1\n", "line 2: high is below max(open, close)"),
        (b"timestamp,open,high,low,close\n1704067200000,10,11,8,9.5\n", "header row lacks volume"),
        (b"timestamp,open,high,low,close,volume\n1704067200000,10,11,8,9.5,1\n1704067230000,10,11,8,9.5,1\n", "line 3: timestamp is not on a minute boundary"),
    ],
    ids=["high-below-open", "missing-column", "off-minute"],
)
def test_an_invalid_file_names_content_and_the_problem_and_stores_nothing(client, content, reason):
    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        import_file(client, "BAD-USDT", content)

    assert reason in failure["violations"]["content"]
    assert stored_count(client, "BAD-USDT") == 0


def test_a_file_valid_but_for_one_late_bad_row_stores_nothing(client):
    frame = candle_frame(100)
    frame.loc[99, "low"] = frame.loc[99, "high"] + 1

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        import_file(client, "LATE-USDT", csv_bytes(frame))

    assert failure["violations"]["content"] == "line 101: low is above min(open, close)"
    assert stored_count(client, "LATE-USDT") == 0


def test_unknown_exchange_and_bad_symbol_are_named(client):
    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.candles.ImportCandleFile(
            candles_pb2.ImportCandleFileRequest(exchange="nowhere", symbol="btc/usdt", content=csv_bytes(candle_frame(2)))
        )

    assert {"exchange", "symbol"} <= set(failure["violations"])


def test_gaps_are_reported_naming_content_and_nothing_is_stored(client):
    frame = candle_frame(20).drop(index=range(5, 8))

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        import_file(client, "GAP-USDT", csv_bytes(frame))

    assert "1 gap(s), 3 missing minute(s), first: 2024-01-01T00:05Z to 2024-01-01T00:08Z" in failure["violations"]["content"]
    assert stored_count(client, "GAP-USDT") == 0


def test_fill_gaps_stores_flat_candles_at_the_previous_close(client):
    frame = candle_frame(20).drop(index=range(5, 8))

    response = import_file(client, "FILL-USDT", csv_bytes(frame), fill_gaps=True)

    assert response.rows_imported == 20
    (gap,) = response.gaps
    assert (gap.start_time.ToMilliseconds(), gap.end_time.ToMilliseconds()) == (JAN_1_MS + 5 * MINUTE_MS, JAN_1_MS + 8 * MINUTE_MS)
    filled = get_candles(client, "FILL-USDT", "1m").iloc[5:8]
    previous_close = frame.loc[4, "close"]
    assert (filled[["open", "high", "low", "close"]] == previous_close).all().all()
    assert (filled["volume"] == 0).all()


def test_rest_errors_name_the_field(rest):
    content = base64.b64encode(b"timestamp,open,high,low,close,volume\n").decode()

    response = rest.post("/v1/candles:importFile", json={"exchange": EXCHANGE, "symbol": "REST-USDT", "content": content})

    assert response.status_code == 400
    assert "no candles" in rest_violations(response)["content"]


# --- GetCandles ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart_market(client) -> pd.DataFrame:
    """Two days of minutes starting 00:00 with a missing afternoon (imported as two gap-free files)."""
    morning = candle_frame(14 * 60, seed=1)
    evening = candle_frame(24 * 60 + 4 * 60, start_ms=JAN_1_MS + 20 * HOUR_MS, seed=2)
    import_file(client, "CHART-USDT", csv_bytes(morning))
    import_file(client, "CHART-USDT", csv_bytes(evening))
    return pd.concat([morning, evening], ignore_index=True)


def resampled(frame: pd.DataFrame, rule: str, origin: str = "1970-01-01") -> pd.DataFrame:
    """The expected calendar-aligned bars, by pandas (on a naive UTC index)."""
    indexed = frame.set_index(pd.to_datetime(frame.timestamp, unit="ms"))
    bars = indexed.resample(rule, origin=pd.Timestamp(origin)).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    ).dropna()
    bars.insert(0, "timestamp", bars.index.as_unit("ms").asi8)
    return bars.reset_index(drop=True)


def test_1m_returns_the_stored_candles(client, chart_market):
    got = get_candles(client, "CHART-USDT", "1m", limit=10_000)

    pd.testing.assert_frame_equal(got, chart_market[got.columns], check_dtype=False)


@pytest.mark.parametrize("timeframe, rule", [("1h", "1h"), ("4h", "4h"), ("15m", "15min"), ("1D", "1D")])
def test_higher_timeframes_match_a_calendar_aligned_pandas_resample(client, chart_market, timeframe, rule):
    got = get_candles(client, "CHART-USDT", timeframe)

    pd.testing.assert_frame_equal(got, resampled(chart_market, rule)[got.columns], check_dtype=False, rtol=1e-12)


def test_weekly_bars_open_on_mondays(client, chart_market):
    got = get_candles(client, "CHART-USDT", "1W")

    # 1970-01-05 was the first Monday after the epoch (and 2024-01-01 is a Monday).
    pd.testing.assert_frame_equal(got, resampled(chart_market, "7D", origin="1970-01-05")[got.columns], check_dtype=False)
    assert got.timestamp.tolist() == [JAN_1_MS]


def test_missing_hours_make_no_bars(client, chart_market):
    opens = get_candles(client, "CHART-USDT", "1h").timestamp.tolist()

    assert JAN_1_MS + 13 * HOUR_MS in opens and JAN_1_MS + 20 * HOUR_MS in opens
    assert not any(JAN_1_MS + 14 * HOUR_MS <= t < JAN_1_MS + 20 * HOUR_MS for t in opens)


def test_the_window_selects_bars_by_open_time_end_exclusive(client, chart_market):
    got = get_candles(client, "CHART-USDT", "1h", start_ms=utc_ms(2024, 1, 1, 2, 30), end_ms=utc_ms(2024, 1, 1, 6))

    assert got.timestamp.tolist() == [utc_ms(2024, 1, 1, hour) for hour in (3, 4, 5)]
    pd.testing.assert_frame_equal(got, resampled(chart_market, "1h").iloc[3:6].reset_index(drop=True), check_dtype=False)


def test_limit_keeps_the_newest_bars(client, chart_market):
    got = get_candles(client, "CHART-USDT", "1h", end_ms=utc_ms(2024, 1, 1, 22), limit=4)

    # 14:00-19:00 are missing, so the four newest bars before 22:00 reach back into the morning.
    assert got.timestamp.tolist() == [utc_ms(2024, 1, 1, hour) for hour in (12, 13, 20, 21)]


def test_rest_get_candles_returns_a_columnar_series(rest, chart_market):
    response = rest.get(
        "/v1/candles",
        params={"exchange": EXCHANGE, "symbol": "CHART-USDT", "timeframe": "4h", "endTime": "2024-01-01T08:00:00Z"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [int(t) for t in body["timestampsMs"]] == [JAN_1_MS, JAN_1_MS + 4 * HOUR_MS]
    assert set(body) == {"timestampsMs", "open", "close", "high", "low", "volume"}


def test_an_unknown_timeframe_is_invalid_argument_naming_timeframe(client, chart_market):
    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        get_candles(client, "CHART-USDT", "7m")

    assert list(failure["violations"]) == ["timeframe"]


def test_a_market_without_candles_is_not_found(client):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        get_candles(client, "NONE-USDT", "1h")
