"""The gRPC server: every servicer, health, reflection and the interceptors."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from candlewire.api.auth import AuthServicer
from candlewire.api.backtests import BacktestServicer
from candlewire.api.candles import CandlesServicer
from candlewire.api.config import ConfigServicer
from candlewire.api.events import EventServicer
from candlewire.api.exchanges import ExchangeServicer
from candlewire.api.files import FileServicer
from candlewire.api.interceptors import AuthInterceptor, ErrorInterceptor
from candlewire.api.monte_carlo import MonteCarloServicer
from candlewire.api.notifications import NotificationServicer
from candlewire.api.optimizations import OptimizationServicer
from candlewire.api.significance_tests import SignificanceTestServicer
from candlewire.api.strategies import StrategyServicer
from candlewire.api.system import SystemServicer
from candlewire.api.test_jobs import TestJobServicer
from candlewire.api.testing.v1 import test_jobs_pb2, test_jobs_pb2_grpc
from candlewire.api.unimplemented import unimplemented_servicer
from candlewire.api.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    backtest_pb2,
    backtest_pb2_grpc,
    candles_pb2,
    candles_pb2_grpc,
    config_pb2,
    config_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    file_pb2,
    file_pb2_grpc,
    live_pb2,
    live_pb2_grpc,
    lsp_pb2,
    lsp_pb2_grpc,
    monte_carlo_pb2,
    monte_carlo_pb2_grpc,
    notification_pb2,
    notification_pb2_grpc,
    optimization_pb2,
    optimization_pb2_grpc,
    significance_test_pb2,
    significance_test_pb2_grpc,
    strategy_pb2,
    strategy_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
)

LIVE = "paper and live trading"
EDITOR = "the strategy editor's language server"
_MESSAGE_LIMIT = 64 * 1024 * 1024


def _service(module, name):
    return module.DESCRIPTOR.services_by_name[name]


def _servicers(app) -> list[tuple[object, object, object]]:
    """(servicer instance, add-to-server function, service descriptor) for every service."""
    later = lambda grpc_module, pb2, name, capability: (  # noqa: E731
        unimplemented_servicer(getattr(grpc_module, f"{name}Servicer"), _service(pb2, name), capability)(),
        getattr(grpc_module, f"add_{name}Servicer_to_server"),
        _service(pb2, name),
    )
    services = [
        (AuthServicer(app), auth_pb2_grpc.add_AuthServiceServicer_to_server, _service(auth_pb2, "AuthService")),
        (SystemServicer(app), system_pb2_grpc.add_SystemServiceServicer_to_server, _service(system_pb2, "SystemService")),
        (ConfigServicer(app), config_pb2_grpc.add_ConfigServiceServicer_to_server, _service(config_pb2, "ConfigService")),
        (EventServicer(app), event_pb2_grpc.add_EventServiceServicer_to_server, _service(event_pb2, "EventService")),
        (CandlesServicer(app), candles_pb2_grpc.add_CandlesServiceServicer_to_server, _service(candles_pb2, "CandlesService")),
        (StrategyServicer(app), strategy_pb2_grpc.add_StrategyServiceServicer_to_server, _service(strategy_pb2, "StrategyService")),
        (ExchangeServicer(app), exchange_pb2_grpc.add_ExchangeServiceServicer_to_server, _service(exchange_pb2, "ExchangeService")),
        (
            NotificationServicer(app),
            notification_pb2_grpc.add_NotificationServiceServicer_to_server,
            _service(notification_pb2, "NotificationService"),
        ),
        (FileServicer(app), file_pb2_grpc.add_FileServiceServicer_to_server, _service(file_pb2, "FileService")),
        (BacktestServicer(app), backtest_pb2_grpc.add_BacktestServiceServicer_to_server, _service(backtest_pb2, "BacktestService")),
        (OptimizationServicer(app), optimization_pb2_grpc.add_OptimizationServiceServicer_to_server, _service(optimization_pb2, "OptimizationService")),
        (MonteCarloServicer(app), monte_carlo_pb2_grpc.add_MonteCarloServiceServicer_to_server, _service(monte_carlo_pb2, "MonteCarloService")),
        (
            SignificanceTestServicer(app),
            significance_test_pb2_grpc.add_SignificanceTestServiceServicer_to_server,
            _service(significance_test_pb2, "SignificanceTestService"),
        ),
        later(live_pb2_grpc, live_pb2, "LiveService", LIVE),
        later(lsp_pb2_grpc, lsp_pb2, "LspService", EDITOR),
    ]
    if app.settings.enable_test_jobs:
        services.append(
            (
                TestJobServicer(app),
                test_jobs_pb2_grpc.add_TestJobServiceServicer_to_server,
                _service(test_jobs_pb2, "TestJobService"),
            )
        )
    return services


def build_server(app) -> tuple[grpc.aio.Server, health.HealthServicer]:
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(), AuthInterceptor(app.verify_token)],
        options=[
            ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
            ("grpc.max_send_message_length", _MESSAGE_LIMIT),
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
    for servicer, add, service in _servicers(app):
        add(servicer, server)
        names.append(service.full_name)
    reflection.enable_server_reflection(names, server)
    return server, health_servicer
