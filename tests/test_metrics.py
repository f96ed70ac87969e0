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


# --------------------------------------------------------------------------- balance times
# The engine's balance times: the start, each sample one minute past a day boundary
# (start + k days + 1 minute), and the end of the last minute.
MINUTE = 60_000


def test_max_underwater_period_floors_elapsed_days_between_balance_times():
    # peak at the day-1 sample (1 d + 1 min); still underwater at the end (3 d): 3 d - (1 d + 1 min)
    # is 1.9993 days -> 1 whole day, although the final balance is two samples after the peak
    balances = [100.0, 110.0, 100.0, 105.0]
    times = [START_MS, START_MS + DAY + MINUTE, START_MS + 2 * DAY + MINUTE, START_MS + 3 * DAY]
    m = compute_metrics([], balances, 100.0, START_MS, START_MS + 3 * DAY, balance_timestamps=times)
    expected = max((t - times[1]) // DAY for t in times[2:])
    assert expected == 1
    assert m["max_underwater_period"] == expected


def test_max_underwater_period_without_timestamps_counts_one_day_per_balance():
    m = metrics(balances=[100.0, 110.0, 100.0, 105.0])
    assert m["max_underwater_period"] == 3 - 1  # balances 2 and 3 below the peak at balance 1


def test_annual_return_spans_whole_days_between_first_and_last_balance():
    # 2 days and 700 minutes of balances: the CAGR exponent uses floor(2.49 days) = 2, not n - 1 = 3
    balances = [100.0, 101.0, 99.0, 102.0]
    times = [START_MS, START_MS + DAY + MINUTE, START_MS + 2 * DAY + MINUTE, START_MS + 2 * DAY + 700 * MINUTE]
    m = compute_metrics([], balances, 100.0, START_MS, times[-1], balance_timestamps=times)
    days = (times[-1] - times[0]) // DAY
    assert days == 2
    assert m["annual_return"] == pytest.approx(((102.0 / 100.0) ** (365 / days) - 1) * 100)


def test_calmar_ratio_uses_the_whole_day_annual_return():
    balances = [100.0, 101.0, 99.0, 102.0]
    times = [START_MS, START_MS + DAY + MINUTE, START_MS + 2 * DAY + MINUTE, START_MS + 2 * DAY + 700 * MINUTE]
    m = compute_metrics([], balances, 100.0, START_MS, times[-1], balance_timestamps=times)
    cagr = 1.02 ** (365 / 2) - 1
    max_dd = 1 - 99.0 / 101.0  # eq = 1.01, 0.99, 1.02
    assert m["calmar_ratio"] == pytest.approx(cagr / max_dd)


def test_annual_return_is_zero_for_a_run_shorter_than_one_day():
    times = [START_MS, START_MS + 20 * 60 * MINUTE]  # 20 hours: zero whole days
    m = compute_metrics([], [100.0, 90.0], 100.0, START_MS, times[-1], balance_timestamps=times)
    assert m["annual_return"] == 0.0  # not (0.9 ** 365 - 1) * 100


def test_balance_timestamps_must_match_the_balances():
    with pytest.raises(ValueError, match="2 balance timestamps for 3 daily balances"):
        compute_metrics([], [100.0, 90.0, 95.0], 100.0, START_MS, START_MS + DAY,
                        balance_timestamps=[START_MS, START_MS + DAY])


# --------------------------------------------------------------------------- smart ratios

def test_smart_ratios_are_zero_with_fewer_than_three_returns():
    # two returns: the lag-1 autocorrelation (and so the penalty) is undefined
    m = metrics(balances=[100.0, 95.0, 97.0])
    r = [95 / 100 - 1, 97 / 95 - 1]
    mean = sum(r) / 2
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 1)
    assert m["sharpe_ratio"] == pytest.approx(mean / std * math.sqrt(365))  # still defined
    assert m["smart_sharpe"] == 0.0
    assert m["smart_sortino"] == 0.0


def test_smart_ratios_are_zero_when_the_lag_one_correlation_is_undefined():
    # r = 0, 0, 0, -0.1: r[:-1] is constant, so corr(r[:-1], r[1:]) is 0 / 0
    m = metrics(balances=[100.0, 100.0, 100.0, 100.0, 90.0])
    assert m["sharpe_ratio"] < 0 and m["sortino_ratio"] < 0
    assert m["smart_sharpe"] == 0.0
    assert m["smart_sortino"] == 0.0


# --------------------------------------------------------------------------- through the engine

def _hold_from_first_minute():
    from candlewire.engine.strategy import Strategy

    class Hold(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

    return Hold


def test_engine_passes_balance_times_to_max_underwater_period():
    from test_engine_support import flat, run

    # 100 at minute 0 (entry), 110 through the day-1 sample (minute 1440), 90 afterwards; 3 days.
    # Balances: 10000 (start), 10010 (1 d + 1 min, the peak), 9990 (2 d + 1 min), 9990 (3 d).
    rows = flat(1, 100) + flat(1440, 110) + flat(3 * 1440 - 1441, 90)
    result = run(_hold_from_first_minute(), rows)
    assert result["daily_balances"] == [10000, 10010, 9990, 9990]
    times = result["equity_curve"]["timestamps_ms"]
    assert result["metrics"]["max_underwater_period"] == (times[-1] - times[1]) // DAY == 1


def test_position_open_at_the_end_counts_as_open_trade_and_closed_trade():
    from test_engine_support import flat, run

    # long 1 at 100, still open when the candles end at 104: closed there by the engine
    result = run(_hold_from_first_minute(), flat(1, 100) + flat(9, 104))
    m = result["metrics"]
    assert m["total"] == 1 and result["trades"][0]["PNL"] == pytest.approx(4.0)
    assert m["total_open_trades"] == 1
    assert m["open_pl"] == pytest.approx(1 * (104 - 100))  # unrealized PnL just before the close


def test_no_open_trades_when_everything_closed_before_the_end():
    from candlewire.engine.strategy import Strategy
    from test_engine_support import flat, run

    class RoundTrip(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

        def update_position(self):
            self.liquidate()

    result = run(RoundTrip, flat(1, 100) + flat(5, 103))
    assert result["metrics"]["total"] == 1
    assert result["metrics"]["total_open_trades"] == 0 and result["metrics"]["open_pl"] == 0


def test_position_closed_by_before_terminate_is_not_an_open_trade():
    from test_engine_support import flat, run

    class ExitAtTheEnd(_hold_from_first_minute()):
        def before_terminate(self):
            self.liquidate()  # a market exit queued at the end fills before open trades are counted

    result = run(ExitAtTheEnd, flat(1, 100) + flat(9, 104))
    (trade,) = result["trades"]
    assert trade["PNL"] == pytest.approx(4.0)
    assert [o["role"] for o in trade["orders"]] == ["entry", "take_profit"]
    assert result["metrics"]["total_open_trades"] == 0 and result["metrics"]["open_pl"] == 0
