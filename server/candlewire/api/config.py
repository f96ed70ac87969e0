"""ConfigService: the typed user config with field-mask updates."""

from __future__ import annotations

import asyncio

from google.protobuf import field_mask_pb2

from candlewire.api import convert
from candlewire.api.v1 import config_pb2, config_pb2_grpc
from candlewire.data.exchanges import list_exchanges
from candlewire.errors import InvalidArgument, with_field_prefix

def config_to_proto(config: dict) -> config_pb2.Config:
    sections = {}
    for name, section_type in (("backtest", config_pb2.BacktestConfig), ("live", config_pb2.LiveConfig)):
        values = config[name]
        sections[name] = section_type(
            exchanges=[convert.exchange_settings(e) for e in values["exchanges"]],
            warm_up_candles=values["warm_up_candles"],
            logging=config_pb2.LoggingConfig(**values["logging"]),
        )
    return config_pb2.Config(**sections, jobs=config_pb2.JobsConfig(**config["jobs"]))


def config_from_proto(message: config_pb2.Config) -> dict:
    config = {}
    for name in ("backtest", "live"):
        section = getattr(message, name)
        config[name] = {
            "exchanges": [convert.exchange_settings_values(e) for e in section.exchanges],
            "warm_up_candles": section.warm_up_candles,
            "logging": {field.name: getattr(section.logging, field.name) for field in section.logging.DESCRIPTOR.fields},
        }
    config["jobs"] = {"max_concurrent_jobs": message.jobs.max_concurrent_jobs}
    return config


class ConfigServicer(config_pb2_grpc.ConfigServiceServicer):
    def __init__(self, app):
        self.app = app

    async def GetConfig(self, request, context):
        return config_to_proto(await asyncio.to_thread(self.app.config.get))

    async def UpdateConfig(self, request, context):
        mask = request.update_mask
        if not mask.paths:
            raise InvalidArgument("update_mask names no fields", {"update_mask": "must name at least one field"})
        bad = [path for path in mask.paths if not field_mask_pb2.FieldMask(paths=[path]).IsValidForDescriptor(config_pb2.Config.DESCRIPTOR)]
        if bad:
            raise InvalidArgument(
                "update_mask names unknown fields", {"update_mask": f"unknown field path(s): {', '.join(bad)}"}
            )
        merged = config_to_proto(await asyncio.to_thread(self.app.config.get))
        mask.MergeMessage(request.config, merged, replace_message_field=True, replace_repeated_field=True)
        try:
            saved = await asyncio.to_thread(
                self.app.config.replace, config_from_proto(merged), {e.id for e in list_exchanges()}
            )
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"config.{field}") from None
        self.app.runtime.set_max_concurrent(saved["jobs"]["max_concurrent_jobs"])
        return config_to_proto(saved)
