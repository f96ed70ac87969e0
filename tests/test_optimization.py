"""The optimization domain in-process: request validation, scoring, DNA, and the `optimization` job
(search, failed trials, reproducibility, resume) with a recording context over real SQLite and
PostgreSQL databases."""

from __future__ import annotations

from pathlib import Path

import optuna
import sqlalchemy as sa
import pytest

import golden
from candlewire.config import default_config
from candlewire.engine.backtest import _decode_gene
from candlewire.errors import InvalidArgument
from candlewire.optimization import job
from candlewire.optimization.request import resolve_optimization
from candlewire.optimization.scoring import FAILED_SCORE, Scoring
from candlewire.optimization.space import distributions, dna
from candlewire.optimization.study import open_study, storage_for
from optimization_helpers import FRAGILE_SOURCE, prepare, request
from recording_context import RecordingContext
from pg import throwaway_postgres_url


@pytest.fixture
def sqlite_setup(tmp_path: Path):
    engine, workspace = prepare(tmp_path)
    yield engine, workspace, str(engine.url)
    engine.dispose()


def resolve(setup, **changes):
    engine, workspace, _ = setup
    return resolve_optimization(request(**changes), default_config(2), workspace, engine)


def violations(setup, **changes) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        resolve(setup, **changes)
    return raised.value.violations


def run_job(setup, params, session_id="study-1", data_dir=None):
    ctx = RecordingContext(setup[2], data_dir or Path(setup[1].root).parent, session_id)
    return job.run(params, ctx), ctx


# ================================================================================== validation


def test_bad_requests_name_every_field(sqlite_setup):
    found = violations(
        sqlite_setup, trials=0, objective="profit_factor", cpu_cores=-1, optimal_total_trades=-5, sampler="grid",
        testing_start_date=None,
    )
    assert set(found) == {"trials", "objective", "cpu_cores", "optimal_total_trades", "sampler", "testing_start_date"}


def test_testing_period_without_candles_is_refused(sqlite_setup):
    found = violations(sqlite_setup, testing_start_date=(2024, 3, 4), testing_finish_date=(2024, 3, 9))
    assert set(found) == {"testing_finish_date"}
    assert "end at" in found["testing_finish_date"]


def test_empty_training_period_is_refused(sqlite_setup):
    found = violations(sqlite_setup, training_finish_date=(2024, 3, 2))
    assert found == {"training_finish_date": "must be after start_date"}


def test_strategy_without_hyperparameters_is_refused(tmp_path):
    engine, workspace = prepare(tmp_path, source=golden.STRATEGY_SOURCE.split("    def averages")[0].replace(
        "    def hyperparameters(self):\n        return [\n"
        '            {"name": "fast", "type": int, "min": 2, "max": 50, "default": 5},\n'
        '            {"name": "slow", "type": int, "min": 5, "max": 200, "default": 13},\n        ]\n',
        "    def should_long(self):\n        return False\n\n    def go_long(self):\n        pass\n",
    ))
    with pytest.raises(InvalidArgument) as raised:
        resolve_optimization(request(), default_config(2), workspace, engine)
    assert set(raised.value.violations) == {"routes[0].strategy"}
    assert "declares no hyperparameters" in raised.value.violations["routes[0].strategy"]


def test_weighted_objective_needs_known_weights(sqlite_setup):
    found = violations(sqlite_setup, objective="weighted", objective_weights=[{"objective": "sharpe", "weight": 0}, {"objective": "x", "weight": 1}])
    assert set(found) == {"objective_weights[0].weight", "objective_weights[1].objective"}
    assert violations(sqlite_setup, objective="weighted") == {"objective_weights": "a weighted objective needs at least one weight"}


def test_cma_es_is_single_objective(sqlite_setup):
    assert set(violations(sqlite_setup, sampler="cma_es", multi_objective=True)) == {"sampler"}


def test_resolved_params_record_the_search(sqlite_setup):
    params = resolve(sqlite_setup, cpu_cores=0)
    assert params["search_space"] == [
        {"name": "fast", "type": "int", "min": 2, "max": 50, "default": 5},
        {"name": "slow", "type": "int", "min": 5, "max": 200, "default": 13},
    ]
    assert params["training"] == {"start_ms": golden.day_ms(golden.START), "finish_ms": golden.day_ms(golden.START) + 2 * 86_400_000}
    assert params["cpu_cores"] >= 1 and params["objective"] == "sharpe" and params["sampler"] == "tpe"
    assert [entry["name"] for entry in params["strategy_sources"]] == [golden.STRATEGY]


# ================================================================================== scoring and DNA


def test_trade_count_penalty_follows_jesse():
    scoring = Scoring("sharpe", optimal_total_trades=100)
    assert scoring.trade_count_factor(10) == pytest.approx(0.5)
    assert scoring.trade_count_factor(1000) == 1.0
    assert scoring.score({"total": 10, "sharpe_ratio": 2.0}) == pytest.approx(1.0)
    assert scoring.score({"total": 10, "sharpe_ratio": -2.0}) == pytest.approx(-3.0)
    assert scoring.score({"total": 0, "sharpe_ratio": 2.0}) is None
    assert scoring.score({"total": 5, "sharpe_ratio": None}) is None
    weighted = Scoring("weighted", {"sharpe": 1.0, "net_profit": 0.1})
    assert weighted.score({"total": 3, "sharpe_ratio": 1.5, "net_profit_percentage": 20.0}) == pytest.approx(3.5)


def test_dna_decodes_back_through_the_engine():
    space = [
        {"name": "n", "type": "int", "min": 2, "max": 81, "default": 5},
        {"name": "x", "type": "float", "min": 0.0, "max": 7.9, "step": 0.1, "default": 1.0},
        {"name": "m", "type": "categorical", "options": ["a", "b", "c"], "default": "a"},
    ]
    params = {"n": 40, "x": 3.2, "m": "c"}
    genes = dna(params, space)
    decoded = {spec["name"]: _decode_gene(spec, gene, None) for spec, gene in zip(space, genes)}
    assert decoded["n"] == 40 and decoded["m"] == "c" and decoded["x"] == pytest.approx(3.2)
    assert set(distributions(space)) == {"n", "x", "m"}


# ================================================================================== the job


def test_job_finds_ranked_candidates_and_reports_each_trial(sqlite_setup):
    params = resolve(sqlite_setup)
    result, ctx = run_job(sqlite_setup, params)
    trials = ctx.trials()
    assert [trial["number"] for trial in trials] == list(range(8))
    assert ctx.of_kind("progress")[-1][:2] == (8, 8)
    assert result["trials_completed"] == 8
    candidates = result["candidates"]
    assert [c["rank"] for c in candidates] == list(range(1, len(candidates) + 1))
    assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    best = candidates[0]
    assert best["training_metrics"]["total"] > 0 and "sharpe_ratio" in best["testing_metrics"]
    assert len(best["dna"]) == 2
    curve = result["objective_curve"]
    assert curve["best_scores"][-1] == best["score"]
    assert all(b >= a for a, b in zip(curve["best_scores"], curve["best_scores"][1:]))


def test_same_seed_same_trials_and_failed_trials_do_not_stop_the_search(tmp_path):
    engine, workspace = prepare(tmp_path, source=FRAGILE_SOURCE)
    setup = (engine, workspace, str(engine.url))
    params = resolve(setup, trials=10, sampler="random")
    first, ctx = run_job(setup, params, "a")
    second, _ = run_job(setup, params, "b")
    assert first == second
    failed = [trial for trial in ctx.trials() if trial["state"] == "failed"]
    assert [t["params"]["fast"] > 30 for t in failed] and all("fast too large" in t["failure"] for t in failed if t["params"]["fast"] > 30)
    assert any(t["params"]["fast"] > 30 for t in failed)
    assert all(trial["score"] == FAILED_SCORE for trial in failed)
    assert first["trials_completed"] == 10
    assert not {c["params"]["fast"] for c in first["candidates"]} & {t["params"]["fast"] for t in failed}
    engine.dispose()


class Interrupted(Exception):
    pass


class InterruptedInTheThirdBatch(RecordingContext):
    """Ends the job, as a kill would, once trial 6 (the third batch's first) is recorded and reported."""

    def result(self, payload, final=False):
        super().result(payload, final)
        if len(self.trials()) == 7:
            raise Interrupted


def test_resume_keeps_finished_trials_and_repeats_the_uninterrupted_search(sqlite_setup):
    params = resolve(sqlite_setup, trials=9, cpu_cores=3)
    uninterrupted, _ = run_job(sqlite_setup, params, "whole")

    with pytest.raises(Interrupted):
        job.run(params, InterruptedInTheThirdBatch(sqlite_setup[2], Path(sqlite_setup[1].root).parent, "interrupted"))
    assert len(open_study(sqlite_setup[2], "interrupted", 1).trials) == 7
    resumed, ctx = run_job(sqlite_setup, params, "interrupted")
    assert sorted(trial["number"] for trial in ctx.trials()) == [7, 8]
    assert resumed == uninterrupted


def test_a_study_the_sampler_no_longer_reproduces_is_not_resumed(sqlite_setup):
    params = resolve(sqlite_setup, trials=4, cpu_cores=2)
    run_job(sqlite_setup, {**params, "trials": 3}, "changed")
    with pytest.raises(RuntimeError, match="cannot be resumed"):
        run_job(sqlite_setup, {**params, "seed": params["seed"] + 1}, "changed")


def test_multi_objective_nsga_ii_scores_training_and_testing(sqlite_setup):
    params = resolve(sqlite_setup, sampler="nsga_ii", multi_objective=True, trials=6)
    result, ctx = run_job(sqlite_setup, params)
    assert all(len(trial["scores"]) == 2 for trial in ctx.trials())
    assert result["candidates"][0]["scores"][0] == result["candidates"][0]["score"]


def test_study_lives_in_the_same_sqlite_database_as_candlewire(sqlite_setup, tmp_path):
    engine, _, url = sqlite_setup
    run_job(sqlite_setup, resolve(sqlite_setup, trials=2), "sqlite-study")
    tables = set(sa.inspect(engine).get_table_names())
    assert {"studies", "trials", "sessions", "candles"} <= tables
    assert optuna.get_all_study_names(storage_for(url)) == ["sqlite-study"]
    assert sorted(path.name for path in tmp_path.glob("*.db")) == ["candlewire.db"]


def test_study_lives_in_its_own_postgresql_schema(tmp_path):
    with throwaway_postgres_url() as url:
        engine, workspace = prepare(tmp_path, database_url=url)
        setup = (engine, workspace, url)
        try:
            params = resolve(setup, trials=4, sampler="cma_es")
            result, _ = run_job(setup, params, "pg-study")
            assert result["trials_completed"] == 4
            assert optuna.get_all_study_names(storage_for(url)) == ["pg-study"]
            with engine.connect() as connection:
                schemas = {row[0] for row in connection.exec_driver_sql(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'trials'")}
            assert schemas == {"optuna"}
        finally:
            storage_for(url).engine.dispose()
            storage_for.cache_clear()
            engine.dispose()


def test_research_optimize_on_arrays_matches_the_job(sqlite_setup):
    from candlewire import research

    params = resolve(sqlite_setup, trials=6)
    from_job, _ = run_job(sqlite_setup, params)
    rows = golden.candles()
    key = f"{golden.EXCHANGE}-{golden.SYMBOL}"

    def period(start, finish):
        times = rows[:, 0]
        warm_from = start - golden.WARM_UP_CANDLES * 15 * 60_000
        return {key: rows[(times >= start) & (times < finish)]}, {key: rows[(times >= warm_from) & (times < start)]}

    training, training_warm = period(params["training"]["start_ms"], params["training"]["finish_ms"])
    testing, testing_warm = period(params["testing"]["start_ms"], params["testing"]["finish_ms"])
    routes = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.strategy_class()}]
    result = research.optimize(
        golden.research_config(), routes, [], training, testing, training_warm, testing_warm,
        trials=6, seed=7, optimal_total_trades=10,
    )
    assert result == from_job
