"""MonteCarloService: Monte Carlo robustness checks as sessions of kind `monte_carlo`."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import empty_pb2, json_format

from candlewire.api import convert, results
from candlewire.api.backtests import params_message as backtest_params_message
from candlewire.api.backtests import request_values as backtest_request
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.v1 import monte_carlo_pb2, monte_carlo_pb2_grpc
from candlewire.errors import InvalidArgument, with_field_prefix
from candlewire.montecarlo.request import resolve_monte_carlo
from candlewire.strategies.workspace import StrategyWorkspace

MODES = {monte_carlo_pb2.MONTE_CARLO_MODE_TRADES: "trades", monte_carlo_pb2.MONTE_CARLO_MODE_CANDLES: "candles"}
MODE_NUMBERS = {name: number for number, name in MODES.items()}


def _request(params: monte_carlo_pb2.MonteCarloParams) -> dict[str, Any]:
    """MonteCarloParams as the plain request `resolve_monte_carlo` reads."""
    source = params.WhichOneof("source")
    return {
        "backtest_id": params.backtest_id if source == "backtest_id" else "",
        "backtest": backtest_request(params.backtest) if source == "backtest" else None,
        "mode": MODES.get(params.mode),
        "candle_pipeline": [json_format.MessageToDict(step, preserving_proto_field_name=True) for step in params.candle_pipeline],
        "batch_length": params.batch_length,
        "scenarios": params.scenarios,
        "seed": params.seed,
        "cpu_cores": params.cpu_cores,
    }


def _params(params: dict[str, Any]) -> monte_carlo_pb2.MonteCarloParams:
    out = monte_carlo_pb2.MonteCarloParams(
        mode=MODE_NUMBERS[params["mode"]],
        candle_pipeline=[json_format.ParseDict(step, monte_carlo_pb2.CandlePipelineStep()) for step in params["candle_pipeline"]],
        batch_length=params["batch_length"],
        scenarios=params["scenarios"],
        seed=params["seed"],
        cpu_cores=params["cpu_cores"],
    )
    if params["source_backtest_id"]:
        out.backtest_id = params["source_backtest_id"]
    else:
        out.backtest.CopyFrom(backtest_params_message(params["backtest"]))
    return out


def _monte_carlo(record, with_curves: bool = True) -> monte_carlo_pb2.MonteCarlo:
    message = monte_carlo_pb2.MonteCarlo(session=convert.session(record), params=_params(record.params))
    if record.status == "succeeded" and record.result:
        message.result.CopyFrom(results.monte_carlo_result(record.result))
        if not with_curves:
            message.result.ClearField("scenario_equity_curves")
    return message


class MonteCarloServicer(monte_carlo_pb2_grpc.MonteCarloServiceServicer):
    def __init__(self, app):
        self.app = app
        self.sessions = SessionEndpoints(app, "monte_carlo", monte_carlo_pb2.MonteCarloEventBatch)
        self.workspace = StrategyWorkspace(app.settings.data_dir)

    async def _resolve(self, request) -> dict[str, Any]:
        """Everything is checked before the session exists, so bad input stores nothing."""
        config = await asyncio.to_thread(self.app.config.get)
        try:
            return await asyncio.to_thread(resolve_monte_carlo, _request(request.params), config, self.workspace, self.app.engine)
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"params.{field}") from None

    async def StartMonteCarlo(self, request, context):
        params = await self._resolve(request)
        return convert.session(await self.sessions.start(params, request.title, request.description))

    async def RunMonteCarlo(self, request, context):
        params = await self._resolve(request)
        async for batch in self.sessions.run(params, request.title, request.description):
            yield batch

    async def WatchMonteCarlo(self, request, context):
        async for batch in self.sessions.watch(request.id, request.after_sequence):
            yield batch

    async def CancelMonteCarlo(self, request, context):
        return convert.session(await self.sessions.cancel(request.id))

    async def GetMonteCarlo(self, request, context):
        return _monte_carlo(await self.sessions.get(request.id))

    async def ListMonteCarlos(self, request, context):
        records, next_token = await self.sessions.list_page(request)
        return monte_carlo_pb2.ListMonteCarlosResponse(
            monte_carlos=[_monte_carlo(record, with_curves=False) for record in records], next_page_token=next_token
        )

    async def UpdateMonteCarlo(self, request, context):
        return _monte_carlo(await self.sessions.update(request.monte_carlo.session, list(request.update_mask.paths)))

    async def DeleteMonteCarlo(self, request, context):
        await self.sessions.delete(request.id)
        return empty_pb2.Empty()

    async def PurgeMonteCarlos(self, request, context):
        return monte_carlo_pb2.PurgeMonteCarlosResponse(deleted_count=await self.sessions.purge(request.older_than_days))
