"""OptimizationService: hyperparameter searches as sessions of kind `optimization`.

Each finished trial is a partial result that fills the event's `trial` field; the final result is
the summary. Get reads the summary of an unfinished (running, cancelled, failed) optimization
straight from its study, so the best candidates so far are visible before it ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import empty_pb2
from google.type import date_pb2

from candlewire.api import convert, results
from candlewire.api.backtests import date_of_ms
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.v1 import common_pb2, optimization_pb2, optimization_pb2_grpc
from candlewire.backtests.request import resolve_backtest
from candlewire.errors import FailedPrecondition, InvalidArgument, with_field_prefix
from candlewire.optimization import study as studies
from candlewire.optimization.request import PERIODS, candidate_backtest_request, resolve_optimization
from candlewire.storage import sessions as session_store
from candlewire.strategies.workspace import StrategyWorkspace

RESUMABLE_STATUSES = ("cancelled", "failed")


def _enum_word(enum, number: int, prefix: str) -> str:
    """OBJECTIVE_SMART_SHARPE → "smart_sharpe"; unset → "" (the default); unknown → a name validation refuses."""
    if number == 0:
        return ""
    try:
        return enum.Name(number).removeprefix(prefix).lower()
    except ValueError:
        return f"unknown value {number}"


def _enum_number(enum, word: str, prefix: str) -> int:
    return enum.Value(prefix + word.upper())


def _date_tuple(message: date_pb2.Date, present: bool) -> tuple[int, int, int] | None:
    return (message.year, message.month, message.day) if present else None


def _request(params: optimization_pb2.OptimizationParams) -> dict[str, Any]:
    """OptimizationParams as the plain request `resolve_optimization` reads."""
    request: dict[str, Any] = {
        "routes": [
            {"exchange": r.exchange, "symbol": r.symbol, "timeframe": r.timeframe, "strategy": r.strategy, "dna": r.dna}
            for r in params.routes
        ],
        "data_routes": [{"exchange": r.exchange, "symbol": r.symbol, "timeframe": r.timeframe} for r in params.data_routes],
        "exchanges": [convert.exchange_settings_values(entry) for entry in params.exchanges],
        "warm_up_candles": params.warm_up_candles if params.HasField("warm_up_candles") else None,
        "trials": params.trials,
        "objective": _enum_word(optimization_pb2.Objective, params.objective, "OBJECTIVE_"),
        "objective_weights": [
            {"objective": _enum_word(optimization_pb2.Objective, entry.objective, "OBJECTIVE_"), "weight": entry.weight}
            for entry in params.objective_weights
        ],
        "optimal_total_trades": params.optimal_total_trades,
        "seed": params.seed,
        "cpu_cores": params.cpu_cores,
        "sampler": _enum_word(optimization_pb2.Sampler, params.sampler, "SAMPLER_"),
        "multi_objective": params.multi_objective,
    }
    for period in PERIODS:
        for edge in ("start", "finish"):
            field = f"{period}_{edge}_date"
            request[field] = _date_tuple(getattr(params, field), params.HasField(field))
    return request


def _params(params: dict[str, Any]) -> optimization_pb2.OptimizationParams:
    """The recorded params: what runs, overrides already merged into the config's values."""
    return optimization_pb2.OptimizationParams(
        routes=[common_pb2.Route(**route) for route in params["routes"]],
        data_routes=[common_pb2.DataRoute(**route) for route in params["data_routes"]],
        training_start_date=date_of_ms(params["training"]["start_ms"]),
        training_finish_date=date_of_ms(params["training"]["finish_ms"]),
        testing_start_date=date_of_ms(params["testing"]["start_ms"]),
        testing_finish_date=date_of_ms(params["testing"]["finish_ms"]),
        exchanges=[convert.exchange_settings(params["exchange"])],
        warm_up_candles=params["warm_up_candles"],
        trials=params["trials"],
        objective=_enum_number(optimization_pb2.Objective, params["objective"], "OBJECTIVE_"),
        objective_weights=[
            optimization_pb2.ObjectiveWeight(objective=_enum_number(optimization_pb2.Objective, name, "OBJECTIVE_"), weight=weight)
            for name, weight in params["objective_weights"].items()
        ],
        optimal_total_trades=params["optimal_total_trades"],
        seed=params["seed"],
        cpu_cores=params["cpu_cores"],
        sampler=_enum_number(optimization_pb2.Sampler, params["sampler"], "SAMPLER_"),
        multi_objective=params["multi_objective"],
    )


class OptimizationServicer(optimization_pb2_grpc.OptimizationServiceServicer):
    def __init__(self, app):
        self.app = app
        self.sessions = SessionEndpoints(app, "optimization", optimization_pb2.OptimizationEventBatch)
        self.workspace = StrategyWorkspace(app.settings.data_dir)

    async def _resolve(self, request) -> dict[str, Any]:
        """Everything is checked before the session exists, so bad input stores nothing."""
        config = await asyncio.to_thread(self.app.config.get)
        try:
            return await asyncio.to_thread(
                resolve_optimization, _request(request.params), config, self.workspace, self.app.engine
            )
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"params.{field}") from None

    def _summary(self, record) -> dict[str, Any] | None:
        """The finished result, or what the study holds so far; None before the first trial."""
        if record.status == "succeeded" and record.result:
            return record.result
        study = studies.load_study(self.app.settings.database_url, record.id)
        return studies.summary(study) if study is not None else None

    async def _optimization(self, record) -> optimization_pb2.Optimization:
        message = optimization_pb2.Optimization(session=convert.session(record), params=_params(record.params))
        summary = await asyncio.to_thread(self._summary, record)
        if summary is not None:
            message.result.CopyFrom(results.optimization_result(summary))
        return message

    async def StartOptimization(self, request, context):
        params = await self._resolve(request)
        return convert.session(await self.sessions.start(params, request.title, request.description))

    async def RunOptimization(self, request, context):
        params = await self._resolve(request)
        async for batch in self.sessions.run(params, request.title, request.description):
            yield batch

    async def WatchOptimization(self, request, context):
        async for batch in self.sessions.watch(request.id, request.after_sequence):
            yield batch

    async def CancelOptimization(self, request, context):
        return convert.session(await self.sessions.cancel(request.id))

    async def ResumeOptimization(self, request, context):
        record = await self.sessions.get(request.id)
        if record.status not in RESUMABLE_STATUSES:
            raise FailedPrecondition(
                f"optimization {record.id} is {record.status}; only a cancelled or failed one can be resumed"
            )
        return convert.session(await self.app.runtime.requeue(record.id))

    async def GetOptimization(self, request, context):
        return await self._optimization(await self.sessions.get(request.id))

    async def ListOptimizations(self, request, context):
        records, next_token = await self.sessions.list_page(request)
        return optimization_pb2.ListOptimizationsResponse(
            optimizations=[
                optimization_pb2.Optimization(session=convert.session(record), params=_params(record.params))
                for record in records
            ],
            next_page_token=next_token,
        )

    async def UpdateOptimization(self, request, context):
        record = await self.sessions.update(request.optimization.session, list(request.update_mask.paths))
        return await self._optimization(record)

    async def DeleteOptimization(self, request, context):
        await self.sessions.delete(request.id)
        await asyncio.to_thread(studies.delete_studies, self.app.settings.database_url, only={request.id})
        return empty_pb2.Empty()

    async def PurgeOptimizations(self, request, context):
        count = await self.sessions.purge(request.older_than_days)
        kept = await asyncio.to_thread(self._optimization_ids)
        await asyncio.to_thread(studies.delete_studies, self.app.settings.database_url, keep=kept)
        return optimization_pb2.PurgeOptimizationsResponse(deleted_count=count)

    def _optimization_ids(self) -> set[str]:
        ids: set[str] = set()
        token = ""
        while True:
            records, token = session_store.list_sessions(self.app.engine, kind="optimization", page_size=1000, page_token=token)
            ids.update(record.id for record in records)
            if not token:
                return ids

    async def CreateBacktestFromCandidate(self, request, context):
        record = await self.sessions.get(request.id)
        summary = await asyncio.to_thread(self._summary, record)
        candidates = (summary or {}).get("candidates", [])
        if not candidates:
            raise FailedPrecondition(f"optimization {record.id} has no scored trial yet")
        if not 1 <= request.rank <= len(candidates):
            raise InvalidArgument(f"no candidate ranked {request.rank}", {"rank": f"must be between 1 and {len(candidates)}"})
        candidate = candidates[request.rank - 1]
        backtest_request = candidate_backtest_request(record.params, candidate, request.testing_period)
        config = await asyncio.to_thread(self.app.config.get)
        try:
            params = await asyncio.to_thread(resolve_backtest, backtest_request, config, self.workspace, self.app.engine)
        except InvalidArgument as error:
            # The strategy or candles changed since the optimization ran.
            raise FailedPrecondition(f"the candidate cannot be backtested any more: {error.violations}") from None
        # The code the optimization ran, not the strategy as edited since.
        params["strategy_sources"] = record.params["strategy_sources"]
        title = request.title or f"{record.title or 'optimization'} candidate #{request.rank}"
        return convert.session(await self.app.runtime.submit("backtest", params, title=title))
