"""Downloadable backtest files: trades CSV/JSON, PNG charts, the HTML report and their registry."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import struct
import time

import numpy as np
import pandas as pd
import pytest

from candlewire.reports import (
    FILE_BUILDERS, drawdown_chart_png, equity_chart_png, html_report, monthly_returns,
    monthly_returns_png, trade_pnl_distribution_png, trades_csv, trades_json, underwater_chart_png,
)
from candlewire.reports.charts import CHART_SIZE_PX
from candlewire.reports.html import MAX_TRADE_ROWS, format_metric
from candlewire.reports.trades import TRADE_CSV_COLUMNS

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAY_MS = 86_400_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MALICIOUS = "<script>alert(1)</script>"
ROUTES = [{"exchange": "Binance", "symbol": "BTC-USDT", "timeframe": "1h", "strategy": "Trend, \"fast\" é"}]

CHARTS = {
    "equity": equity_chart_png,
    "drawdown": drawdown_chart_png,
    "underwater": underwater_chart_png,
    "monthly_returns": monthly_returns_png,
    "trade_pnl": trade_pnl_distribution_png,
}


def make_trade(index: int, pnl_percentage: float = 1.5, strategy_name: str = "Trend, \"fast\" é") -> dict:
    opened_at = START_MS + index * 3_600_000 + 123
    return {
        "id": f"trade-{index}", "strategy_name": strategy_name, "exchange": "Binance", "symbol": "BTC-USDT",
        "type": "long" if index % 2 == 0 else "short", "entry_price": 42_000.5, "exit_price": 42_630.1,
        "qty": 0.1, "fee": 0.84, "PNL": pnl_percentage * 42.0, "PNL_percentage": pnl_percentage,
        "leverage": 1, "holding_period": 1_800, "opened_at": opened_at, "closed_at": opened_at + 1_800_000,
        "orders": [
            {"id": f"order-{index}-open", "side": "buy", "type": "MARKET", "qty": 0.1, "price": 42_000.5,
             "status": "EXECUTED", "role": "OPEN POSITION", "reduce_only": False, "created_at": opened_at,
             "executed_at": opened_at, "canceled_at": None},
            {"id": f"order-{index}-close", "side": "sell", "type": "LIMIT", "qty": 0.1, "price": 42_630.1,
             "status": "EXECUTED", "role": "CLOSE POSITION", "reduce_only": True, "created_at": opened_at,
             "executed_at": opened_at + 1_800_000, "canceled_at": None},
        ],
    }


def make_result(balances, trades=(), timestamps=None, metrics=None) -> dict:
    balances = [float(value) for value in balances]
    if timestamps is None:
        timestamps = [START_MS + day * DAY_MS for day in range(len(balances))]
    finish_ms = timestamps[-1] if timestamps else START_MS
    return {
        "metrics": metrics if metrics is not None else {"total": len(trades)},
        "trades": list(trades),
        "daily_balances": balances,
        "equity_curve": {"timestamps_ms": list(timestamps), "values": balances},
        "benchmark": [{"route": 0, "timestamps_ms": list(timestamps), "values": [40_000.0 + 10 * i for i in range(len(balances))]}],
        "starting_balance": balances[0] if balances else 10_000.0,
        "finishing_balance": balances[-1] if balances else 10_000.0,
        "start_ms": START_MS,
        "finish_ms": finish_ms,
    }


def random_result(days: int = 120, n_trades: int = 40, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    balances = 10_000.0 * np.cumprod(1.0 + rng.normal(0.001, 0.02, days))
    trades = [make_trade(i, float(rng.normal(0.3, 2.0))) for i in range(n_trades)]
    return make_result(balances, trades)


EMPTY_RESULTS = {
    "no_data": {"metrics": {}, "trades": [], "daily_balances": [], "equity_curve": {"timestamps_ms": [], "values": []},
                "benchmark": [], "starting_balance": 10_000.0, "finishing_balance": 10_000.0, "start_ms": START_MS, "finish_ms": START_MS},
    "bare_dict": {},
    "one_point": make_result([10_000.0]),
    "flat_no_trades": make_result([10_000.0] * 90),
    "one_trade": make_result([10_000.0, 10_050.0], [make_trade(0)]),
    "break_even_trades": make_result([10_000.0] * 3, [make_trade(i, 0.0) for i in range(3)]),
}


def png_size(png: bytes) -> tuple[int, int]:
    # The IHDR chunk follows the signature: length (4), type (4), then width and height.
    return struct.unpack(">II", png[16:24])


# --------------------------------------------------------------------------- trades files

def test_trades_csv_parses_back_with_every_trade_and_exact_values():
    trades = [make_trade(0, 1.25), make_trade(1, -0.75, strategy_name="Line\nbreak, \"quoted\"")]
    rows = list(csv.reader(io.StringIO(trades_csv(trades).decode("utf-8"), newline="")))

    assert tuple(rows[0]) == TRADE_CSV_COLUMNS
    assert len(rows) == 3
    first, second = (dict(zip(rows[0], row)) for row in rows[1:])
    assert first["id"] == "trade-0"
    assert first["strategy_name"] == "Trend, \"fast\" é"
    assert second["strategy_name"] == "Line\nbreak, \"quoted\""
    assert first["type"] == "long" and second["type"] == "short"
    assert first["opened_at"] == "2024-01-01T00:00:00.123Z"
    assert first["closed_at"] == "2024-01-01T00:30:00.123Z"
    assert int(first["opened_at_ms"]) == trades[0]["opened_at"]
    assert int(second["closed_at_ms"]) == trades[1]["closed_at"]
    for key in ("entry_price", "exit_price", "qty", "fee", "PNL", "PNL_percentage"):
        assert float(second[key]) == trades[1][key]
    assert first["leverage"] == "1" and first["holding_period"] == "1800"
    assert first["orders_count"] == "2"


def test_trades_csv_writes_numpy_values_as_plain_numbers():
    trade = make_trade(0) | {"PNL": np.float64(12.5), "qty": np.float32(0.5), "leverage": np.int64(3)}
    row = dict(zip(TRADE_CSV_COLUMNS, list(csv.reader(io.StringIO(trades_csv([trade]).decode())))[1]))
    assert (row["PNL"], row["qty"], row["leverage"]) == ("12.5", "0.5", "3")


def test_trades_csv_without_trades_is_just_the_header():
    assert trades_csv([]).decode("utf-8").splitlines() == [",".join(TRADE_CSV_COLUMNS)]


def test_trades_json_round_trips_trades_with_their_orders():
    trades = [make_trade(i) for i in range(3)]
    data = trades_json(trades)
    assert json.loads(data.decode("utf-8")) == trades
    assert b"\n  " in data  # indented
    assert "é".encode("utf-8") in data  # UTF-8, not \u escapes


def test_trades_json_turns_numpy_and_non_finite_values_into_plain_json():
    trade = make_trade(0) | {"PNL": np.float64(2.5), "PNL_percentage": float("nan"), "leverage": np.int64(2)}
    parsed = json.loads(trades_json([trade]))
    assert parsed[0]["PNL"] == 2.5 and parsed[0]["PNL_percentage"] is None and parsed[0]["leverage"] == 2
    assert json.loads(trades_json([])) == []


# --------------------------------------------------------------------------- charts

@pytest.mark.parametrize("name", CHARTS)
def test_chart_is_a_deterministic_png_of_the_expected_size(name):
    result = random_result()
    png = CHARTS[name](result)
    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == CHART_SIZE_PX
    assert CHARTS[name](random_result()) == png


@pytest.mark.parametrize("case", EMPTY_RESULTS)
@pytest.mark.parametrize("name", CHARTS)
def test_chart_copes_with_empty_and_degenerate_results(name, case):
    png = CHARTS[name](EMPTY_RESULTS[case])
    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == CHART_SIZE_PX


def test_equity_chart_names_the_benchmark_after_its_route():
    result = random_result(days=30, n_trades=0)
    assert equity_chart_png(result, ROUTES) != equity_chart_png(result)


def test_monthly_returns_on_a_hand_computed_curve():
    times = ["2023-12-15", "2023-12-31 23:00", "2024-01-15", "2024-01-31", "2024-02-10", "2024-04-02"]
    timestamps = [int(pd.Timestamp(moment, tz="UTC").value // 1_000_000) for moment in times]
    result = make_result([100.0, 110.0, 120.0, 99.0, 108.9, 98.01], timestamps=timestamps)

    table = monthly_returns(result)

    assert list(table.index) == [2023, 2024]
    assert list(table.columns) == list(range(1, 13))
    assert table.loc[2023, 12] == pytest.approx(10.0)
    assert table.loc[2024, 1] == pytest.approx(-10.0)
    assert table.loc[2024, 2] == pytest.approx(10.0)
    assert table.loc[2024, 3] == pytest.approx(0.0)  # no samples: the balance did not move
    assert table.loc[2024, 4] == pytest.approx(-10.0)
    assert table.loc[2023, :11].isna().all() and table.loc[2024, 5:].isna().all()


def test_monthly_returns_match_a_pandas_computation():
    rng = np.random.default_rng(3)
    hours = 24 * 400
    timestamps = START_MS + 3_600_000 * np.arange(hours)
    balances = 5_000.0 * np.cumprod(1.0 + rng.normal(0.0001, 0.004, hours))
    result = make_result(balances, timestamps=timestamps.tolist())

    equity = pd.Series(balances, index=pd.to_datetime(timestamps, unit="ms"))
    month_last = equity.groupby([equity.index.year, equity.index.month]).last()
    previous = month_last.shift(1).fillna(balances[0])
    expected = (month_last / previous - 1.0) * 100.0

    table = monthly_returns(result)
    assert table.notna().sum().sum() == len(month_last) == 14
    for (year, month), value in expected.items():
        assert table.loc[year, month] == pytest.approx(value, rel=1e-12)


def test_monthly_returns_of_flat_or_missing_equity():
    flat = monthly_returns(make_result([10_000.0] * 70))
    assert flat.notna().sum().sum() == 3 and (flat.stack().dropna() == 0.0).all()
    assert monthly_returns(EMPTY_RESULTS["one_point"]).empty
    assert monthly_returns({}).empty


# --------------------------------------------------------------------------- HTML report

METRICS = {
    "total": 1234, "win_rate": 0.5678, "starting_balance": 10_000.0, "finishing_balance": 11_234.567,
    "net_profit": 1234.567, "net_profit_percentage": 12.3456, "max_drawdown": -8.765, "annual_return": 45.5,
    "sharpe_ratio": 1.23456, "calmar_ratio": 5.1, "fee": 12.0, "average_holding_period": 93_600.0,
    "max_underwater_period": 17, "largest_losing_trade": -321.5,
}


def test_html_report_is_self_contained_with_formatted_metrics_and_charts():
    result = random_result(n_trades=5) | {"metrics": METRICS}
    page = html_report(result, "My backtest", ROUTES).decode("utf-8")

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>My backtest</title>" in page
    for text in ("1,234", "56.78%", "10,000.00", "11,234.57", "1,234.57", "12.35%", "-8.77%", "45.50%",
                 "1.23", "5.10", "1d 2h", "17 days", "-321.50"):
        assert f">{text}</td>" in page, text
    assert page.count('<img src="data:image/png;base64,') == 5
    assert "2024-01-01T00:00Z to 2024-04-29T00:00Z (119.0 days)" in page
    assert "BTC-USDT" in page and "1h" in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page


def test_html_report_charts_are_the_chart_files():
    result = random_result(n_trades=5)
    page = html_report(result, "t", ROUTES).decode("utf-8")
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(embedded[0]) == equity_chart_png(result, ROUTES)
    assert base64.b64decode(embedded[3]) == monthly_returns_png(result)


def test_html_report_escapes_user_text():
    trades = [make_trade(0, strategy_name=MALICIOUS)]
    routes = [{"exchange": "Binance", "symbol": "<b>X</b>", "timeframe": "1h", "strategy": MALICIOUS}]
    page = html_report(make_result([1.0, 2.0], trades), MALICIOUS, routes).decode("utf-8")

    assert MALICIOUS not in page and "<b>X</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("&lt;script&gt;") >= 4  # <title>, <h1>, the route and the trade


def test_html_report_lists_at_most_the_first_trades_and_says_so():
    trades = [make_trade(i) for i in range(MAX_TRADE_ROWS + 5)]
    page = html_report(make_result([10_000.0, 10_100.0], trades), "t", ROUTES).decode("utf-8")
    assert "Showing the first 1,000 of 1,005 trades" in page
    assert ">1000</td>" in page and ">1001</td>" not in page

    short = html_report(make_result([10_000.0, 10_100.0], trades[:3]), "t", ROUTES).decode("utf-8")
    assert "Showing the first" not in short


@pytest.mark.parametrize("case", EMPTY_RESULTS)
def test_html_report_of_empty_results(case):
    page = html_report(EMPTY_RESULTS[case], "", []).decode("utf-8")
    assert page.count('<img src="data:image/png;base64,') == 5
    assert "No routes." in page


def test_format_metric():
    assert format_metric("win_rate", 0.5) == "50.00%"
    assert format_metric("net_profit_percentage", -3.14159) == "-3.14%"
    assert format_metric("net_profit", -1234.5) == "-1,234.50"
    assert format_metric("starting_balance", 10_000) == "10,000.00"
    assert format_metric("sharpe_ratio", 2.0) == "2.00"
    assert format_metric("total", 5000) == "5,000"
    assert format_metric("average_holding_period", 45.0) == "45s"
    assert format_metric("average_holding_period", 3 * 86_400 + 7_200 + 60) == "3d 2h"
    assert format_metric("omega_ratio", float("inf")) == "n/a"


def test_html_report_of_a_large_backtest_renders_quickly():
    rng = np.random.default_rng(11)
    balances = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0005, 0.01, 365))
    trades = [make_trade(i, float(rng.normal(0.1, 2.0))) for i in range(5_000)]
    result = make_result(balances, trades, metrics=METRICS)
    html_report(make_result([1.0, 2.0]), "warm-up", ROUTES)  # fonts and caches load once per process

    started = time.process_time()  # CPU time: other processes on a shared machine don't count
    html_report(result, "large", ROUTES)
    assert time.process_time() - started < 2.0


# --------------------------------------------------------------------------- registry

def test_file_builders_cover_every_downloadable_kind():
    assert set(FILE_BUILDERS) == {
        "trades_csv", "trades_json", "html_report", "chart_equity_png", "chart_drawdown_png",
        "chart_underwater_png", "chart_monthly_returns_png", "chart_trade_pnl_png",
    }
    result = random_result(days=40, n_trades=4)
    for kind, (content_type, suffix, build) in FILE_BUILDERS.items():
        data = build(result, "Title", ROUTES)
        assert isinstance(data, bytes) and data, kind
        assert suffix.startswith(".")
        if suffix == ".png":
            assert content_type == "image/png" and data.startswith(PNG_SIGNATURE)
    assert FILE_BUILDERS["trades_csv"].build(result, "t", ROUTES) == trades_csv(result["trades"])
    assert FILE_BUILDERS["trades_json"].content_type == "application/json"
    assert FILE_BUILDERS["html_report"].content_type.startswith("text/html")
    assert FILE_BUILDERS["chart_drawdown_png"].build(result, "t", ROUTES) == drawdown_chart_png(result)
