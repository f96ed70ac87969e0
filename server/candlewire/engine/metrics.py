"""Backtest metrics (the "Metrics" section of /work/shared/spec/engine.md).

Definitions follow the reference semantics Jesse users know (Jesse's
``services/metrics.py``, which in turn follows quantstats).  The code is our own; only
the formulas are shared.  Every choice the spec leaves open is written next to the code
and repeated here:

Inputs
    ``daily_balances`` b[0..n-1]: starting balance, one sample per 1440 minutes, final
    balance.  ``r`` = pct_change(b): the pandas series has n entries whose first is
    undefined; statistics skip it (pandas' skipna), so means/sums/std run over the
    m = n - 1 defined returns.  A non-finite return (previous balance 0) counts as 0.
    ``balance_timestamps`` t[0..n-1] (ms): when each balance was taken.  The engine passes
    them: the run's start, the close time of every sampled minute (start + 1 day + 1 minute,
    then one day apart) and the end of the last minute.  Without them balance i is taken to
    be i whole days after the first.  Only the two elapsed-time metrics read them.

Balance statistics (all 0 when n < 2, i.e. no return exists)
    max_drawdown      min(eq / cummax(eq) - 1) * 100, eq = cumprod(1 + r) over the m
                      defined returns.  As in the reference, eq starts at 1 + r[1], not 1,
                      so a loss on the very first day is not a drawdown.
    max_underwater_period
                      in whole DAYS of elapsed time, as the reference measures it: the peak
                      index moves to i whenever b[i] >= running peak; otherwise the account
                      is underwater for floor((t[i] - t[peak]) / 1 day) days; the maximum of
                      those.  Because samples sit one minute past the day boundary and the
                      final balance at the end of the last minute, a stretch that is still
                      underwater at the end counts one day less than its number of samples.
    annual_return     CAGR % = (prod(1 + r) ** (365 / days) - 1) * 100 with days = whole
                      days between the first and the last balance, floor((t[-1] - t[0]) /
                      1 day) (the reference's calendar span); 0 when days == 0 (a run
                      shorter than one day).  A growth factor <= 0 gives -100 %.  The
                      reference also clips the growth factor to [1e-10, 1e10] before the
                      power; the spec says CAGR, so the true value is kept (differs only
                      beyond those bounds).
    sharpe_ratio      mean(r) / std(r, ddof=1) * sqrt(365).
    sortino_ratio     mean(r) / sqrt(sum(r[r < 0] ** 2) / N) * sqrt(365) with
                      N = len(pct_change series) = n (the reference counts the undefined
                      first row in N).
    calmar_ratio      CAGR / |max drawdown| (both as fractions); 0 when drawdown is 0.
    omega_ratio       sum(r[r > 0]) / -sum(r[r < 0]) (threshold (1+0)^(1/365)-1 = 0).
    serenity_index    sum(r) / (ulcer_index * pitfall), pitfall = -CVaR(dd) / std(r, ddof=1),
                      dd = eq / cummax(eq) - 1 (same eq as max_drawdown),
                      ulcer_index = sqrt(sum(dd ** 2) / (len(r) - 1)) = sqrt(sum(dd**2) / m),
                      CVaR = historical expected shortfall at 95 %: sort the drawdowns,
                      k = int((1 - 0.95) * n); mean of the k worst, or the worst one when
                      k == 0.  Deliberately NOT the reference's number: Jesse 3.5.3 feeds the
                      pct_change frame with its leading NaN into the drawdown, the running
                      maximum propagates that NaN to every drawdown, CVaR falls back to 0
                      and ulcer to 0, so its serenity is +-inf (NaN for short runs) for every
                      backtest.  Here the same formula runs on the defined returns.
    smart_sharpe / smart_sortino
                      the ratio's denominator multiplied by the quantstats autocorrelation
                      penalty sqrt(1 + 2 * sum_{x=1}^{m-1} ((m - x) / m) * |rho1| ** x),
                      rho1 = lag-1 Pearson correlation of r.  As in the reference the
                      penalty is undefined when m < 3 or rho1 is undefined (r[:-1] or r[1:]
                      constant); the smart ratios are then undefined, i.e. 0 here.

Trade statistics (closed trades; PNL > 0 wins, PNL < 0 losses, PNL == 0 neither)
    win_rate = wins / (wins + losses) (0 when no wins); win_rate_longs / _shorts the same
    within one side.  average_loss is positive (|mean of losing PNL|); gross_loss is
    negative.  expectancy = avg_win * win_rate - avg_loss * (1 - win_rate);
    expectancy_percentage = expectancy / starting_balance * 100;
    expected_net_profit_every_100_trades = expectancy_percentage * 100 (reference).
    Holding periods are in seconds.  Streaks: a run of consecutive wins counts +1, +2, ...,
    a run of losses -1, -2, ...; a break-even trade resets to 0.  winning_streak = max(0,
    max), losing_streak = max(0, -min), current_streak = last value.
    avg_trades_per_day = total / ((finish_ms - start_ms + 60 000) / 86 400 000) (the reference
    counts the period one minute longer than [start, finish), measured against Jesse 3.5.3);
    per week x 7; per month x 30.44 (the average Gregorian month used by the reference).
    annualization = 365, the days per year every annualized ratio uses.

Open trades
    ``open_trades``: the positions still open when the run ended, before the engine closed
    them (the reference's count and unrealized PnL at that moment); those positions are
    also in ``trades`` as the closing trades.  total_open_trades = len, open_pl = sum(PNL).

Undefined values
    The reference yields NaN or +-inf where a ratio is 0/0 or x/0 (average_win /
    average_winning_holding_period without wins, average_loss / average_losing_holding_period
    without losses, ratio_avg_win_loss when either is missing, omega without negative
    returns, sortino / smart_sortino without negative returns (+-inf), sharpe with one
    return, smart ratios with fewer than three returns, ...).  Here every such value is 0,
    and any remaining non-finite result (e.g. a CAGR that overflows over a very short run)
    is clipped to the largest finite float, so the dict is always finite and JSON-safe:
    results are stored in JSON columns (PostgreSQL's json rejects NaN and Infinity), sent
    as proto3 doubles and proto JSON, and compared by the optimizer; 0 is what every
    consumer can carry.  ``total_winning_trades`` / ``total_losing_trades`` tell a reader
    whether an average of 0 means "none".
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

PERIODS_PER_YEAR = 365
DAY_MS = 86_400_000
MINUTE_MS = 60_000
DAYS_PER_WEEK = 7
DAYS_PER_MONTH = 30.44
CVAR_CONFIDENCE = 0.95

__all__ = ["compute_metrics", "daily_returns", "drawdown_series", "METRIC_KEYS"]

METRIC_KEYS = (
    "total", "total_winning_trades", "total_losing_trades", "starting_balance",
    "finishing_balance", "win_rate", "win_rate_longs", "win_rate_shorts", "ratio_avg_win_loss",
    "longs_count", "shorts_count", "longs_percentage", "shorts_percentage", "fee", "net_profit",
    "net_profit_percentage", "average_win", "average_loss", "expectancy", "expectancy_percentage",
    "expected_net_profit_every_100_trades", "average_holding_period",
    "average_winning_holding_period", "average_losing_holding_period", "gross_profit",
    "gross_loss", "max_drawdown", "max_underwater_period", "annual_return", "sharpe_ratio",
    "calmar_ratio", "sortino_ratio", "omega_ratio", "serenity_index", "smart_sharpe",
    "smart_sortino", "total_open_trades", "open_pl", "winning_streak", "losing_streak",
    "current_streak", "largest_winning_trade", "largest_losing_trade", "avg_trades_per_day",
    "avg_trades_per_week", "avg_trades_per_month", "annualization",
)

_INT_KEYS = frozenset({
    "total", "total_winning_trades", "total_losing_trades", "longs_count", "shorts_count",
    "max_underwater_period", "total_open_trades", "winning_streak", "losing_streak",
    "current_streak", "annualization",
})


# --------------------------------------------------------------------------- helpers

def _div(num: float, den: float) -> float:
    """num / den, or 0.0 when den is 0 or the result is undefined."""
    if den == 0 or not math.isfinite(den):
        return 0.0
    return num / den


def _mean(a: np.ndarray) -> float:
    return float(a.mean()) if a.size else 0.0


def _finite(x: float) -> float:
    x = float(x)
    if math.isnan(x):
        return 0.0
    if math.isinf(x):
        return math.copysign(np.finfo(np.float64).max, x)
    return x


def _balances(daily_balances: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(daily_balances, dtype=np.float64).ravel()


# --------------------------------------------------------------------------- series

def daily_returns(daily_balances: Sequence[float] | np.ndarray) -> np.ndarray:
    """Day-over-day returns b[i] / b[i-1] - 1 as fractions: n balances give n - 1 returns
    (the undefined first element of pandas' pct_change is omitted). A non-finite return
    (previous balance 0) is reported as 0."""
    b = _balances(daily_balances)
    if b.size < 2:
        return np.zeros(0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b[1:] / b[:-1] - 1.0
    r[~np.isfinite(r)] = 0.0
    return r


def drawdown_series(daily_balances: Sequence[float] | np.ndarray) -> np.ndarray:
    """Underwater curve for charts: (b / running max of b - 1) * 100, in percent (<= 0),
    one value per daily balance (the starting balance included, so it starts at 0)."""
    b = _balances(daily_balances)
    if b.size == 0:
        return np.zeros(0, dtype=np.float64)
    peak = np.maximum.accumulate(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = (b / peak - 1.0) * 100.0
    dd[~np.isfinite(dd)] = 0.0
    return dd


def _equity_drawdowns(r: np.ndarray) -> np.ndarray:
    """eq / cummax(eq) - 1 with eq = cumprod(1 + r) (fractions)."""
    eq = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = eq / peak - 1.0
    dd[~np.isfinite(dd)] = 0.0
    return dd


def _timestamps(n: int, balance_timestamps: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Balance times in ms as int64; i whole days after the first when none are given."""
    if balance_timestamps is None:
        return np.arange(n, dtype=np.int64) * DAY_MS
    t = np.asarray(balance_timestamps, dtype=np.float64).ravel()
    if t.size != n:
        raise ValueError(f"{t.size} balance timestamps for {n} daily balances")
    return t.astype(np.int64)


def _whole_days(ms: np.ndarray | int) -> np.ndarray | int:
    """Elapsed whole days (floor) of a non-negative span in ms."""
    return ms // DAY_MS


def _max_underwater_period(b: np.ndarray, t: np.ndarray) -> int:
    if b.size < 2:
        return 0
    idx = np.arange(b.size)
    at_peak = b >= np.maximum.accumulate(b)  # b[i] >= every earlier balance
    last_peak = np.maximum.accumulate(np.where(at_peak, idx, 0))
    return int(_whole_days(t - t[last_peak]).max())


def _autocorr_penalty(r: np.ndarray) -> float | None:
    """None when undefined (fewer than 3 returns, or a constant half so rho1 is 0/0)."""
    m = r.size
    if m < 3:
        return None
    a, c = r[:-1], r[1:]
    sa, sc = a.std(), c.std()
    if sa == 0 or sc == 0:
        return None
    rho = abs(float(np.mean((a - a.mean()) * (c - c.mean())) / (sa * sc)))
    x = np.arange(1, m, dtype=np.float64)
    return math.sqrt(1.0 + 2.0 * float(np.sum((m - x) / m * rho ** x)))


def _cvar_historical(values: np.ndarray, n_rows: int, confidence: float = CVAR_CONFIDENCE) -> float:
    """Expected shortfall: mean of the k = int((1 - confidence) * n_rows) smallest values,
    the smallest one when k == 0."""
    if values.size == 0 or n_rows < 2:
        return 0.0
    s = np.sort(values)
    k = min(int((1 - confidence) * n_rows), s.size)
    if k == 0:
        return float(s[0])
    return float(s[:k].mean())


def _balance_metrics(b: np.ndarray, t: np.ndarray) -> dict[str, float]:
    out = {
        "max_drawdown": 0.0, "max_underwater_period": 0, "annual_return": 0.0,
        "sharpe_ratio": 0.0, "calmar_ratio": 0.0, "sortino_ratio": 0.0, "omega_ratio": 0.0,
        "serenity_index": 0.0, "smart_sharpe": 0.0, "smart_sortino": 0.0,
    }
    n = b.size
    if n < 2:
        return out
    r = daily_returns(b)
    m = r.size
    sqrt_year = math.sqrt(PERIODS_PER_YEAR)

    dd = _equity_drawdowns(r)
    max_dd = float(dd.min())  # fraction, <= 0
    out["max_drawdown"] = max_dd * 100.0
    out["max_underwater_period"] = _max_underwater_period(b, t)

    days = int(_whole_days(int(t[-1]) - int(t[0])))
    growth = float(np.prod(1.0 + r))
    if days <= 0:
        cagr = 0.0
    elif growth <= 0:
        cagr = -1.0
    else:
        with np.errstate(over="ignore"):
            cagr = float(np.exp(np.log(growth) * PERIODS_PER_YEAR / days)) - 1.0
    out["annual_return"] = cagr * 100.0
    out["calmar_ratio"] = _div(cagr, abs(max_dd))

    mean = float(r.mean())
    std = float(r.std(ddof=1)) if m > 1 else 0.0
    neg = r[r < 0]
    downside = math.sqrt(float(np.sum(neg * neg)) / n)
    penalty = _autocorr_penalty(r)
    out["sharpe_ratio"] = _div(mean, std) * sqrt_year
    out["sortino_ratio"] = _div(mean, downside) * sqrt_year
    if penalty is not None:
        out["smart_sharpe"] = _div(mean, std * penalty) * sqrt_year
        out["smart_sortino"] = _div(mean, downside * penalty) * sqrt_year
    out["omega_ratio"] = _div(float(r[r > 0].sum()), -float(neg.sum()))

    ulcer = math.sqrt(float(np.sum(dd * dd)) / m)
    pitfall = _div(-_cvar_historical(dd, n), std)
    out["serenity_index"] = _div(float(r.sum()), ulcer * pitfall)
    return out


# --------------------------------------------------------------------------- trades

def _column(trades: list[dict], key: str, default: float = 0.0) -> np.ndarray:
    return np.fromiter((float(t.get(key, default) or 0.0) for t in trades), dtype=np.float64, count=len(trades))


def _streaks(pnl: np.ndarray) -> np.ndarray:
    """+k for the k-th consecutive win, -k for the k-th consecutive loss, 0 at break-even."""
    s = np.sign(pnl)
    idx = np.arange(s.size)
    run_start = np.ones(s.size, dtype=bool)
    run_start[1:] = s[1:] != s[:-1]
    start = np.maximum.accumulate(np.where(run_start, idx, 0))
    return (s * (idx - start + 1)).astype(np.int64)


def _side_win_rate(win: np.ndarray, lose: np.ndarray, side: np.ndarray) -> float:
    w = int(np.count_nonzero(win & side))
    lo = int(np.count_nonzero(lose & side))
    return _div(w, w + lo)


def compute_metrics(
    trades: list[dict],
    daily_balances: Sequence[float] | np.ndarray,
    starting_balance: float,
    start_ms: int,
    finish_ms: int,
    open_trades: Iterable[dict] | None = None,
    balance_timestamps: Sequence[float] | np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of the spec for one run; see the module docstring for the definitions.
    `open_trades`: positions open when the run ended (dicts with "PNL"); `balance_timestamps`:
    the time (ms) of each daily balance."""
    trades = list(trades or [])
    open_list = list(open_trades or [])
    b = _balances(daily_balances)
    t = _timestamps(b.size, balance_timestamps)
    starting_balance = float(starting_balance)

    total = len(trades)
    pnl = _column(trades, "PNL")
    fee = _column(trades, "fee")
    hold = _column(trades, "holding_period")
    types = np.array([str(t.get("type", "")).lower() for t in trades], dtype=object)
    is_long = types == "long"
    is_short = types == "short"
    win = pnl > 0
    lose = pnl < 0

    n_win = int(np.count_nonzero(win))
    n_lose = int(np.count_nonzero(lose))
    win_rate = _div(n_win, n_win + n_lose)
    average_win = _mean(pnl[win])
    average_loss = abs(_mean(pnl[lose]))
    expectancy = average_win * win_rate - average_loss * (1.0 - win_rate)
    expectancy_percentage = _div(expectancy, starting_balance) * 100.0
    net_profit = float(pnl.sum())
    longs_count = int(np.count_nonzero(is_long))
    shorts_count = int(np.count_nonzero(is_short))
    longs_percentage = _div(longs_count, longs_count + shorts_count) * 100.0
    shorts_percentage = 100.0 - longs_percentage if (longs_count + shorts_count) else 0.0

    streak = _streaks(pnl) if total else np.zeros(1, dtype=np.int64)
    duration_days = (float(finish_ms) - float(start_ms) + MINUTE_MS) / DAY_MS
    per_day = _div(total, duration_days) if finish_ms > start_ms else 0.0

    out: dict[str, Any] = {
        "total": total,
        "total_winning_trades": n_win,
        "total_losing_trades": n_lose,
        "starting_balance": starting_balance,
        "finishing_balance": float(b[-1]) if b.size else starting_balance,
        "win_rate": win_rate,
        "win_rate_longs": _side_win_rate(win, lose, is_long),
        "win_rate_shorts": _side_win_rate(win, lose, is_short),
        "ratio_avg_win_loss": _div(average_win, average_loss),
        "longs_count": longs_count,
        "shorts_count": shorts_count,
        "longs_percentage": longs_percentage,
        "shorts_percentage": shorts_percentage,
        "fee": float(fee.sum()),
        "net_profit": net_profit,
        "net_profit_percentage": _div(net_profit, starting_balance) * 100.0,
        "average_win": average_win,
        "average_loss": average_loss,
        "expectancy": expectancy,
        "expectancy_percentage": expectancy_percentage,
        "expected_net_profit_every_100_trades": expectancy_percentage * 100.0,
        "average_holding_period": _mean(hold),
        "average_winning_holding_period": _mean(hold[win]),
        "average_losing_holding_period": _mean(hold[lose]),
        "gross_profit": float(pnl[win].sum()),
        "gross_loss": float(pnl[lose].sum()),
        "total_open_trades": len(open_list),
        "open_pl": float(_column(open_list, "PNL").sum()),
        "winning_streak": max(int(streak.max()), 0),
        "losing_streak": max(-int(streak.min()), 0),
        "current_streak": int(streak[-1]),
        "largest_winning_trade": float(pnl[win].max()) if n_win else 0.0,
        "largest_losing_trade": float(pnl[lose].min()) if n_lose else 0.0,
        "avg_trades_per_day": per_day,
        "avg_trades_per_week": per_day * DAYS_PER_WEEK,
        "avg_trades_per_month": per_day * DAYS_PER_MONTH,
        "annualization": PERIODS_PER_YEAR,
    }
    out.update(_balance_metrics(b, t))

    return {k: (int(out[k]) if k in _INT_KEYS else _finite(out[k])) for k in METRIC_KEYS}
