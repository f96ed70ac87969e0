"""OptimizationService end to end against a real server (SQLite and PostgreSQL): a run streaming each
trial then the ranked candidates, Get/List/Update/Delete, a backtest from a candidate, cancel and
resume keeping finished trials, `candlewire optimize`, and bad input that stores nothing."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format

import golden
from candlewire_client import events as each_event, field_violations
from candlewire_client.v1 import backtest_pb2, candles_pb2, common_pb2, event_pb2, optimization_pb2
from e2e_helpers import rpc_error
from optimization_helpers import SLOW_SOURCE
from server_process import PASSWORD
from test_api_backtests import store_strategy
from test_cli import Cli, succeeded

OPT = optimization_pb2
TRIALS = 8


def params(**changes) -> dict:
    values = {
        "routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.STRATEGY}],
        "training_start_date": {"year": 2024, "month": 3, "day": 2},
        "training_finish_date": {"year": 2024, "month": 3, "day": 4},
        "testing_start_date": {"year": 2024, "month": 3, "day": 4},
        "testing_finish_date": {"year": 2024, "month": 3, "day": 5},
        "warm_up_candles": golden.WARM_UP_CANDLES,
        "trials": TRIALS,
        "seed": 3,
        "cpu_cores": 2,
        "optimal_total_trades": 10,
    }
    values.update(changes)
    return values


def start_request(**changes) -> OPT.StartOptimizationRequest:
    return OPT.StartOptimizationRequest(title="search", params=json_format.ParseDict(params(**changes), OPT.OptimizationParams()))


@pytest.fixture(scope="module")
def stored(client):
    client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=golden.EXCHANGE, symbol=golden.SYMBOL, content=golden.candles_csv(golden.candles()))
    )
    store_strategy(client, golden.STRATEGY, golden.STRATEGY_SOURCE)
    store_strategy(client, "SlowCross", SLOW_SOURCE.replace("GoldenCross", "SlowCross"))


@pytest.fixture(scope="module")
def run(client, stored):
    return list(each_event(client.optimizations.RunOptimization(start_request(), timeout=180)))


def count(client) -> int:
    return len(client.optimizations.ListOptimizations(OPT.ListOptimizationsRequest(page_size=1000)).optimizations)


def test_the_event_firehose_carries_each_trial_and_the_result_in_their_own_fields(client, run):
    session_id = run[0].session.id
    request = event_pb2.SubscribeRequest(session_ids=[session_id], types=[event_pb2.EVENT_TYPE_RESULT], after_sequence=0)
    stream = client.events.Subscribe(request, timeout=60)
    received = []
    for event in each_event(stream):
        received.append(event.WhichOneof("payload"))
        if event.WhichOneof("payload") == "optimization_result":
            stream.cancel()
            break
    assert received == ["optimization_trial"] * TRIALS + ["optimization_result"]


def test_run_streams_every_trial_then_ranked_candidates(client, run):
    assert run[0].session.kind == common_pb2.SESSION_KIND_OPTIMIZATION
    assert run[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    trials = [event.trial for event in run if event.HasField("trial")]
    assert sorted(trial.number for trial in trials) == list(range(TRIALS))
    assert all(set(trial.params) == {"fast", "slow"} and len(trial.dna) == 2 for trial in trials)
    completed = [trial.score for trial in trials if trial.state == OPT.TRIAL_STATE_COMPLETE]
    assert [trial.best_score for trial in trials if trial.HasField("best_score")][-1] == max(completed)
    (result,) = [event.result for event in run if event.HasField("result")]
    assert result.trials_completed == TRIALS
    best = result.candidates[0]
    assert best.rank == 1 and best.score == max(trial.score for trial in trials)
    assert best.training_metrics.total > 0 and best.testing_metrics.starting_balance > 0
    assert list(result.objective_curve.best_scores)[-1] == best.score
    progress = [event.progress for event in run if event.HasField("progress")]
    assert progress[-1].done == progress[-1].total == TRIALS

    got = client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=run[0].session.id))
    assert got.result == result
    assert got.params.trials == TRIALS and got.params.objective == OPT.OBJECTIVE_SHARPE and got.params.sampler == OPT.SAMPLER_TPE
    assert got.params.testing_start_date.day == 4


def test_a_candidate_becomes_a_backtest_in_one_call(client, run):
    optimization = client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=run[0].session.id))
    session = client.optimizations.CreateBacktestFromCandidate(OPT.CreateBacktestFromCandidateRequest(id=run[0].session.id, rank=1))
    assert session.kind == common_pb2.SESSION_KIND_BACKTEST
    events = list(each_event(client.backtests.WatchBacktest(backtest_pb2.WatchBacktestRequest(id=session.id), timeout=120)))
    assert events[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    backtest = client.backtests.GetBacktest(backtest_pb2.GetBacktestRequest(id=session.id))
    candidate = optimization.result.candidates[0]
    assert backtest.params.routes[0].dna == candidate.dna
    assert backtest.result.metrics.total == candidate.training_metrics.total
    assert backtest.result.metrics.net_profit == pytest.approx(candidate.training_metrics.net_profit)

    error = rpc_error(lambda: client.optimizations.CreateBacktestFromCandidate(OPT.CreateBacktestFromCandidateRequest(id=run[0].session.id, rank=99)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "rank" in field_violations(error)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"trials": 0}, {"params.trials"}),
        ({"objective": 42}, {"params.objective"}),
        ({"testing_finish_date": {"year": 2024, "month": 3, "day": 9}}, {"params.testing_finish_date"}),
        ({"training_finish_date": {"year": 2024, "month": 3, "day": 2}}, {"params.training_finish_date"}),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "7m", "strategy": golden.STRATEGY}]},
         {"params.routes[0].timeframe"}),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(client, stored, changes, fields):
    before = count(client)
    error = rpc_error(lambda: client.optimizations.StartOptimization(start_request(**changes)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == fields
    assert count(client) == before


def test_list_update_delete(client, run):
    session_id = run[0].session.id
    listed = client.optimizations.ListOptimizations(OPT.ListOptimizationsRequest(title_contains="search"))
    assert session_id in [item.session.id for item in listed.optimizations]
    renamed = client.optimizations.UpdateOptimization(
        OPT.UpdateOptimizationRequest(
            optimization=OPT.Optimization(session=common_pb2.Session(id=session_id, title="renamed")),
            update_mask=field_mask_pb2.FieldMask(paths=["session.title"]),
        )
    )
    assert renamed.session.title == "renamed" and renamed.result.trials_completed == TRIALS
    client.optimizations.DeleteOptimization(OPT.DeleteOptimizationRequest(id=session_id))
    error = rpc_error(lambda: client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=session_id)))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_cancelled_optimization_shows_its_trials_and_resumes(client, stored):
    slow = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": "SlowCross"}]
    session = client.optimizations.StartOptimization(start_request(routes=slow, trials=40))
    stream = each_event(client.optimizations.WatchOptimization(OPT.WatchOptimizationRequest(id=session.id), timeout=120))
    told = 0
    for event in stream:
        told += event.HasField("trial")
        if told == 3:
            break
    cancelled = client.optimizations.CancelOptimization(OPT.CancelOptimizationRequest(id=session.id))
    assert cancelled.status == common_pb2.SESSION_STATUS_CANCELLED
    partial = client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=session.id)).result
    assert 3 <= partial.trials_completed < 40 and partial.candidates
    resumed = client.optimizations.ResumeOptimization(OPT.ResumeOptimizationRequest(id=session.id))
    assert resumed.id == session.id and resumed.status == common_pb2.SESSION_STATUS_QUEUED
    events = list(each_event(client.optimizations.WatchOptimization(OPT.WatchOptimizationRequest(id=session.id), timeout=180)))
    assert events[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    final = client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=session.id)).result
    assert final.trials_completed == 40


def test_cli_prints_the_best_candidates(server, stored, tmp_path):
    cli = Cli(server, tmp_path / "xdg")
    succeeded(cli("login", "--password", PASSWORD))
    route = f"{golden.EXCHANGE}:{golden.SYMBOL}:{golden.TIMEFRAME}:{golden.STRATEGY}"
    printed = succeeded(cli(
        "optimize", "--route", route, "--training-start", "2024-03-02", "--training-finish", "2024-03-04",
        "--testing-start", "2024-03-04", "--testing-finish", "2024-03-05", "--warm-up", str(golden.WARM_UP_CANDLES), "--trials", "4", "--cores", "1", "--seed", "5",
    )).stdout
    assert "best of 4 trials" in printed and "fast=" in printed and "testing sharpe" in printed
