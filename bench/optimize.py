"""Optimization throughput: trials per second for 200 trials of an SMA crossover on a seeded synthetic
year of 1-minute candles (9 months training, 3 months testing, so a trial is 2 backtests covering the
year), on a local pool of 2 workers and on a local Dask cluster of 1 and 2 workers.

Run: cd /work/main && PYTHONPATH=server:clients/python:bench .venv/bin/python bench/optimize.py
"""

from __future__ import annotations

import time

from distributed import LocalCluster

from backtest import SmaCross, synthetic_year

from candlewire import research

TRIALS = 200
TARGET_TRIALS_PER_SECOND = 5.0
TRAINING_MINUTES = 9 * 30 * 24 * 60
CONFIG = {
    "starting_balance": 10_000, "fee": 0.0004, "type": "futures", "futures_leverage": 1,
    "futures_leverage_mode": "cross", "exchange": "Binance Perpetual Futures", "warm_up_candles": 210,
}


def _inputs():
    year = synthetic_year(1)
    key = f"{CONFIG['exchange']}-BTC-USDT"
    warm = CONFIG["warm_up_candles"] * 60
    training = {key: year[warm:TRAINING_MINUTES]}
    testing = {key: year[TRAINING_MINUTES:]}
    return training, {key: year[:warm]}, testing, {key: year[TRAINING_MINUTES - warm:TRAINING_MINUTES]}


def _timed(cores: int, scheduler: str | None, inputs) -> tuple[float, dict]:
    training, training_warm, testing, testing_warm = inputs
    routes = [{"exchange": CONFIG["exchange"], "symbol": "BTC-USDT", "timeframe": "1h", "strategy": SmaCross}]
    started = time.perf_counter()
    result = research.optimize(
        CONFIG, routes, [], training, testing, training_warm, testing_warm,
        trials=TRIALS, seed=1, cpu_cores=cores, optimal_total_trades=100, scheduler=scheduler,
    )
    return time.perf_counter() - started, result


def main() -> None:
    inputs = _inputs()
    rows = []
    seconds, local = _timed(2, "", inputs)
    rows.append(("local pool, 2 workers", seconds, TRIALS / seconds >= TARGET_TRIALS_PER_SECOND))
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            seconds, on_dask = _timed(2, cluster.scheduler_address, inputs)
        assert on_dask == local, "the same seed must give the same result on every executor"
        rows.append((f"Dask cluster, {workers} worker{'s' * (workers > 1)}", seconds, None))
    print(f"{TRIALS} trials (2 backtests each, one year of 1m candles), batches of 2")
    print(f"{'executor':26} {'seconds':>8} {'trials/s':>9}  target ≥ {TARGET_TRIALS_PER_SECOND:.0f}/s")
    for name, seconds, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{name:26} {seconds:8.2f} {TRIALS / seconds:9.1f}  {verdict}")
    best = local["candidates"][0]
    print(f"best: {best['params']} score {best['score']:.3f}, {best['training_metrics']['total']} training trades, "
          f"testing sharpe {best['testing_metrics']['sharpe_ratio']:.3f}")


if __name__ == "__main__":
    main()
