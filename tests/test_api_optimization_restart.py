"""An optimization whose server is killed mid-run (SQLite and PostgreSQL): after a restart on the same
database and data dir the session is FAILED ("server restarted") but keeps its finished trials, and
ResumeOptimization finishes the search without running those trials again."""

from __future__ import annotations

import contextlib
import os
import signal

import golden
from candlewire_client import events as each_event
from candlewire_client.v1 import candles_pb2, common_pb2, optimization_pb2
from e2e_helpers import dedicated_server, pid_alive, running_job, wait_for  # noqa: F401 - dedicated_server is a fixture
from optimization_helpers import SLOW_SOURCE
from test_api_backtests import store_strategy
from test_api_optimizations import start_request

OPT = optimization_pb2
TRIALS = 30
KILL_AFTER_TRIALS = 3
SLOW_ROUTES = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": "SlowCross"}]


def store_inputs(client) -> None:
    client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=golden.EXCHANGE, symbol=golden.SYMBOL, content=golden.candles_csv(golden.candles()))
    )
    store_strategy(client, "SlowCross", SLOW_SOURCE.replace("GoldenCross", "SlowCross"))


def watch(client, session_id: str, after_sequence: int = 0) -> list[OPT.OptimizationEvent]:
    request = OPT.WatchOptimizationRequest(id=session_id, after_sequence=after_sequence)
    return list(each_event(client.optimizations.WatchOptimization(request, timeout=240)))


def trials_told(client, session_id: str, at_least: int) -> dict[int, OPT.OptimizationTrial]:
    """The trials a live watch reports, once there are `at_least` of them (by number)."""
    call = client.optimizations.WatchOptimization(OPT.WatchOptimizationRequest(id=session_id), timeout=120)
    told: dict[int, OPT.OptimizationTrial] = {}
    for event in each_event(call):
        if event.HasField("trial"):
            told[event.trial.number] = event.trial
            if len(told) >= at_least:
                break
    call.cancel()
    return told


def get(client, session_id: str) -> OPT.Optimization:
    return client.optimizations.GetOptimization(OPT.GetOptimizationRequest(id=session_id))


def curve(result: OPT.OptimizationResult) -> dict[int, float]:
    """Scored trial number → score."""
    return dict(zip(result.objective_curve.trial_numbers, result.objective_curve.scores))


@contextlib.contextmanager
def reaped(worker_pid: int):
    """Whatever happens in the block, the job worker (the leader of its own process group) is gone after it."""
    try:
        yield
    finally:
        if pid_alive(worker_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker_pid, signal.SIGKILL)


def test_resume_after_a_server_kill_keeps_the_finished_trials_and_runs_only_the_rest(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        store_inputs(client)
        session = client.optimizations.StartOptimization(start_request(routes=SLOW_ROUTES, trials=TRIALS, cpu_cores=1))
        worker = running_job(client, session.id).pid
        told_before_kill = trials_told(client, session.id, KILL_AFTER_TRIALS)

    with reaped(worker):
        server.stop(signal.SIGKILL)
        # Orphaned by the kill, the job's worker exits as soon as it finds its event pipe broken, so
        # nothing writes the study while it is read and resumed below.
        wait_for(lambda: not pid_alive(worker), timeout=15, what="orphaned job worker gone")

    server.start()
    with server.client() as client:
        failed = get(client, session.id)
        assert failed.session.status == common_pb2.SESSION_STATUS_FAILED
        assert "server restarted" in failed.session.error.message
        # One core: trials run one after the other, so the finished ones are 0 .. kept-1.
        kept = failed.result.trials_completed
        assert KILL_AFTER_TRIALS <= len(told_before_kill) <= kept < TRIALS
        scores_at_restart = curve(failed.result)
        for number, trial in told_before_kill.items():
            assert number < kept
            if trial.state == OPT.TRIAL_STATE_COMPLETE:
                assert scores_at_restart[number] == trial.score
        history = watch(client, session.id)  # a FAILED session: the replay ends at once
        assert history[-1].session.status == common_pb2.SESSION_STATUS_FAILED
        cursor = history[-1].sequence

        resumed = client.optimizations.ResumeOptimization(OPT.ResumeOptimizationRequest(id=session.id))
        assert resumed.id == session.id and resumed.status == common_pb2.SESSION_STATUS_QUEUED
        after_resume = watch(client, session.id, after_sequence=cursor)
        assert after_resume[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED

        # Only the trials not finished before the kill ran again.
        assert sorted(event.trial.number for event in after_resume if event.HasField("trial")) == list(range(kept, TRIALS))
        final = get(client, session.id)
        assert final.session.status == common_pb2.SESSION_STATUS_SUCCEEDED
        assert final.result.trials_completed == TRIALS
        final_scores = curve(final.result)
        assert {number: final_scores[number] for number in scores_at_restart} == scores_at_restart
        # Each trial reported before the kill is reported once in the whole history, unchanged.
        whole = [event.trial for event in watch(client, session.id) if event.HasField("trial")]
        for number, trial in told_before_kill.items():
            assert [reported for reported in whole if reported.number == number] == [trial]
