"""Trades mode: the original run's closed trades replayed in shuffled orders.

Each scenario is a permutation of the trades' PNL. Trade k of a scenario closes when trade k
of the original closed (the schedule stays; which PNL lands there changes), so the realized
equity after k trades is `starting_balance + cumsum(pnl[permutation])[k]`. Metrics read that
equity once per sample time of the original equity curve (daily), with the engine's
definitions: daily returns, Sharpe = mean / std (ddof 1) × √365, volatility = std × √365 in %,
max drawdown = min(equity / running peak − 1) in % (≤ 0), CAGR over the run's span in days,
Calmar = CAGR / |max drawdown|. The original is measured the same way (the identity
permutation, realized PNL only), so it compares like with like; its total return equals every
scenario's, since a sum does not depend on order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from candlewire.montecarlo.statistics import downsample_indices

TRADE_METRICS = ("net_profit_percentage", "max_drawdown", "sharpe_ratio", "calmar_ratio", "volatility")
DAY_MS = 86_400_000
PERIODS_PER_YEAR = 365
# Scenarios generated per numpy pass: bounds memory (chunk × trades) and paces progress events.
# Fixed, so a seed always yields the same scenarios.
CHUNK_SCENARIOS = 256


@dataclass(frozen=True)
class ScenarioChunk:
    first_index: int
    metrics: np.ndarray  # (scenarios, len(TRADE_METRICS))
    curves: np.ndarray  # (scenarios, points): downsampled equity, at `TradeShuffle.curve_timestamps_ms`


class TradeShuffle:
    def __init__(self, trades: list[dict], starting_balance: float, start_ms: int, finish_ms: int,
                 sample_times_ms: list[int] | np.ndarray, curve_points: int = 500):
        self.pnl = np.array([float(trade["PNL"]) for trade in trades], dtype=np.float64)
        close_times = np.array([int(trade["closed_at"]) for trade in trades], dtype=np.int64)
        self.starting_balance = float(starting_balance)
        self.days = max((finish_ms - start_ms) / DAY_MS, 1.0 / PERIODS_PER_YEAR)
        # Column of the trade-level path (0 = before any trade) holding the equity at each sample time.
        self._sampled = np.searchsorted(close_times, np.asarray(sample_times_ms, dtype=np.int64), side="right")
        timestamps = np.concatenate([[start_ms], close_times, [finish_ms]])
        self._curve_columns = downsample_indices(timestamps.size, curve_points)
        self.curve_timestamps_ms = timestamps[self._curve_columns]

    def original(self) -> tuple[np.ndarray, np.ndarray]:
        """(metrics, downsampled equity curve) of the trades in their original order."""
        paths = self._paths(np.arange(self.pnl.size)[None, :])
        return path_metrics(paths[:, self._sampled], self.days)[0], self._curves(paths)[0]

    def scenarios(self, count: int, seed: int, chunk: int = CHUNK_SCENARIOS) -> Iterator[ScenarioChunk]:
        rng = np.random.default_rng(seed)
        order = np.arange(self.pnl.size)
        for first in range(0, count, chunk):
            size = min(chunk, count - first)
            permutations = rng.permuted(np.broadcast_to(order, (size, order.size)), axis=1)
            paths = self._paths(permutations)
            yield ScenarioChunk(first, path_metrics(paths[:, self._sampled], self.days), self._curves(paths))

    def _paths(self, permutations: np.ndarray) -> np.ndarray:
        """(scenarios, trades + 1) realized equity: before any trade, then after each one."""
        steps = np.concatenate([np.zeros((permutations.shape[0], 1)), np.cumsum(self.pnl[permutations], axis=1)], axis=1)
        return self.starting_balance + steps

    def _curves(self, paths: np.ndarray) -> np.ndarray:
        with_finish = np.concatenate([paths, paths[:, -1:]], axis=1)
        return with_finish[:, self._curve_columns]


def path_metrics(balances: np.ndarray, days: float) -> np.ndarray:
    """TRADE_METRICS of every row of a (scenarios, samples) balance matrix, as (scenarios, 5)."""
    balances = np.asarray(balances, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        returns = balances[:, 1:] / balances[:, :-1] - 1.0
        returns[~np.isfinite(returns)] = 0.0
        if returns.shape[1] > 1:
            std = returns.std(axis=1, ddof=1)
        else:
            std = np.zeros(len(balances))
        mean = returns.mean(axis=1) if returns.shape[1] else np.zeros(len(balances))
        sharpe = np.where(std > 0, mean / std, 0.0) * np.sqrt(PERIODS_PER_YEAR)
        peaks = np.maximum.accumulate(balances, axis=1)
        drawdown = np.nan_to_num(balances / peaks - 1.0, nan=0.0, posinf=0.0, neginf=-1.0).min(axis=1)
        growth = balances[:, -1] / balances[:, 0]
        cagr = np.where(growth > 0, np.power(np.maximum(growth, 0.0), PERIODS_PER_YEAR / days) - 1.0, -1.0)
        calmar = np.where(drawdown < 0, cagr / np.abs(drawdown), 0.0)
    metrics = np.column_stack([
        (growth - 1.0) * 100.0,
        drawdown * 100.0,
        sharpe,
        calmar,
        std * np.sqrt(PERIODS_PER_YEAR) * 100.0,
    ])
    big = np.finfo(np.float64).max
    return np.nan_to_num(metrics, nan=0.0, posinf=big, neginf=-big)
