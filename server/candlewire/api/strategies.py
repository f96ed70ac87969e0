"""StrategyService: the strategies workspace (`<data_dir>/strategies/<Name>/__init__.py`)."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import empty_pb2, timestamp_pb2

from candlewire.api import convert
from candlewire.api.v1 import strategy_pb2, strategy_pb2_grpc
from candlewire.errors import InvalidArgument
from candlewire.strategies.diagnostics import declared_hyperparameters, validate_source
from candlewire.strategies.workspace import MAX_SOURCE_BYTES, StrategyInfo, StrategyWorkspace, validate_name

SEVERITIES = {
    "error": strategy_pb2.DIAGNOSTIC_SEVERITY_ERROR,
    "warning": strategy_pb2.DIAGNOSTIC_SEVERITY_WARNING,
    "info": strategy_pb2.DIAGNOSTIC_SEVERITY_INFO,
}
HYPERPARAMETER_TYPES = {
    "int": strategy_pb2.HYPERPARAMETER_TYPE_INT,
    "float": strategy_pb2.HYPERPARAMETER_TYPE_FLOAT,
    "categorical": strategy_pb2.HYPERPARAMETER_TYPE_CATEGORICAL,
}
UPDATABLE_FIELDS = ("source",)


def _timestamp(nanoseconds: int) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(nanoseconds)
    return out


def _hyperparameter(spec: dict[str, Any]) -> strategy_pb2.HyperparameterSpec:
    as_float = spec["type"] == "float"
    out = strategy_pb2.HyperparameterSpec(
        name=spec["name"],
        type=HYPERPARAMETER_TYPES[spec["type"]],
        options=[convert.hyperparameter_value(option) for option in spec.get("options", ())],
    )
    for field in ("min", "max", "step"):
        if isinstance(spec.get(field), (int, float)):
            setattr(out, field, float(spec[field]))
    if "default" in spec:
        out.default.CopyFrom(convert.hyperparameter_value(spec["default"], as_float))
    return out


def _strategy(info: StrategyInfo, source: str = "") -> strategy_pb2.Strategy:
    return strategy_pb2.Strategy(
        name=info.name,
        source=source,
        create_time=_timestamp(info.create_time_ns),
        update_time=_timestamp(info.update_time_ns),
        hyperparameters=[_hyperparameter(spec) for spec in declared_hyperparameters(source, info.name)] if source else [],
    )


class StrategyServicer(strategy_pb2_grpc.StrategyServiceServicer):
    def __init__(self, app):
        self.workspace = StrategyWorkspace(app.settings.data_dir)

    async def ListStrategies(self, request, context):
        infos, next_token = await asyncio.to_thread(
            self.workspace.list, request.name_contains, request.page_size, request.page_token
        )
        return strategy_pb2.ListStrategiesResponse(strategies=[_strategy(info) for info in infos], next_page_token=next_token)

    async def GetStrategy(self, request, context):
        return await asyncio.to_thread(self._get, request.name)

    def _get(self, name: str) -> strategy_pb2.Strategy:
        info = self.workspace.info(name)
        return _strategy(info, self.workspace.source(name))

    async def CreateStrategy(self, request, context):
        await asyncio.to_thread(self.workspace.create, request.name, request.template)
        return await asyncio.to_thread(self._get, request.name)

    async def UpdateStrategy(self, request, context):
        name = validate_name(request.strategy.name, "strategy.name")
        paths = list(request.update_mask.paths)
        unknown = [path for path in paths if path not in UPDATABLE_FIELDS]
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(unknown)}", {"update_mask": f"only {', '.join(UPDATABLE_FIELDS)} can be updated"}
            )
        # Without a mask, only fields the request sets are updated (AIP-134): an empty source is no change.
        if "source" in paths or (not paths and request.strategy.source):
            await asyncio.to_thread(self.workspace.save, name, request.strategy.source, "strategy.source")
        return await asyncio.to_thread(self._get, name)

    async def ForkStrategy(self, request, context):
        await asyncio.to_thread(self.workspace.fork, request.name, request.new_name)
        return await asyncio.to_thread(self._get, request.new_name)

    async def DeleteStrategy(self, request, context):
        await asyncio.to_thread(self.workspace.delete, request.name)
        return empty_pb2.Empty()

    async def ValidateStrategy(self, request, context):
        name = validate_name(request.name)
        # Unsaved source may belong to a strategy not created yet; only the stored one must exist.
        source = request.source if request.HasField("source") else await asyncio.to_thread(self.workspace.source, name)
        if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise InvalidArgument("strategy source too large", {"source": f"must be at most {MAX_SOURCE_BYTES} bytes"})
        diagnostics = await asyncio.to_thread(validate_source, source, name)
        return strategy_pb2.ValidateStrategyResponse(
            valid=not any(d.severity == "error" for d in diagnostics),
            diagnostics=[
                strategy_pb2.Diagnostic(line=d.line, column=d.column, severity=SEVERITIES[d.severity], message=d.message)
                for d in diagnostics
            ],
        )
