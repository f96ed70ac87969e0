"""The `optimization` job, run in a worker process: load both periods' candles once, ship them to
the executor once, search, and return the summary read back from the study.

Events: `progress` (trials finished of the total), a partial `result` per finished trial
(`{"trial": report}`), a log line whenever the best score improves; the final result is
`study.summary`. Running it again on the same session resumes the study (see `search.py`).
"""

from __future__ import annotations

import uuid
from typing import Any

from candlewire.backtests.job import engine_config, load_markets
from candlewire.backtests.loader import recorded_snapshots
from candlewire.config import LOGGING_SWITCHES
from candlewire.execution import executor_for
from candlewire.optimization.request import PERIODS
from candlewire.optimization.scoring import Scoring
from candlewire.optimization.search import SearchPlan, run_search
from candlewire.optimization.study import open_study, summary
from candlewire.optimization.trial import TrialSetup
from candlewire.storage.db import create_engine
from candlewire.strategies.workspace import StrategyWorkspace


def run(params: dict[str, Any], ctx) -> dict[str, Any]:
    setup = trial_setup(params, ctx.database_url, StrategyWorkspace(ctx.data_dir).root)
    plan = search_plan(params)
    study = open_study(ctx.database_url, ctx.session_id, plan.objectives)
    executor = executor_for(params["cpu_cores"])
    ctx.log(f"{plan.trials} trials on the {executor.name} executor, in batches of {plan.batch_size}")
    last_best: list[float | None] = [None]

    def on_trial(report: dict[str, Any], done: int, best: float | None) -> None:
        ctx.result({"trial": report, "best_score": best})
        ctx.progress(done, plan.trials)
        if best is not None and best != last_best[0]:
            last_best[0] = best
            ctx.log(f"trial {report['number']}: new best score {best:.4f} with {report['params']}")

    with executor.share(setup) as shared:
        run_search(study, plan, shared, on_trial)
    return summary(study)


def trial_setup(params: dict[str, Any], database_url: str, strategies_root) -> TrialSetup:
    engine = create_engine(database_url)
    try:
        candles = {period: load_markets(engine, period_params(params, period)) for period in PERIODS}
    finally:
        engine.dispose()
    return TrialSetup(
        token=uuid.uuid4().hex,
        config=engine_config(period_params(params, "training")),
        routes=params["routes"],
        data_routes=params["data_routes"],
        strategy_sources=recorded_snapshots(params["strategy_sources"]),
        strategies_root=str(strategies_root),
        candles=candles,
    )


def period_params(params: dict[str, Any], period: str) -> dict[str, Any]:
    """One period as the backtest job's params (trials log nothing: nobody reads 2 × N backtest logs)."""
    return {**params, **params[period], "logging": {switch: False for switch in LOGGING_SWITCHES}}


def search_plan(params: dict[str, Any]) -> SearchPlan:
    return SearchPlan(
        space=params["search_space"],
        trials=params["trials"],
        batch_size=params["cpu_cores"],
        seed=params["seed"],
        sampler=params["sampler"],
        scoring=Scoring(params["objective"], params["objective_weights"], params["optimal_total_trades"]),
        multi_objective=params["multi_objective"],
    )
