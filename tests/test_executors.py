"""Executors against a real Dask cluster: a scheduler and two single-threaded workers, each its own
process on loopback. The same seeded optimization gives the same result on the local pool and on
the cluster, and still finishes with every trial when a worker is killed mid-job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from candlewire.config import default_config
from candlewire.execution import DASK_SCHEDULER_ENV, executor_for
from candlewire.optimization import job
from candlewire.optimization.request import resolve_optimization
from optimization_helpers import SLOW_SOURCE, RecordingContext, prepare, request

BIN = Path(sys.executable).parent
SERVER_ROOT = Path(__file__).resolve().parents[1] / "server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaskCluster:
    def __init__(self, workers: int):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SERVER_ROOT), os.environ.get("PYTHONPATH")]))}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = subprocess.Popen(
            [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], **quiet
        )
        self.workers = [
            subprocess.Popen(
                [BIN / "dask", "worker", self.address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--name", f"worker-{i}"],
                **quiet,
            )
            for i in range(workers)
        ]
        from distributed import Client

        self.client = Client(self.address, timeout=30)
        self.client.wait_for_workers(workers, timeout=60)

    def kill_busy_worker(self) -> int:
        """SIGKILL the worker holding the most tasks; return how many it held."""
        processing = self.client.processing()
        names = {address: info["name"] for address, info in self.client.scheduler_info()["workers"].items()}
        address, tasks = max(processing.items(), key=lambda item: len(item[1]))
        victim = self.workers[int(str(names[address]).removeprefix("worker-"))]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        return len(tasks)

    def stop(self) -> None:
        self.client.close()
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster():
    started = DaskCluster(workers=2)
    yield started
    started.stop()


@pytest.fixture
def setup(tmp_path):
    engine, workspace = prepare(tmp_path)
    params = resolve_optimization(request(trials=16, cpu_cores=2), default_config(2), workspace, engine)
    yield params, str(engine.url), tmp_path
    engine.dispose()


def test_executor_choice_follows_the_scheduler_setting(monkeypatch):
    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    assert executor_for(3).name == "local"
    assert executor_for(3, "tcp://127.0.0.1:1").name == "dask"
    monkeypatch.setenv(DASK_SCHEDULER_ENV, "tcp://127.0.0.1:1")
    assert executor_for(3).name == "dask"


def test_local_pool_and_dask_cluster_give_the_same_seeded_result(cluster, setup, monkeypatch):
    params, url, directory = setup
    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    local = job.run(params, RecordingContext(url, directory, "on-local"))
    monkeypatch.setenv(DASK_SCHEDULER_ENV, cluster.address)
    ctx = RecordingContext(url, directory, "on-dask")
    on_dask = job.run(params, ctx)
    assert on_dask == local
    assert local["trials_completed"] == 16
    assert any("dask executor" in payload for kind, payload in ctx.events if kind == "log")


class KillingContext(RecordingContext):
    """Kills the busiest worker when the first trial of the second batch is told, while the batch's
    other trials are still on the workers."""

    cluster: DaskCluster
    tasks_lost: int = 0

    def result(self, payload, final=False):
        super().result(payload, final)
        if len(self.trials()) == 5:
            self.tasks_lost = self.cluster.kill_busy_worker()


def test_a_worker_killed_mid_job_loses_no_trial(cluster, tmp_path, monkeypatch):
    engine, workspace = prepare(tmp_path, source=SLOW_SOURCE)
    params = resolve_optimization(request(trials=12, cpu_cores=4), default_config(2), workspace, engine)
    url, directory = str(engine.url), tmp_path
    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    local = job.run(params, RecordingContext(url, directory, "reference"))
    monkeypatch.setenv(DASK_SCHEDULER_ENV, cluster.address)
    ctx = KillingContext(url, directory, "survivor")
    ctx.cluster = cluster
    started = time.monotonic()
    result = job.run(params, ctx)
    assert ctx.tasks_lost >= 1
    assert sum(worker.poll() is not None for worker in cluster.workers) == 1
    assert sorted(trial["number"] for trial in ctx.trials()) == list(range(12))
    assert result == local
    assert time.monotonic() - started < 120
