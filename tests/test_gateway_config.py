"""The Envoy gateway configuration: valid, in sync, complete, and JSON on its own errors.

These tests run Envoy without a gRPC server behind it; end-to-end REST and
gRPC-Web behaviour is tested against the real server elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pb2

from candlewire.gateway.envoy import (
    DEFAULT_DESCRIPTOR,
    EnvoyProcess,
    descriptor_services,
    render_config,
    render_default_config,
)
from candlewire.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
TRANSCODER_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
)
# convert_grpc_status can only print the error details whose types the
# descriptor set holds; without them a REST client gets an empty body.
ERROR_DETAIL_TYPES = {
    "google.rpc.Status",
    "google.rpc.BadRequest",
    "google.rpc.ErrorInfo",
    "google.rpc.PreconditionFailure",
    "google.rpc.ResourceInfo",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EnvoyProcess, str]]:
    """An Envoy whose upstream port has nothing listening; yields it and its base URL."""
    listen_port = free_port()
    config = render_config(
        listen_host="127.0.0.1",
        listen_port=listen_port,
        upstream_host="127.0.0.1",
        upstream_port=free_port(),
        admin_port=0,
    )
    envoy = EnvoyProcess()
    envoy.start(config, tmp_path_factory.mktemp("envoy"))
    try:
        envoy.wait_ready(timeout=15)
        yield envoy, f"http://127.0.0.1:{listen_port}"
    finally:
        envoy.stop()


def _transcoder_configs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("@type") == TRANSCODER_TYPE:
            yield node
        for value in node.values():
            yield from _transcoder_configs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _transcoder_configs(value)


def test_rendered_config_passes_envoy_validate() -> None:
    config = render_config(
        listen_host="127.0.0.1",
        listen_port=free_port(),
        upstream_host="127.0.0.1",
        upstream_port=free_port(),
        admin_port=free_port(),
    )
    EnvoyProcess().validate(config)


def test_repo_root_envoy_yaml_is_the_default_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    assert (REPO_ROOT / "envoy.yaml").read_text() == render_default_config(), (
        "envoy.yaml is stale; from the repo root run: "
        "PYTHONPATH=server python -m candlewire.gateway.envoy > envoy.yaml"
    )


def test_every_descriptor_service_is_transcoded(gateway: tuple[EnvoyProcess, str]) -> None:
    envoy, _ = gateway
    config_dump = httpx.get(f"{envoy.admin_url()}/config_dump", timeout=5).json()
    transcoders = list(_transcoder_configs(config_dump))
    # The listener-wide transcoder (NDJSON streams) and the SSE route's.
    assert len(transcoders) >= 2
    services = descriptor_services(DEFAULT_DESCRIPTOR)
    assert "candlewire.v1.SystemService" in services
    for transcoder in transcoders:
        assert sorted(transcoder["services"]) == services


def test_descriptor_holds_the_error_detail_types() -> None:
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(DEFAULT_DESCRIPTOR.read_bytes())
    messages = {
        f"{file.package}.{message.name}"
        for file in descriptor_set.file
        for message in file.message_type
    }
    assert ERROR_DETAIL_TYPES <= messages, (
        "add google/rpc/status.proto and google/rpc/error_details.proto to the "
        "descriptor set in scripts/generate"
    )


def test_unknown_path_is_a_json_404(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    response = httpx.get(f"{base_url}/v1/no/such/thing", timeout=5)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert body["http_status"] == 404
    assert "/v1/no/such/thing" in body["message"]


def test_unknown_query_parameter_is_a_json_400(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    response = httpx.get(f"{base_url}/v1/system/info", params={"no_such_field": "1"}, timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "no_such_field" in body["message"]


def test_upstream_down_is_a_json_503_for_rest(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    for accept in ("application/json", "text/event-stream"):
        response = httpx.get(f"{base_url}/v1/system/info", headers={"accept": accept}, timeout=5)
        assert response.status_code == 503
        body = response.json()
        assert body["code"] == grpc.StatusCode.UNAVAILABLE.value[0]
        assert body["http_status"] == 503


def test_upstream_down_keeps_grpc_message_plain(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    with grpc.insecure_channel(base_url.removeprefix("http://")) as channel:
        get_info = channel.unary_unary("/candlewire.v1.SystemService/GetInfo")
        with pytest.raises(grpc.RpcError) as failure:
            get_info(b"", timeout=5)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    details = failure.value.details() or ""
    assert details and not details.startswith("{"), details


def test_grpc_web_error_stays_in_grpc_headers(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    response = httpx.post(
        f"{base_url}/candlewire.v1.SystemService/GetInfo",
        content=b"\x00\x00\x00\x00\x00",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
        timeout=5,
    )
    assert response.headers["grpc-status"] == str(grpc.StatusCode.UNAVAILABLE.value[0])
    assert not response.headers["grpc-message"].startswith("{")


def test_cors_preflight_allows_the_dashboard(gateway: tuple[EnvoyProcess, str]) -> None:
    _, base_url = gateway
    response = httpx.options(
        f"{base_url}/v1/system/info",
        headers={
            "origin": "http://dashboard.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, x-grpc-web",
        },
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://dashboard.example"
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"} <= allowed
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"grpc-status", "grpc-message", "grpc-status-details-bin"} <= exposed

