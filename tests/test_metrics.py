"""Backtest metrics against independent computations of the spec's formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from candlewire.engine.metrics import compute_metrics, daily_returns, drawdown_series

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAY = 86_400_000
BALANCES = [100.0, 110.0, 99.0, 120.0, 120.0, 90.0]

SPEC_KEYS = """total total_winning_trades total_losing_trades starting_balance finishing_balance
win_rate win_rate_longs win_rate_shorts ratio_avg_win_loss longs_count shorts_count
longs_percentage shorts_percentage fee net_profit net_profit_percentage average_win average_loss
expectancy expectancy_percentage expected_net_profit_every_100_trades average_holding_period
average_winning_holding_period average_losing_holding_period gross_profit gross_loss max_drawdown
max_underwater_period annual_return sharpe_ratio calmar_ratio sortino_ratio omega_ratio
serenity_index smart_sharpe smart_sortino total_open_trades open_pl winning_streak losing_streak
current_streak largest_winning_trade largest_losing_trade avg_trades_per_day avg_trades_per_week
avg_trades_per_month annualization""".split()


def trade(kind, pnl, hold, fee=0.0):
    return {
        "type": kind, "entry_price": 100.0, "exit_price": 100.0, "qty": 1.0, "fee": fee,
        "PNL": pnl, "PNL_percentage": pnl, "holding_period": hold,
        "opened_at": START_MS, "closed_at": START_MS + hold * 1000, "leverage": 1,
    }


TRADES = [
    trade("long", 10.0, 3600, 1.0),
    trade("long", -4.0, 1800, 1.0),
    trade("short", 6.0, 7200, 0.5),
    trade("short", 0.0, 600, 0.5),   # break-even: neither a win nor a loss
    trade("long", -2.0, 900, 0.2),
    trade("long", -3.0, 100, 0.1),
]


def metrics(trades=TRADES, balances=BALANCES, days=10, **kw):
    return compute_metrics(trades, balances, 100.0, START_MS, START_MS + days * DAY, **kw)


def assert_all_finite(m):
    assert set(m) == set(SPEC_KEYS)
    for k, v in m.items():
        assert isinstance(v, (int, float)) and math.isfinite(v), (k, v)


# --------------------------------------------------------------------------- trades

def test_every_spec_key_present_and_finite():
    assert_all_finite(metrics())


def test_trade_statistics():
    m = metrics(open_trades=[{"PNL": 2.5}, {"PNL": -1.0}])
    assert m["total"] == 6
    assert m["total_winning_trades"] == 2 and m["total_losing_trades"] == 3
    assert m["win_rate"] == pytest.approx(2 / 5)            # break-even excluded
    assert m["win_rate_longs"] == pytest.approx(1 / 4)      # 10 vs -4, -2, -3
    assert m["win_rate_shorts"] == pytest.approx(1.0)       # 6 (0 is neither)
    assert m["longs_count"] == 4 and m["shorts_count"] == 2
    assert m["longs_percentage"] == pytest.approx(400 / 6)
    assert m["shorts_percentage"] == pytest.approx(200 / 6)
    assert m["fee"] == pytest.approx(3.3)
    assert m["net_profit"] == pytest.approx(7.0)
    assert m["net_profit_percentage"] == pytest.approx(7.0)  # 7 / 100 * 100
    assert m["average_win"] == pytest.approx(8.0)
    assert m["average_loss"] == pytest.approx(3.0)
    assert m["ratio_avg_win_loss"] == pytest.approx(8 / 3)
    expectancy = 8.0 * 0.4 - 3.0 * 0.6
    assert m["expectancy"] == pytest.approx(expectancy)
    assert m["expectancy_percentage"] == pytest.approx(expectancy / 100 * 100)
    assert m["expected_net_profit_every_100_trades"] == pytest.approx(expectancy * 100)
    assert m["average_holding_period"] == pytest.approx((3600 + 1800 + 7200 + 600 + 900 + 100) / 6)
    assert m["average_winning_holding_period"] == pytest.approx(5400)
    assert m["average_losing_holding_period"] == pytest.approx((1800 + 900 + 100) / 3)
    assert m["gross_profit"] == pytest.approx(16.0)
    assert m["gross_loss"] == pytest.approx(-9.0)
    assert m["largest_winning_trade"] == pytest.approx(10.0)
    assert m["largest_losing_trade"] == pytest.approx(-4.0)
    assert m["starting_balance"] == 100.0
    assert m["finishing_balance"] == 90.0                   # last daily balance
    assert m["total_open_trades"] == 2 and m["open_pl"] == pytest.approx(1.5)
    # streak sequence of TRADES: +1, -1, +1, 0, -1, -2
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (1, 2, -2)


def test_streaks_on_known_sequence():
    pnls = [1, 2, 3, -1, -2, 0, 5, -1, -1, -1, -1, 4, 4]
    # running streak: 1 2 3 -1 -2 0 1 -1 -2 -3 -4 1 2
    m = metrics([trade("long", float(p), 60) for p in pnls])
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (3, 4, 2)
    m = metrics([trade("long", float(p), 60) for p in [-1, -1, 2]])
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (1, 2, 1)
    m = metrics([trade("long", float(p), 60) for p in [1, 0]])
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (1, 0, 0)


def test_average_trades_per_period():
    # The reference counts the period one minute longer than [start, finish).
    minute = 1 / 1440
    m = metrics(days=10)  # 6 trades in 10 days
    assert m["avg_trades_per_day"] == pytest.approx(6 / (10 + minute))
    assert m["avg_trades_per_week"] == pytest.approx(6 / (10 + minute) * 7)
    assert m["avg_trades_per_month"] == pytest.approx(6 / (10 + minute) * 30.44)
    m = compute_metrics(TRADES, BALANCES, 100.0, START_MS, START_MS + 36 * 3_600_000)  # 1.5 days
    assert m["avg_trades_per_day"] == pytest.approx(6 / (1.5 + minute))
    m = compute_metrics(TRADES, BALANCES, 100.0, START_MS, START_MS)  # empty period
    assert m["avg_trades_per_day"] == 0.0


def test_no_trades():
    m = compute_metrics([], [1000.0] * 4, 1000.0, START_MS, START_MS + 3 * DAY)
    assert_all_finite(m)
    assert m["total"] == 0 and m["win_rate"] == 0 and m["net_profit_percentage"] == 0
    assert m["starting_balance"] == m["finishing_balance"] == 1000.0
    assert all(v == 0 for k, v in m.items() if k not in ("starting_balance", "finishing_balance", "annualization"))
    for balances in ([], [1000.0], [1000.0, 1000.0]):
        m = compute_metrics([], balances, 1000.0, START_MS, START_MS)
        assert_all_finite(m)
        assert m["finishing_balance"] == 1000.0
    # zero starting balance must not divide by zero either
    assert_all_finite(compute_metrics([], [0.0, 0.0, 5.0], 0.0, START_MS, START_MS + DAY))


def test_all_winning_trades():
    trades = [trade("long", 5.0, 60), trade("short", 3.0, 120)]
    m = metrics(trades, [100.0, 105.0, 108.0])
    assert_all_finite(m)
    assert m["win_rate"] == 1.0 and m["win_rate_longs"] == 1.0 and m["win_rate_shorts"] == 1.0
    assert m["average_loss"] == 0 and m["ratio_avg_win_loss"] == 0
    assert m["average_losing_holding_period"] == 0 and m["largest_losing_trade"] == 0
    assert m["expectancy"] == pytest.approx(4.0)
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (2, 0, 2)
    # no negative return: sortino / omega / drawdown based ratios are undefined -> 0
    assert m["max_drawdown"] == 0 and m["sortino_ratio"] == 0 and m["omega_ratio"] == 0
    assert m["calmar_ratio"] == 0 and m["serenity_index"] == 0
    assert m["sharpe_ratio"] > 0


def test_all_losing_trades():
    trades = [trade("long", -5.0, 60), trade("long", -1.0, 120)]
    m = metrics(trades, [100.0, 95.0, 94.0])
    assert_all_finite(m)
    assert m["win_rate"] == 0 and m["win_rate_longs"] == 0 and m["win_rate_shorts"] == 0
    assert m["average_win"] == 0 and m["ratio_avg_win_loss"] == 0
    assert m["largest_winning_trade"] == 0 and m["average_winning_holding_period"] == 0
    assert m["expectancy"] == pytest.approx(-3.0)
    assert (m["winning_streak"], m["losing_streak"], m["current_streak"]) == (0, 2, -2)


# --------------------------------------------------------------------------- balances

def test_daily_returns_and_drawdown_series():
    r = daily_returns(BALANCES)
    expected = pd.Series(BALANCES).pct_change().to_numpy()[1:]
    np.testing.assert_allclose(r, expected)
    np.testing.assert_allclose(r, [0.1, -0.1, 120 / 99 - 1, 0.0, -0.25])
    dd = drawdown_series(BALANCES)
    np.testing.assert_allclose(dd, [0, 0, -10, 0, 0, -25])
    assert daily_returns([100.0]).size == 0 and drawdown_series([]).size == 0


def test_balance_statistics_follow_the_formulas():
    m = metrics()
    r = pd.Series(BALANCES).pct_change()          # n entries, first NaN
    rv = r.dropna().to_numpy()                    # [0.1, -0.1, 0.2121.., 0, -0.25]
    n = len(BALANCES)

    # max drawdown on eq = cumprod(1 + r): eq = 1.1, .99, 1.2, 1.2, .9
    eq = np.cumprod(1 + rv)
    np.testing.assert_allclose(eq, [1.1, 0.99, 1.2, 1.2, 0.9])
    dd = eq / np.maximum.accumulate(eq) - 1
    assert m["max_drawdown"] == pytest.approx(-25.0)
    assert m["max_drawdown"] == pytest.approx(dd.min() * 100)

    # CAGR over n - 1 = 5 days: 0.9 ** (365 / 5) - 1
    cagr = 0.9 ** (365 / 5) - 1
    assert m["annual_return"] == pytest.approx(cagr * 100)
    assert m["calmar_ratio"] == pytest.approx(cagr / 0.25)

    # sharpe: mean / std(ddof=1) * sqrt(365)
    mean = sum(rv) / 5
    std = math.sqrt(sum((x - mean) ** 2 for x in rv) / 4)
    assert m["sharpe_ratio"] == pytest.approx(mean / std * math.sqrt(365))
    assert m["sharpe_ratio"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365))

    # sortino: downside = sqrt(sum(neg^2) / N), N = len(pct_change series) = 6
    downside = math.sqrt((0.1 ** 2 + 0.25 ** 2) / n)
    assert m["sortino_ratio"] == pytest.approx(mean / downside * math.sqrt(365))

    # omega: sum of gains / -sum of losses
    assert m["omega_ratio"] == pytest.approx((0.1 + 120 / 99 - 1) / 0.35)

    # serenity: sum(r) / (ulcer * pitfall); CVaR(dd) with k = int(0.05 * 6) = 0 -> worst dd
    ulcer = math.sqrt((0.1 ** 2 + 0.25 ** 2) / 5)
    pitfall = 0.25 / std
    assert m["serenity_index"] == pytest.approx(sum(rv) / (ulcer * pitfall))

    # smart ratios: denominators times the autocorrelation penalty
    rho = abs(pd.Series(rv).autocorr(lag=1))
    penalty = math.sqrt(1 + 2 * sum((5 - x) / 5 * rho ** x for x in range(1, 5)))
    assert m["smart_sharpe"] == pytest.approx(mean / (std * penalty) * math.sqrt(365))
    assert m["smart_sortino"] == pytest.approx(mean / (downside * penalty) * math.sqrt(365))
    assert abs(m["smart_sharpe"]) < abs(m["sharpe_ratio"])

    # underwater: peaks at days 0, 1, 3, 4 (120 >= 120) -> longest stretch below a peak = 1 day
    assert m["max_underwater_period"] == 1


def test_max_underwater_period_in_days():
    # peak 100 at day 0, recovered (>=) on day 3; new drop on day 4, recovered on day 7
    balances = [100, 90, 95, 100, 80, 85, 90, 101]
    assert metrics(balances=balances)["max_underwater_period"] == 3
    # never recovered: still underwater at the end counts
    assert metrics(balances=[100, 120, 110, 100, 90, 95])["max_underwater_period"] == 4
    assert metrics(balances=[100, 101, 102])["max_underwater_period"] == 0


def test_cvar_uses_the_worst_five_percent_on_long_series():
    # 40 balances -> k = int(0.05 * 40) = 2: mean of the two deepest drawdowns
    rng = np.random.default_rng(7)
    balances = 1000 * np.cumprod(1 + rng.normal(0.001, 0.02, 40))
    m = metrics(balances=balances)
    rv = pd.Series(balances).pct_change().dropna().to_numpy()
    eq = np.cumprod(1 + rv)
    dd = eq / np.maximum.accumulate(eq) - 1
    cvar = np.sort(dd)[:2].mean()
    std = rv.std(ddof=1)
    ulcer = math.sqrt((dd ** 2).sum() / (len(rv)))
    expected = rv.sum() / (ulcer * (-cvar / std))
    assert m["serenity_index"] == pytest.approx(expected)
    assert m["max_drawdown"] == pytest.approx(dd.min() * 100)


def test_wiped_out_account_is_finite():
    m = metrics(balances=[100.0, 50.0, 0.0, 0.0])
    assert_all_finite(m)
    assert m["max_drawdown"] == pytest.approx(-100.0)
    assert m["annual_return"] == pytest.approx(-100.0)
