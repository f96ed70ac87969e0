"""A real Dask cluster for tests: a scheduler and single-threaded workers, each its own process on
loopback (shared by test_executors.py and test_montecarlo_dask.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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
    """A scheduler and two workers, stopped after the test (import this fixture into a test module)."""
    started = DaskCluster(workers=2)
    yield started
    started.stop()
