"""ExchangeService: the exchange catalogue, symbols and the API-key vault."""

from __future__ import annotations

import asyncio

from google.protobuf import empty_pb2

from candlewire.api.auth import client_address
from candlewire.api import convert
from candlewire.api.convert import timestamp
from candlewire.api.v1 import exchange_pb2, exchange_pb2_grpc
from candlewire.data.exchanges import get_exchange, list_exchanges, list_symbols
from candlewire.errors import InvalidArgument, PermissionDenied, Unauthenticated, require, with_field_prefix



def _api_key(record) -> exchange_pb2.ApiKey:
    """From an ApiKeyRecord or its exported dict form."""
    values = record if isinstance(record, dict) else vars(record)
    return exchange_pb2.ApiKey(
        id=values["id"],
        name=values["name"],
        exchange=values["exchange"],
        api_key=values["api_key"],
        api_secret=values["api_secret"],
        passphrase=values["passphrase"] or "",
        extra={key: str(value) for key, value in values["extra"].items()},
        create_time=timestamp(values["created_at"]),
    )


def _api_key_fields(message: exchange_pb2.ApiKey) -> dict:
    return {
        "name": message.name,
        "exchange": message.exchange,
        "api_key": message.api_key,
        "api_secret": message.api_secret,
        "passphrase": message.passphrase or None,
        "extra": dict(message.extra),
    }


class ExchangeServicer(exchange_pb2_grpc.ExchangeServiceServicer):
    def __init__(self, app):
        self.app = app

    async def ListExchanges(self, request, context):
        return exchange_pb2.ListExchangesResponse(
            exchanges=[
                exchange_pb2.Exchange(
                    id=exchange.id,
                    name=exchange.name,
                    type=convert.EXCHANGE_TYPES[exchange.type],
                    default_fee=exchange.default_fee,
                    timeframes=exchange.timeframes,
                    supports_live=exchange.supports_live,
                    supports_import=exchange.supports_import,
                )
                for exchange in list_exchanges()
            ]
        )

    async def ListSymbols(self, request, context):
        require({"exchange": "must not be empty"} if not request.exchange else {})
        get_exchange(request.exchange)
        return exchange_pb2.ListSymbolsResponse(symbols=await asyncio.to_thread(list_symbols, request.exchange))

    async def ListApiKeys(self, request, context):
        records = await asyncio.to_thread(self.app.api_keys.list)
        return exchange_pb2.ListApiKeysResponse(api_keys=[_api_key(r) for r in records])

    async def CreateApiKey(self, request, context):
        if not request.HasField("api_key"):
            raise InvalidArgument("api_key is required", {"api_key": "must be set"})
        try:
            record = await asyncio.to_thread(self.app.api_keys.create, **_api_key_fields(request.api_key))
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"api_key.{field}") from None
        return _api_key(record)

    async def DeleteApiKey(self, request, context):
        require({"id": "must not be empty"} if not request.id else {})
        await asyncio.to_thread(self.app.api_keys.delete, request.id)
        return empty_pb2.Empty()

    async def _recheck_password(self, password: str, context) -> None:
        """Secrets leave or enter the vault only with the password re-typed, not on a token alone."""
        require({"password": "must not be empty"} if not password else {})
        try:
            await asyncio.to_thread(self.app.check_password, password, client_address(context))
        except Unauthenticated:
            raise PermissionDenied("the password is wrong") from None

    async def ExportApiKeys(self, request, context):
        await self._recheck_password(request.password, context)
        records = await asyncio.to_thread(self.app.api_keys.export)
        return exchange_pb2.ExportApiKeysResponse(api_keys=[_api_key(r) for r in records])

    async def ImportApiKeys(self, request, context):
        await self._recheck_password(request.password, context)
        try:
            count = await asyncio.to_thread(self.app.api_keys.import_, [_api_key_fields(k) for k in request.api_keys])
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: field.replace("records", "api_keys", 1)) from None
        return exchange_pb2.ImportApiKeysResponse(imported_count=count)
