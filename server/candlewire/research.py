"""Jesse's research API for notebooks and scripts: run a backtest on arrays, read and store
1-minute candles.

    from candlewire import research
    candles = research.get_candles("Binance Perpetual Futures", "BTC-USDT", "1m", start_ms, finish_ms)
    result = research.backtest(config, routes, [], {"Binance Perpetual Futures-BTC-USDT": {...}})
"""

from __future__ import annotations

import uuid

import numpy as np

from candlewire.engine.backtest import run_backtest
from candlewire.engine.timeframes import aggregate, timeframe_minutes


def backtest(
    config: dict,
    routes: list[dict],
    data_routes: list[dict],
    candles: dict,
    warmup_candles: dict | None = None,
    hyperparameters: dict | None = None,
    fast_mode: bool = False,
    generate_charts: bool = False,
) -> dict:
    """Run a backtest; returns the engine's result dict (metrics, trades, orders,
    daily_balances, equity_curve, benchmark, charts, logs, ...). `fast_mode` is accepted
    for compatibility: the engine always takes its fast path."""
    return run_backtest(
        config, routes, data_routes, candles, warmup_candles, hyperparameters, generate_charts=generate_charts
    )


def _engine(database_url: str | None):
    from candlewire.settings import Settings
    from candlewire.storage.db import create_engine

    return create_engine(database_url or Settings.from_env().database_url)


def get_candles(
    exchange: str, symbol: str, timeframe: str, start_ms: int, finish_ms: int, database_url: str | None = None
) -> np.ndarray:
    """Stored candles in [start_ms, finish_ms), aggregated to `timeframe` by count from the
    first stored minute."""
    from candlewire.storage.candles import load_candles

    minutes = timeframe_minutes(timeframe)
    engine = _engine(database_url)
    try:
        one_minute = load_candles(engine, exchange, symbol, int(start_ms), int(finish_ms) - 1)
    finally:
        engine.dispose()
    return one_minute if minutes == 1 else aggregate(one_minute, minutes)


def store_candles(candles: np.ndarray, exchange: str, symbol: str, database_url: str | None = None) -> int:
    """Insert 1-minute candles (timestamps already stored are skipped); returns how many were new.
    A fresh database gets its tables first."""
    from candlewire.storage.candles import insert_candles
    from candlewire.storage.db import migrate

    engine = _engine(database_url)
    try:
        migrate(engine)
        return insert_candles(engine, exchange, symbol, np.asarray(candles, dtype=np.float64))
    finally:
        engine.dispose()


def monte_carlo_trades(result: dict, scenarios: int = 1000, seed: int = 0) -> dict:
    """Monte Carlo on the order of a backtest's closed trades: `result` is what `backtest` returned.
    Returns per-metric distributions (percentiles, intervals, p-value, verdict) and the curves;
    see `candlewire.montecarlo.analysis`."""
    from candlewire.montecarlo.analysis import trades_monte_carlo

    return trades_monte_carlo(result, scenarios, seed)


def monte_carlo_candles(
    config: dict,
    routes: list[dict],
    data_routes: list[dict],
    candles: dict,
    warmup_candles: dict | None = None,
    hyperparameters: dict | None = None,
    *,
    pipeline: list[dict],
    batch_length: int = 0,
    scenarios: int = 100,
    seed: int = 0,
    cpu_cores: int = 1,
    scheduler: str | None = None,
) -> dict:
    """Rerun the backtest on candles rewritten by `pipeline` (steps {"gaussian_noise": {"close_sigma",
    "wick_sigma"}}, {"returns_resampling": {}}, {"moving_block_bootstrap": {"block_length"}});
    scenario i draws from seed + i. More than one core needs strategy classes that pickle by
    reference (importable by name): scenarios then run in other processes. `scheduler` (a Dask
    address; default CANDLEWIRE_DASK_SCHEDULER) runs the scenarios on a cluster."""
    from candlewire.montecarlo.analysis import candles_monte_carlo
    from candlewire.montecarlo.scenarios import CandleScenarios

    arrays = {key: entry["candles"] if isinstance(entry, dict) else entry for key, entry in candles.items()}
    original = run_backtest(config, routes, data_routes, arrays, warmup_candles, hyperparameters)
    setup = CandleScenarios(config, routes, data_routes, arrays, warmup_candles or {}, hyperparameters, pipeline, batch_length, seed)
    return candles_monte_carlo(setup, original, scenarios, cpu_cores, scheduler=scheduler)


def significance_test(
    config: dict,
    route: dict,
    data_routes: list[dict],
    candles: dict,
    warmup_candles: dict | None = None,
    hyperparameters: dict | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """Does `route`'s entry signal predict the next bar's return? Records the signal at every bar
    without trading, then bootstraps its mean detrended return; see `candlewire.significance`."""
    from candlewire.significance.bootstrap import significance_test as bootstrap_test
    from candlewire.significance.signals import record_signals

    recorded = record_signals(config, route, data_routes, candles, warmup_candles, hyperparameters)
    return bootstrap_test(recorded["signals"], recorded["closes"], recorded["bars_per_year"], resamples, seed)


def optimize(
    config: dict,
    routes: list[dict],
    data_routes: list[dict],
    training_candles: dict,
    testing_candles: dict,
    training_warmup_candles: dict | None = None,
    testing_warmup_candles: dict | None = None,
    trials: int = 100,
    objective: str = "sharpe",
    objective_weights: dict | None = None,
    optimal_total_trades: int = 0,
    seed: int = 0,
    cpu_cores: int = 1,
    sampler: str = "tpe",
    multi_objective: bool = False,
    scheduler: str | None = None,
) -> dict:
    """Search the hyperparameters of `routes[0]["strategy"]` (a Strategy class) on the training candles,
    checking each trial on the testing candles; returns {trials_completed, candidates, objective_curve}
    (candidates ranked by training score, each with params, dna, training and testing metrics).

    The study lives in memory. `cpu_cores` trials run at once (and form one ask/tell batch, so a seed
    reproduces only with the same `cpu_cores`); with more than one, the strategy class must be importable
    by the worker processes (defined in a module, not in the notebook). `scheduler` (or
    CANDLEWIRE_DASK_SCHEDULER) runs the trials on a Dask cluster instead."""
    import optuna

    from candlewire.execution import executor_for
    from candlewire.optimization.scoring import Scoring
    from candlewire.optimization.search import SearchPlan, run_search
    from candlewire.optimization.space import normalized
    from candlewire.optimization.study import summary
    from candlewire.optimization.trial import TrialSetup

    plan = SearchPlan(
        space=normalized(routes[0]["strategy"]().hyperparameters()),
        trials=trials,
        batch_size=max(1, cpu_cores),
        seed=seed,
        sampler=sampler,
        scoring=Scoring(objective, dict(objective_weights or {}), optimal_total_trades),
        multi_objective=multi_objective,
    )
    setup = TrialSetup(
        token=uuid.uuid4().hex,
        config=config,
        routes=routes,
        data_routes=data_routes,
        strategy_sources={},
        strategies_root="",
        candles={
            "training": (training_candles, training_warmup_candles or {}),
            "testing": (testing_candles, testing_warmup_candles or {}),
        },
    )
    study = optuna.create_study(directions=["maximize"] * plan.objectives)
    with executor_for(cpu_cores, scheduler).share(setup) as shared:
        run_search(study, plan, shared, lambda report, done, best: None)
    return summary(study)
