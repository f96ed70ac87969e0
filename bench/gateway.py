"""What Envoy costs: unary latency and event-stream throughput, direct gRPC vs through the gateway.

Starts its own server (gRPC + Envoy child; test jobs enabled; free ports; SQLite in a temporary
directory unless --database-url/--postgres), logs in, then measures:

1. SystemService.GetInfo latency (median, p99), sequential calls after a warm-up:
   (a) gRPC direct to the server port, (b) the same gRPC stub through Envoy's listener,
   (c) REST `GET /v1/system/info` through Envoy on one keep-alive HTTP/1.1 connection.
   Target: Envoy adds under 0.5 ms at the median.
2. Events per second through one Watch stream of a test job emitting --events log events:
   live over gRPC direct (target >= 20 000 events/s), live over gRPC through Envoy, live over
   REST NDJSON through Envoy, and a replay of the finished job from cursor 0 (from the database).
   Streams send batches of events (`TestJobEventBatch`, one NDJSON line per batch); the figures
   count the events inside them, and also report how many batches carried them.

Usage (from the repository root):
    PYTHONPATH=server:clients/python .venv/bin/python bench/gateway.py [--calls N] [--events N]
        [--database-url URL | --postgres]

The server is stopped at the end, on Ctrl-C and on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg import ADMIN_DSN, throwaway_postgres_url  # noqa: E402
from server_process import PASSWORD, ServerProcess  # noqa: E402
from candlewire_client.testing.v1 import test_jobs_pb2, test_jobs_pb2_grpc
from candlewire_client.v1 import auth_pb2, auth_pb2_grpc, common_pb2, system_pb2, system_pb2_grpc

STREAM_TIMEOUT = 600.0

TARGET_ENVOY_OVERHEAD_MS = 0.5
TARGET_EVENTS_PER_SECOND = 20_000

TERMINAL = {
    common_pb2.SESSION_STATUS_SUCCEEDED,
    common_pb2.SESSION_STATUS_FAILED,
    common_pb2.SESSION_STATUS_CANCELLED,
}
TERMINAL_JSON = {"SESSION_STATUS_SUCCEEDED", "SESSION_STATUS_FAILED", "SESSION_STATUS_CANCELLED"}
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


class Stop(Exception):
    """Raised from SIGTERM/SIGHUP so the `finally` blocks stop the server."""


# --- the server -------------------------------------------------------------------------------


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of one process (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(p) for p in task.read_text().split()]
    return children


class Server(ServerProcess):
    """The tests' real server process, plus what the figures need: Envoy's pid and the log tail."""

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def envoy_pid(self) -> int | None:
        if self.process is None:
            return None
        for pid in _child_pids(self.process.pid):
            with contextlib.suppress(OSError):
                if "envoy" in Path(f"/proc/{pid}/comm").read_text():
                    return pid
        return None

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far: (server process incl. reaped workers, Envoy)."""
        pid = self.process.pid if self.process else None
        server = _cpu_seconds(pid)
        if pid is not None:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                server += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # reaped children
        envoy = _cpu_seconds(self.envoy_pid())
        return server, envoy


# --- unary latency ----------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure_latencies(callers: dict[str, Callable[[], None]], calls: int, warmup: int, rounds: int = 10) -> dict[str, list[float]]:
    """Sequential calls, in interleaved blocks so a load change on the machine hits every path alike."""
    for call in callers.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in callers}
    per_round = max(1, calls // rounds)
    clock = time.perf_counter
    while any(len(s) < calls for s in samples.values()):
        for name, call in callers.items():
            bucket = samples[name]
            for _ in range(min(per_round, calls - len(bucket))):
                started = clock()
                call()
                bucket.append((clock() - started) * 1000)
    return samples


# --- event streams ----------------------------------------------------------------------------


@dataclass
class StreamFigures:
    label: str
    events: int = 0
    batches: int = 0
    log_events: int = 0
    first_batch_events: int = 0  # events that arrived with the first batch (at t = first)
    first_log_batch_logs: int = 0  # log events in the batch of the first log event
    terminal: str = ""
    start_to_first: float = 0.0  # s from StartTestJob (or the Watch call for a replay) to the first event
    first_to_last: float = 0.0  # s from the first to the terminal event
    first_log_to_last: float = 0.0
    server_cpu: float = 0.0
    envoy_cpu: float = 0.0

    @property
    def rate(self) -> float:
        """Events delivered after the first batch per second until the last one (a batch lands at once)."""
        return (self.events - self.first_batch_events) / self.first_to_last if self.first_to_last else 0.0

    @property
    def overall_rate(self) -> float:
        """Every event / from StartTestJob (or the Watch call) to the last batch: start-up included."""
        elapsed = self.start_to_first + self.first_to_last
        return self.events / elapsed if elapsed else 0.0

    @property
    def events_per_batch(self) -> float:
        return self.events / self.batches if self.batches else 0.0

    @property
    def steady_rate(self) -> float:
        """Rate once the worker runs: from the first log event (skips the worker's start-up)."""
        return (self.log_events - self.first_log_batch_logs) / self.first_log_to_last if self.first_log_to_last else 0.0


def watch_grpc(stub, session_id: str, metadata, started: float, label: str, after_sequence: int = 0) -> StreamFigures:
    figures = StreamFigures(label)
    clock = time.perf_counter
    first = first_log = last = 0.0
    request = test_jobs_pb2.WatchTestJobRequest(id=session_id, after_sequence=after_sequence)
    for batch in stub.WatchTestJob(request, metadata=metadata, timeout=STREAM_TIMEOUT):
        last = clock()
        if not figures.batches:
            first = last
        figures.batches += 1
        if batch.HasField("error"):
            raise RuntimeError(f"{label}: stream error {batch.error.message}")
        figures.events += len(batch.events)
        if figures.batches == 1:
            figures.first_batch_events = len(batch.events)
        logs_before = figures.log_events
        for event in batch.events:
            which = event.WhichOneof("event")
            if which == "log":
                figures.log_events += 1
            elif which == "session" and event.session.status in TERMINAL:
                figures.terminal = common_pb2.SessionStatus.Name(event.session.status)
        if not logs_before and figures.log_events:
            first_log, figures.first_log_batch_logs = last, figures.log_events
        if figures.terminal:
            break
    figures.start_to_first = first - started
    figures.first_to_last = last - first
    figures.first_log_to_last = last - first_log if first_log else 0.0
    return figures


def watch_rest(client: httpx.Client, session_id: str, started: float, label: str) -> StreamFigures:
    figures = StreamFigures(label)
    clock = time.perf_counter
    first = first_log = last = 0.0
    with client.stream("GET", f"/v1/testJobs/{session_id}:watch", timeout=STREAM_TIMEOUT) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{label}: HTTP {response.status_code}: {response.read()[:500]!r}")
        for line in response.iter_lines():
            if not line:
                continue
            last = clock()
            if not figures.batches:
                first = last
            figures.batches += 1
            batch = json.loads(line)  # one line = one batch: {"events": [...]} (or {"error": ...} last)
            if "error" in batch:
                raise RuntimeError(f"{label}: stream error {batch['error']}")
            events = batch.get("events", [])
            figures.events += len(events)
            if figures.batches == 1:
                figures.first_batch_events = len(events)
            logs_before = figures.log_events
            for event in events:
                if "log" in event:
                    figures.log_events += 1
                elif "session" in event and event["session"].get("status") in TERMINAL_JSON:
                    figures.terminal = event["session"]["status"]
            if not logs_before and figures.log_events:
                first_log, figures.first_log_batch_logs = last, figures.log_events
            if figures.terminal:
                break
    figures.start_to_first = first - started
    figures.first_to_last = last - first
    figures.first_log_to_last = last - first_log if first_log else 0.0
    return figures


def run_stream(server: Server, label: str, start_job: Callable[[], str] | None, watch: Callable[[str, float], StreamFigures], session_id: str = "") -> tuple[StreamFigures, str]:
    cpu_before = server.cpu()
    started = time.perf_counter()
    if start_job is not None:
        session_id = start_job()
    figures = watch(session_id, started)
    cpu_after = server.cpu()
    figures.label = label
    figures.server_cpu = cpu_after[0] - cpu_before[0]
    figures.envoy_cpu = cpu_after[1] - cpu_before[1]
    return figures, session_id


# --- report -----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed unary calls per path (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed unary calls per path first (default 200)")
    parser.add_argument("--events", type=int, default=100_000, help="log events the test job emits (default 100000)")
    parser.add_argument("--events-per-step", type=int, default=100, help="log events per job step (default 100)")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--database-url", default="", help="SQLAlchemy URL (default: SQLite in the temp dir)")
    database.add_argument("--postgres", action="store_true", help=f"throwaway PostgreSQL database via {ADMIN_DSN!r}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory (server.log)")
    args = parser.parse_args()
    if args.events < 1 or args.events_per_step < 1 or args.calls < 1:
        parser.error("--calls, --events and --events-per-step must be positive")

    def raise_stop(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    # Ctrl-C must work even when started in the background (SIGINT then arrives ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    data_dir = Path(tempfile.mkdtemp(prefix="candlewire-bench-gateway-"))
    try:
        with contextlib.ExitStack() as stack:
            database_url = args.database_url
            if args.postgres:
                database_url = stack.enter_context(throwaway_postgres_url())
            server = Server(data_dir=data_dir, database_url=database_url, own_session=True)
            stack.callback(server.stop)
            return bench(server, args)
    except (KeyboardInterrupt, Stop) as exc:
        print(f"\ninterrupted ({type(exc).__name__}); server stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"data dir kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def bench(server: Server, args) -> int:
    backend = "postgresql" if server.database_url.startswith("postgresql") else (server.database_url.split(":")[0] or "sqlite")
    print(f"candlewire gateway bench — database: {backend}; {os.cpu_count()} CPUs; load average {loadavg()}")
    t0 = time.perf_counter()
    server.start()
    print(f"server ready in {time.perf_counter() - t0:.1f} s (gRPC {server.grpc_target}, gateway {server.gateway_target})")

    direct = grpc.insecure_channel(server.grpc_target, options=CHANNEL_OPTIONS)
    via_envoy = grpc.insecure_channel(server.gateway_target, options=CHANNEL_OPTIONS)
    rest = http.client.HTTPConnection("127.0.0.1", server.gateway_port, timeout=30)
    try:
        token = auth_pb2_grpc.AuthServiceStub(direct).Login(auth_pb2.LoginRequest(password=PASSWORD)).token
        metadata = (("authorization", f"Bearer {token}"),)
        headers = {"authorization": f"Bearer {token}"}

        # 1. unary latency
        info_direct = system_pb2_grpc.SystemServiceStub(direct).GetInfo
        info_envoy = system_pb2_grpc.SystemServiceStub(via_envoy).GetInfo
        request = system_pb2.GetInfoRequest()

        def rest_info() -> None:
            rest.request("GET", "/v1/system/info", headers=headers)
            response = rest.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"REST GetInfo: HTTP {response.status}: {body[:300]!r}")

        version = info_direct(request, metadata=metadata).version
        rest_info()
        print(f"server version {version!r}; unary: {args.warmup} warm-up + {args.calls} timed sequential calls per path ...")
        samples = measure_latencies(
            {
                "a": lambda: info_direct(request, metadata=metadata),
                "b": lambda: info_envoy(request, metadata=metadata),
                "c": rest_info,
            },
            args.calls,
            args.warmup,
        )
        med = {k: statistics.median(v) for k, v in samples.items()}
        p99 = {k: percentile(v, 0.99) for k, v in samples.items()}

        # 2. event streams
        steps = max(1, args.events // args.events_per_step)
        job_request = test_jobs_pb2.StartTestJobRequest(
            title="bench", steps=steps, events_per_step=args.events_per_step, step_interval_ms=0
        )
        jobs_direct = test_jobs_pb2_grpc.TestJobServiceStub(direct)
        jobs_envoy = test_jobs_pb2_grpc.TestJobServiceStub(via_envoy)
        http_client = httpx.Client(base_url=f"http://{server.gateway_target}", headers=headers, timeout=30)

        def start_job() -> str:
            return jobs_direct.StartTestJob(job_request, metadata=metadata).id

        print(f"streams: test job of {steps} steps x {args.events_per_step} log events = {steps * args.events_per_step} log events ...")
        streams: list[StreamFigures] = []
        figures, live_id = run_stream(
            server, "Watch live, gRPC direct", start_job,
            lambda sid, t: watch_grpc(jobs_direct, sid, metadata, t, "grpc-direct"),
        )
        streams.append(figures)
        figures, _ = run_stream(
            server, "Watch live, gRPC via Envoy", start_job,
            lambda sid, t: watch_grpc(jobs_envoy, sid, metadata, t, "grpc-envoy"),
        )
        streams.append(figures)
        figures, _ = run_stream(
            server, "Watch live, REST NDJSON via Envoy", start_job,
            lambda sid, t: watch_rest(http_client, sid, t, "rest-ndjson"),
        )
        streams.append(figures)
        figures, _ = run_stream(
            server, "Watch replay, gRPC direct", None,
            lambda sid, t: watch_grpc(jobs_direct, sid, metadata, t, "replay-direct"), session_id=live_id,
        )
        streams.append(figures)
        figures, _ = run_stream(
            server, "Watch replay, REST NDJSON via Envoy", None,
            lambda sid, t: watch_rest(http_client, sid, t, "replay-rest"), session_id=live_id,
        )
        streams.append(figures)
        http_client.close()
    finally:
        rest.close()
        via_envoy.close()
        direct.close()
        code = server.stop()

    # 3. report
    overhead_b = med["b"] - med["a"]
    overhead_c = med["c"] - med["a"]
    names = {
        "a": "GetInfo gRPC direct",
        "b": "GetInfo gRPC via Envoy",
        "c": "GetInfo REST via Envoy (http.client keep-alive)",
    }
    print()
    print(f"{'unary latency':<50} {'median ms':>10} {'p99 ms':>10} {'min ms':>8}")
    for key, name in names.items():
        print(f"  ({key}) {name:<45} {med[key]:>10.3f} {p99[key]:>10.3f} {min(samples[key]):>8.3f}")
    print()
    print(f"{'stream (one Watch)':<38} {'events':>7} {'log':>7} {'batches':>7} {'ev/batch':>8} {'to 1st s':>8} {'1st→last s':>10} {'events/s':>9} {'ev/s total':>10} {'log/s steady':>12} {'srv CPU s':>9} {'envoy CPU s':>11}  end")
    for s in streams:
        print(
            f"  {s.label:<36} {s.events:>7} {s.log_events:>7} {s.batches:>7} {s.events_per_batch:>8.1f} {s.start_to_first:>8.2f} "
            f"{s.first_to_last:>10.2f} {s.rate:>9,.0f} {s.overall_rate:>10,.0f} {s.steady_rate:>12,.0f} {s.server_cpu:>9.2f} {s.envoy_cpu:>11.2f}  "
            f"{s.terminal or 'NO TERMINAL EVENT'}"
        )
    print("  (events are counted inside the batches; events/s = events after the first batch / first→last batch; "
          "ev/s total = all events / StartTestJob (replay: the Watch call)→last batch, start-up included;\n"
          "   log/s steady = log events after the batch of the first log event / that batch→last; "
          "srv CPU includes the job's worker process)")
    print()
    live = streams[0]
    rows = [
        ("Envoy overhead, gRPC (median b − a)", f"{overhead_b:+.3f} ms", f"< {TARGET_ENVOY_OVERHEAD_MS} ms", verdict(overhead_b < TARGET_ENVOY_OVERHEAD_MS)),
        ("Envoy overhead, REST (median c − a)", f"{overhead_c:+.3f} ms", f"< {TARGET_ENVOY_OVERHEAD_MS} ms", verdict(overhead_c < TARGET_ENVOY_OVERHEAD_MS)),
        ("Watch live, gRPC direct", f"{live.rate:,.0f} ev/s", f">= {TARGET_EVENTS_PER_SECOND:,} ev/s",
         verdict(live.rate >= TARGET_EVENTS_PER_SECOND and bool(live.terminal))),
    ]
    rows += [(s.label, f"{s.rate:,.0f} ev/s", "(info)", "") for s in streams[1:]]
    print(f"{'summary':<42} {'measured':>14} {'target':>16}  result")
    for name, measured, target, result in rows:
        print(f"  {name:<40} {measured:>14} {target:>16}  {result}")
    print()
    print(f"load average at end {loadavg()}; server exit code {code}")
    failed = any(result == "FAIL" for *_, result in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
