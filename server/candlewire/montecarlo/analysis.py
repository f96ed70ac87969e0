"""Both Monte Carlo modes from an original backtest result to the final result dict:

    mode, scenarios_completed
    metrics                  one `statistics.metric_distributions` entry per metric
    original_equity_curve    {timestamps_ms, values}, at most CURVE_POINTS points
    curve_timestamps_ms      shared by every scenario curve
    scenario_curves          one list of values per scenario, in scenario order

`on_scenario(index, metrics, timestamps_ms, values)` hears each scenario as it finishes and
`on_progress(done, total)` the count, so a job can stream them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from candlewire.montecarlo.scenarios import (
    CANDLE_METRICS,
    CandleScenarios,
    run_scenarios,
)
from candlewire.montecarlo.statistics import downsample_indices, metric_distributions
from candlewire.montecarlo.trades import TRADE_METRICS, TradeShuffle

CURVE_POINTS = 500
# Points of all scenario curves together: many scenarios get coarser curves, so a result stays small.
CURVE_POINTS_BUDGET = 250_000
MIN_CURVE_POINTS = 20

ScenarioListener = Callable[[int, dict[str, float], list[int], list[float]], None]
ProgressListener = Callable[[int, int], None]


def scenario_curve_points(scenarios: int) -> int:
    return min(CURVE_POINTS, max(MIN_CURVE_POINTS, CURVE_POINTS_BUDGET // scenarios))


def _ignore(*_: Any) -> None:
    return None


def trades_monte_carlo(original: dict[str, Any], scenarios: int, seed: int,
                       on_scenario: ScenarioListener = _ignore, on_progress: ProgressListener = _ignore) -> dict[str, Any]:
    """Shuffle the closed trades of `original` (a `run_backtest` result) `scenarios` times."""
    def shuffle(points: int) -> TradeShuffle:
        return TradeShuffle(original["trades"], original["starting_balance"], original["start_ms"], original["finish_ms"],
                            original["equity_curve"]["timestamps_ms"], points)

    in_original_order = shuffle(CURVE_POINTS)
    original_metrics, original_curve = in_original_order.original()
    shuffled = shuffle(scenario_curve_points(scenarios))
    timestamps = shuffled.curve_timestamps_ms.tolist()
    metric_rows, curves = [], []
    for chunk in shuffled.scenarios(scenarios, seed):
        for offset, (row, curve) in enumerate(zip(chunk.metrics.tolist(), chunk.curves.tolist())):
            on_scenario(chunk.first_index + offset, dict(zip(TRADE_METRICS, row)), timestamps, curve)
            curves.append(curve)
        metric_rows.append(chunk.metrics)
        on_progress(chunk.first_index + len(chunk.metrics), scenarios)
    return {
        "mode": "trades",
        "scenarios_completed": scenarios,
        "metrics": metric_distributions(list(TRADE_METRICS), original_metrics, np.concatenate(metric_rows), "the order of trades"),
        "original_equity_curve": {"timestamps_ms": in_original_order.curve_timestamps_ms.tolist(), "values": original_curve.tolist()},
        "curve_timestamps_ms": timestamps,
        "scenario_curves": curves,
    }


def candles_monte_carlo(setup: CandleScenarios, original: dict[str, Any], scenarios: int, cpu_cores: int = 0,
                        on_scenario: ScenarioListener = _ignore, on_progress: ProgressListener = _ignore,
                        scheduler: str | None = None) -> dict[str, Any]:
    """Rerun the backtest `setup` describes on `scenarios` transformed candle sets; `original` is
    the untransformed run's result. `setup.curve_columns` is filled in here."""
    curve = original["equity_curve"]
    length = len(curve["timestamps_ms"])
    original_columns = downsample_indices(length, CURVE_POINTS)
    columns = downsample_indices(length, scenario_curve_points(scenarios))
    timestamps = np.asarray(curve["timestamps_ms"])[columns].tolist()
    summaries: dict[int, dict[str, Any]] = {}
    for summary in run_scenarios(replace(setup, curve_columns=columns), range(scenarios), cpu_cores, scheduler):
        summaries[summary["index"]] = summary
        on_scenario(summary["index"], summary["metrics"], timestamps, summary["curve"])
        on_progress(len(summaries), scenarios)
    ordered = [summaries[index] for index in range(scenarios)]
    samples = np.array([[summary["metrics"][name] for name in CANDLE_METRICS] for summary in ordered])
    original_metrics = np.array([original["metrics"][name] for name in CANDLE_METRICS], dtype=np.float64)
    return {
        "mode": "candles",
        "scenarios_completed": scenarios,
        "metrics": metric_distributions(list(CANDLE_METRICS), original_metrics, samples, "small changes to the candles"),
        "original_equity_curve": {
            "timestamps_ms": np.asarray(curve["timestamps_ms"])[original_columns].tolist(),
            "values": np.asarray(curve["values"])[original_columns].tolist(),
        },
        "curve_timestamps_ms": timestamps,
        "scenario_curves": [summary["curve"] for summary in ordered],
    }
