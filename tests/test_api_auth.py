"""AuthService end to end: login, bearer tokens on every RPC, logout, public endpoints, login throttling."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime, timezone

import grpc
import pytest
from google.protobuf import message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import candlewire_client.v1
from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import auth_pb2, system_pb2
from e2e_helpers import dedicated_server, rpc_error, status_details  # noqa: F401 - fixture
from server_process import PASSWORD

LOGIN = "/candlewire.v1.AuthService/Login"


def _every_method():
    """(full method path, request class, server-streaming?) of every RPC the client package knows."""
    modules = [
        importlib.import_module(f"candlewire_client.v1.{info.name}")
        for info in pkgutil.iter_modules(candlewire_client.v1.__path__)
        if info.name.endswith("_pb2") and not info.name.endswith("_grpc")
    ] + [test_jobs_pb2]
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request_type = message_factory.GetMessageClass(method.input_type)
                yield f"/{service.full_name}/{method.name}", request_type, method.server_streaming


EVERY_METHOD = sorted(_every_method(), key=lambda entry: entry[0])


def _invoke(channel: grpc.Channel, method: str, request_type, streaming: bool, metadata=()):
    """Call `method` with an empty request; return the status code (OK if it did not fail)."""
    serialize, parse = request_type.SerializeToString, lambda data: data
    try:
        if streaming:
            for _ in channel.unary_stream(method, serialize, parse)(request_type(), metadata=metadata, timeout=10):
                pass
        else:
            channel.unary_unary(method, serialize, parse)(request_type(), metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_target) as opened:
        yield opened


def test_the_method_list_covers_every_service():
    services = {method.split("/")[1] for method, _, _ in EVERY_METHOD}
    assert {"candlewire.v1.AuthService", "candlewire.v1.SystemService", "candlewire.v1.ConfigService",
            "candlewire.v1.EventService", "candlewire.testing.v1.TestJobService"} <= services
    assert len(services) >= 16


def test_login_over_rest_returns_token_and_expire_time(server):
    with server.rest() as http:
        response = http.post("/v1/auth:login", json={"password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token"]
    expires = datetime.fromisoformat(body["expireTime"].replace("Z", "+00:00"))
    assert expires > datetime.now(timezone.utc)


def test_wrong_password_over_grpc_is_unauthenticated(server, channel):
    stub = channel.unary_unary(LOGIN, auth_pb2.LoginRequest.SerializeToString, auth_pb2.LoginResponse.FromString)
    error = rpc_error(lambda: stub(auth_pb2.LoginRequest(password="wrong"), timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_wrong_password_over_rest_is_401_with_a_status_body(server):
    with server.rest() as http:
        response = http.post("/v1/auth:login", json={"password": "wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == 16
    assert response.json()["message"]


@pytest.mark.parametrize("method, request_type, streaming", [m for m in EVERY_METHOD if m[0] != LOGIN],
                         ids=[m[0].split(".")[-1] for m in EVERY_METHOD if m[0] != LOGIN])
def test_every_rpc_without_a_token_is_unauthenticated(channel, method, request_type, streaming):
    assert _invoke(channel, method, request_type, streaming) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("method, request_type, streaming", [m for m in EVERY_METHOD if m[0] != LOGIN],
                         ids=[m[0].split(".")[-1] for m in EVERY_METHOD if m[0] != LOGIN])
def test_every_rpc_with_a_garbage_token_is_unauthenticated(channel, method, request_type, streaming):
    metadata = (("authorization", "Bearer not-a-real-token"),)
    assert _invoke(channel, method, request_type, streaming, metadata) == grpc.StatusCode.UNAUTHENTICATED


def test_login_is_callable_without_a_token(channel):
    assert _invoke(channel, LOGIN, auth_pb2.LoginRequest, False) == grpc.StatusCode.INVALID_ARGUMENT  # empty password


def test_a_token_is_rejected_after_logout(server):
    with server.client() as client:
        assert client.system.GetInfo(system_pb2.GetInfoRequest()).version
        token = client.token
        client.logout()
        client.token = token
        error = rpc_error(lambda: client.system.GetInfo(system_pb2.GetInfoRequest()))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_logout_does_not_revoke_other_tokens(server, client):
    with server.client() as other:
        other.logout()
    assert client.system.GetInfo(system_pb2.GetInfoRequest()).version


def test_health_check_needs_no_token(channel):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_needs_no_token(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    names = {service.name for service in replies[0].list_services_response.service}
    assert "candlewire.v1.SystemService" in names


def test_failed_logins_over_grpc_are_throttled_with_retry_info(dedicated_server):
    server = dedicated_server()
    with server.client(password=None) as client:
        for _ in range(5):
            error = rpc_error(lambda: client.login("wrong"))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        error = rpc_error(lambda: client.login(PASSWORD))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = [detail for detail in status_details(error) if isinstance(detail, error_details_pb2.RetryInfo)]
    assert retry and retry[0].retry_delay.ToNanoseconds() > 0


def test_failed_logins_over_rest_are_throttled_with_429(dedicated_server):
    server = dedicated_server()
    with server.rest() as http:
        for _ in range(5):
            assert http.post("/v1/auth:login", json={"password": "wrong"}).status_code == 401
        response = http.post("/v1/auth:login", json={"password": PASSWORD})
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == 8
    assert any(detail["@type"].endswith("google.rpc.RetryInfo") for detail in body["details"])
