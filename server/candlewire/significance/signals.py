"""Recording a route's entry signal at every bar close with the real engine, without trading.

The strategy class is wrapped: its `should_long()` asks the user's `should_long()` and
`should_short()` (in that order), records +1 / −1 / 0 (both true counts as 0) with the bar's
close time, and tells the engine not to enter; `should_short()` says no. The position therefore
stays flat, so the engine asks at every bar close, with its own bars, warm-up, indicators,
`before()`/`after()` and data routes. Filters are not consulted: they judge an entry order that
is never built.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from candlewire.engine.backtest import DEFAULT_LOGGING, run_backtest
from candlewire.engine.timeframes import (
    CLOSE,
    MINUTE_MS,
    TIMESTAMP,
    aggregate,
    timeframe_minutes,
)

MINUTES_PER_YEAR = 365 * 1440


def signal_recording(strategy_class: type) -> tuple[type, list[int], list[int]]:
    """(wrapped class, close times, signals): the two lists fill while the engine runs."""
    times: list[int] = []
    signals: list[int] = []

    def should_long(self) -> bool:
        signal = int(bool(strategy_class.should_long(self))) - int(bool(strategy_class.should_short(self)))
        times.append(self.time)
        signals.append(signal)
        return False

    def should_short(self) -> bool:
        return False

    wrapped = type(
        strategy_class.__name__,
        (strategy_class,),
        {"should_long": should_long, "should_short": should_short, "__module__": strategy_class.__module__},
    )
    return wrapped, times, signals


def record_signals(
    config: dict,
    route: dict,
    data_routes: list[dict],
    candles: dict,  # as run_backtest takes them: key -> array or {"candles": array, ...}
    warmup_candles: dict | None = None,
    hyperparameters: dict | None = None,
    *,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> dict:
    """Run the engine over the period with `route["strategy"]` (a Strategy subclass) recording.

    Returns {"signals", "closes"} per bar of the route's timeframe over the run, and
    "bars_per_year". Bars without a recorded signal (none, in practice) count as flat."""
    wrapped, times, values = signal_recording(route["strategy"])
    run_backtest(
        {**config, "logging": dict.fromkeys(DEFAULT_LOGGING, False)},
        [{**route, "strategy": wrapped}],
        data_routes,
        candles,
        warmup_candles,
        hyperparameters,
        on_progress=on_progress,
    )
    minutes = timeframe_minutes(route["timeframe"])
    entry = candles[f"{route['exchange']}-{route['symbol']}"]
    bars = aggregate(entry["candles"] if isinstance(entry, dict) else entry, minutes)
    close_times = bars[:, TIMESTAMP].astype(np.int64) + minutes * MINUTE_MS
    signals = np.zeros(len(bars))
    if times:
        signals[np.searchsorted(close_times, np.asarray(times, dtype=np.int64))] = values
    return {"signals": signals, "closes": bars[:, CLOSE], "bars_per_year": MINUTES_PER_YEAR / minutes}
