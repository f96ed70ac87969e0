"""The job runtime through the API (TestJobService, SystemService): lifecycle, watch cursors, batched
REST streaming, cancel, failures, crashes and restart recovery — real server, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import time

import grpc
import pytest

import grpc_web
from candlewire_client import events as each_event, field_violations
from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import common_pb2, system_pb2
from e2e_helpers import (  # noqa: F401 - dedicated_server is a fixture
    LONG_JOB,
    dedicated_server,
    get_test_job,
    pid_alive,
    rest_batches,
    rpc_error,
    running_job,
    session_count,
    start_test_job,
    wait_finished,
    wait_for,
    watch,
    watch_batches,
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
    received = each_event(call)
    first = [next(received) for _ in range(4)]  # may stop inside a batch: the cursor is per event
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
    assert watch_batches(client, session.id, after_sequence=count) == []  # not even an empty batch


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


def _timed_events(arrivals) -> tuple[list[dict], list[tuple[float, dict]]]:
    """The batches of (arrival time, batch JSON) lines, and each of their events with its batch's arrival time."""
    batches = rest_batches(line for _, line in arrivals)
    return batches, [(at, event) for (at, _), batch in zip(arrivals, batches) for event in batch["events"]]


def _assert_flushed_per_step(batches, timed) -> None:
    events = [event for _, event in timed]
    assert [int(event["sequence"]) for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"
    # Four steps 300 ms apart cannot share a batch: at least one batch per step reached the client.
    assert len(batches) >= 4
    progress_times = [at for at, event in timed if "progress" in event]
    # Buffered delivery would hand them over together at the end.
    assert progress_times[-1] - progress_times[0] > 0.6


def test_rest_watch_streams_newline_delimited_json_batches_flushed_as_they_come(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    content_type, arrivals = _stream_lines(rest, session.id, "application/json")
    assert content_type.startswith("application/json")
    _assert_flushed_per_step(*_timed_events(arrivals))


def test_rest_watch_with_accept_event_stream_sends_sse_data_frames(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    content_type, arrivals = _stream_lines(rest, session.id, "text/event-stream")
    assert content_type.startswith("text/event-stream")
    frames = [(at, line[len("data:"):]) for at, line in arrivals if line.startswith("data:")]
    _assert_flushed_per_step(*_timed_events(frames))


def test_rest_watch_events_arrive_before_the_job_ends(client, rest):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    with rest.stream("GET", f"/v1/testJobs/{session.id}:watch") as response:
        lines = response.iter_lines()
        (first,) = rest_batches([next(line for line in lines if line.strip())])
        assert first["events"][0]["session"]["status"] == "SESSION_STATUS_QUEUED"
        assert get_test_job(client, session.id).session.status not in (
            S.SESSION_STATUS_SUCCEEDED, S.SESSION_STATUS_FAILED, S.SESSION_STATUS_CANCELLED
        )


# A stream that fails midway: the test service can be asked to fail a Watch once it has sent a sequence.
MIDWAY = 3


def test_a_grpc_stream_failing_midway_ends_with_a_batch_holding_the_error(client):
    session = start_test_job(client, steps=6, step_interval_ms=200)
    call = client.test_jobs.WatchTestJob(
        test_jobs_pb2.WatchTestJobRequest(id=session.id, fail_after_sequence=MIDWAY), timeout=30
    )
    batches = []
    with pytest.raises(grpc.RpcError) as failure:
        for batch in call:
            batches.append(batch)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert batches[-1].error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "interrupted" in batches[-1].error.message and not batches[-1].events
    assert [e.sequence for b in batches[:-1] for e in b.events][-1] >= MIDWAY


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
def test_a_rest_stream_failing_midway_ends_with_an_explicit_error_event(client, rest, accept):
    session = start_test_job(client, steps=6, step_interval_ms=200)
    with rest.stream(
        "GET", f"/v1/testJobs/{session.id}:watch",
        params={"failAfterSequence": MIDWAY}, headers={"accept": accept},
    ) as response:
        assert response.status_code == 200
        payloads = [
            json.loads(line.removeprefix("data:")) for line in response.iter_lines()
            if line.strip() and not line.startswith((":", "event:", "id:"))
        ]
    *delivered, last = payloads
    assert delivered and all(batch["events"] for batch in delivered)
    assert last["error"]["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "interrupted" in last["error"]["message"]


def test_a_grpc_web_stream_failing_midway_carries_the_error_in_its_last_message_and_trailers(client, server, token):
    session = start_test_job(client, steps=6, step_interval_ms=200)
    reply = grpc_web.call(
        server.gateway_url,
        "/candlewire.testing.v1.TestJobService/WatchTestJob",
        test_jobs_pb2.WatchTestJobRequest(id=session.id, fail_after_sequence=MIDWAY),
        token,
    )
    last = test_jobs_pb2.TestJobEventBatch.FromString(reply.messages[-1])
    assert reply.grpc_status == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert last.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]


def test_progress_eta_is_a_fractional_duration(client):
    session = start_test_job(client, steps=4, step_interval_ms=300)
    progress = [event.progress for event in watch(client, session.id) if event.WhichOneof("event") == "progress"]
    assert progress[-1].done == progress[-1].total == 4
    assert progress[-1].eta.ToNanoseconds() == 0
    pending = [p for p in progress if 0 < p.done < p.total]
    assert pending
    assert all(0 < p.eta.ToNanoseconds() < 60 * 10**9 for p in pending)
    # Whole seconds only would mean the ETA is still truncated (a 1.2 s job has sub-second ETAs).
    assert any(p.eta.nanos for p in pending)


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


def cancel(client, session_id: str) -> common_pb2.Session:
    return client.test_jobs.CancelTestJob(test_jobs_pb2.CancelTestJobRequest(id=session_id), timeout=10)


def test_cancel_stops_a_running_job_within_a_second(client):
    session = start_test_job(client, **LONG_JOB)
    pid = running_job(client, session.id).pid
    started = time.monotonic()
    cancelled = cancel(client, session.id)
    assert cancelled.id == session.id
    assert cancelled.status == S.SESSION_STATUS_CANCELLED
    assert get_test_job(client, session.id).session.status == S.SESSION_STATUS_CANCELLED
    wait_for(lambda: not pid_alive(pid), timeout=1.0 - (time.monotonic() - started), what="worker gone")
    assert session.id not in {job.session_id for job in client.system.ListJobs(system_pb2.ListJobsRequest()).jobs}
    assert statuses(watch(client, session.id))[-1] == S.SESSION_STATUS_CANCELLED


def test_cancel_over_rest_stops_a_running_job(client, rest):
    session = start_test_job(client, **LONG_JOB)
    pid = running_job(client, session.id).pid
    response = rest.post(f"/v1/testJobs/{session.id}:cancel", json={})
    assert response.status_code == 200
    assert response.json()["id"] == session.id
    assert response.json()["status"] == "SESSION_STATUS_CANCELLED"
    wait_for(lambda: not pid_alive(pid), timeout=2, what="worker gone")
    assert get_test_job(client, session.id).session.status == S.SESSION_STATUS_CANCELLED


def test_cancelling_a_queued_job_cancels_it_at_once_without_running_it(client):
    blockers = [start_test_job(client, **LONG_JOB) for _ in range(2)]  # both worker slots
    for blocker in blockers:
        running_job(client, blocker.id)
    queued = start_test_job(client, steps=1)
    assert queued.status == S.SESSION_STATUS_QUEUED
    assert cancel(client, queued.id).status == S.SESSION_STATUS_CANCELLED
    assert statuses(watch(client, queued.id)) == [S.SESSION_STATUS_QUEUED, S.SESSION_STATUS_CANCELLED]
    for blocker in blockers:  # the others are untouched
        assert get_test_job(client, blocker.id).session.status == S.SESSION_STATUS_RUNNING


def test_cancelling_a_finished_job_is_a_failed_precondition(client, rest):
    session = start_test_job(client, steps=1)
    assert wait_finished(client, session.id).session.status == S.SESSION_STATUS_SUCCEEDED
    error = rpc_error(lambda: cancel(client, session.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    response = rest.post(f"/v1/testJobs/{session.id}:cancel", json={})
    assert response.status_code == 400
    assert response.json()["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert get_test_job(client, session.id).session.status == S.SESSION_STATUS_SUCCEEDED


def test_cancelling_an_unknown_job_is_not_found(client, rest):
    assert rpc_error(lambda: cancel(client, "0" * 32)).code() == grpc.StatusCode.NOT_FOUND
    response = rest.post(f"/v1/testJobs/{'0' * 32}:cancel", json={})
    assert response.status_code == 404
    assert response.json()["code"] == 5


def test_the_test_job_service_exists_only_when_enabled(dedicated_server):
    server = dedicated_server(CANDLEWIRE_ENABLE_TEST_JOBS="0")
    with server.client() as client:
        failure = rpc_error(lambda: start_test_job(client, steps=1))
    assert failure.code() == grpc.StatusCode.UNIMPLEMENTED
