"""The golden backtest shared by test_backtest_job.py and test_api_backtests.py: deterministic synthetic
1-minute candles, the same candles as an uploadable CSV, and a small SMA-crossover strategy that trades
long and short several times a day."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np

EXCHANGE = "binance-perpetual-futures"
SYMBOL = "BTC-USDT"
TIMEFRAME = "15m"
STRATEGY = "GoldenCross"
MINUTE_MS = 60_000
FIRST_DAY = date(2024, 3, 1)
DAYS = 4
# Backtest the last three days; 40 warm-up bars of 15m (10 hours) come from the first day.
START = date(2024, 3, 2)
FINISH = date(2024, 3, 5)
WARM_UP_CANDLES = 40

STRATEGY_SOURCE = '''\
from candlewire import Strategy
from candlewire import indicators as ta


class GoldenCross(Strategy):
    def hyperparameters(self):
        return [
            {"name": "fast", "type": int, "min": 2, "max": 50, "default": 5},
            {"name": "slow", "type": int, "min": 5, "max": 200, "default": 13},
        ]

    def averages(self):
        fast = ta.sma(self.candles, period=self.hp["fast"], sequential=True)
        slow = ta.sma(self.candles, period=self.hp["slow"], sequential=True)
        return fast, slow

    def crossed(self, up):
        if len(self.candles) <= self.hp["slow"]:
            return False
        fast, slow = self.averages()
        if up:
            return fast[-2] <= slow[-2] and fast[-1] > slow[-1]
        return fast[-2] >= slow[-2] and fast[-1] < slow[-1]

    def qty(self):
        return round(self.balance * 0.5 / self.price, 3)

    def should_long(self):
        return self.crossed(up=True)

    def go_long(self):
        self.buy = self.qty(), self.price
        self.log(f"going long at {self.price:.2f}")

    def should_short(self):
        return self.crossed(up=False)

    def go_short(self):
        self.sell = self.qty(), self.price
        self.log(f"going short at {self.price:.2f}")

    def update_position(self):
        if (self.is_long and self.crossed(up=False)) or (self.is_short and self.crossed(up=True)):
            self.liquidate()

    def after(self):
        fast, slow = self.averages()
        self.add_line_to_candle_chart("fast", fast[-1])
        self.add_line_to_candle_chart("slow", slow[-1])
        self.add_extra_line_chart("spread", "fast - slow", fast[-1] - slow[-1])
        self.add_horizontal_line_to_extra_chart("spread", "zero", 0)
'''

# should_long and should_short both True on the first bar after the warm-up: the engine refuses.
BOTH_SIDES_SOURCE = '''\
from candlewire import Strategy


class BothSides(Strategy):
    def should_long(self):
        return True

    def go_long(self):
        self.buy = 1, self.price

    def should_short(self):
        return True

    def go_short(self):
        self.sell = 1, self.price
'''



def day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def candles() -> np.ndarray:
    """(n, 6) `[timestamp, open, close, high, low, volume]`: waves plus seeded noise, every minute of DAYS days."""
    n = DAYS * 24 * 60
    rng = np.random.default_rng(20240301)
    minute = np.arange(n)
    closes = 100 + 8 * np.sin(minute / 400) + 3 * np.sin(minute / 61) + np.cumsum(rng.normal(0, 0.05, n))
    closes = np.round(closes, 2)
    opens = np.concatenate([[100.0], closes[:-1]])
    wicks = np.round(np.abs(rng.normal(0, 0.08, (2, n))), 2) + 0.01
    rows = np.empty((n, 6))
    rows[:, 0] = day_ms(FIRST_DAY) + minute * MINUTE_MS
    rows[:, 1] = opens
    rows[:, 2] = closes
    rows[:, 3] = np.maximum(opens, closes) + wicks[0]
    rows[:, 4] = np.minimum(opens, closes) - wicks[1]
    rows[:, 5] = np.round(rng.uniform(1, 50, n), 3)
    return rows


def candles_csv(rows: np.ndarray) -> bytes:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{int(t)},{o:.2f},{h:.2f},{l:.2f},{c:.2f},{v:.3f}" for t, o, c, h, l, v in rows]
    return ("\n".join(lines) + "\n").encode()


def engine_inputs(rows: np.ndarray) -> tuple[dict, dict]:
    """The golden period's trading and warm-up candles as `research.backtest` takes them."""
    key = f"{EXCHANGE}-{SYMBOL}"
    start, finish = day_ms(START), day_ms(FINISH)
    warm_from = start - WARM_UP_CANDLES * 15 * MINUTE_MS
    times = rows[:, 0]
    trading = rows[(times >= start) & (times < finish)]
    warm = rows[(times >= warm_from) & (times < start)]
    return {key: trading}, {key: warm}


def research_config(fee: float = 0.0004) -> dict:
    return {
        "exchange": EXCHANGE, "type": "futures", "fee": fee, "futures_leverage": 1,
        "futures_leverage_mode": "cross", "starting_balance": 10_000.0, "warm_up_candles": WARM_UP_CANDLES,
    }


def strategy_class(source: str = STRATEGY_SOURCE, name: str = STRATEGY) -> type:
    namespace: dict = {}
    exec(compile(source, f"{name}/__init__.py", "exec"), namespace)  # noqa: S102 - the test's own strategy
    return namespace[name]
