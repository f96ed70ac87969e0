"""SignificanceTestService: rule significance tests as sessions of kind `significance_test`."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import empty_pb2

from candlewire.api import convert, results
from candlewire.api.backtests import params_message as backtest_params_message
from candlewire.api.backtests import request_values as backtest_request
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.v1 import backtest_pb2, significance_test_pb2, significance_test_pb2_grpc
from candlewire.errors import InvalidArgument, with_field_prefix
from candlewire.significance.request import resolve_significance_test
from candlewire.strategies.workspace import StrategyWorkspace


def _request(params: significance_test_pb2.SignificanceTestParams) -> dict[str, Any]:
    """SignificanceTestParams as the plain request `resolve_significance_test` reads: the fields it
    shares with a backtest are read as BacktestParams with the route as the only route."""
    as_backtest = backtest_pb2.BacktestParams(
        data_routes=params.data_routes, exchanges=params.exchanges, hyperparameters=params.hyperparameters
    )
    if params.HasField("route"):
        as_backtest.routes.append(params.route)
    for field in ("start_date", "finish_date"):
        if params.HasField(field):
            getattr(as_backtest, field).CopyFrom(getattr(params, field))
    if params.HasField("warm_up_candles"):
        as_backtest.warm_up_candles = params.warm_up_candles
    request = backtest_request(as_backtest)
    routes = request.pop("routes")
    del request["options"]
    return {**request, "route": routes[0] if routes else None, "resamples": params.resamples, "seed": params.seed}


def _params(params: dict[str, Any]) -> significance_test_pb2.SignificanceTestParams:
    backtest = backtest_params_message(params["backtest"])
    return significance_test_pb2.SignificanceTestParams(
        route=backtest.routes[0],
        data_routes=backtest.data_routes,
        start_date=backtest.start_date,
        finish_date=backtest.finish_date,
        exchanges=backtest.exchanges,
        warm_up_candles=backtest.warm_up_candles,
        hyperparameters=backtest.hyperparameters,
        resamples=params["resamples"],
        seed=params["seed"],
    )


def _significance_test(record) -> significance_test_pb2.SignificanceTest:
    message = significance_test_pb2.SignificanceTest(session=convert.session(record), params=_params(record.params))
    if record.status == "succeeded" and record.result:
        message.result.CopyFrom(results.significance_test_result(record.result))
    return message


class SignificanceTestServicer(significance_test_pb2_grpc.SignificanceTestServiceServicer):
    def __init__(self, app):
        self.app = app
        self.sessions = SessionEndpoints(app, "significance_test", significance_test_pb2.SignificanceTestEventBatch)
        self.workspace = StrategyWorkspace(app.settings.data_dir)

    async def _resolve(self, request) -> dict[str, Any]:
        """Everything is checked before the session exists, so bad input stores nothing."""
        config = await asyncio.to_thread(self.app.config.get)
        try:
            return await asyncio.to_thread(
                resolve_significance_test, _request(request.params), config, self.workspace, self.app.engine
            )
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"params.{field}") from None

    async def StartSignificanceTest(self, request, context):
        params = await self._resolve(request)
        return convert.session(await self.sessions.start(params, request.title, request.description))

    async def RunSignificanceTest(self, request, context):
        params = await self._resolve(request)
        async for batch in self.sessions.run(params, request.title, request.description):
            yield batch

    async def WatchSignificanceTest(self, request, context):
        async for batch in self.sessions.watch(request.id, request.after_sequence):
            yield batch

    async def CancelSignificanceTest(self, request, context):
        return convert.session(await self.sessions.cancel(request.id))

    async def GetSignificanceTest(self, request, context):
        return _significance_test(await self.sessions.get(request.id))

    async def ListSignificanceTests(self, request, context):
        records, next_token = await self.sessions.list_page(request)
        return significance_test_pb2.ListSignificanceTestsResponse(
            significance_tests=[_significance_test(record) for record in records], next_page_token=next_token
        )

    async def DeleteSignificanceTest(self, request, context):
        await self.sessions.delete(request.id)
        return empty_pb2.Empty()

    async def PurgeSignificanceTests(self, request, context):
        return significance_test_pb2.PurgeSignificanceTestsResponse(deleted_count=await self.sessions.purge(request.older_than_days))
