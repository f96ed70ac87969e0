"""SystemService end to end: info over every protocol, usage counts, running workers, terminate-all, shutdown."""

from __future__ import annotations


import grpc
import pytest
from google.protobuf import json_format

from candlewire_client.v1 import common_pb2, system_pb2
from e2e_helpers import (  # noqa: F401 - dedicated_server is a fixture
    LONG_JOB,
    dedicated_server,
    get_test_job,
    pid_alive,
    port_accepts,
    running_job,
    session_count,
    start_test_job,
    wait_finished,
    wait_for,
    wait_status,
)
import grpc_web

GET_INFO = "/candlewire.v1.SystemService/GetInfo"


@pytest.fixture(autouse=True)
def no_jobs_left_behind(client):
    yield
    client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())


def test_get_info_describes_the_server(client):
    info = client.system.GetInfo(system_pb2.GetInfoRequest())
    assert info.version
    assert info.python_version.count(".") == 2
    assert info.cpu_cores >= 1
    assert "binance-spot" in info.exchanges
    assert "1m" in info.timeframes


def test_get_info_is_the_same_over_grpc_and_rest(client, rest):
    over_grpc = client.system.GetInfo(system_pb2.GetInfoRequest())
    response = rest.get("/v1/system/info")
    assert response.status_code == 200
    assert json_format.Parse(response.text, system_pb2.SystemInfo()) == over_grpc


def test_get_info_is_the_same_over_grpc_and_grpc_web(server, client, token):
    over_grpc = client.system.GetInfo(system_pb2.GetInfoRequest())
    over_web = grpc_web.unary(server.gateway_url, GET_INFO, system_pb2.GetInfoRequest(), system_pb2.SystemInfo, token)
    assert over_web == over_grpc


def test_grpc_web_without_a_token_ends_with_status_16_in_the_trailers(server):
    reply = grpc_web.call(server.gateway_url, GET_INFO, system_pb2.GetInfoRequest())
    assert reply.http_status == 200
    assert reply.messages == []
    assert reply.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0] == 16
    assert "token" in reply.grpc_message


def test_get_usage_reports_machine_and_process_load(client):
    usage = client.system.GetUsage(system_pb2.GetUsageRequest())
    assert 0 <= usage.cpu_percent <= 100
    assert 0 < usage.memory_used_bytes <= usage.memory_total_bytes
    assert usage.process_rss_bytes > 0
    kinds = {entry.kind for entry in usage.sessions}
    assert common_pb2.SESSION_KIND_BACKTEST in kinds and common_pb2.SESSION_KIND_TEST_JOB in kinds


def test_get_usage_counts_a_new_test_job_in_every_window(client):
    before = session_count(client)
    session = start_test_job(client, steps=1)
    after = session_count(client)
    assert (after.total, after.last_24_hours, after.last_7_days) == (
        before.total + 1, before.last_24_hours + 1, before.last_7_days + 1
    )
    wait_finished(client, session.id)


def test_get_usage_counts_only_the_kind_that_ran(client):
    before = session_count(client, common_pb2.SESSION_KIND_BACKTEST)
    wait_finished(client, start_test_job(client, steps=1).id)
    assert session_count(client, common_pb2.SESSION_KIND_BACKTEST) == before


def test_list_jobs_shows_a_running_test_job_with_its_worker_pid(client):
    session = start_test_job(client, title="listed", **LONG_JOB)
    job = running_job(client, session.id)
    assert job.kind == common_pb2.SESSION_KIND_TEST_JOB
    assert job.title == "listed"
    assert pid_alive(job.pid)
    assert job.start_time.seconds > 0


def test_list_jobs_omits_finished_jobs(client):
    session = start_test_job(client, steps=1)
    wait_finished(client, session.id)
    jobs = client.system.ListJobs(system_pb2.ListJobsRequest()).jobs
    assert session.id not in {job.session_id for job in jobs}


def test_terminate_all_jobs_cancels_running_and_queued_jobs(client):
    # The server allows two workers at once (CANDLEWIRE_MAX_JOBS=2): the third job waits.
    sessions = [start_test_job(client, **LONG_JOB) for _ in range(3)]
    pids = [running_job(client, session.id).pid for session in sessions[:2]]
    assert get_test_job(client, sessions[2].id).session.status == common_pb2.SESSION_STATUS_QUEUED

    reply = client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())

    assert reply.terminated_count == 3
    for session in sessions:
        assert get_test_job(client, session.id).session.status == common_pb2.SESSION_STATUS_CANCELLED
    wait_for(lambda: not any(pid_alive(pid) for pid in pids), timeout=2, what="workers gone")
    assert client.system.ListJobs(system_pb2.ListJobsRequest()).jobs == []


def test_terminate_all_jobs_with_nothing_running_returns_zero(client):
    assert client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest()).terminated_count == 0


def test_shutdown_stops_server_and_gateway_and_cancels_running_jobs(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        session = start_test_job(client, **LONG_JOB)
        worker = running_job(client, session.id).pid
        client.system.Shutdown(system_pb2.ShutdownRequest())
    process = server.process
    assert process.wait(timeout=10) == 0
    wait_for(lambda: not port_accepts(server.gateway_port), timeout=5, what="gateway port closed")
    assert not port_accepts(server.grpc_port)
    wait_for(lambda: not pid_alive(worker), timeout=2, what="worker gone")

    server.stop()
    server.start()
    with server.client() as client:
        job = get_test_job(client, session.id)
    assert job.session.status == common_pb2.SESSION_STATUS_CANCELLED
    assert job.session.finish_time.seconds > 0


def test_shutdown_over_rest_returns_an_empty_object(dedicated_server):
    server = dedicated_server()
    with server.rest(server.login_token()) as http:
        response = http.post("/v1/system:shutdown", json={})
    assert response.status_code == 200
    assert response.json() == {}
    assert server.process.wait(timeout=10) == 0
