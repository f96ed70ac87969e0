"""The job runtime through the API (TestJobService, SystemService): lifecycle, watch cursors, REST
streaming, cancel, failures, crashes and restart recovery — real server, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import time

import grpc
import pytest

from candlewire_client import field_violations
from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import common_pb2, system_pb2
from e2e_helpers import (  # noqa: F401 - dedicated_server is a fixture
    LONG_JOB,
    dedicated_server,
    get_test_job,
    pid_alive,
    rpc_error,
    running_job,
    session_count,
    start_test_job,
    wait_finished,
    wait_for,
    watch,
)

S = common_pb2


@pytest.fixture(autouse=True)
def no_jobs_left_behind(client):
    yield
    client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())


def statuses(events) -> list[int]:
    return [event.session.status for event in events if event.WhichOneof("event") == "session"]


def test_a_job_runs_queued_running_succeeded_with_a_final_result(client):
    session = start_test_job(client, steps=3, events_per_step=2)
    assert session.status == S.SESSION_STATUS_QUEUED
    events = watch(client, session.id)
    assert statuses(events) == [S.SESSION_STATUS_QUEUED, S.SESSION_STATUS_RUNNING, S.SESSION_STATUS_SUCCEEDED]
    assert events[-2].WhichOneof("event") == "result" and events[-2].result.steps_done == 3
    assert [event.log.text for event in events if event.WhichOneof("event") == "log"] == [
        f"step {step} line {line}" for step in (1, 2, 3) for line in (0, 1)
    ]
    job = get_test_job(client, session.id)
    assert job.session.status == S.SESSION_STATUS_SUCCEEDED
    assert job.result.steps_done == 3
    assert job.params.steps == 3 and job.params.events_per_step == 2
    assert job.session.start_time.ToNanoseconds() <= job.session.finish_time.ToNanoseconds()


def test_watch_sequences_are_contiguous_from_one(client):
    session = start_test_job(client, steps=20, events_per_step=3)
    events = watch(client, session.id)
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    assert len(events) >= 3 + 20 * 3  # three statuses, the result, 60 log lines, collapsible progress


def test_watch_resumes_from_a_cursor_after_a_disconnect(client):
    session = start_test_job(client, steps=8, step_interval_ms=50, events_per_step=1)
    call = client.test_jobs.WatchTestJob(test_jobs_pb2.WatchTestJobRequest(id=session.id), timeout=30)
    first = [next(call) for _ in range(4)]
    call.cancel()
    rest = watch(client, session.id, after_sequence=first[-1].sequence)
    everything = watch(client, session.id)
    assert [e.sequence for e in first + rest] == list(range(1, len(everything) + 1))
    assert first + rest == everything


def test_a_watcher_attaching_after_the_job_finished_gets_every_event(client):
    session = start_test_job(client, steps=4, events_per_step=1)
    wait_finished(client, session.id)
    events = watch(client, session.id)
    assert statuses(events) == [S.SESSION_STATUS_QUEUED, S.SESSION_STATUS_RUNNING, S.SESSION_STATUS_SUCCEEDED]
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))


def test_a_watch_after_the_last_event_of_a_finished_job_ends_empty(client):
    session = start_test_job(client, steps=1)
    count = len(watch(client, session.id))
    assert watch(client, session.id, after_sequence=count) == []


def _stream_lines(rest, session_id: str, accept: str):
    """(arrival time, line) of every non-empty line of the REST watch stream."""
    arrivals = []
    with rest.stream("GET", f"/v1/testJobs/{session_id}:watch", headers={"accept": accept}) as response:
        assert response.status_code == 200
        content_type = response.headers["content-type"]
        for line in response.iter_lines():
            if line.strip():
                arrivals.append((time.monotonic(), line))
    return content_type, arrivals


def test_rest_watch_streams_newline_delimited_json_flushed_per_event(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    content_type, arrivals = _stream_lines(rest, session.id, "application/json")
    assert content_type.startswith("application/json")
    events = [json.loads(line) for _, line in arrivals]
    assert [int(event["sequence"]) for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"
    progress_times = [at for (at, _), event in zip(arrivals, events) if "progress" in event]
    # Steps are 300 ms apart: buffered delivery would hand them over together at the end.
    assert progress_times[-1] - progress_times[0] > 0.6


def test_rest_watch_with_accept_event_stream_sends_sse_data_frames(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    content_type, arrivals = _stream_lines(rest, session.id, "text/event-stream")
    assert content_type.startswith("text/event-stream")
    frames = [(at, line) for at, line in arrivals if line.startswith("data:")]
    events = [json.loads(line[len("data:"):]) for _, line in frames]
    assert [int(event["sequence"]) for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"
    progress_times = [at for (at, _), event in zip(frames, events) if "progress" in event]
    assert progress_times[-1] - progress_times[0] > 0.6


def test_rest_watch_events_arrive_before_the_job_ends(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    with rest.stream("GET", f"/v1/testJobs/{session.id}:watch") as response:
        lines = response.iter_lines()
        first = json.loads(next(line for line in lines if line.strip()))
        assert first["session"]["status"] == "SESSION_STATUS_QUEUED"
        assert get_test_job(client, session.id).session.status not in (
            S.SESSION_STATUS_SUCCEEDED, S.SESSION_STATUS_FAILED, S.SESSION_STATUS_CANCELLED
        )


def test_terminating_a_running_job_stops_it_within_a_second(client):
    session = start_test_job(client, **LONG_JOB)
    pid = running_job(client, session.id).pid
    started = time.monotonic()
    client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())
    job = get_test_job(client, session.id)
    assert job.session.status == S.SESSION_STATUS_CANCELLED
    wait_for(lambda: not pid_alive(pid), timeout=1.0 - (time.monotonic() - started), what="worker gone")
    assert statuses(watch(client, session.id))[-1] == S.SESSION_STATUS_CANCELLED


def test_an_unknown_job_id_is_not_found_over_grpc(client):
    error = rpc_error(lambda: get_test_job(client, "0" * 32))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = rpc_error(lambda: watch(client, "0" * 32))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_an_unknown_job_id_is_404_over_rest(rest):
    for path in (f"/v1/testJobs/{'0' * 32}", f"/v1/testJobs/{'0' * 32}:watch"):
        response = rest.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == 5


def test_a_worker_that_exits_abruptly_fails_the_session_with_its_exit_code(client):
    session = start_test_job(client, steps=5, crash_at_step=2)
    job = wait_finished(client, session.id)
    assert job.session.status == S.SESSION_STATUS_FAILED
    assert "exit" in job.session.error.message
    assert "13" in job.session.error.message  # CRASH_EXIT_CODE of the test job


def test_a_worker_killed_with_sigkill_fails_the_session_naming_the_signal(client):
    session = start_test_job(client, **LONG_JOB)
    os.kill(running_job(client, session.id).pid, signal.SIGKILL)
    job = wait_finished(client, session.id)
    assert job.session.status == S.SESSION_STATUS_FAILED
    assert "signal" in job.session.error.message and "SIGKILL" in job.session.error.message


def test_a_job_that_raises_fails_with_the_traceback(client):
    session = start_test_job(client, steps=5, fail_at_step=3)
    job = wait_finished(client, session.id)
    assert job.session.status == S.SESSION_STATUS_FAILED
    assert "test job failed at step 3" in job.session.error.message
    assert "Traceback" in job.session.error.traceback
    assert "RuntimeError" in job.session.error.traceback


def test_a_failed_job_reports_the_failure_as_its_last_watch_event(client):
    session = start_test_job(client, steps=5, fail_at_step=2)
    last = watch(client, session.id)[-1]
    assert last.session.status == S.SESSION_STATUS_FAILED
    assert last.session.error.traceback


@pytest.mark.parametrize(
    "params, field",
    [({"steps": -1}, "steps"), ({"steps": 1, "step_interval_ms": -5}, "step_interval_ms"),
     ({"steps": 1, "fail_at_step": -1}, "fail_at_step")],
    ids=["steps", "step_interval_ms", "fail_at_step"],
)
def test_invalid_input_is_rejected_naming_the_field_and_creates_no_session(client, params, field):
    before = session_count(client).total
    error = rpc_error(lambda: start_test_job(client, **params))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)
    assert session_count(client).total == before


def test_a_server_killed_mid_job_fails_the_session_as_restarted(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        session = start_test_job(client, **LONG_JOB)
        worker = running_job(client, session.id).pid
    server.stop(signal.SIGKILL)
    server.start()
    with server.client() as client:
        job = get_test_job(client, session.id)
        assert job.session.status == S.SESSION_STATUS_FAILED
        assert "server restarted" in job.session.error.message
        assert statuses(watch(client, session.id))[-1] == S.SESSION_STATUS_FAILED
    # Orphaned by the kill, the worker exits as soon as it finds the event pipe broken.
    wait_for(lambda: not pid_alive(worker), timeout=5, what="orphaned worker gone")


# TestJobService has no Cancel RPC, so cancelling one session goes through a real job service
# that has one: CandlesService (importing from the fake exchange the test servers point at).

def _candle_import(client, days: int = 1):
    from google.type import date_pb2

    from candlewire_client.v1 import candles_pb2

    params = candles_pb2.CandleImportParams(
        exchange="binance-spot", symbol="BTC-USDT",
        start_date=date_pb2.Date(year=2024, month=1, day=1), end_date=date_pb2.Date(year=2024, month=1, day=1 + days),
    )
    return client.candles.StartCandleImport(candles_pb2.StartCandleImportRequest(params=params))


def _cancel_import(client, session_id: str):
    from candlewire_client.v1 import candles_pb2

    return client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id=session_id))


def test_cancelling_a_queued_session_cancels_it_at_once(client):
    blockers = [start_test_job(client, **LONG_JOB) for _ in range(2)]  # both worker slots
    for blocker in blockers:
        running_job(client, blocker.id)
    queued = _candle_import(client)
    assert queued.status == S.SESSION_STATUS_QUEUED
    assert _cancel_import(client, queued.id).status == S.SESSION_STATUS_CANCELLED


def test_cancelling_a_finished_session_is_a_failed_precondition(client):
    from candlewire_client.v1 import candles_pb2

    session = _candle_import(client)
    wait_for(
        lambda: client.candles.GetCandleImport(candles_pb2.GetCandleImportRequest(id=session.id)).session.status
        in (S.SESSION_STATUS_SUCCEEDED, S.SESSION_STATUS_FAILED),
        timeout=30, what="import finished",
    )
    error = rpc_error(lambda: _cancel_import(client, session.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_cancelling_an_unknown_session_is_not_found(client, rest):
    assert rpc_error(lambda: _cancel_import(client, "0" * 32)).code() == grpc.StatusCode.NOT_FOUND
    assert rest.post(f"/v1/candles/imports/{'0' * 32}:cancel", json={}).status_code == 404
