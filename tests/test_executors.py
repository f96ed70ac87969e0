"""Executors against a real Dask cluster: a scheduler and two single-threaded workers, each its own
process on loopback. The same seeded optimization gives the same result on the local pool and on
the cluster, spreads its trials over both workers, and still finishes with every trial when a
worker is killed mid-job."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from distributed import get_task_stream

from candlewire.config import default_config
from candlewire.execution import DASK_SCHEDULER_ENV, executor_for
from candlewire.execution import dask_cluster as dask_executor
from candlewire.optimization import job
from candlewire.optimization.request import resolve_optimization
from dask_cluster import DaskCluster, cluster  # noqa: F401 - cluster is a fixture
from optimization_helpers import SLOW_SOURCE, prepare, request
from recording_context import RecordingContext


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
    assert any("dask executor" in text for _, text in ctx.of_kind("log"))


class ReplicaDroppingContext(RecordingContext):
    """Runs the scheduler's active memory manager after every reported trial, as it runs every 2 s on
    its own: it drops the copies of the job's payload that no task waits for."""

    cluster: DaskCluster

    def result(self, payload, final=False):
        super().result(payload, final)
        self.cluster.client.amm.run_once()


def test_trials_spread_over_every_worker_and_workers_forget_the_payload_after_the_job(cluster, setup, monkeypatch):
    params, url, directory = setup
    monkeypatch.setenv(DASK_SCHEDULER_ENV, cluster.address)
    ctx = ReplicaDroppingContext(url, directory, "spread")
    ctx.cluster = cluster
    with get_task_stream(client=cluster.client) as stream:
        job.run(params, ctx)
    trials_per_worker = Counter(task["worker"] for task in stream.data if str(task["key"]).startswith("evaluate"))
    # Batches of 2 on 2 idle workers: one trial each, whichever worker still holds a copy of the payload.
    assert sorted(trials_per_worker.values()) == [8, 8]
    assert set(cluster.client.run(lambda: len(dask_executor._payloads)).values()) == {0}


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
