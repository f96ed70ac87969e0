"""The key correctness check of the fast path: jumping between bar closes to the first
minute that can fill (numpy search) gives exactly the trades of a naive loop that walks
every single minute's intra-candle path."""

from __future__ import annotations

import numpy as np
import pytest

from candlewire.engine.simulator import Simulator
from candlewire.engine.strategy import Strategy
from test_engine_support import START_MS, MINUTE, run


def random_candles(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    opens = np.concatenate([[100.0], closes[:-1]])
    gaps = rng.random(n) < 0.05  # some minutes open away from the previous close
    opens[gaps] *= 1 + rng.normal(0, 0.004, gaps.sum())
    wick = np.abs(rng.normal(0, 0.001, (2, n)))
    out = np.empty((n, 6))
    out[:, 0] = START_MS + np.arange(n) * MINUTE
    out[:, 1] = opens
    out[:, 2] = closes
    out[:, 3] = np.maximum(opens, closes) * (1 + wick[0])
    out[:, 4] = np.minimum(opens, closes) * (1 - wick[1])
    out[:, 5] = 1
    return out


class RandomTrader(Strategy):
    """Random limit/stop/market entries both ways, stop-loss and take-profit resting,
    trailing stops, scale-ins and early exits: every kind of resting order."""

    seed = 0

    def _rng(self):
        if "rng" not in self.vars:
            self.vars["rng"] = np.random.default_rng(self.seed)
        return self.vars["rng"]

    def should_short(self):  # called first; one roll decides both
        self.vars["roll"] = self._rng().random()
        return not self.is_spot_trading and self.vars["roll"] >= 0.8

    def should_long(self):
        return self.vars["roll"] < 0.3

    def _entry(self, direction):
        rng = self._rng()
        offset = rng.choice([-0.004, 0.0, 0.004])
        price = self.price * (1 + offset)
        qty = round(float(rng.uniform(1, 5)), 3)
        stop = price * (1 - direction * rng.uniform(0.003, 0.02))
        target = price * (1 + direction * rng.uniform(0.003, 0.03))
        return qty, price, stop, target

    def go_long(self):
        qty, price, stop, target = self._entry(1)
        self.buy = qty, price
        self.stop_loss = qty, stop
        self.take_profit = qty, target

    def go_short(self):
        qty, price, stop, target = self._entry(-1)
        self.sell = qty, price
        self.stop_loss = qty, stop
        self.take_profit = qty, target

    def update_position(self):
        rng = self._rng()
        roll = rng.random()
        qty = abs(self.position.qty)
        if roll < 0.3:  # trail the stop
            factor = 1 - 0.006 if self.is_long else 1 + 0.006
            self.stop_loss = qty, self.price * factor
        elif roll < 0.4:
            self.liquidate()
        elif roll < 0.5:  # scale in with a limit
            price = self.price * (0.997 if self.is_long else 1.003)
            if self.is_long:
                self.buy = 1, price
            else:
                self.sell = 1, price


def naive_per_minute(monkeypatch):
    """Turn the engine into the reference loop: visit every minute and walk it."""
    monkeypatch.setattr(Simulator, "_watching", lambda self: True)
    monkeypatch.setattr(Simulator, "_first_fill_candidate", lambda self, start, limit: start)


def _summary(result):
    trades = [
        (t["type"], t["qty"], t["entry_price"], t["exit_price"], t["PNL"], t["opened_at"], t["closed_at"])
        for t in result["trades"]
    ]
    return trades, result["daily_balances"], result["finishing_balance"]


@pytest.mark.parametrize(
    "seed, timeframe, mode, kind",
    [
        (1, "5m", "cross", "futures"),
        (2, "15m", "cross", "futures"),
        (3, "5m", "isolated", "futures"),
        (4, "3m", "cross", "spot"),
    ],
)
def test_jump_ahead_matches_a_per_minute_walk(monkeypatch, seed, timeframe, mode, kind):
    array = random_candles(seed, 6000)

    class Trader(RandomTrader):
        pass

    Trader.seed = seed
    overrides = dict(
        array=array, timeframe=timeframe, fee=0.0004, futures_leverage=50 if mode == "isolated" else 3,
        futures_leverage_mode=mode, type=kind, starting_balance=100_000,
    )
    fast = run(Trader, **overrides)
    with monkeypatch.context() as patch:
        naive_per_minute(patch)
        slow = run(Trader, **overrides)
    assert len(fast["trades"]) > 20
    assert _summary(fast) == _summary(slow)
    if mode == "isolated":
        assert any(o["role"] == "liquidation" for o in fast["orders"])


def test_a_stop_resting_all_year_matches_the_per_minute_walk(monkeypatch):
    """One position, its stop far away, resting for a year of minutes."""

    class FarStop(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price
            self.stop_loss = 1, self.price * 0.7

    array = random_candles(7, 525_600 // 4)
    fast = run(FarStop, array=array, timeframe="1h")
    with monkeypatch.context() as patch:
        naive_per_minute(patch)
        slow = run(FarStop, array=array, timeframe="1h")
    assert _summary(fast) == _summary(slow)
