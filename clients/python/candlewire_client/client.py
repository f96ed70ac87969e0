"""`Client`: one connection to a candlewire server with every service as an attribute.

    from candlewire_client import Client
    with Client("127.0.0.1:50051", password="…") as cw:
        print(cw.system.GetInfo(system_pb2.GetInfoRequest()).version)
        for event in events(cw.test_jobs.WatchTestJob(...)):   # streams of event batches
            ...
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from candlewire_client.testing.v1 import test_jobs_pb2_grpc
from candlewire_client.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    backtest_pb2_grpc,
    candles_pb2_grpc,
    config_pb2_grpc,
    event_pb2_grpc,
    exchange_pb2_grpc,
    file_pb2_grpc,
    live_pb2_grpc,
    lsp_pb2_grpc,
    monte_carlo_pb2_grpc,
    notification_pb2_grpc,
    optimization_pb2_grpc,
    significance_test_pb2_grpc,
    strategy_pb2_grpc,
    system_pb2_grpc,
)

DEFAULT_TARGET = "127.0.0.1:50051"
_MESSAGE_LIMIT = 64 * 1024 * 1024


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call once the client has a token."""

    def __init__(self, client: "Client"):
        self._client = client

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if not self._client.token:
            return details
        metadata = list(details.metadata or []) + [("authorization", f"Bearer {self._client.token}")]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


class Client:
    def __init__(self, target: str = DEFAULT_TARGET, *, token: str | None = None, password: str | None = None):
        self.token = token
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
                ("grpc.max_send_message_length", _MESSAGE_LIMIT),
            ],
        )
        channel = grpc.intercept_channel(self._channel, _BearerToken(self))
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)
        self.system = system_pb2_grpc.SystemServiceStub(channel)
        self.config = config_pb2_grpc.ConfigServiceStub(channel)
        self.events = event_pb2_grpc.EventServiceStub(channel)
        self.backtests = backtest_pb2_grpc.BacktestServiceStub(channel)
        self.candles = candles_pb2_grpc.CandlesServiceStub(channel)
        self.exchanges = exchange_pb2_grpc.ExchangeServiceStub(channel)
        self.strategies = strategy_pb2_grpc.StrategyServiceStub(channel)
        self.files = file_pb2_grpc.FileServiceStub(channel)
        self.notifications = notification_pb2_grpc.NotificationServiceStub(channel)
        self.optimizations = optimization_pb2_grpc.OptimizationServiceStub(channel)
        self.monte_carlo = monte_carlo_pb2_grpc.MonteCarloServiceStub(channel)
        self.significance_tests = significance_test_pb2_grpc.SignificanceTestServiceStub(channel)
        self.live = live_pb2_grpc.LiveServiceStub(channel)
        self.lsp = lsp_pb2_grpc.LspServiceStub(channel)
        self.test_jobs = test_jobs_pb2_grpc.TestJobServiceStub(channel)
        if password is not None and token is None:
            self.login(password)

    def login(self, password: str) -> str:
        self.token = self.auth.Login(auth_pb2.LoginRequest(password=password)).token
        return self.token

    def logout(self) -> None:
        self.auth.Logout(auth_pb2.LogoutRequest())
        self.token = None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def events(batches):
    """The events of a Watch/Run/Subscribe stream one by one (the server sends them in batches).

    A stream that fails raises `grpc.RpcError` after its last events, like any call.
    """
    for batch in batches:
        yield from batch.events


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """The `google.rpc.BadRequest` field violations an INVALID_ARGUMENT error carries."""
    status = rpc_status.from_call(error)
    violations: dict[str, str] = {}
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.update({v.field: v.description for v in bad_request.field_violations})
    return violations
