"""Optimization throughput and scaling: 200 trials of an SMA crossover on a seeded synthetic year of
1-minute candles (9 months training, 3 months testing, so a trial is 2 backtests covering the year),
asked in batches of 2 (so every run finds the same trials), on a local pool and on a Dask cluster of
1 and 2 workers. A local pool of 1 runs the trials in the driver's own process.

The cluster is what the README starts: a `dask scheduler` process and `dask worker --nthreads 1`
processes on loopback (tests/dask_cluster.py). Each run is preceded by a few trials on the same
executor, so workers have imported the engine as a long-lived cluster's have; every run ships its
candles to the workers as a job does.

Per configuration: seconds, trials/s, the speedup over 1 worker of the same executor, the efficiency
(speedup / workers), how many trials each worker ran, and CPU milliseconds per trial: inside the
trials (thread time of the tasks), on the driver (asking and telling, the Dask client), and on the
cluster beyond the trials (scheduler, worker event loops). The driver, the scheduler and the workers
share this machine's cores, and other work may too (load averages are printed): with 2 cores, 2
workers can at best double 1 worker's rate; trial CPU staying flat as workers are added is what
shows that the per-trial cost does not grow with the cluster.

Run: cd /work/main && PYTHONPATH=server:clients/python:bench .venv/bin/python bench/optimize.py [--rounds N]
(with N rounds, configurations take turns and each row shows the run of median duration).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import optuna

from backtest import SmaCross, synthetic_year

from candlewire.execution.dask_cluster import DaskExecutor
from candlewire.execution.local import LocalExecutor
from candlewire.optimization.scoring import Scoring
from candlewire.optimization.search import SearchPlan, run_search
from candlewire.optimization.space import normalized
from candlewire.optimization.study import summary
from candlewire.optimization.trial import TrialSetup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dask_cluster import DaskCluster  # noqa: E402

TRIALS = 200
WARM_UP_TRIALS = 4
BATCH_SIZE = 2
TARGET_TRIALS_PER_SECOND = 5.0
TRAINING_MINUTES = 9 * 30 * 24 * 60
CONFIG = {
    "starting_balance": 10_000, "fee": 0.0004, "type": "futures", "futures_leverage": 1,
    "futures_leverage_mode": "cross", "exchange": "Binance Perpetual Futures", "warm_up_candles": 210,
}
CONFIGURATIONS = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2)]
EXECUTOR_NAMES = {"local": "local pool", "dask": "Dask cluster"}


def _setup() -> TrialSetup:
    year = synthetic_year(1)
    key = f"{CONFIG['exchange']}-BTC-USDT"
    warm = CONFIG["warm_up_candles"] * 60
    training = ({key: year[warm:TRAINING_MINUTES]}, {key: year[:warm]})
    testing = ({key: year[TRAINING_MINUTES:]}, {key: year[TRAINING_MINUTES - warm:TRAINING_MINUTES]})
    routes = [{"exchange": CONFIG["exchange"], "symbol": "BTC-USDT", "timeframe": "1h", "strategy": SmaCross}]
    return TrialSetup(uuid.uuid4().hex, CONFIG, routes, [], {}, "", {"training": training, "testing": testing})


def _metered(payload, task_and_item) -> tuple[object, float, int]:
    """The task's result, the CPU seconds it took, and the worker process that ran it."""
    task, item = task_and_item
    started = time.thread_time()
    return task(payload, item), time.thread_time() - started, os.getpid()


class _TaskMeter:
    """An executor's shared payload, adding up the CPU time of its tasks and counting them per worker."""

    def __init__(self, shared):
        self.shared = shared
        self.seconds = 0.0
        self.per_worker: Counter[int] = Counter()

    def map_unordered(self, task, items):
        return self._counted(self.shared.map_unordered(_metered, [(task, item) for item in items]))

    def _counted(self, results):
        for index, (result, seconds, worker) in results:
            self.seconds += seconds
            self.per_worker[worker] += 1
            yield index, result


def _search(executor, setup: TrialSetup, trials: int) -> tuple[dict, _TaskMeter]:
    """The summary of a seeded search with this bench's plan, and what its trials cost where."""
    plan = SearchPlan(
        space=normalized(SmaCross().hyperparameters()), trials=trials, batch_size=BATCH_SIZE, seed=1,
        sampler="tpe", scoring=Scoring("sharpe", {}, 100),
    )
    study = optuna.create_study(directions=["maximize"])
    with executor.share(setup) as shared:
        meter = _TaskMeter(shared)
        run_search(study, plan, meter, lambda report, done, best: None)
    return summary(study), meter


@dataclass
class Run:
    seconds: float
    trial_cpu: float
    driver_cpu: float
    cluster_cpu: float | None
    trials_per_worker: list[int]
    result: dict


def _cluster_cpu(cluster: DaskCluster) -> float:
    """CPU seconds of the scheduler and worker processes so far."""
    workers = cluster.client.run(time.process_time)
    return cluster.client.run_on_scheduler(time.process_time) + sum(workers.values())


def _timed(executor, setup: TrialSetup, cluster: DaskCluster | None) -> Run:
    _search(executor, setup, WARM_UP_TRIALS)
    cluster_before = _cluster_cpu(cluster) if cluster else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    result, meter = _search(executor, setup, TRIALS)
    seconds, driver_cpu = time.perf_counter() - wall, time.process_time() - cpu
    spread = sorted(meter.per_worker.values(), reverse=True)
    if cluster is None:
        # In-process trials run on the driver; a pool's run in its processes.
        in_process = meter.seconds if executor.workers == 1 else 0.0
        return Run(seconds, meter.seconds, driver_cpu - in_process, None, spread, result)
    cluster_cpu = _cluster_cpu(cluster) - cluster_before - meter.seconds
    return Run(seconds, meter.seconds, driver_cpu, cluster_cpu, spread, result)


def _run(kind: str, workers: int, setup: TrialSetup) -> Run:
    if kind == "local":
        return _timed(LocalExecutor(workers), setup, None)
    cluster = DaskCluster(workers)
    try:
        return _timed(DaskExecutor(cluster.address), setup, cluster)
    finally:
        cluster.stop()


def _print_table(runs: dict[tuple[str, int], list[Run]]) -> None:
    print(f"{'executor':14} {'workers':>7} {'seconds':>8} {'trials/s':>9} {'range':>11} {'speedup':>8} "
          f"{'efficiency':>10} {'trials/worker':>13}   CPU ms/trial: {'trial':>6} {'driver':>6} {'cluster':>7}   "
          f"target ≥ {TARGET_TRIALS_PER_SECOND:.0f}/s")
    single: dict[str, float] = {}  # each executor's 1-worker rate (its first configuration)
    for (kind, workers), measured in runs.items():
        run = sorted(measured, key=lambda r: r.seconds)[len(measured) // 2]
        rate = TRIALS / run.seconds
        single.setdefault(kind, rate)
        speedup = rate / single[kind]
        rates = [TRIALS / r.seconds for r in measured]
        cluster = "-" if run.cluster_cpu is None else f"{run.cluster_cpu / TRIALS * 1000:7.1f}"
        verdict = ("PASS" if rate >= TARGET_TRIALS_PER_SECOND else "FAIL") if workers == 2 else ""
        spread = "/".join(map(str, run.trials_per_worker))
        print(f"{EXECUTOR_NAMES[kind]:14} {workers:7d} {run.seconds:8.2f} {rate:9.1f} "
              f"{min(rates):5.1f}–{max(rates):<5.1f} {speedup:7.2f}x {speedup / workers:10.0%} {spread:>13}"
              f"                 {run.trial_cpu / TRIALS * 1000:6.1f} {run.driver_cpu / TRIALS * 1000:6.1f} "
              f"{cluster:>7}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs of every configuration, taking turns")
    rounds = parser.parse_args().rounds
    setup = _setup()
    load_before = os.getloadavg()
    runs: dict[tuple[str, int], list[Run]] = {configuration: [] for configuration in CONFIGURATIONS}
    for _ in range(rounds):
        for configuration in CONFIGURATIONS:
            runs[configuration].append(_run(*configuration, setup))
    reference = runs[CONFIGURATIONS[0]][0].result
    assert all(run.result == reference for measured in runs.values() for run in measured), (
        "the same seed must give the same result on every executor"
    )
    print(f"{TRIALS} trials (2 backtests each, one year of 1m candles), batches of {BATCH_SIZE}; "
          f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{rounds} round{'s' * (rounds > 1)}")
    _print_table(runs)
    best = reference["candidates"][0]
    print(f"best: {best['params']} score {best['score']:.3f}, {best['training_metrics']['total']} training trades, "
          f"testing sharpe {best['testing_metrics']['sharpe_ratio']:.3f}")


if __name__ == "__main__":
    main()
