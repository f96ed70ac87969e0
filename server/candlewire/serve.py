"""`candlewire serve`: the gRPC server with Envoy as its child, until SIGINT/SIGTERM or Shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from grpc_health.v1 import health_pb2

from candlewire import logs
from candlewire.api.server import build_server
from candlewire.app import App
from candlewire.gateway.envoy import EnvoyProcess, render_config
from candlewire.net import free_port
from candlewire.settings import Settings

log = logging.getLogger("candlewire")
ENVOY_READY_TIMEOUT = 30.0


async def serve(settings: Settings) -> None:
    envoy = EnvoyProcess()
    # Spawned before gRPC starts its threads (forking a process whose gRPC core runs can abort the child),
    # and from the main thread, which Envoy's parent-death signal is tied to.
    envoy.start(
        render_config(
            listen_host=settings.gateway_host,
            listen_port=settings.gateway_port,
            upstream_host=settings.grpc_host,
            upstream_port=settings.grpc_port,
            admin_port=free_port(),
        ),
        settings.data_dir / "gateway",
    )
    try:
        await _serve_grpc(settings, envoy)
    finally:
        await asyncio.to_thread(envoy.stop)
        log.info("candlewire stopped")


async def _serve_grpc(settings: Settings, envoy: EnvoyProcess) -> None:
    app = App(settings)
    if app.generated_password:
        # Printed once: only its hash is kept.
        print(
            f"candlewire generated an admin password: {app.generated_password}\n"
            f"(stored hashed in {settings.data_dir / 'password.json'}; set CANDLEWIRE_PASSWORD to choose your own)",
            file=sys.stderr,
            flush=True,
        )
    await app.start()
    server, health = build_server(app)
    server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    try:
        await asyncio.to_thread(envoy.wait_ready, ENVOY_READY_TIMEOUT)
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "candlewire ready",
            extra={
                "grpc": f"{settings.grpc_host}:{settings.grpc_port}",
                "gateway": f"http://{settings.gateway_host}:{settings.gateway_port}",
                "database": settings.database_url.split("@")[-1],
            },
        )
        await _until_stopped(app)
    finally:
        log.info("candlewire stopping")
        await health.enter_graceful_shutdown()
        # Workers first, so open Watch streams see their sessions' final events before the server closes.
        await app.stop()
        await server.stop(grace=1.0)


async def _until_stopped(app: App) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, app.shutdown_requested.set)
    await app.shutdown_requested.wait()


def run(settings: Settings) -> None:
    logs.configure()
    asyncio.run(serve(settings))
