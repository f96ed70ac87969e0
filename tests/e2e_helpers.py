"""Helpers shared by the end-to-end API tests (test_api_*.py): dedicated servers, test jobs, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import common_pb2, system_pb2
from pg import throwaway_postgres_url
from server_process import ServerProcess

TERMINAL = {
    common_pb2.SESSION_STATUS_SUCCEEDED,
    common_pb2.SESSION_STATUS_FAILED,
    common_pb2.SESSION_STATUS_CANCELLED,
}
# A job that runs far longer than any test: cancel, kill or restart it.
LONG_JOB = {"steps": 10_000, "step_interval_ms": 50}


@contextlib.contextmanager
def fresh_database_url(like: str, tmp_path_factory) -> Iterator[str]:
    """A new empty database of the same kind as `like`, so a dedicated server shares no rows with others.

    Two servers on one database would interfere: a starting server fails every session it finds
    QUEUED or RUNNING ("server restarted"), including the other server's.
    """
    if like.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'candlewire.db'}"
    else:
        with throwaway_postgres_url() as url:
            yield url


@pytest.fixture
def dedicated_server(request, tmp_path_factory, database_url, fake_exchange, fake_webhooks):
    """Starts a server of its own on a fresh database: for tests that restart, shut down or lock out."""
    from conftest import make_server

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_database_url(database_url, tmp_path_factory))
        servers: list[ServerProcess] = []

        def start(**env: str) -> ServerProcess:
            process = make_server(tmp_path_factory, url, fake_exchange, fake_webhooks, **env)
            servers.append(process)
            return process.start()

        yield start
        for process in servers:
            process.stop(timeout=10)


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll until `condition()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def start_test_job(client, **params) -> common_pb2.Session:
    return client.test_jobs.StartTestJob(test_jobs_pb2.StartTestJobRequest(**params))


def get_test_job(client, session_id: str) -> test_jobs_pb2.TestJob:
    return client.test_jobs.GetTestJob(test_jobs_pb2.GetTestJobRequest(id=session_id))


def wait_status(client, session_id: str, statuses, timeout: float = 15.0) -> test_jobs_pb2.TestJob:
    wanted = {statuses} if isinstance(statuses, int) else set(statuses)

    def reached():
        job = get_test_job(client, session_id)
        return job if job.session.status in wanted else None

    names = [common_pb2.SessionStatus.Name(s) for s in wanted]
    return wait_for(reached, timeout, what=f"session {session_id} in {names}")


def wait_finished(client, session_id: str, timeout: float = 30.0) -> test_jobs_pb2.TestJob:
    return wait_status(client, session_id, TERMINAL, timeout)


def watch_batches(client, session_id: str, after_sequence: int = 0, timeout: float = 30.0) -> list[test_jobs_pb2.TestJobEventBatch]:
    """Every message of a WatchTestJob call until the stream ends: batches of one or more events."""
    request = test_jobs_pb2.WatchTestJobRequest(id=session_id, after_sequence=after_sequence)
    batches = list(client.test_jobs.WatchTestJob(request, timeout=timeout))
    for batch in batches:
        assert batch.events, f"an empty batch in the watch of {session_id}"
        assert not batch.HasField("error"), f"an error batch in a watch that ended OK: {batch.error}"
    return batches


def watch(client, session_id: str, after_sequence: int = 0, timeout: float = 30.0) -> list[test_jobs_pb2.TestJobEvent]:
    """Every event of a WatchTestJob call, in order, until the stream ends."""
    return [event for batch in watch_batches(client, session_id, after_sequence, timeout) for event in batch.events]


def rest_batches(lines) -> list[dict]:
    """The batches of a REST (NDJSON or SSE `data:`) watch stream: each line one `{"events": [...]}`."""
    batches = []
    for line in lines:
        batch = json.loads(line)
        assert set(batch) == {"events"} and batch["events"], f"not a batch of events: {line}"
        batches.append(batch)
    return batches


def running_job(client, session_id: str, timeout: float = 10.0) -> system_pb2.Job:
    """The session's entry in ListJobs once its worker process has a pid."""

    def listed():
        jobs = client.system.ListJobs(system_pb2.ListJobsRequest()).jobs
        return next((job for job in jobs if job.session_id == session_id and job.pid), None)

    return wait_for(listed, timeout, what=f"worker of {session_id} listed")


def session_count(client, kind: int = common_pb2.SESSION_KIND_TEST_JOB) -> system_pb2.SessionKindUsage:
    usage = client.system.GetUsage(system_pb2.GetUsageRequest())
    return next(entry for entry in usage.sessions if entry.kind == kind)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited already; only its parent has not reaped it yet.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    return True


def port_accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def status_details(error: grpc.RpcError) -> list:
    """The typed `google.rpc` details of a failed call (BadRequest, RetryInfo, …), unpacked."""
    status = rpc_status.from_call(error)
    unpacked = []
    for detail in status.details if status else ():
        for message_type in (error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if detail.Is(message_type.DESCRIPTOR):
                message = message_type()
                detail.Unpack(message)
                unpacked.append(message)
    return unpacked


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    """Run `call`, which must fail, and return its error."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value
