"""A real candlewire server (gRPC + Envoy child) in its own process, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from candlewire.net import free_port
from candlewire_client import Client

PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


@dataclass
class ServerProcess:
    data_dir: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    grpc_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    # A session of its own keeps a terminal's Ctrl-C from reaching the server (the caller stops it).
    own_session: bool = False
    process: subprocess.Popen | None = None

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def gateway_target(self) -> str:
        return f"127.0.0.1:{self.gateway_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_target}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> "ServerProcess":
        env = {
            **os.environ,
            "CANDLEWIRE_PASSWORD": PASSWORD,
            "CANDLEWIRE_ENABLE_TEST_JOBS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO / "server"), str(REPO / "clients" / "python")]),
            **self.env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "candlewire", "serve",
                    "--data-dir", str(self.data_dir),
                    "--grpc-port", str(self.grpc_port),
                    "--gateway-port", str(self.gateway_port),
                    "--database-url", self.database_url,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_session,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with grpc.insecure_channel(self.grpc_target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {START_TIMEOUT} s:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def restart(self) -> "ServerProcess":
        self.stop()
        return self.start()

    def client(self, password: str | None = PASSWORD) -> Client:
        return Client(self.grpc_target, password=password)

    def rest(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.gateway_url, headers=headers, timeout=30)

    def login_token(self) -> str:
        with self.client(password=None) as client:
            return client.login(PASSWORD)
